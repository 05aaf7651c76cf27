/* fb_curve.c — key files read into the Z85 keys a CURVE server or client socket is made with. */
#include "fb_curve.h"

#include "fb_keys.h"

#include <stdio.h>
#include <string.h>

_Static_assert(FB_CURVE_TEXT == FB_CURVE_Z85_LEN + 1, "a Z85 key and its NUL");

/* Reads the secret key file into c's own pair; returns 0 or -1 with err. */
static int s_secret(fb_curve_t *c, const char *keys_file, char *err, size_t err_size)
{
    fb_keys_t k;
    if (fb_keys_read(keys_file, &k, err, err_size) != 0) return -1;
    if (!k.has_secret) {
        snprintf(err, err_size, "%s holds no secret key: give the secret key file, not the .pub", keys_file);
        return -1;
    }
    snprintf(c->member, sizeof(c->member), "%s", k.member);
    fb_keys_z85(k.curve_public, c->public_key);
    fb_keys_z85(k.curve_secret, c->secret_key);
    memset(&k, 0, sizeof(k));
    c->on = 1;
    return 0;
}

int fb_curve_server(fb_curve_t *c, const char *keys_file, char *err, size_t err_size)
{
    memset(c, 0, sizeof(*c));
    if (!keys_file || !*keys_file) return 0;
    return s_secret(c, keys_file, err, err_size);
}

int fb_curve_client(fb_curve_t *c, const char *keys_file, const char *broker_key, char *err, size_t err_size)
{
    memset(c, 0, sizeof(*c));
    int have_keys = keys_file && *keys_file, have_broker = broker_key && *broker_key;
    if (!have_keys && !have_broker) return 0;
    if (!have_keys || !have_broker) {
        snprintf(err, err_size, "%s is set but not %s: CURVE needs both", have_keys ? "keys" : "broker-key",
                 have_keys ? "broker-key" : "keys");
        return -1;
    }
    uint8_t key[FB_CURVE_RAW_LEN];
    if (fb_keys_z85_parse(broker_key, key) == 0) {
        fb_keys_z85(key, c->server_key);
    } else {
        /* Not a key's text: the broker's public key file. */
        fb_keys_t pub;
        char why[400];
        if (fb_keys_read(broker_key, &pub, why, sizeof(why)) != 0) {
            snprintf(err, err_size, "broker-key: neither 40 characters of Z85 nor a key file (%s)", why);
            return -1;
        }
        fb_keys_z85(pub.curve_public, c->server_key);
        memset(&pub, 0, sizeof(pub));
    }
    if (s_secret(c, keys_file, err, err_size) != 0) {
        memset(c, 0, sizeof(*c));
        return -1;
    }
    return 0;
}

void fb_curve_clear(fb_curve_t *c)
{
    memset(c->secret_key, 0, sizeof(c->secret_key));
}
