/* fb_client_keys.h — a member's key files read into the CURVE keys of fb_endpoint_opts_t.
 *
 * A broker run with keys speaks CURVE on every socket and admits only
 * registered members (docs/operations.md, "Keys and trust"). A member's
 * program then needs three keys: its own pair, from the secret key file
 * `fedbus keygen` wrote (ID.key, mode 0600), and the broker's public key,
 * from the broker's ID.pub file or its 40 characters of Z85:
 *
 *   fb_client_keys_t k;
 *   char err[512];
 *   if (fb_client_keys_load(&k, "/etc/fedbus/intl-lyon.key", "/etc/fedbus/broker.pub",
 *                           err, sizeof(err)) != FB_OK) { fprintf(stderr, "%s\n", err); ... }
 *   fb_endpoint_opts_t feed = {.endpoint = "tcp://broker.example.org:7702"};
 *   fb_client_keys_apply(&k, &feed);
 */
#ifndef FB_CLIENT_KEYS_H
#define FB_CLIENT_KEYS_H

#include "fedbus/fb_client.h"
#include "fedbus/fb_export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A member id (1-32 of [a-z0-9-]) and its NUL. */
#define FB_CLIENT_KEYS_MEMBER_LEN 33

typedef struct {
    char member[FB_CLIENT_KEYS_MEMBER_LEN]; /* the id in the secret key file */
    char public_key[FB_CURVE_KEY_LEN + 1];  /* this member's, Z85 */
    char secret_key[FB_CURVE_KEY_LEN + 1];  /* this member's, Z85 */
    char server_key[FB_CURVE_KEY_LEN + 1];  /* the broker's public key, Z85 */
} fb_client_keys_t;

/* Reads keys_file (a member's secret key file: refused when group or others
 * may read it, or when it is a .pub) and broker_key (the broker's public key
 * file, or its 40 characters of Z85) into *keys. Returns FB_OK; FB_EINVAL
 * when an argument is NULL or empty; FB_ECONFIG when a file cannot be read
 * or is not what it must be, with a one-line reason in err (err_size bytes,
 * may be 0). On failure *keys is zeroed. */
FB_EXPORT int fb_client_keys_load(fb_client_keys_t *keys, const char *keys_file, const char *broker_key,
                                  char *err, size_t err_size);

/* Points the three CURVE fields of opts at keys' texts: keys must stay
 * alive and unchanged until opts has been passed to the constructor
 * (fb_subscriber_open() and fb_replay_opts() keep copies; fb_publisher_open()
 * reads them during the call). */
FB_EXPORT void fb_client_keys_apply(const fb_client_keys_t *keys, fb_endpoint_opts_t *opts);

/* Zeroes the whole of *keys, the secret key included; accepts NULL. */
FB_EXPORT void fb_client_keys_clear(fb_client_keys_t *keys);

#ifdef __cplusplus
}
#endif
#endif
