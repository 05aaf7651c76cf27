/* fb_cli_verify.c — `fedbus verify` and `fedbus archive export`: stored history checked offline, or archived. */
#include "fb_archive.h"
#include "fb_archive_pg.h"
#include "fb_cli.h"
#include "fb_cli_member.h"
#include "fb_history.h"
#include "fb_member.h"
#include "fb_registry.h"
#include "fb_signed_dir.h"
#include "fb_time.h"
#include "fedbus/fb_topic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_RANGE_KEYS                                                                                          \
    {"pg", FB_CFG_STR, FB_CLI_STR(pg), "", 0, 0,                                                              \
     "PostgreSQL connection string (libpq conninfo or URI) of the broker's database (FEDBUS_PG); empty: "     \
     "libpq's PG* variables"},                                                                                \
        {"origin", FB_CFG_STR, FB_CLI_STR(origin), "", 0, 0, "this origin's history only"},                   \
        {"since", FB_CFG_STR, FB_CLI_STR(since), "", 0, 0,                                                    \
         "envelopes stored from this time on: RFC 3339, a date (UTC) or a duration back from now (90m, 7d)"}, \
        {"until", FB_CFG_STR, FB_CLI_STR(until), "", 0, 0, "envelopes stored before this time (as --since)"}

static const fb_cfg_key_t s_verify_keys[] = {
    S_RANGE_KEYS,
    {"directory", FB_CFG_STR, FB_CLI_STR(directory), "", 0, 0,
     "check against this member directory (a file `fedbus member export-directory` wrote) instead of the "
     "registry's or the archive's own"},
    {"directory-key", FB_CFG_STR, FB_CLI_STR(directory_key), "", 0, 0,
     "the broker's key file (.pub or .key): --directory must be signed with it (export-directory --sign)"},
    {"require-sealed", FB_CFG_BOOL, FB_CLI_INT(require_sealed), "false", 0, 0,
     "an envelope no seal covers is a failure (as with the broker's signatures = required)"},
    {"quiet", FB_CFG_BOOL, FB_CLI_INT(quiet), "false", 0, 0, "print the problems only, no summary"},
    FB_CFG_END,
};

static const fb_cfg_key_t s_export_keys[] = {
    S_RANGE_KEYS,
    FB_CFG_END,
};

#define S_VERIFY_HELP                                                                                         \
    "Checks, per origin: every seal's root and Ed25519 signature, by a key of the origin valid when it was\n"  \
    "signed; every stored envelope is the one its seal signed and links to the one before it; no envelope\n"   \
    "of the chain is missing. Reads PostgreSQL (--pg) or, given FILE, an archive of `fedbus archive export`\n" \
    "(- for stdin) with no database. One line per problem on stdout, \"FAIL ORIGIN seq N message_id ID: why\";\n" \
    "envelopes no seal covers (allowed while the broker's signatures setting is optional) as \"UNSEALED ...\".\n" \
    "\nExit status:\n"                                                                                        \
    "  0  everything verified (unsealed envelopes allowed unless --require-sealed)\n"                         \
    "  1  something failed: one FAIL line per problem\n"                                                      \
    "  2  usage, or the history could not be read (PostgreSQL, the file, the directory)\n"

#define S_EXPORT_HELP                                                                                         \
    "Writes the member directory, the seals and the stored envelopes of the range as JSON lines to stdout\n"  \
    "(format: docs/archive.md); `fedbus verify FILE` checks it offline.\n"                                   \
    "\nExit status: 0 written, 1 PostgreSQL or the output failed, 2 usage.\n"

/* A --since/--until value into RFC 3339 (empty stays empty); -1 when it is neither a time nor a duration. */
static int s_time_opt(const char *cmd, const char *name, const char *text, char *out, size_t size)
{
    int64_t us, seconds;
    int off;
    out[0] = '\0';
    if (!text[0]) return 0;
    if (fb_time_parse(text, &us, &off) == 0 && fb_time_format(us, off, out, size) > 0) return 0;
    if (fb_member_duration(text, &seconds) == 0 &&
        fb_time_format(fb_time_now_us() - seconds * 1000000, 0, out, size) > 0)
        return 0;
    fprintf(stderr, "fedbus %s: --%s=%s: neither a time (2026-12-01, 2026-12-01T09:00:00+09:00) nor a duration "
                    "(90m, 2h, 7d)\n", cmd, name, text);
    return -1;
}

/* The range of o, its times into since/until. Returns 0, or -1 (printed). */
static int s_range(const char *cmd, const fb_cli_opts_t *o, fb_archive_range_t *r, char *since, char *until,
                   size_t size)
{
    size_t olen = strlen(o->origin);
    if (olen && (olen > FB_SEAL_ORIGIN_MAX || !fb_segment_valid(o->origin, olen))) {
        fprintf(stderr, "fedbus %s: --origin=%s: not a member id (1-32 of a-z, 0-9, -)\n", cmd, o->origin);
        return -1;
    }
    if (s_time_opt(cmd, "since", o->since, since, size) != 0 || s_time_opt(cmd, "until", o->until, until, size) != 0)
        return -1;
    *r = (fb_archive_range_t){o->origin[0] ? o->origin : NULL, since[0] ? since : NULL, until[0] ? until : NULL};
    return 0;
}

/* The registry's member directory (new reference), or NULL (printed). */
static json_t *s_registry_directory(const char *cmd, const fb_cli_opts_t *o)
{
    char err[512];
    json_t *dir = NULL;
    fb_registry_t *reg = fb_registry_open(o->pg, "fedbus-verify", false, err, sizeof(err));
    if (!reg || fb_registry_directory(reg, &dir, err, sizeof(err)) != FB_REG_OK) {
        fprintf(stderr, "fedbus %s: %s\n", cmd, err);
        json_decref(dir);
        dir = NULL;
    }
    fb_registry_destroy(&reg);
    return dir;
}

/* ------------------------------------------------------------- verify -- */

typedef struct {
    int require_sealed;
} s_out_t;

static void s_print(void *arg, fb_history_kind_t kind, const char *line)
{
    const s_out_t *o = arg;
    printf("%s %s\n", kind == FB_HISTORY_FAIL || o->require_sealed ? "FAIL" : "UNSEALED", line);
}

static int s_add_seal(void *arg, const fb_history_seal_t *s)
{
    return fb_history_add_seal(arg, s);
}

static int s_add_envelope(void *arg, const uint8_t *env, size_t len, uint64_t global_seq)
{
    (void)global_seq; /* the envelope's own stamp says it */
    return fb_history_add_envelope(arg, env, len);
}

static int s_add_unstored(void *arg, const fb_history_unstored_t *u)
{
    return fb_history_add_unstored(arg, u);
}

static int s_set_ids_from(void *arg, int64_t ms)
{
    fb_history_set_ids_from(arg, ms);
    return 0;
}

/* Reads the archive at path ("-": stdin) into h; returns 0, or 2 (printed). */
static int s_read_archive(const char *path, fb_history_t *h, int own_directory, s_out_t *out, size_t *problems)
{
    char err[512];
    FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "fedbus verify: %s: cannot open: %m\n", path);
        return FB_CLI_EXIT_USAGE;
    }
    int rc = fb_archive_read(in, h, own_directory, s_print, out, problems, err, sizeof(err));
    if (in != stdin) fclose(in);
    if (rc != 0) {
        fprintf(stderr, "fedbus verify: %s: %s\n", path, err);
        return FB_CLI_EXIT_USAGE;
    }
    return 0;
}

/* --directory's file (plain, or signed and checked with --directory-key) into h; returns 0, or 2 (printed). */
static int s_load_directory(const char *path, const char *broker_key, fb_history_t *h)
{
    char err[512];
    json_error_t je;
    fb_keys_t bk;
    if (broker_key[0] && fb_keys_read(broker_key, &bk, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus verify: --directory-key: %s\n", err);
        return FB_CLI_EXIT_USAGE;
    }
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "fedbus verify: --directory=%s: %s\n", path, je.text);
        return FB_CLI_EXIT_USAGE;
    }
    int checked;
    json_t *dir = fb_signed_dir_open(doc, broker_key[0] ? bk.sign_public : NULL, &checked, err, sizeof(err));
    json_decref(doc);
    if (!dir) {
        fprintf(stderr, "fedbus verify: --directory=%s: %s\n", path, err);
        return FB_CLI_EXIT_USAGE;
    }
    if (broker_key[0] && !checked) {
        fprintf(stderr, "fedbus verify: --directory=%s: not signed, and --directory-key asks for a signed one\n", path);
        json_decref(dir);
        return FB_CLI_EXIT_USAGE;
    }
    int rc = fb_history_directory(h, dir, err, sizeof(err));
    json_decref(dir);
    if (rc != 0) fprintf(stderr, "fedbus verify: --directory=%s: %s\n", path, err);
    return rc ? FB_CLI_EXIT_USAGE : 0;
}

/* Loads h from PostgreSQL; returns 0, or 2 (printed). */
static int s_read_pg(const fb_cli_opts_t *o, fb_history_t *h, int with_directory)
{
    char since[64], until[64], err[512];
    fb_archive_range_t range;
    if (s_range("verify", o, &range, since, until, sizeof(since)) != 0) return FB_CLI_EXIT_USAGE;
    if (with_directory) {
        json_t *dir = s_registry_directory("verify", o);
        if (!dir) return FB_CLI_EXIT_USAGE;
        int rc = fb_history_directory(h, dir, err, sizeof(err));
        json_decref(dir);
        if (rc != 0) {
            fprintf(stderr, "fedbus verify: the registry's directory: %s\n", err);
            return FB_CLI_EXIT_USAGE;
        }
    }
    fb_archive_sink_t sink = {s_add_seal, s_add_envelope, s_add_unstored, s_set_ids_from, h};
    size_t ns, ne, nu;
    if (fb_archive_pg_read(o->pg, &range, &sink, &ns, &ne, &nu, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus verify: %s\n", err);
        return FB_CLI_EXIT_USAGE;
    }
    return 0;
}

int fb_cli_verify(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs = 0;
    fb_cli_parse_help("verify", s_verify_keys, &o, argc, argv, &nargs, "[--pg=CONNINFO | FILE]", S_VERIFY_HELP);
    if (nargs > 1) {
        fprintf(stderr, "fedbus verify: one archive at a time\n");
        return FB_CLI_EXIT_USAGE;
    }
    const char *file = nargs ? argv[1] : NULL;
    if (file && (o.pg[0] || o.origin[0] || o.since[0] || o.until[0])) {
        fprintf(stderr, "fedbus verify: an archive holds its own range: --pg, --origin, --since and --until "
                        "select from PostgreSQL only\n");
        return FB_CLI_EXIT_USAGE;
    }
    s_out_t out = {o.require_sealed};
    fb_history_t *h = fb_history_new(file ? "not in the archive" : "not stored");
    if (!h) return FB_CLI_EXIT_FAILED;
    size_t archive_problems = 0;
    int rc = o.directory[0] ? s_load_directory(o.directory, o.directory_key, h) : 0;
    if (rc == 0 && file) {
        /* the archive's own directory stands only when none was given */
        rc = s_read_archive(file, h, !o.directory[0], &out, &archive_problems);
    } else if (rc == 0) rc = s_read_pg(&o, h, !o.directory[0]);
    if (rc != 0) {
        fb_history_destroy(&h);
        return rc;
    }
    fb_history_counts_t c;
    size_t failed = fb_history_check(h, s_print, &out, &c) + archive_problems;
    if (o.require_sealed) failed += c.unsealed;
    fb_history_destroy(&h);
    char kept[160] = "";
    if (c.unstored)
        snprintf(kept, sizeof(kept), "; linked but not stored: %zu (DUPLICATE %zu, STALE_SEQUENCE %zu, ID_REUSED %zu)",
                 c.unstored, c.unstored_duplicate, c.unstored_stale, c.unstored_reused);
    if (!o.quiet)
        printf("%s: %zu origins, %zu seals, %zu envelopes; %zu unsealed%s; %zu problems\n",
               failed ? "FAILED" : "VERIFIED", c.origins, c.seals, c.envelopes, c.unsealed, kept, failed);
    fflush(stdout);
    return failed ? FB_CLI_EXIT_FAILED : FB_CLI_EXIT_OK;
}

/* ------------------------------------------------------------- export -- */

typedef struct {
    FILE *out;
    size_t seals, envelopes, unstored;
    int64_t ids_from_ms;
} s_writer_t;

static int s_put_seal(void *arg, const fb_history_seal_t *s)
{
    s_writer_t *w = arg;
    w->seals++;
    return fb_archive_put_seal(w->out, s);
}

static int s_put_envelope(void *arg, const uint8_t *env, size_t len, uint64_t global_seq)
{
    s_writer_t *w = arg;
    w->envelopes++;
    return fb_archive_put_envelope(w->out, env, len, global_seq);
}

static int s_put_unstored(void *arg, const fb_history_unstored_t *u)
{
    s_writer_t *w = arg;
    w->unstored++;
    return fb_archive_put_unstored(w->out, u);
}

static int s_put_ids_from(void *arg, int64_t ms)
{
    ((s_writer_t *)arg)->ids_from_ms = ms;
    return 0;
}

static int s_export(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs = 0;
    char since[64], until[64], err[512];
    fb_archive_range_t range;
    fb_cli_parse_help("archive export", s_export_keys, &o, argc, argv, &nargs, "> FILE", S_EXPORT_HELP);
    if (nargs > 0) {
        fprintf(stderr, "fedbus archive export: no arguments (the archive goes to stdout)\n");
        return FB_CLI_EXIT_USAGE;
    }
    if (s_range("archive export", &o, &range, since, until, sizeof(since)) != 0) return FB_CLI_EXIT_USAGE;
    json_t *dir = s_registry_directory("archive export", &o);
    if (!dir) return FB_CLI_EXIT_FAILED;
    s_writer_t w = {stdout, 0, 0, 0, 0};
    int rc = fb_archive_put_header(stdout, dir, range.origin, range.since, range.until);
    json_decref(dir);
    fb_archive_sink_t sink = {s_put_seal, s_put_envelope, s_put_unstored, s_put_ids_from, &w};
    size_t ns, ne, nu;
    if (rc == 0 && fb_archive_pg_read(o.pg, &range, &sink, &ns, &ne, &nu, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus archive export: %s\n", err);
        return FB_CLI_EXIT_FAILED;
    }
    if (rc != 0 || fb_archive_put_end(stdout, w.seals, w.envelopes, w.unstored, w.ids_from_ms) != 0 || fflush(stdout) != 0) {
        fprintf(stderr, "fedbus archive export: writing the archive failed\n");
        return FB_CLI_EXIT_FAILED;
    }
    fprintf(stderr, "fedbus archive export: %zu seals, %zu envelopes, %zu linked but not stored\n", w.seals,
            w.envelopes, w.unstored);
    return FB_CLI_EXIT_OK;
}

int fb_cli_archive(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "export")) return s_export(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: fedbus archive export [options] > FILE\n\n%s", S_EXPORT_HELP);
        return FB_CLI_EXIT_OK;
    }
    fprintf(stderr, "fedbus archive: %s (the one subcommand is export)\n",
            argc < 2 ? "a subcommand is needed" : "unknown subcommand");
    return FB_CLI_EXIT_USAGE;
}
