/* fb_reply.h — one answer to a ROUTER peer: [its identity][a frame], never blocking. */
#ifndef FB_REPLY_H
#define FB_REPLY_H

#include <zmq.h>

/* Sends a copy of ident, then body, on the ROUTER sock without waiting. Takes
 * body over: it is sent or closed. Returns 0, or -1 with errno when the peer
 * is gone (EHOSTUNREACH) or its queue is full (EAGAIN): the answer is then
 * dropped (publishers resend; replay clients ask again). */
int fb_reply_send(void *sock, const zmq_msg_t *ident, zmq_msg_t *body);

#endif
