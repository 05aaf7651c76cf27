/* main.c — fedbus-broker: parse flags and config, run the broker until a signal. */
#include "fb_broker.h"
#include "fb_log.h"
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
    fb_broker_config_t cfg;
    char err[512];
    int nargs = 0;
    memset(&cfg, 0, sizeof(cfg));
    int rc = fb_config_load(fb_broker_keys, &cfg, argc, argv, &nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: fedbus-broker [--config FILE] [--key=value ...]\n"
               "Accepts publishes from fedbus nodes, stores them in PostgreSQL, acknowledges\n"
               "them after COMMIT, fans them out to subscribers and serves replay.\n\nKeys:\n");
        fb_config_help(fb_broker_keys, stdout);
        printf("The PostgreSQL connection string can also come from FEDBUS_PG or the usual\n"
               "PG* variables (PGHOST, PGPORT, PGDATABASE, ...).\n");
        return 0;
    }
    if (rc < 0 || nargs > 0) {
        fprintf(stderr, "fedbus-broker: %s\n", rc < 0 ? err : "unexpected argument (see --help)");
        return 2;
    }
    int level = fb_log_level_parse(cfg.log_level);
    if (level < 0) {
        fprintf(stderr, "fedbus-broker: log-level: '%s' is not err, warn, info or debug\n", cfg.log_level);
        return 2;
    }
    fb_log_init("broker", (fb_log_level_t)level);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    fb_broker_t *broker = fb_broker_new(&cfg);
    if (!broker) return 1;
    rc = fb_broker_run(broker, &s_stop);
    fb_broker_destroy(&broker);
    return rc == 0 ? 0 : 1;
}
