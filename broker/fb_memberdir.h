/* fb_memberdir.h — one snapshot of the member registry: rows parsed, members found by id or by CURVE key, who may connect and publish.
 *
 * The registry lives in PostgreSQL (fedbus_members, fedbus_member_keys:
 * schema 5, broker/fb_migrate.c); fb_members reads it and builds a
 * directory of it with the functions here, which are pure (no socket, no
 * PostgreSQL) and so unit-tested alone. A directory is immutable once
 * sealed and counted by reference, so that the threads that read it (the
 * ZAP handler, the broker's loop) hold the one they took while a newer one
 * replaces it.
 *
 * Whatever a row holds that the broker cannot use is read the safe way and
 * said in a warning: an unknown status as revoked, a CURVE key that is not
 * 40 characters of Z85 as none (the member cannot connect), a pattern
 * outside the grammar as absent (it grants nothing). */
#ifndef FB_MEMBERDIR_H
#define FB_MEMBERDIR_H

#include <stddef.h>
#include <stdint.h>

/* A member id: 1-32 of [a-z0-9-], as a topic segment. */
#define FB_MEMBER_ID_MAX 32
/* Key sizes (those of fb_keys.h, which this header does not include: its
 * FB_MEMBER_CURVE_LEN, 32 bytes, is not fedbus/fb_client.h's, 40 characters). */
#define FB_MEMBER_CURVE_LEN 32   /* a CURVE public key, bytes */
#define FB_MEMBER_Z85_LEN 40     /* ... in Z85 */
#define FB_MEMBER_KEY_ID_LEN 8   /* an Ed25519 key's id */
#define FB_MEMBER_SIGN_KEY_LEN 32 /* an Ed25519 public key */

typedef enum { FB_MEMBER_ACTIVE = 0, FB_MEMBER_SUSPENDED = 1, FB_MEMBER_REVOKED = 2 } fb_member_status_t;
typedef enum { FB_MEMBER_HUB = 0, FB_MEMBER_PARTNER = 1, FB_MEMBER_OBSERVER = 2 } fb_member_kind_t;

/* One Ed25519 key a member signs with, valid in [valid_from_us, valid_until_us). */
typedef struct {
    uint8_t key_id[FB_MEMBER_KEY_ID_LEN];
    uint8_t public_key[FB_MEMBER_SIGN_KEY_LEN];
    int64_t valid_from_us;
    int64_t valid_until_us; /* 0: no end */
} fb_member_key_t;

typedef struct {
    char id[FB_MEMBER_ID_MAX + 1];
    fb_member_kind_t kind;
    fb_member_status_t status;
    int has_curve; /* curve_public is set (a member without one cannot connect) */
    uint8_t curve_public[FB_MEMBER_CURVE_LEN];
    char curve_z85[FB_MEMBER_Z85_LEN + 1];
    char **publish; /* topic patterns it may publish under; none: nothing (an observer) */
    size_t npublish;
    char **read; /* topic patterns it may read */
    size_t nread;
    fb_member_key_t *keys; /* its signing keys, oldest valid_from first */
    size_t nkeys;
} fb_member_t;

/* One row of fedbus_members in PostgreSQL's text form; NULL for SQL NULL. */
typedef struct {
    const char *member, *kind, *curve_public, *status;
    const char *publish, *read; /* array literals, e.g. {"event.kr-seoul",cfp.kr-seoul} */
} fb_memberdir_row_t;

/* One row of fedbus_member_keys: key_id and public_key in hex, the window
 * in microseconds since the epoch (decimal; valid_until_us NULL: none). */
typedef struct {
    const char *member, *key_id, *public_key, *valid_from_us, *valid_until_us;
} fb_memberdir_key_row_t;

/* Why a connection's identity is or is not admitted. */
typedef enum {
    FB_ADMIT_OK = 0,
    FB_ADMIT_UNKNOWN,     /* no member has that key (or that id) */
    FB_ADMIT_SUSPENDED,
    FB_ADMIT_REVOKED,
    FB_ADMIT_KEY_CHANGED, /* the member's CURVE key is another one now */
} fb_admit_t;

/* "ok", "unknown key", "suspended", "revoked", "key changed". */
const char *fb_memberdir_admit_name(fb_admit_t a);

/* "active", "suspended", "revoked". */
const char *fb_memberdir_status_name(fb_member_status_t s);

/* Parses a one-dimensional PostgreSQL array literal of text ({a,"b c"},
 * quoted elements with backslash escapes; an unquoted NULL is the text
 * "NULL") into *out (n strings; the caller frees each and the array, or
 * with fb_member_clear()). Returns 0, or -1 with errno EINVAL when text is
 * not such a literal, ENOMEM when memory ran out (nothing is then left to
 * free). */
int fb_memberdir_array_parse(const char *text, char ***out, size_t *n);

/* Fills *out from row. Returns 0 (warn, when not NULL, empty or holding
 * what was read the safe way), or -1 with the reason in warn when the row
 * names no valid member id or memory ran out: the row is then left out and
 * *out holds nothing to free. */
int fb_memberdir_row_parse(const fb_memberdir_row_t *row, fb_member_t *out, char *warn, size_t warn_size);

/* Fills *out from a key row; returns 0, or -1 with the reason in err. */
int fb_memberdir_key_parse(const fb_memberdir_key_row_t *row, fb_member_key_t *out, char *err, size_t err_size);

/* Frees what m holds and zeroes it. */
void fb_member_clear(fb_member_t *m);

/* Whether m may publish topic (len bytes): one of its publish patterns
 * matches it (`fedbus member add` gives a hub or a partner "*.ID", its own
 * namespace; an observer none: it publishes nothing). The envelope's own
 * rule, that the topic's second segment is its origin, holds besides.
 * Returns 1 or 0. */
int fb_member_may_publish(const fb_member_t *m, const char *topic, size_t len);

typedef struct fb_memberdir fb_memberdir_t;

/* Returns an empty directory to fill (one reference), or NULL when out of memory. */
fb_memberdir_t *fb_memberdir_new(void);

/* Adds *m, taking what it holds (*m is zeroed). Returns 0, or -1 when out
 * of memory or sealed (*m is then cleared). */
int fb_memberdir_add(fb_memberdir_t *self, fb_member_t *m);

/* Sorts the members and indexes their CURVE keys: the directory can be
 * searched from now on. Two members with one CURVE key (the registry's
 * UNIQUE forbids it; a directory never trusts that) both lose it. */
void fb_memberdir_seal(fb_memberdir_t *self);

/* Adds signing key k to member (sealed directories only, while not shared
 * yet); returns 0, or -1 when there is no such member or no memory. */
int fb_memberdir_add_key(fb_memberdir_t *self, const char *member, const fb_member_key_t *k);

/* The member with id, or NULL. Sealed directories only. */
const fb_member_t *fb_memberdir_find(const fb_memberdir_t *self, const char *id);

/* The member whose CURVE public key is key, or NULL. */
const fb_member_t *fb_memberdir_by_curve(const fb_memberdir_t *self, const uint8_t key[FB_MEMBER_CURVE_LEN]);

/* Whether a connection of member id made with CURVE key key_z85 (40
 * characters) may go on: the member exists, is active, and key is its key.
 * Sets *m (may be NULL) to the member when it exists. */
fb_admit_t fb_memberdir_admit(const fb_memberdir_t *self, const char *id, const char *key_z85, const fb_member_t **m);

size_t fb_memberdir_size(const fb_memberdir_t *self);

/* The i-th member in id order (i < size). */
const fb_member_t *fb_memberdir_at(const fb_memberdir_t *self, size_t i);

/* Whether a and b hold the same members with the same everything. */
int fb_memberdir_equal(const fb_memberdir_t *a, const fb_memberdir_t *b);

/* Whether going from old to new cuts someone off: a member active in old
 * is not active in new (suspended, revoked, gone), or its CURVE key
 * changed. Open connections must then be looked at again. */
int fb_memberdir_cuts(const fb_memberdir_t *old, const fb_memberdir_t *new_dir);

/* Takes one more reference to self (any thread); returns self. */
fb_memberdir_t *fb_memberdir_ref(fb_memberdir_t *self);

/* Drops the reference *self_p holds (any thread); the last one frees the
 * directory. Accepts NULL; sets *self_p to NULL. */
void fb_memberdir_release(fb_memberdir_t **self_p);

#endif
