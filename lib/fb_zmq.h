/* fb_zmq.h — the process-wide ZeroMQ context, the one way fedbus makes a socket, frame helpers. */
#ifndef FB_ZMQ_H
#define FB_ZMQ_H

#include <stddef.h>
#include <zmq.h>

/* Returns the process's ZeroMQ context, created on first use; NULL on failure. */
void *fb_zmq_context(void);

/* Length of a Z85-encoded CURVE key, without its NUL. */
#define FB_CURVE_KEY_Z85 40

/* Everything a socket is made with. Zero means "ZeroMQ's default" for every
 * number, "not set" for every pointer; initialise with designated fields:
 *   fb_zmq_opts_t o = {.type = ZMQ_DEALER, .endpoint = ep, .linger_ms = 1000}; */
typedef struct {
    int type;              /* ZMQ_ROUTER, ZMQ_DEALER, ZMQ_XPUB, ZMQ_SUB, ZMQ_PAIR */
    const char *endpoint;  /* bound or connected to; NULL: neither (the caller does it) */
    int bind;              /* non-zero: bind, else connect */
    int linger_ms;         /* ZMQ_LINGER (0 unless set: fedbus never blocks at close) */
    long long max_msg;     /* > 0: ZMQ_MAXMSGSIZE, the largest message accepted */
    int sndhwm, rcvhwm;    /* > 0: the high-water marks, messages */
    int immediate;         /* ZMQ_IMMEDIATE: queue only to connections that are up */
    /* ZMQ_XPUB_MANUAL (XPUB only): every (un)subscription is handed to the
     * application, which subscribes the connection itself (ZMQ_SUBSCRIBE
     * right after receiving it) */
    int xpub_manual;
    /* When set: ZeroMQ reports monitor_events of this socket on this inproc
     * endpoint, from before its first bind or connect (zmq_socket_monitor). */
    const char *monitor;
    int monitor_events;
    /* CURVE, Z85 text (FB_CURVE_KEY_Z85 characters). A server sets
     * curve_server and curve_secretkey; a client sets curve_serverkey,
     * curve_publickey and curve_secretkey. All NULL: no encryption. */
    int curve_server;
    const char *curve_serverkey, *curve_publickey, *curve_secretkey;
    const char *zap_domain; /* ZMQ_ZAP_DOMAIN: the ZAP domain a server asks about its peers */
} fb_zmq_opts_t;

/* Creates a socket as *o says, sets every option (options must precede
 * bind/connect: ZeroMQ copies them into each listener and connection at
 * that moment), then binds or connects. A bound ROUTER is made mandatory,
 * so that a reply to a peer whose queue is full fails (EAGAIN) instead of
 * vanishing. Returns the socket, or NULL with errno set (EINVAL for a CURVE
 * key that is not 40 characters of Z85, a CURVE server without its secret
 * key, or a client without all three of its keys). */
void *fb_zmq_open(const fb_zmq_opts_t *o);

/* Binds (bind) or connects s to endpoint; returns 0, or -1 with errno as
 * zmq_bind()/zmq_connect() set it. libzmq reads the socket's pending
 * commands first, and a signal that interrupts that read fails the call
 * with EINTR before anything is done: the call is then made again (a
 * daemon's stop signal, or a fuzzer's alarm, may come at any moment). */
int fb_zmq_attach(void *s, const char *endpoint, int bind);

/* Receives the rest of a multipart message and drops it. */
void fb_zmq_drain(void *sock);

#endif
