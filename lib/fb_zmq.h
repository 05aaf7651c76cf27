/* fb_zmq.h — the process-wide ZeroMQ context and small frame helpers. */
#ifndef FB_ZMQ_H
#define FB_ZMQ_H

#include <stddef.h>
#include <zmq.h>

/* Returns the process's ZeroMQ context, created on first use; NULL on failure. */
void *fb_zmq_context(void);

/* Creates a socket of type, sets linger_ms and (when > 0) the largest
 * message it accepts, then binds (bind != 0) or connects to endpoint.
 * Returns the socket or NULL (errno set by ZeroMQ). */
void *fb_zmq_socket(int type, const char *endpoint, int bind, int linger_ms, long long max_msg);

/* Receives the rest of a multipart message and drops it. */
void fb_zmq_drain(void *sock);

#endif
