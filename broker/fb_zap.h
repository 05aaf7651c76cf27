/* fb_zap.h — the broker's ZAP handler: which CURVE client keys may connect, answered from the member directory on a thread of its own.
 *
 * ZeroMQ asks a ZAP handler (RFC 27, inproc://zeromq.zap.01 in the socket's
 * context) about every client that completes a CURVE handshake with one
 * of the broker's sockets. This one admits a key that belongs to an active
 * member (fb_members) and answers with User-Id = the member id, and with
 * the key itself as the connection property FB_ZAP_KEY_PROPERTY; every
 * message that connection delivers then carries both (zmq_msg_gets()),
 * and that, never a field the peer typed, is who the peer is. Unknown,
 * suspended and revoked keys, and anything but CURVE, are refused (400):
 * the client never gets a connection. Refusals are counted by reason and
 * logged at most once a minute per key. */
#ifndef FB_ZAP_H
#define FB_ZAP_H

#include "fb_members.h"

#include <stdint.h>

/* The connection property the handler sets: the client's CURVE public key, Z85. */
#define FB_ZAP_KEY_PROPERTY "X-Curve-Key"
/* ... and a name for the connection, unique in the process (a decimal
 * count of the connections admitted): the feed tells its subscribers
 * apart by it (fb_feedsub). */
#define FB_ZAP_CONN_PROPERTY "X-Conn"

typedef struct fb_zap fb_zap_t;

/* What the handler answered, counted since it started. */
typedef struct {
    uint64_t admitted;
    uint64_t unknown;   /* keys no member has */
    uint64_t suspended; /* keys of suspended members */
    uint64_t revoked;   /* keys of revoked members */
    uint64_t other;     /* not CURVE, or a request that is not RFC 27 */
} fb_zap_stats_t;

/* Binds the handler's socket in the process's ZeroMQ context — before any
 * CURVE server socket binds, or its clients go unchecked — and starts the
 * thread answering from members (borrowed: it outlives the handler).
 * Returns the handler, or NULL after logging why (another handler bound
 * in this process, out of memory). */
fb_zap_t *fb_zap_new(fb_members_t *members);

/* Stops the thread, closes its socket, frees *self_p (accepts NULL; sets
 * *self_p to NULL). */
void fb_zap_destroy(fb_zap_t **self_p);

/* Copies the counters into *out. Any thread. */
void fb_zap_stats(const fb_zap_t *self, fb_zap_stats_t *out);

#endif
