/* fb_zmq.h — the process-wide ZeroMQ context and small frame helpers. */
#ifndef FB_ZMQ_H
#define FB_ZMQ_H

#include <stddef.h>
#include <zmq.h>

/* Returns the process's ZeroMQ context, created on first use; NULL on failure. */
void *fb_zmq_context(void);

/* Creates a socket of type, sets linger_ms, (when > 0) the largest message
 * it accepts and (when > 0) both high-water marks, then binds (bind != 0) or
 * connects to endpoint. Options must precede bind/connect: ZeroMQ copies them
 * into each listener and connection at that moment. Returns the socket or
 * NULL (errno set by ZeroMQ). */
void *fb_zmq_socket(int type, const char *endpoint, int bind, int linger_ms, long long max_msg,
                    int hwm);

/* Receives the rest of a multipart message and drops it. */
void fb_zmq_drain(void *sock);

#endif
