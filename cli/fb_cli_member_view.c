/* fb_cli_member_view.c — `fedbus member list | show | log | export-directory`: the registry, read and printed. */
#include "fb_cli_member.h"

#include "fb_member.h"
#include "fb_signed_dir.h"
#include "fb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const fb_cfg_key_t s_read_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    FB_CLI_MEMBER_JSON_KEY,
    FB_CFG_END,
};

static const fb_cfg_key_t s_log_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    FB_CLI_MEMBER_JSON_KEY,
    {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0,
     "rows from this time on: RFC 3339 (2026-12-01T09:00:00+09:00), a date (2026-12-01, UTC) or a "
     "duration back from now (90m, 2h, 7d)"},
    {"limit", FB_CFG_INT, FB_CLI_INT(limit), "0", 0, 1000000000, "the last N rows only (0: all)"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_export_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    {"sign", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0,
     "sign the directory with this secret key file (the broker's): `fedbus verify --directory` checks it "
     "with --directory-key (cli/fb_signed_dir.h)"},
    FB_CFG_END,
};

#define S_SHOW_AUDIT_ROWS 10

static const char *s_str(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* Patterns as "a, b", or "nothing". */
static void s_patterns(const json_t *arr, char *out, size_t size)
{
    size_t i, o = 0;
    const json_t *v;
    snprintf(out, size, "nothing");
    json_array_foreach(arr, i, v)
    {
        int n = snprintf(out + o, size - o, "%s%s", i ? ", " : "", json_string_value(v));
        if (n < 0 || (size_t)n >= size - o) break;
        o += (size_t)n;
    }
}

/* fb_cli_member_parse(), then the registry opened to read; NULL with *rc set when either fails. */
static fb_registry_t *s_open(const char *sub, const fb_cfg_key_t *keys, const char *synopsis, fb_cli_opts_t *o,
                             int argc, char **argv, int min_args, int max_args, int *rc)
{
    *rc = FB_CLI_EXIT_USAGE;
    if (fb_cli_member_parse(sub, keys, synopsis, o, argc, argv, min_args, max_args, NULL, NULL) < 0) return NULL;
    fb_registry_t *reg = fb_cli_member_open(o, sub, false);
    *rc = reg ? FB_CLI_EXIT_OK : FB_CLI_EXIT_FAILED;
    return reg;
}

/* Prints doc as indented JSON, or the error of rc; takes doc's reference. */
static int s_print_json(const char *sub, int rc, json_t *doc, const char *err)
{
    if (rc != FB_CLI_EXIT_OK) fprintf(stderr, "fedbus member %s: %s\n", sub, err);
    else if (json_dumpf(doc, stdout, JSON_INDENT(2)) == 0) fputc('\n', stdout);
    json_decref(doc);
    return rc;
}

int fb_cli_member_list(int argc, char **argv)
{
    fb_cli_opts_t o;
    int rc;
    fb_registry_t *reg = s_open("list", s_read_keys, "", &o, argc, argv, 0, 0, &rc);
    if (!reg) return rc;
    json_t *list = NULL;
    char err[512];
    rc = (int)fb_registry_list(reg, &list, err, sizeof(err));
    fb_registry_destroy(&reg);
    if (o.json || rc != FB_CLI_EXIT_OK) return s_print_json("list", rc, list, err);
    int w = 2;
    size_t i;
    const json_t *m;
    json_array_foreach(list, i, m) if ((int)strlen(s_str(m, "id")) > w) w = (int)strlen(s_str(m, "id"));
    printf("%-*s  %-8s  %-9s  %-7s  %-16s  %-20s  %s\n", w, "ID", "KIND", "STATUS", "COUNTRY", "KEY ID", "UPDATED",
           "NAME");
    json_array_foreach(list, i, m)
    {
        char at[32];
        const json_t *name = json_object_get(m, "name");
        const char *en = s_str(name, "en"), *ko = s_str(name, "ko");
        fb_cli_member_time(json_string_value(json_object_get(m, "updated_at")), at);
        printf("%-*s  %-8s  %-9s  %-7s  %-16s  %-20s  %s%s%s\n", w, s_str(m, "id"), s_str(m, "kind"),
               s_str(m, "status"), *s_str(m, "country") ? s_str(m, "country") : "-",
               *s_str(m, "key_id") ? s_str(m, "key_id") : "-", at, en, *en && *ko ? " / " : "", ko);
    }
    json_decref(list);
    return rc;
}

/* One audit row as one line: when, action, member, who, what changed. */
static void s_print_audit(const json_t *row, const char *indent)
{
    char at[32];
    const json_t *detail = json_object_get(row, "detail");
    char *text = json_dumps(json_object_get(detail, "changes"), JSON_COMPACT);
    const char *reason = s_str(detail, "reason"), *db_user = s_str(detail, "db_user");
    fb_cli_member_time(json_string_value(json_object_get(row, "at")), at);
    printf("%s%s  %-10s  %s  by %s%s%s%s  %s%s%s\n", indent, at, s_str(row, "action"), s_str(row, "member"),
           s_str(row, "actor"), *db_user ? " (PostgreSQL user " : "", db_user, *db_user ? ")" : "",
           text ? text : "{}", *reason ? "  reason: " : "", reason);
    free(text);
}

/* The keys of a member, one line each with its window. */
static void s_print_keys(const json_t *keys)
{
    size_t i;
    const json_t *k;
    int64_t now = fb_time_now_us();
    json_array_foreach(keys, i, k)
    {
        char from[32], until[32];
        const char *f = json_string_value(json_object_get(k, "valid_from"));
        const char *u = json_string_value(json_object_get(k, "valid_until"));
        int64_t f_us = 0, u_us = 0;
        int off;
        const char *state = "valid now";
        if (f && fb_time_parse(f, &f_us, &off) == 0 && f_us > now) state = "not yet valid";
        if (u && fb_time_parse(u, &u_us, &off) == 0 && u_us <= now) state = "expired";
        fb_cli_member_time(f, from);
        fb_cli_member_time(u, until);
        printf("  %s  from %s  until %-20s  %-13s  %s\n", s_str(k, "key_id"), from, u ? until : "(open)", state,
               s_str(k, "public_key"));
    }
}

int fb_cli_member_show(int argc, char **argv)
{
    fb_cli_opts_t o;
    int rc;
    fb_registry_t *reg = s_open("show", s_read_keys, "ID", &o, argc, argv, 1, 1, &rc);
    if (!reg) return rc;
    json_t *m = NULL;
    char err[512], publish[1024], read[1024], created[32], updated[32];
    rc = (int)fb_registry_show(reg, argv[1], S_SHOW_AUDIT_ROWS, &m, err, sizeof(err));
    fb_registry_destroy(&reg);
    if (o.json || rc != FB_CLI_EXIT_OK) return s_print_json("show", rc, m, err);
    s_patterns(json_object_get(m, "publish"), publish, sizeof(publish));
    s_patterns(json_object_get(m, "read"), read, sizeof(read));
    fb_cli_member_time(json_string_value(json_object_get(m, "created_at")), created);
    fb_cli_member_time(json_string_value(json_object_get(m, "updated_at")), updated);
    const json_t *name = json_object_get(m, "name");
    printf("member        %s\nkind          %s\nstatus        %s\nname (en)     %s\nname (ko)     %s\n"
           "country       %s\nregion        %s\npublishes     %s\nreads         %s\nCURVE key     %s\n"
           "registered    %s\nupdated       %s\nsigning keys (Ed25519):\n",
           s_str(m, "id"), s_str(m, "kind"), s_str(m, "status"), s_str(name, "en"), s_str(name, "ko"),
           s_str(m, "country"), s_str(m, "region"), publish, read, s_str(m, "curve_public"), created, updated);
    s_print_keys(json_object_get(m, "keys"));
    printf("audit (last %d rows):\n", S_SHOW_AUDIT_ROWS);
    size_t i;
    const json_t *row;
    json_array_foreach(json_object_get(m, "audit"), i, row) s_print_audit(row, "  ");
    json_decref(m);
    return rc;
}

/* --since: RFC 3339, a date, or a duration back from now; into RFC 3339 text. */
static int s_since(const char *text, char *out, size_t size)
{
    int64_t us, seconds;
    int off;
    if (fb_time_parse(text, &us, &off) == 0) return fb_time_format(us, off, out, size) < 0 ? -1 : 0;
    if (fb_member_duration(text, &seconds) != 0) return -1;
    return fb_time_format(fb_time_now_us() - seconds * 1000000, 0, out, size) < 0 ? -1 : 0;
}

int fb_cli_member_log(int argc, char **argv)
{
    fb_cli_opts_t o;
    char since[64] = "", err[512];
    int nargs = fb_cli_member_parse("log", s_log_keys, "[ID]", &o, argc, argv, 0, 1, NULL, NULL);
    if (nargs < 0) return FB_CLI_EXIT_USAGE;
    if (o.since[0] && s_since(o.since, since, sizeof(since)) != 0) {
        fprintf(stderr, "fedbus member log: --since=%s: neither a time (2026-12-01, 2026-12-01T09:00:00+09:00) "
                        "nor a duration (90m, 2h, 7d)\n", o.since);
        return FB_CLI_EXIT_USAGE;
    }
    fb_registry_t *reg = fb_cli_member_open(&o, "log", false);
    if (!reg) return FB_CLI_EXIT_FAILED;
    json_t *rows = NULL;
    int rc = (int)fb_registry_log(reg, nargs ? argv[1] : NULL, since[0] ? since : NULL, o.limit, &rows, err,
                                  sizeof(err));
    fb_registry_destroy(&reg);
    if (o.json || rc != FB_CLI_EXIT_OK) return s_print_json("log", rc, rows, err);
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row) s_print_audit(row, "");
    json_decref(rows);
    return rc;
}

int fb_cli_member_export(int argc, char **argv)
{
    fb_cli_opts_t o;
    int rc;
    fb_registry_t *reg = s_open("export-directory", s_export_keys, "", &o, argc, argv, 0, 0, &rc);
    if (!reg) return rc;
    json_t *doc = NULL;
    char err[512];
    fb_keys_t k;
    if (o.keys[0] && fb_keys_read(o.keys, &k, err, sizeof(err)) != 0) {
        fb_registry_destroy(&reg);
        fprintf(stderr, "fedbus member export-directory: --sign: %s\n", err);
        return FB_CLI_EXIT_USAGE;
    }
    rc = (int)fb_registry_directory(reg, &doc, err, sizeof(err));
    fb_registry_destroy(&reg);
    if (rc == FB_CLI_EXIT_OK && o.keys[0]) {
        json_t *signed_doc = fb_signed_dir_sign(doc, &k, fb_time_now_us(), err, sizeof(err));
        json_decref(doc);
        doc = signed_doc;
        rc = doc ? FB_CLI_EXIT_OK : FB_CLI_EXIT_USAGE;
    }
    return s_print_json("export-directory", rc, doc, err);
}
