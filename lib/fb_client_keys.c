/* fb_client_keys.c — the public face of fb_curve: a member's key files read for a client's sockets. */
#include "fedbus/fb_client_keys.h"

#include "fb_curve.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <string.h>

_Static_assert(FB_CURVE_TEXT == FB_CURVE_KEY_LEN + 1, "a Z85 key and its NUL");
_Static_assert(sizeof(((fb_curve_t *)0)->member) == FB_CLIENT_KEYS_MEMBER_LEN, "a member id and its NUL");

int fb_client_keys_load(fb_client_keys_t *keys, const char *keys_file, const char *broker_key, char *err,
                        size_t err_size)
{
    char why[512] = "";
    if (!keys) {
        if (err_size) snprintf(err, err_size, "no keys to fill");
        return FB_EINVAL;
    }
    memset(keys, 0, sizeof(*keys));
    if (!keys_file || !*keys_file || !broker_key || !*broker_key) {
        if (err_size)
            snprintf(err, err_size, "%s missing: CURVE needs the member's secret key file and the broker's key",
                     !keys_file || !*keys_file ? "keys file" : "broker key");
        return FB_EINVAL;
    }
    fb_curve_t c;
    if (fb_curve_client(&c, keys_file, broker_key, why, sizeof(why)) != 0) {
        if (err_size) snprintf(err, err_size, "%s", why);
        return FB_ECONFIG;
    }
    memcpy(keys->member, c.member, sizeof(keys->member));
    memcpy(keys->public_key, c.public_key, sizeof(keys->public_key));
    memcpy(keys->secret_key, c.secret_key, sizeof(keys->secret_key));
    memcpy(keys->server_key, c.server_key, sizeof(keys->server_key));
    memset(&c, 0, sizeof(c)); /* the secret key too */
    return FB_OK;
}

void fb_client_keys_apply(const fb_client_keys_t *keys, fb_endpoint_opts_t *opts)
{
    if (!keys || !opts) return;
    opts->curve_serverkey = keys->server_key;
    opts->curve_publickey = keys->public_key;
    opts->curve_secretkey = keys->secret_key;
}

void fb_client_keys_clear(fb_client_keys_t *keys)
{
    if (keys) memset(keys, 0, sizeof(*keys));
}
