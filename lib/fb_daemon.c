/* fb_daemon.c — the start-up every fedbus daemon shares: flags and config, log level, signals. */
#include "fb_daemon.h"

#include "fb_log.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <string.h>

/* The one stop flag of the process: signals set it, the daemon's loop reads it. */
static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* Loads and checks cfg, sets *level and component; returns FB_DAEMON_RUN,
 * or what main() returns (0 after --help or --version, 2 after a bad flag). */
static int s_load(const fb_daemon_t *d, int argc, char **argv, void *cfg, int *level, char *component,
                  size_t component_size)
{
    char err[512];
    int nargs = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--version")) {
            printf("%s %s\n", d->program, fb_version());
            return 0;
        }
    int rc = fb_config_load(d->keys, cfg, argc, argv, &nargs, err, sizeof(err));
    if (rc == 1) {
        fputs(d->usage, stdout);
        fb_config_help(d->keys, stdout);
        if (d->usage_tail) fputs(d->usage_tail, stdout);
        return 0;
    }
    if (rc < 0 || nargs > 0) {
        fprintf(stderr, "%s: %s\n", d->program, rc < 0 ? err : "unexpected argument (see --help)");
        return 2;
    }
    const char *level_name = (const char *)cfg + d->log_level_offset;
    *level = fb_log_level_parse(level_name);
    if (*level < 0) {
        fprintf(stderr, "%s: log-level: '%s' is not err, warn, info or debug\n", d->program, level_name);
        return 2;
    }
    snprintf(component, component_size, "%s", d->component);
    if (d->check && d->check(cfg, component, component_size, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", d->program, err);
        return 2;
    }
    return FB_DAEMON_RUN;
}

int fb_daemon_start(const fb_daemon_t *d, int argc, char **argv, void *cfg, volatile sig_atomic_t **stop)
{
    char component[80];
    int level = 0;
    int rc = s_load(d, argc, argv, cfg, &level, component, sizeof(component));
    if (rc != FB_DAEMON_RUN) return rc;
    fb_log_init(component, (fb_log_level_t)level);
    char env[512];
    if (fb_config_from_env(d->keys, env, sizeof(env)))
        fb_info("settings from the environment (over the config file; a flag overrides them): %s", env);

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    *stop = &s_stop;
    return FB_DAEMON_RUN;
}
