/* fb_zmq.c — shared ZeroMQ context and socket set-up. */
#include "fb_zmq.h"

#include <pthread.h>

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

void *fb_zmq_socket(int type, const char *endpoint, int bind, int linger_ms, long long max_msg,
                    int hwm)
{
    void *ctx = fb_zmq_context();
    if (!ctx) return NULL;
    void *s = zmq_socket(ctx, type);
    if (!s) return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &linger_ms, sizeof(linger_ms));
    if (max_msg > 0) {
        int64_t m = max_msg;
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &m, sizeof(m));
    }
    if (hwm > 0) {
        zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    }
    if (type == ZMQ_ROUTER && bind) {
        /* A reply to a peer whose queue is full fails (EAGAIN) instead of
         * vanishing, so the caller can count it; sends use ZMQ_DONTWAIT. */
        int one = 1;
        zmq_setsockopt(s, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    }
    if ((bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
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
