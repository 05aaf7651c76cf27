/* fb_cli.c — the fedbus command line: usage, option parsing, and the choice of command. */
#include "fb_cli.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t fb_cli_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    fb_cli_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: fedbus COMMAND [options] [arguments]\n"
            "\n"
            "Commands:\n"
            "  publish PATH...   publish JSON messages (files, directories of *.json, or - for stdin:\n"
            "                    objects, arrays, JSON lines) through the local node;\n"
            "                    inline: publish TOPIC '{...}'\n"
            "  tail PATTERN...   print live messages matching the patterns (--format=text|json)\n"
            "  replay [PATTERN...]  print stored history (--since=1h, --until, --count)\n"
            "  keygen --member=ID   write a member's (or the broker's) key files; --show FILE prints\n"
            "                    the public keys to send to the federation's admin\n"
            "  member SUBCOMMAND    the member registry in PostgreSQL: add, import, list, show, log,\n"
            "                    suspend, reactivate, revoke, rotate-key, export-directory\n"
            "  verify [FILE]     check stored history (--pg) or an archive offline: seals, keys, links\n"
            "  archive export    write stored history and the member directory as a self-contained archive\n"
            "  status            the federation's health from the broker's HTTP endpoint: every\n"
            "                    member's state, traffic, outbox and lag (exit 0 up, 1 stale, 2 down)\n"
            "\n"
            "Patterns: kind.origin.category with '*' for any segment, shorter = broader:\n"
            "  cfp                  every call for proposals\n"
            "  '*.kr-incheon'       everything from Incheon\n"
            "  cfp.kr-daejeon.bio   calls in bio from Daejeon\n"
            "\n"
            "'fedbus help COMMAND' (or 'fedbus COMMAND --help') lists the options of a command;\n"
            "'fedbus --version' prints the version.\n");
}

void fb_cli_parse(const char *cmd, const fb_cfg_key_t *keys, fb_cli_opts_t *o, int argc, char **argv,
                  int *nargs, const char *synopsis)
{
    fb_cli_parse_help(cmd, keys, o, argc, argv, nargs, synopsis, NULL);
}

void fb_cli_parse_help(const char *cmd, const fb_cfg_key_t *keys, fb_cli_opts_t *o, int argc, char **argv,
                       int *nargs, const char *synopsis, const char *help_tail)
{
    char err[256];
    memset(o, 0, sizeof(*o));
    int rc = fb_config_load(keys, o, argc, argv, nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: fedbus %s [options] %s\n\nOptions:\n", cmd, synopsis);
        fb_config_help(keys, stdout);
        if (help_tail) printf("\n%s", help_tail);
        exit(0);
    }
    if (rc < 0) {
        char *see = strstr(err, " (see --help)");
        if (see) *see = '\0';
        fprintf(stderr, "fedbus %s: %s%s%s%s\n", cmd, err, see ? " (see fedbus help " : "", see ? cmd : "",
                see ? ")" : "");
        exit(2);
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    static char help_flag[] = "--help";
    if (argc >= 3 && !strcmp(argv[1], "help")) { /* fedbus help member list = fedbus member list --help */
        memmove(argv + 1, argv + 2, (size_t)(argc - 2) * sizeof(*argv));
        argv[argc - 1] = help_flag;
    }
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        s_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("fedbus %s\n", fb_version());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"publish", fb_cli_publish}, {"tail", fb_cli_tail},     {"replay", fb_cli_replay},
        {"keygen", fb_cli_keygen},   {"member", fb_cli_member},   {"status", fb_cli_status},
        {"verify", fb_cli_verify},   {"archive", fb_cli_archive},
    };
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    const char *near = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (fb_config_distance(commands[i].name, argv[1], strlen(argv[1])) <= 2) near = commands[i].name;
    if (near) fprintf(stderr, "fedbus: unknown command '%s': did you mean '%s'? (see fedbus --help)\n", argv[1], near);
    else fprintf(stderr, "fedbus: unknown command '%s' (see fedbus --help)\n", argv[1]);
    return 2;
}
