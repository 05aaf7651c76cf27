/* fuzz_config.c — a config file (INI) as fedbus-broker and fedbus-node read it with --config.
 *
 * The input is written to a scratch file and loaded with each daemon's own
 * key table (fb_broker_keys, fb_node_keys) through fb_config_load(), as
 * fb_daemon does at start, with the log level read as it reads it. A file
 * that loads must leave every string key NUL-terminated within its field
 * and every number within its key's bounds. */
#include "fuzz.h"

#include "fb_broker.h"
#include "fb_config.h"
#include "fb_node.h"

#include <stddef.h>

static void s_check(const fb_cfg_key_t *keys, const void *target)
{
    for (const fb_cfg_key_t *k = keys; k->name; k++) {
        const char *field = (const char *)target + k->offset;
        if (k->type == FB_CFG_STR) {
            FZ_CHECK(memchr(field, 0, k->size) != NULL, "a string key is not terminated within its field");
        } else if (k->type == FB_CFG_INT || k->type == FB_CFG_DURATION) {
            long long v = *(const long long *)field;
            FZ_CHECK(v >= k->min && v <= k->max, "a number key is outside its bounds");
        } else {
            int v = *(const int *)field;
            FZ_CHECK(v == 0 || v == 1, "a boolean key is neither");
        }
    }
}

static void s_load(const fb_cfg_key_t *keys, void *target, const char *log_level, const char *path)
{
    char arg[512], prog[] = "fedbus-fuzz";
    snprintf(arg, sizeof(arg), "--config=%s", path);
    char *argv[] = {prog, arg, NULL};
    char err[512] = "";
    int nargs = -1;
    int rc = fb_config_load(keys, target, 2, argv, &nargs, err, sizeof(err));
    FZ_CHECK(rc == 0 || rc == -1, "fb_config_load said something it does not promise");
    if (rc == 0) {
        FZ_CHECK(nargs == 0, "positional arguments out of a config file");
        s_check(keys, target);
        (void)fb_log_level_parse(log_level);
    } else {
        FZ_CHECK(err[0] != '\0' && memchr(err, 0, sizeof(err)), "refused without a reason");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[300];
    if (!path[0]) {
        fz_quiet();
        snprintf(path, sizeof(path), "%s/config.ini", fz_scratch());
    }
    fz_write_file(path, data, size);
    fb_broker_config_t broker;
    fb_node_config_t node;
    memset(&broker, 0x5a, sizeof(broker)); /* whatever was there before */
    memset(&node, 0x5a, sizeof(node));
    s_load(fb_broker_keys, &broker, broker.log_level, path);
    s_load(fb_node_keys, &node, node.log_level, path);
    return 0;
}
