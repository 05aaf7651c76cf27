/* fb_identity.h — who a peer of the broker is: the member ZAP established for its connection, checked against the directory in force.
 *
 * Every message a CURVE connection delivers carries the User-Id the ZAP
 * handler gave it (the member id) and the client's key (fb_zap.h); this is
 * the identity the broker uses, never a field the peer typed. A peer goes
 * on while its member is active and still has that key, so a suspension,
 * a revocation or a new key takes effect on connections already open: the
 * next frame is refused.
 *
 * The answer is worked out once per identity and directory version and
 * kept, so a frame costs two property look-ups, an atomic load and two
 * string compares. (Not kept by routing id: a peer may choose its own
 * routing id, and ZeroMQ may hand a departed peer's to another.) Each
 * answer is given from the newest directory, since ZAP may have admitted
 * the peer with it; a member handed out is valid until the next call.
 * Main thread only. */
#ifndef FB_IDENTITY_H
#define FB_IDENTITY_H

#include "fb_members.h"

#include <zmq.h>

typedef struct fb_identity fb_identity_t;

/* A peer, as far as the broker is concerned. */
typedef struct {
    int checked;               /* 0: the broker runs without CURVE: nobody is checked */
    fb_admit_t admit;          /* FB_ADMIT_OK: the peer may go on */
    const fb_member_t *member; /* its member (NULL when unknown); valid until the next call here */
    const char *id;            /* the connection's member id ("" when none); valid as long as the message */
    const char *key;           /* its CURVE key, Z85 ("" when none); the same */
} fb_peer_id_t;

/* Returns the identities answered from members (borrowed; NULL: the
 * broker runs without CURVE and nobody is checked), or NULL when out of
 * memory. */
fb_identity_t *fb_identity_new(fb_members_t *members);

/* Frees *self_p and the directory it holds (accepts NULL; sets *self_p to NULL). */
void fb_identity_destroy(fb_identity_t **self_p);

/* Returns 1 when someone was cut off since the last call (the members'
 * generation moved): open connections must be looked at again. Once per
 * turn of the loop. */
int fb_identity_refresh(fb_identity_t *self);

/* Fills *out with who sent msg (any message a broker socket received). */
void fb_identity_of(fb_identity_t *self, const zmq_msg_t *msg, fb_peer_id_t *out);

/* Whether member id connected with key (Z85) may go on; sets *m (may be
 * NULL) to the member when there is one. FB_ADMIT_OK when nobody is checked. */
fb_admit_t fb_identity_admit(fb_identity_t *self, const char *id, const char *key, const fb_member_t **m);

/* The directory in force (borrowed: valid until the next call here), or
 * NULL when nobody is checked. */
const fb_memberdir_t *fb_identity_directory(fb_identity_t *self);

/* One line for a peer that may not go on, e.g. "member kr-seoul is
 * revoked", into buf; returns buf. */
const char *fb_identity_why(const fb_peer_id_t *p, char *buf, size_t size);

#endif
