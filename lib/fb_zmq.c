/* fb_zmq.c — shared ZeroMQ context and socket set-up. */
#include "fb_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

static void *s_ctx;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void s_init(void)
{
    s_ctx = zmq_ctx_new();
    if (s_ctx) zmq_ctx_set(s_ctx, ZMQ_MAX_SOCKETS, 8192);
}

void *fb_zmq_context(void)
{
    pthread_once(&s_once, s_init);
    return s_ctx;
}

/* Sets a Z85 CURVE key option; returns 0, or -1 with errno EINVAL. */
static int s_key(void *s, int opt, const char *z85)
{
    if (!z85) return 0;
    if (strlen(z85) != FB_CURVE_KEY_Z85) {
        errno = EINVAL;
        return -1;
    }
    return zmq_setsockopt(s, opt, z85, FB_CURVE_KEY_Z85);
}

static int s_int(void *s, int opt, int v)
{
    return zmq_setsockopt(s, opt, &v, sizeof(v));
}

int fb_zmq_attach(void *s, const char *endpoint, int bind)
{
    int rc, tries = 0;
    do
        rc = bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint);
    while (rc != 0 && errno == EINTR && ++tries < 1000);
    return rc;
}

void *fb_zmq_open(const fb_zmq_opts_t *o)
{
    void *ctx = fb_zmq_context();
    if (!ctx) return NULL;
    void *s = zmq_socket(ctx, o->type);
    if (!s) return NULL;
    int64_t max_msg = o->max_msg;
    if (s_int(s, ZMQ_LINGER, o->linger_ms) != 0 ||
        (o->max_msg > 0 && zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max_msg, sizeof(max_msg)) != 0) ||
        (o->sndhwm > 0 && s_int(s, ZMQ_SNDHWM, o->sndhwm) != 0) ||
        (o->rcvhwm > 0 && s_int(s, ZMQ_RCVHWM, o->rcvhwm) != 0) ||
        (o->immediate && s_int(s, ZMQ_IMMEDIATE, 1) != 0) ||
        (o->xpub_manual && s_int(s, ZMQ_XPUB_MANUAL, 1) != 0) ||
        (o->type == ZMQ_ROUTER && o->bind && s_int(s, ZMQ_ROUTER_MANDATORY, 1) != 0))
        goto error;
    if (o->zap_domain && zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, o->zap_domain, strlen(o->zap_domain)) != 0)
        goto error;
    if (o->curve_server) {
        /* Without its secret key ZeroMQ would serve with an all-zero one,
         * whose public key anyone can compute. */
        if (!o->curve_secretkey) {
            errno = EINVAL;
            goto error;
        }
        if (s_int(s, ZMQ_CURVE_SERVER, 1) != 0 || s_key(s, ZMQ_CURVE_SECRETKEY, o->curve_secretkey) != 0)
            goto error;
    } else if (o->curve_serverkey || o->curve_publickey || o->curve_secretkey) {
        if (!o->curve_serverkey || !o->curve_publickey || !o->curve_secretkey) {
            errno = EINVAL;
            goto error;
        }
        if (s_key(s, ZMQ_CURVE_SERVERKEY, o->curve_serverkey) != 0 ||
            s_key(s, ZMQ_CURVE_PUBLICKEY, o->curve_publickey) != 0 ||
            s_key(s, ZMQ_CURVE_SECRETKEY, o->curve_secretkey) != 0)
            goto error;
    }
    if (o->monitor && zmq_socket_monitor(s, o->monitor, o->monitor_events) != 0) goto error;
    if (o->endpoint && fb_zmq_attach(s, o->endpoint, o->bind) != 0) goto error;
    return s;
error:;
    int e = errno;
    zmq_close(s);
    errno = e;
    return NULL;
}

void fb_zmq_drain(void *sock)
{
    int more = 0;
    size_t sz = sizeof(more);
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return;
        }
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
}
