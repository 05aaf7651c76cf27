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
    long long limit;
    int quiet;
    char format[16];
    char lang[8];
    char message_id[64];
    char keys[512];       /* tail, replay: this member's secret key file */
    char broker_key[512]; /* ... and the broker's public key (file or Z85) */
} fb_cli_opts_t;

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

/* The commands: each takes its own argv (argv[0] is the command's name)
 * and returns the process's exit status. */
int fb_cli_publish(int argc, char **argv);
int fb_cli_tail(int argc, char **argv);
int fb_cli_replay(int argc, char **argv);

#endif
