/* fb_cli.h — what the commands of the fedbus command line share: options, parsing, the stop flag. */
#ifndef FB_CLI_H
#define FB_CLI_H

#include "fb_config.h"

#include <signal.h>
#include <stddef.h>

/* Every command's options; each command's key table sets its own. */
typedef struct {
    char node[256];
    char feed[256];
    char replay[256];
    long long timeout_ms;
    long long from_seq;
    long long count;
    long long idle_s;
    char since[64];
    char until[64];
    int pretty;
    int count_only; /* replay --count */
    long long limit;
    int quiet;
    char format[16];
    char lang[8];
    char message_id[64];
    /* keygen */
    char member[64];
    char out[1024];
    int force;
    char show[1024];
    /* member */
    char pg[1024];
    char actor[256];
    char kind[16];
    char keys[1024];      /* member add/rotate-key: a .pub; tail, replay: this member's secret key file */
    char keys_dir[1024];
    char name_ko[512];
    char name_en[512];
    char country[8];
    char region[256];
    char publish[4096];
    char read[4096];
    int json;
    char reason[512];
    char overlap[32];
    char broker_key[512]; /* ... and the broker's public key (file or Z85) */
    /* verify, archive */
    char origin[64];
    char directory[1024];
    char directory_key[1024];
    int require_sealed;
    /* tail, replay */
    int no_verify;
} fb_cli_opts_t;

/* Exit statuses of the admin commands (keygen, member); stable numbers,
 * listed by their --help. The registry's results (fb_registry.h) are the same. */
enum {
    FB_CLI_EXIT_OK = 0,
    FB_CLI_EXIT_FAILED = 1,       /* PostgreSQL unreachable or an SQL error; a file not written */
    FB_CLI_EXIT_USAGE = 2,        /* a bad option or argument; a key or members file not valid */
    FB_CLI_EXIT_UNKNOWN = 3,      /* no such member */
    FB_CLI_EXIT_EXISTS = 4,       /* the member is registered already; the key file exists */
    FB_CLI_EXIT_KEY_TAKEN = 5,    /* the key is registered already */
    FB_CLI_EXIT_REVOKED = 6,      /* the member is revoked */
    FB_CLI_EXIT_KEY_MISMATCH = 7, /* import: not the member's registered keys */
};

/* The --help text of the exit statuses above. */
#define FB_CLI_EXIT_HELP                                                                                      \
    "Exit status:\n"                                                                                          \
    "  0  done (also when nothing needed changing)\n"                                                         \
    "  1  failed: PostgreSQL unreachable or an SQL error, a file that cannot be written\n"                    \
    "  2  invalid: a bad option or argument, a key file or members file that is not valid\n"                  \
    "  3  unknown member\n"                                                                                   \
    "  4  exists: the member id is registered already; keygen: the key file exists (--force)\n"               \
    "  5  key taken: the key is registered already, to this member or another\n"                              \
    "  6  revoked: the member is revoked, and revocation is final\n"                                          \
    "  7  import: the key file is not the member's registered keys (use rotate-key)\n"

/* offset and size of a field, for the key tables */
#define FB_CLI_STR(f) offsetof(fb_cli_opts_t, f), sizeof(((fb_cli_opts_t *)0)->f)
#define FB_CLI_INT(f) offsetof(fb_cli_opts_t, f), 0

/* Set by SIGINT and SIGTERM: the command finishes what it is at and exits. */
extern volatile sig_atomic_t fb_cli_stop;

/* Clears o and loads it from defaults, the environment and the
 * flags of argv, as keys say; non-option arguments move to argv[1..*nargs].
 * Prints the usage and exits 0 for --help; prints the reason and exits 2
 * for a bad flag. */
void fb_cli_parse(const char *cmd, const fb_cfg_key_t *keys, fb_cli_opts_t *o, int argc, char **argv,
                  int *nargs, const char *synopsis);

/* fb_cli_parse(), and --help prints help_tail (may be NULL) after the options. */
void fb_cli_parse_help(const char *cmd, const fb_cfg_key_t *keys, fb_cli_opts_t *o, int argc, char **argv,
                       int *nargs, const char *synopsis, const char *help_tail);

/* The commands: each takes its own argv (argv[0] is the command's name)
 * and returns the process's exit status. */
int fb_cli_publish(int argc, char **argv);
int fb_cli_tail(int argc, char **argv);
int fb_cli_replay(int argc, char **argv);
int fb_cli_keygen(int argc, char **argv);
int fb_cli_member(int argc, char **argv);
int fb_cli_verify(int argc, char **argv);
int fb_cli_archive(int argc, char **argv);
int fb_cli_status(int argc, char **argv);

#endif
