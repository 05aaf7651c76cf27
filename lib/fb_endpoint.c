/* fb_endpoint.c — the client's sockets, made from the public endpoint options.
 *
 * fb_endpoint_opts_t speaks fedbus terms; this file turns it into the
 * socket options of fb_zmq_open(), which every client socket is made with. */
#include "fb_client_int.h"
#include "fb_zmq.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(FB_CURVE_KEY_LEN == FB_CURVE_KEY_Z85, "a CURVE key has one length");

void *fb_endpoint_open(const fb_endpoint_opts_t *e, int type, int hwm, int linger_ms)
{
    if (!e || !e->endpoint) {
        errno = EINVAL;
        return NULL;
    }
    if (e->hwm > 0) hwm = e->hwm;
    if (e->linger_ms != 0) linger_ms = e->linger_ms > 0 ? e->linger_ms : 0;
    fb_zmq_opts_t o = {.type = type,
                       .endpoint = e->endpoint,
                       .linger_ms = linger_ms,
                       .sndhwm = hwm,
                       .rcvhwm = hwm,
                       .curve_serverkey = e->curve_serverkey,
                       .curve_publickey = e->curve_publickey,
                       .curve_secretkey = e->curve_secretkey};
    return fb_zmq_open(&o);
}

/* Returns 1 when key is FB_CURVE_KEY_LEN characters of Z85. */
static int s_key_ok(const char *key)
{
    uint8_t bin[32];
    return strlen(key) == FB_CURVE_KEY_LEN && zmq_z85_decode(bin, key) != NULL;
}

int fb_endpoint_check(const fb_endpoint_opts_t *e)
{
    int keys = !!e->curve_serverkey + !!e->curve_publickey + !!e->curve_secretkey;
    if (!e->endpoint || (keys != 0 && keys != 3) ||
        (keys == 3 && !(s_key_ok(e->curve_serverkey) && s_key_ok(e->curve_publickey) &&
                        s_key_ok(e->curve_secretkey)))) {
        errno = EINVAL;
        return -1;
    }
    return 0;
}

fb_endpoint_opts_t *fb_endpoint_dup(const fb_endpoint_opts_t *e)
{
    const char *from[] = {e->endpoint, e->curve_serverkey, e->curve_publickey, e->curve_secretkey};
    size_t need = sizeof(*e);
    for (size_t i = 0; i < 4; i++) need += from[i] ? strlen(from[i]) + 1 : 0;
    fb_endpoint_opts_t *c = malloc(need);
    if (!c) return NULL;
    *c = *e;
    const char **to[] = {&c->endpoint, &c->curve_serverkey, &c->curve_publickey, &c->curve_secretkey};
    char *p = (char *)(c + 1);
    for (size_t i = 0; i < 4; i++) {
        if (!from[i]) continue;
        size_t n = strlen(from[i]) + 1;
        memcpy(p, from[i], n);
        *to[i] = p;
        p += n;
    }
    return c;
}
