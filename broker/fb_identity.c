/* fb_identity.c — a connection's member from its ZAP properties, admitted against the directory in force, the answer kept per identity. */
#include "fb_identity.h"

#include "fb_zap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_identity {
    fb_members_t *members; /* NULL: nobody is checked */
    fb_memberdir_t *dir;   /* the directory in force, held */
    uint64_t version, generation;
    /* The last identity asked about, and the answer (this directory's). */
    char last_id[FB_MEMBER_ID_MAX + 2], last_key[FB_MEMBER_Z85_LEN + 2];
    fb_admit_t last_admit;
    const fb_member_t *last_member;
    int last_valid;
};

fb_identity_t *fb_identity_new(fb_members_t *members)
{
    fb_identity_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->members = members;
    if (members) {
        self->version = fb_members_version(members);
        self->generation = fb_members_generation(members);
        self->dir = fb_members_get(members);
    }
    return self;
}

void fb_identity_destroy(fb_identity_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_memberdir_release(&(*self_p)->dir);
    free(*self_p);
    *self_p = NULL;
}

/* Takes the directory in force when it changed since the one held. A
 * client ZAP admitted with a newer directory than the one held must not be
 * judged by the older: so this runs before every answer (one atomic load
 * when nothing changed). Nobody keeps a member across frames, so the old
 * directory may go at once. */
static void s_take(fb_identity_t *self)
{
    uint64_t v = fb_members_version(self->members);
    if (v == self->version) return;
    fb_memberdir_release(&self->dir);
    self->dir = fb_members_get(self->members);
    self->version = v; /* a newer directory than v is taken again next time: harmless */
    self->last_valid = 0;
}

const fb_memberdir_t *fb_identity_directory(fb_identity_t *self)
{
    if (!self->members) return NULL;
    s_take(self);
    return self->dir;
}

int fb_identity_refresh(fb_identity_t *self)
{
    if (!self->members) return 0;
    /* The generation first: the directory taken after it cuts at least as much. */
    uint64_t g = fb_members_generation(self->members);
    s_take(self);
    int cut = g != self->generation;
    self->generation = g;
    return cut;
}

fb_admit_t fb_identity_admit(fb_identity_t *self, const char *id, const char *key, const fb_member_t **m)
{
    if (m) *m = NULL;
    if (!self->members) return FB_ADMIT_OK;
    s_take(self);
    if (self->last_valid && strcmp(id, self->last_id) == 0 && strcmp(key, self->last_key) == 0) {
        if (m) *m = self->last_member;
        return self->last_admit;
    }
    const fb_member_t *mem;
    fb_admit_t a = fb_memberdir_admit(self->dir, id, key, &mem);
    /* Kept only when it fits: anything longer is no member's anyway. */
    if (strlen(id) < sizeof(self->last_id) && strlen(key) < sizeof(self->last_key)) {
        strcpy(self->last_id, id);
        strcpy(self->last_key, key);
        self->last_admit = a;
        self->last_member = mem;
        self->last_valid = 1;
    }
    if (m) *m = mem;
    return a;
}

void fb_identity_of(fb_identity_t *self, const zmq_msg_t *msg, fb_peer_id_t *out)
{
    memset(out, 0, sizeof(*out));
    out->id = out->key = "";
    if (!self->members) {
        out->admit = FB_ADMIT_OK;
        return;
    }
    out->checked = 1;
    const char *id = zmq_msg_gets((zmq_msg_t *)msg, "User-Id");
    const char *key = zmq_msg_gets((zmq_msg_t *)msg, FB_ZAP_KEY_PROPERTY);
    if (id) out->id = id;
    if (key) out->key = key;
    /* No identity at all: a connection ZAP never saw (none of the broker's
     * sockets takes one); refused like an unknown key. */
    out->admit = id && key ? fb_identity_admit(self, id, key, &out->member) : FB_ADMIT_UNKNOWN;
}

const char *fb_identity_why(const fb_peer_id_t *p, char *buf, size_t size)
{
    switch (p->admit) {
    case FB_ADMIT_OK: snprintf(buf, size, "member %s may go on", p->id); break;
    case FB_ADMIT_UNKNOWN: snprintf(buf, size, "this connection is no member's"); break;
    case FB_ADMIT_KEY_CHANGED: snprintf(buf, size, "member %s has another key now: connect again", p->id); break;
    default: snprintf(buf, size, "member %s is %s", p->id, fb_memberdir_admit_name(p->admit)); break;
    }
    return buf;
}
