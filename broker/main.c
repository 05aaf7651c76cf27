/* main.c — fedbus-broker: parse flags and config, run the broker until a signal. */
#include "fb_broker.h"
#include "fb_daemon.h"
#include "fedbus/fedbus.h"

#include <malloc.h>
#include <stddef.h>
#include <string.h>

static const fb_daemon_t s_daemon = {
    .program = "fedbus-broker",
    .usage = "usage: fedbus-broker [--config FILE] [--key=value ...]\n"
             "Accepts publishes from fedbus nodes, stores them in PostgreSQL, acknowledges\n"
             "them after COMMIT, fans them out to subscribers and serves replay.\n\nKeys:\n",
    .usage_tail = "The PostgreSQL connection string can also come from FEDBUS_PG or the usual\n"
                  "PG* variables (PGHOST, PGPORT, PGDATABASE, ...).\n",
    .keys = fb_broker_keys,
    .log_level_offset = offsetof(fb_broker_config_t, log_level),
    .component = "broker",
};

int main(int argc, char **argv)
{
    fb_broker_config_t cfg;
    volatile sig_atomic_t *stop;
    memset(&cfg, 0, sizeof(cfg));
    int rc = fb_daemon_start(&s_daemon, argc, argv, &cfg, &stop);
    if (rc != FB_DAEMON_RUN) return rc;
    /* Each batch mallocs and frees megabytes (frames, the seals' SQL, libpq's
     * and the feed's buffers), and glibc trimmed its heaps after each batch.
     * Kept instead, up to what a few large batches take: ~0.1-0.3 CPU s less
     * per 200,000 messages with trust on (docs/performance.md). */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    fb_broker_t *broker = fb_broker_new(&cfg);
    if (!broker) return 1;
    rc = fb_broker_run(broker, stop);
    fb_broker_destroy(&broker);
    return rc == 0 ? 0 : 1;
}
