/* fb_cli_member.c — `fedbus member`: the subcommands' dispatch, and those that change the registry.
 *
 * Each change is one transaction of fb_registry (audit row and NOTIFY
 * included). Arguments are checked here, before any connection is made. */
#include "fb_cli_member.h"

#include "fb_member.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert((int)FB_REG_FAILED == FB_CLI_EXIT_FAILED && (int)FB_REG_INVALID == FB_CLI_EXIT_USAGE &&
                   (int)FB_REG_UNKNOWN == FB_CLI_EXIT_UNKNOWN && (int)FB_REG_EXISTS == FB_CLI_EXIT_EXISTS &&
                   (int)FB_REG_KEY_TAKEN == FB_CLI_EXIT_KEY_TAKEN && (int)FB_REG_REVOKED == FB_CLI_EXIT_REVOKED &&
                   (int)FB_REG_KEY_MISMATCH == FB_CLI_EXIT_KEY_MISMATCH,
               "the registry's results are the CLI's exit statuses");

#define S_ERR(cmd, ...) (fprintf(stderr, "fedbus member %s: ", cmd), fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

static const fb_cfg_key_t s_add_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    {"kind", FB_CFG_STR, FB_CLI_STR(kind), "", 0, 0, "hub, partner or observer (needed)"},
    {"keys", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0, "the member's public key file, ID.pub (needed)"},
    {"name-ko", FB_CFG_STR, FB_CLI_STR(name_ko), "", 0, 0, "name in Korean"},
    {"name-en", FB_CFG_STR, FB_CLI_STR(name_en), "", 0, 0, "name in English"},
    {"country", FB_CFG_STR, FB_CLI_STR(country), "KR", 0, 0, "ISO 3166-1 alpha-2 code"},
    {"region", FB_CFG_STR, FB_CLI_STR(region), "", 0, 0, "region or city"},
    {"publish", FB_CFG_STR, FB_CLI_STR(publish), "", 0, 0,
     "a topic pattern the member may publish to; repeat the flag or separate by commas; --publish= for "
     "none (default by kind: hub and partner *.ID, observer none)"},
    {"read", FB_CFG_STR, FB_CLI_STR(read), "", 0, 0,
     "a topic pattern the member may read, as --publish (default by kind: hub *, partner and observer event "
     "and cfp); '*' only as leading or trailing segments"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_set_read_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    {"read", FB_CFG_STR, FB_CLI_STR(read), "", 0, 0,
     "a topic pattern the member may read from now on; repeat the flag or separate by commas; --read= for "
     "nothing (needed)"},
    FB_CLI_MEMBER_REASON_KEY,
    FB_CFG_END,
};

static const fb_cfg_key_t s_import_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    {"keys-dir", FB_CFG_STR, FB_CLI_STR(keys_dir), "", 0, 0, "directory of the members' public key files, ID.pub (needed)"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_status_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    FB_CLI_MEMBER_REASON_KEY,
    FB_CFG_END,
};

static const fb_cfg_key_t s_rotate_keys[] = {
    FB_CLI_MEMBER_DB_KEYS,
    {"keys", FB_CFG_STR, FB_CLI_STR(keys), "", 0, 0, "the member's new public key file (needed)"},
    {"overlap", FB_CFG_STR, FB_CLI_STR(overlap), "1h", 0, 0,
     "how long the old signing key stays valid (0, 90s, 30m, 1h, 2d...)"},
    FB_CFG_END,
};

int fb_cli_member_parse(const char *sub, const fb_cfg_key_t *keys, const char *synopsis, fb_cli_opts_t *o,
                        int argc, char **argv, int min_args, int max_args, const char *required,
                        const char *need)
{
    char cmd[64];
    int nargs;
    snprintf(cmd, sizeof(cmd), "member %s", sub);
    fb_cli_parse_help(cmd, keys, o, argc, argv, &nargs, synopsis, FB_CLI_EXIT_HELP);
    if (nargs >= min_args && nargs <= max_args && (!required || required[0])) return nargs;
    if (!need) need = max_args ? "one member ID is needed" : "no arguments are taken";
    S_ERR(sub, "%s (see fedbus member %s --help)", need, sub);
    return -1;
}

fb_registry_t *fb_cli_member_open(const fb_cli_opts_t *o, const char *cmd, bool migrate)
{
    char actor[sizeof(o->actor)], host[128] = "", err[512];
    if (o->actor[0]) {
        snprintf(actor, sizeof(actor), "%s", o->actor);
    } else {
        const char *user = getenv("USER");
        struct passwd *pw = user && *user ? NULL : getpwuid(getuid());
        if (gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "localhost");
        if (user && *user) snprintf(actor, sizeof(actor), "%.100s@%s", user, host);
        else if (pw) snprintf(actor, sizeof(actor), "%.100s@%s", pw->pw_name, host);
        else snprintf(actor, sizeof(actor), "uid %ld@%s", (long)getuid(), host);
    }
    for (const char *p = actor; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            S_ERR(cmd, "--actor holds a control character");
            return NULL;
        }
    fb_registry_t *reg = fb_registry_open(o->pg, actor, migrate, err, sizeof(err));
    if (!reg) S_ERR(cmd, "%s", err);
    return reg;
}

void fb_cli_member_time(const char *ts, char out[32])
{
    if (!ts) {
        snprintf(out, 32, "-");
        return;
    }
    const char *dot = strchr(ts, '.');
    snprintf(out, 32, "%.*sZ", dot ? (int)(dot - ts) : (int)strcspn(ts, "Z"), ts);
}

/* Reads the public key file path for member id into k; prints why and
 * returns -1 when it cannot be read, holds secrets, or is another member's. */
static int s_read_pub(const char *cmd, const char *path, const char *id, fb_keys_t *k)
{
    char err[512];
    if (fb_keys_read(path, k, err, sizeof(err)) != 0) {
        S_ERR(cmd, "%s", err);
        return -1;
    }
    if (k->has_secret) {
        S_ERR(cmd, "%s holds secret keys: register the public file (ID.pub, or the text fedbus keygen --show prints)",
              path);
        return -1;
    }
    if (strcmp(k->member, id) != 0) {
        S_ERR(cmd, "%s holds the keys of member '%s', not '%s': each member registers keys made for its own id",
              path, k->member, id);
        return -1;
    }
    return 0;
}

/* --publish and --read may be repeated, but fb_config keeps a key's last
 * value: their values are joined with commas into one flag of each first.
 * given[k] tells whether flag k was on the command line at all. */
typedef struct {
    int argc;
    char **argv;
    char *joined[2]; /* "--publish=a,b", "--read=c" */
    bool given[2];
} s_args_t;

static int s_join_repeated(int argc, char **argv, s_args_t *a)
{
    static const char *const names[2] = {"--publish", "--read"};
    memset(a, 0, sizeof(*a));
    if (!(a->argv = calloc((size_t)argc + 3, sizeof(char *)))) return -1;
    for (int i = 0; i < argc; i++) {
        int k = -1;
        const char *value = NULL;
        for (int n = 0; n < 2 && i > 0 && k < 0; n++) {
            size_t len = strlen(names[n]);
            if (!strncmp(argv[i], names[n], len) && argv[i][len] == '=') k = n, value = argv[i] + len + 1;
            else if (!strcmp(argv[i], names[n]) && i + 1 < argc) k = n, value = argv[++i];
        }
        if (!strcmp(argv[i], "--")) {
            while (i < argc) a->argv[a->argc++] = argv[i++];
            break;
        }
        if (k < 0) {
            a->argv[a->argc++] = argv[i];
            continue;
        }
        size_t old = a->joined[k] ? strlen(a->joined[k]) : 0;
        char *more = realloc(a->joined[k], old + strlen(names[k]) + strlen(value) + 3);
        if (!more) return -1;
        if (!old) sprintf(more, "%s=%s", names[k], value);
        else sprintf(more + old, "%s%s", a->given[k] && more[old - 1] != '=' ? "," : "", value);
        a->joined[k] = more;
        a->given[k] = true;
    }
    /* the joined flags go before a "--", where fb_config still reads flags */
    int at = a->argc;
    for (int i = 1; i < a->argc; i++)
        if (!strcmp(a->argv[i], "--")) at = i;
    for (int k = 0; k < 2; k++)
        if (a->joined[k]) {
            memmove(a->argv + at + 1, a->argv + at, (size_t)(a->argc - at) * sizeof(char *));
            a->argv[at++] = a->joined[k];
            a->argc++;
        }
    return 0;
}

static void s_args_free(s_args_t *a)
{
    free(a->argv);
    free(a->joined[0]);
    free(a->joined[1]);
}

/* Copies src into dst (size bytes); prints and returns -1 when it does not fit. */
static int s_copy(const char *cmd, const char *what, char *dst, size_t size, const char *src)
{
    if (strlen(src) < size) {
        memcpy(dst, src, strlen(src) + 1);
        return 0;
    }
    S_ERR(cmd, "%s is longer than %zu bytes", what, size - 1);
    return -1;
}

/* Fills m from the flags of `member add`; prints why and returns -1 when they are not valid. */
static int s_member_from_flags(const fb_cli_opts_t *o, const char *id, const s_args_t *a, fb_member_t *m)
{
    char err[512];
    memset(m, 0, sizeof(*m));
    if (s_copy("add", "the member id", m->id, sizeof(m->id), id) ||
        s_copy("add", "--kind", m->kind, sizeof(m->kind), o->kind) ||
        s_copy("add", "--name-ko", m->name_ko, sizeof(m->name_ko), o->name_ko) ||
        s_copy("add", "--name-en", m->name_en, sizeof(m->name_en), o->name_en) ||
        s_copy("add", "--country", m->country, sizeof(m->country), o->country) ||
        s_copy("add", "--region", m->region, sizeof(m->region), o->region))
        return -1;
    if (!fb_member_kind_valid(m->kind)) {
        S_ERR("add", "--kind=%s: not hub, partner or observer", m->kind);
        return -1;
    }
    m->publish_set = a->given[0] || o->publish[0];
    m->read_set = a->given[1] || o->read[0];
    if (fb_member_patterns_add(&m->publish, "--publish", o->publish, err, sizeof(err)) ||
        fb_member_patterns_add(&m->read, "--read", o->read, err, sizeof(err)) || fb_member_defaults(m) ||
        fb_member_check(m, err, sizeof(err))) {
        S_ERR("add", "%s", err);
        return -1;
    }
    return 0;
}

static int s_add(int argc, char **argv)
{
    s_args_t a;
    fb_cli_opts_t o;
    int rc = FB_CLI_EXIT_USAGE;
    if (s_join_repeated(argc, argv, &a) != 0) {
        S_ERR("add", "out of memory");
        s_args_free(&a);
        return FB_CLI_EXIT_FAILED;
    }
    int nargs = fb_cli_member_parse("add", s_add_keys, "ID --kind=KIND --keys=ID.pub", &o, a.argc, a.argv, 1, 1,
                                    NULL, NULL);
    fb_member_t m;
    fb_keys_t keys;
    if (nargs >= 0 && (!o.kind[0] || !o.keys[0])) {
        S_ERR("add", "--kind and --keys are needed (see fedbus member add --help)");
        nargs = -1;
    }
    if (nargs >= 0 && s_member_from_flags(&o, a.argv[1], &a, &m) == 0 && s_read_pub("add", o.keys, m.id, &keys) == 0) {
        fb_registry_t *reg = fb_cli_member_open(&o, "add", true);
        char err[512], id[FB_KEY_ID_HEX_LEN + 1], publish[1024], read[1024];
        rc = reg ? (int)fb_registry_add(reg, &m, &keys, err, sizeof(err)) : FB_CLI_EXIT_FAILED;
        if (reg && rc != FB_CLI_EXIT_OK) S_ERR("add", "%s", err);
        if (rc == FB_CLI_EXIT_OK) {
            fb_keys_id_hex(keys.sign_key_id, id);
            if (fb_member_patterns_join(&m.publish, publish, sizeof(publish))) strcpy(publish, "...");
            if (fb_member_patterns_join(&m.read, read, sizeof(read))) strcpy(read, "...");
            printf("registered %s (%s, active): signing key %s valid from now; publishes %s; reads %s\n", m.id,
                   m.kind, id, publish[0] ? publish : "nothing", read[0] ? read : "nothing");
        }
        fb_registry_destroy(&reg);
    }
    s_args_free(&a);
    return rc;
}

/* Reads the members file path and each member's DIR/ID.pub; returns the
 * count, or -1 after printing why. *members and *keys are the caller's to free. */
static int s_read_members(const char *path, const char *dir, fb_member_t **members, fb_keys_t **keys)
{
    json_error_t je;
    char err[512], pub[1200];
    json_t *doc = json_load_file(path, 0, &je), *list = json_object_get(doc, "members");
    int n = -1;
    *members = NULL;
    *keys = NULL;
    if (!doc) S_ERR("import", "%s:%d: %s", path, je.line, je.text);
    else if (!json_is_array(list) || json_array_size(list) == 0)
        S_ERR("import", "%s: not a members file {\"members\": [...]} with at least one member", path);
    else if (!(*members = calloc(json_array_size(list), sizeof(**members))) ||
             !(*keys = calloc(json_array_size(list), sizeof(**keys))))
        S_ERR("import", "out of memory");
    else
        n = 0;
    for (size_t i = 0; n >= 0 && i < json_array_size(list); i++, n++) {
        fb_member_t *m = &(*members)[i];
        if (fb_member_from_json(json_array_get(list, i), m, err, sizeof(err)) != 0) {
            S_ERR("import", "%s: member %zu: %s", path, i + 1, err);
            n = -1;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp((*members)[j].id, m->id)) {
                S_ERR("import", "%s: member %s is listed twice", path, m->id);
                n = -1;
            }
        snprintf(pub, sizeof(pub), "%s/%s.pub", dir, m->id);
        if (n < 0 || s_read_pub("import", pub, m->id, &(*keys)[i]) != 0) {
            n = -1;
            break;
        }
    }
    json_decref(doc);
    return n;
}

static int s_import(int argc, char **argv)
{
    fb_cli_opts_t o = {0}; /* its field is passed before the parse fills it */
    if (fb_cli_member_parse("import", s_import_keys, "FILE.json --keys-dir=DIR", &o, argc, argv, 1, 1, o.keys_dir,
                            "a members file and --keys-dir=DIR are needed") < 0)
        return FB_CLI_EXIT_USAGE;
    fb_member_t *members;
    fb_keys_t *keys;
    int n = s_read_members(argv[1], o.keys_dir, &members, &keys), rc = FB_CLI_EXIT_USAGE;
    fb_reg_outcome_t *outcome = n > 0 ? calloc((size_t)n, sizeof(*outcome)) : NULL;
    fb_registry_t *reg = outcome ? fb_cli_member_open(&o, "import", true) : NULL;
    if (n > 0) rc = FB_CLI_EXIT_FAILED;
    if (reg) {
        char err[512];
        static const char *const said[] = {"added", "updated", "unchanged"};
        rc = (int)fb_registry_import(reg, members, keys, (size_t)n, outcome, err, sizeof(err));
        if (rc != FB_CLI_EXIT_OK) S_ERR("import", "%s (nothing was imported)", err);
        for (int i = 0; rc == FB_CLI_EXIT_OK && i < n; i++) printf("%s: %s\n", members[i].id, said[outcome[i]]);
    }
    fb_registry_destroy(&reg);
    free(outcome);
    free(members);
    free(keys);
    return rc;
}

/* suspend, reactivate and revoke: member id to status. */
static int s_set_status(int argc, char **argv, const char *status)
{
    fb_cli_opts_t o;
    char err[512], old[16] = "";
    if (fb_cli_member_parse(argv[0], s_status_keys, "ID [--reason=TEXT]", &o, argc, argv, 1, 1, NULL, NULL) < 0)
        return FB_CLI_EXIT_USAGE;
    fb_registry_t *reg = fb_cli_member_open(&o, argv[0], true);
    if (!reg) return FB_CLI_EXIT_FAILED;
    bool changed = false;
    int rc = (int)fb_registry_set_status(reg, argv[1], status, o.reason, &changed, old, err, sizeof(err));
    fb_registry_destroy(&reg);
    if (rc != FB_CLI_EXIT_OK) S_ERR(argv[0], "%s", err);
    else if (!changed) printf("%s is %s already: nothing changed\n", argv[1], status);
    else printf("%s: %s -> %s\n", argv[1], old, status);
    return rc;
}

static int s_suspend(int argc, char **argv)
{
    return s_set_status(argc, argv, "suspended");
}

static int s_reactivate(int argc, char **argv)
{
    return s_set_status(argc, argv, "active");
}

static int s_revoke(int argc, char **argv)
{
    return s_set_status(argc, argv, "revoked");
}

static int s_rotate(int argc, char **argv)
{
    fb_cli_opts_t o = {0}; /* its field is passed before the parse fills it */
    int64_t overlap;
    fb_keys_t keys;
    if (fb_cli_member_parse("rotate-key", s_rotate_keys, "ID --keys=NEW.pub", &o, argc, argv, 1, 1, o.keys,
                            "one member ID and --keys=NEW.pub are needed") < 0)
        return FB_CLI_EXIT_USAGE;
    if (fb_member_duration(o.overlap, &overlap) != 0) {
        S_ERR("rotate-key", "--overlap=%s: not a duration (0, 90s, 30m, 1h, 2d; at most 366d)", o.overlap);
        return FB_CLI_EXIT_USAGE;
    }
    if (s_read_pub("rotate-key", o.keys, argv[1], &keys) != 0) return FB_CLI_EXIT_USAGE;
    fb_registry_t *reg = fb_cli_member_open(&o, "rotate-key", true);
    if (!reg) return FB_CLI_EXIT_FAILED;
    char err[512], id[FB_KEY_ID_HEX_LEN + 1];
    int rc = (int)fb_registry_rotate(reg, argv[1], &keys, overlap, err, sizeof(err));
    fb_registry_destroy(&reg);
    if (rc != FB_CLI_EXIT_OK) {
        S_ERR("rotate-key", "%s", err);
        return rc;
    }
    fb_keys_id_hex(keys.sign_key_id, id);
    printf("%s: signing key %s valid from now; the previous signing key stays valid for %s; the CURVE key "
           "is replaced now (the member's node connects with the new key file)\n",
           argv[1], id, o.overlap);
    return rc;
}

/* set-read: what member id may read, replaced by --read. */
static int s_set_read(int argc, char **argv)
{
    s_args_t a;
    fb_cli_opts_t o;
    int rc = FB_CLI_EXIT_USAGE;
    fb_member_patterns_t read = {0};
    char err[512], joined[1024];
    if (s_join_repeated(argc, argv, &a) != 0) {
        S_ERR("set-read", "out of memory");
        s_args_free(&a);
        return FB_CLI_EXIT_FAILED;
    }
    const char *need = "one member ID and --read are needed (--read= for nothing)";
    int nargs = fb_cli_member_parse("set-read", s_set_read_keys, "ID --read=PATTERN...", &o, a.argc, a.argv, 1, 1,
                                    NULL, need);
    if (nargs >= 0 && !a.given[1]) {
        S_ERR("set-read", "%s", need);
        nargs = -1;
    }
    if (nargs < 0)
        rc = FB_CLI_EXIT_USAGE;
    else if (fb_member_patterns_add(&read, "--read", o.read, err, sizeof(err)) != 0 ||
             fb_member_check_read(&read, err, sizeof(err)) != 0)
        S_ERR("set-read", "%s", err);
    else {
        fb_registry_t *reg = fb_cli_member_open(&o, "set-read", true);
        bool changed = false;
        rc = FB_CLI_EXIT_FAILED; /* fb_cli_member_open() said why */
        if (reg && (rc = (int)fb_registry_set_read(reg, a.argv[1], &read, o.reason, &changed, err, sizeof(err))))
            S_ERR("set-read", "%s", err);
        fb_registry_destroy(&reg);
        if (fb_member_patterns_join(&read, joined, sizeof(joined))) strcpy(joined, "...");
        if (rc == FB_CLI_EXIT_OK && !changed) printf("%s reads %s already: nothing changed\n", a.argv[1],
                                                     joined[0] ? joined : "nothing");
        else if (rc == FB_CLI_EXIT_OK)
            printf("%s reads %s from now on (the broker applies it to open connections within seconds)\n",
                   a.argv[1], joined[0] ? joined : "nothing");
    }
    s_args_free(&a);
    return rc;
}

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
} s_subcommands[] = {
    {"add", s_add, "ID --kind=hub|partner|observer --keys=ID.pub [--name-ko= --name-en= --country= --region=\n"
                   "                    --publish=PATTERN... --read=PATTERN...]   register a member"},
    {"import", s_import, "FILE.json --keys-dir=DIR   register or update every member of a members file"},
    {"list", fb_cli_member_list, "[--json]   every member: id, kind, status, country, key id, updated, names"},
    {"show", fb_cli_member_show, "ID [--json]   one member: all fields, keys with their windows, last audit rows"},
    {"log", fb_cli_member_log, "[ID] [--since=TIME] [--json]   the audit trail"},
    {"suspend", s_suspend, "ID [--reason=TEXT]   refuse the member until it is reactivated"},
    {"reactivate", s_reactivate, "ID   a suspended member is active again"},
    {"revoke", s_revoke, "ID [--reason=TEXT]   refuse the member for good; its key windows close now"},
    {"set-read", s_set_read, "ID --read=PATTERN... [--reason=TEXT]   what the member may read from now on"},
    {"rotate-key", s_rotate, "ID --keys=NEW.pub [--overlap=1h]   new keys; the old signing key ends after the overlap"},
    {"export-directory", fb_cli_member_export, "  the member directory as JSON (ids, names, kinds, status, keys)"},
};
#define S_NSUB ((int)(sizeof(s_subcommands) / sizeof(s_subcommands[0])))

static void s_usage(FILE *out)
{
    fprintf(out, "usage: fedbus member SUBCOMMAND [options] [arguments]\n\n"
                 "The member registry in the broker's PostgreSQL database (--pg, FEDBUS_PG or libpq's PG*).\n"
                 "Every change is one transaction: the change, an audit row (--actor, PostgreSQL's\n"
                 "current_user, what changed) and NOTIFY fedbus_members, which the broker listens to.\n\n"
                 "Subcommands:\n");
    for (int i = 0; i < S_NSUB; i++) fprintf(out, "  %s %s\n", s_subcommands[i].name, s_subcommands[i].synopsis);
    fprintf(out, "\n'fedbus member SUBCOMMAND --help' lists the options of a subcommand.\n\n" FB_CLI_EXIT_HELP);
}

int fb_cli_member(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FB_CLI_EXIT_USAGE : FB_CLI_EXIT_OK;
    }
    for (int i = 0; i < S_NSUB; i++)
        if (!strcmp(argv[1], s_subcommands[i].name)) return s_subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "fedbus member: unknown subcommand '%s' (see fedbus member --help)\n", argv[1]);
    return FB_CLI_EXIT_USAGE;
}
