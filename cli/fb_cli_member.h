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
