/* main.c — fedbus-node: parse flags and config, run the node until a signal. */
#include "fb_log.h"
#include "fb_node.h"
#include "fedbus/fedbus.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

int main(int argc, char **argv)
{
    fb_node_config_t cfg;
    char err[512];
    int nargs = 0;
    memset(&cfg, 0, sizeof(cfg));
    int rc = fb_config_load(fb_node_keys, &cfg, argc, argv, &nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: fedbus-node --member=ID [--config FILE] [--key=value ...]\n"
               "Publishes a hub's messages to the fedbus broker (from `fedbus publish` and\n"
               "HTTP POST /v1/publish), resends until confirmed, and delivers subscribed\n"
               "feeds as JSON lines.\n\nKeys:\n");
        fb_config_help(fb_node_keys, stdout);
        return 0;
    }
    if (rc < 0 || nargs > 0) {
        fprintf(stderr, "fedbus-node: %s\n", rc < 0 ? err : "unexpected argument (see --help)");
        return 2;
    }
    int level = fb_log_level_parse(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "fedbus-node: log-level: '%s' is not err, warn, info or debug\n", cfg.log_level);
        return 2;
    }
    if (!fb_segment_valid(cfg.member, strlen(cfg.member))) {
        fprintf(stderr, "fedbus-node: member: '%s' is not a member id (1-32 of [a-z0-9-])\n", cfg.member);
        return 2;
    }
    char component[80];
    snprintf(component, sizeof(component), "node %s", cfg.member);
    fb_log_init(component, (fb_log_level_t)level);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fb_node_t *node = fb_node_new(&cfg);
    if (!node) return 1;
    rc = fb_node_run(node, &s_stop);
    fb_node_destroy(&node);
    return rc == 0 ? 0 : 1;
}
