/* main.c — fedbus-node: parse flags and config, run the node until a signal. */
#include "fb_daemon.h"
#include "fb_node.h"
#include "fedbus/fedbus.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* The member id must be one topic segment; the outbox is disk or memory
 * and holds a publish of max-frame; the log names the member. */
static int s_check(const void *cfg, char *component, size_t component_size, char *err, size_t err_size)
{
    const fb_node_config_t *c = cfg;
    if (!fb_segment_valid(c->member, strlen(c->member))) {
        snprintf(err, err_size, "member: '%s' is not a member id (1-32 of [a-z0-9-])", c->member);
        return -1;
    }
    if (strcmp(c->outbox, "disk") != 0 && strcmp(c->outbox, "memory") != 0) {
        snprintf(err, err_size, "outbox: '%s' is neither disk nor memory", c->outbox);
        return -1;
    }
    if (c->outbox_max_bytes < c->max_frame) {
        snprintf(err, err_size, "outbox-max-bytes: %lld is below max-frame (%lld): no publish would fit",
                 c->outbox_max_bytes, c->max_frame);
        return -1;
    }
    snprintf(component, component_size, "node %s", c->member);
    return 0;
}

static const fb_daemon_t s_daemon = {
    .program = "fedbus-node",
    .usage = "usage: fedbus-node --member=ID [--config FILE] [--key=value ...]\n"
             "Publishes a hub's messages to the fedbus broker (from `fedbus publish` and\n"
             "HTTP POST /v1/publish), resends until confirmed, and delivers subscribed\n"
             "feeds as JSON lines.\n\nKeys:\n",
    .keys = fb_node_keys,
    .log_level_offset = offsetof(fb_node_config_t, log_level),
    .component = "node",
    .check = s_check,
};

int main(int argc, char **argv)
{
    fb_node_config_t cfg;
    volatile sig_atomic_t *stop;
    memset(&cfg, 0, sizeof(cfg));
    int rc = fb_daemon_start(&s_daemon, argc, argv, &cfg, &stop);
    if (rc != FB_DAEMON_RUN) return rc;
    fb_node_t *node = fb_node_new(&cfg);
    if (!node) return 1;
    rc = fb_node_run(node, stop);
    fb_node_destroy(&node);
    return rc == 0 ? 0 : 1;
}
