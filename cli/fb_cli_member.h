/* fb_cli_member.h — `fedbus member`: what its two files share (fb_cli_member.c changes, fb_cli_member_view.c reads). */
#ifndef FB_CLI_MEMBER_H
#define FB_CLI_MEMBER_H

#include "fb_cli.h"
#include "fb_registry.h"

#include <stdbool.h>

/* The options every member subcommand takes: --pg and --actor. */
#define FB_CLI_MEMBER_DB_KEYS                                                                                  \
    {"pg", FB_CFG_STR, FB_CLI_STR(pg), "", 0, 0,                                                              \
     "PostgreSQL connection string (libpq conninfo or URI) of the broker's database, as the broker's pg "    \
     "key (FEDBUS_PG); empty: libpq's PG* variables"},                                                         \
    {"actor", FB_CFG_STR, FB_CLI_STR(actor), "", 0, 0,                                                        \
     "who makes the change, written in the audit (default: $USER@hostname)"}

/* --json, --reason: keys several subcommands take. */
#define FB_CLI_MEMBER_JSON_KEY {"json", FB_CFG_BOOL, FB_CLI_INT(json), "false", 0, 0, "print JSON instead of text"}
#define FB_CLI_MEMBER_REASON_KEY {"reason", FB_CFG_STR, FB_CLI_STR(reason), "", 0, 0, "why, written in the audit"}

/* Reads the flags of `fedbus member SUB` into o by keys (--help prints
 * synopsis, the options and the exit statuses, and exits 0; a bad flag
 * exits 2); the arguments move to argv[1..]. Returns how many there are,
 * or -1 after printing "fedbus member SUB: NEED (see ... --help)" when they
 * are not min_args..max_args, or when required (a field of o, may be NULL)
 * is left empty (need NULL: "one member ID is needed", or "no arguments
 * are taken" when max_args is 0). */
int fb_cli_member_parse(const char *sub, const fb_cfg_key_t *keys, const char *synopsis, fb_cli_opts_t *o,
                        int argc, char **argv, int min_args, int max_args, const char *required,
                        const char *need);

/* Connects to the registry of o->pg as o->actor (or $USER@hostname); with
 * migrate, the schema is brought up to date first. Prints "fedbus member
 * CMD: reason" and returns NULL when it cannot. */
fb_registry_t *fb_cli_member_open(const fb_cli_opts_t *o, const char *cmd, bool migrate);

/* Copies ts (RFC 3339 with microseconds, or NULL) without its fraction into
 * out (32 bytes): "2026-12-02T10:00:00Z", or "-" for NULL. */
void fb_cli_member_time(const char *ts, char out[32]);

/* The subcommands that read (fb_cli_member_view.c); each takes its own argv
 * (argv[0] is the subcommand) and returns the exit status. */
int fb_cli_member_list(int argc, char **argv);
int fb_cli_member_show(int argc, char **argv);
int fb_cli_member_log(int argc, char **argv);
int fb_cli_member_export(int argc, char **argv);

#endif
