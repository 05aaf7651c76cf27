/* fb_registry.h — the member registry in PostgreSQL (schema 5): members, their keys and the audit trail.
 *
 * The tables are the contract with the broker, which caches them. Every
 * change here is one transaction holding: the change; updated_at of the
 * member's fedbus_members row set to now(); one fedbus_member_audit row
 * (actor, member, action, detail = {"changes": {FIELD: {"old": .., "new":
 * ..}}, "reason": .., "db_user": PostgreSQL's current_user}); and NOTIFY
 * fedbus_members with the member id as payload, delivered at COMMIT to
 * whoever LISTENs (the broker, to refresh its cache).
 *
 * Reads return JSON documents (jansson) built by PostgreSQL; times in them
 * are RFC 3339 UTC with microseconds ("2026-12-02T10:00:00.123456Z"). */
#ifndef FB_REGISTRY_H
#define FB_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_keys.h"
#include "fb_member.h"

/* Results; the fedbus CLI exits with these numbers (stable: never renumber). */
typedef enum {
    FB_REG_OK = 0,
    FB_REG_FAILED = 1,       /* PostgreSQL unreachable, an SQL error */
    FB_REG_INVALID = 2,      /* bad input */
    FB_REG_UNKNOWN = 3,      /* no such member */
    FB_REG_EXISTS = 4,       /* the member id is registered already */
    FB_REG_KEY_TAKEN = 5,    /* a key is registered already, to this member or another */
    FB_REG_REVOKED = 6,      /* the member is revoked: revocation is final */
    FB_REG_KEY_MISMATCH = 7, /* import: the keys given are not the member's registered ones */
} fb_reg_rc_t;

/* What an import did to one member. */
typedef enum { FB_REG_ADDED, FB_REG_UPDATED, FB_REG_UNCHANGED } fb_reg_outcome_t;

typedef struct fb_registry fb_registry_t;

/* Connects to conninfo (libpq conninfo or URI; "" = libpq's PG*
 * environment). With migrate, applies the pending schema migrations first
 * (the broker's own, broker/fb_migrate.c); without, checks that the
 * registry's tables exist. actor is recorded in every audit row written
 * through the handle (copied). Returns NULL with a one-line reason in err. */
fb_registry_t *fb_registry_open(const char *conninfo, const char *actor, bool migrate, char *err,
                                size_t err_size);

/* Closes the connection; accepts NULL and *self_p == NULL, and nulls *self_p. */
void fb_registry_destroy(fb_registry_t **self_p);

/* Registers m (checked, defaults applied) as active, with the CURVE public
 * key of keys and its Ed25519 key valid from now, open-ended. Refuses an id
 * registered already (FB_REG_EXISTS) and keys registered already
 * (FB_REG_KEY_TAKEN). Returns FB_REG_OK or the reason in err. */
fb_reg_rc_t fb_registry_add(fb_registry_t *self, const fb_member_t *m, const fb_keys_t *keys, char *err,
                            size_t err_size);

/* Registers or updates n members in one transaction (all or nothing):
 * a new member as fb_registry_add(); a registered one gets the profile of
 * members[i] (names, kind, country, region, patterns) when it differs, and
 * its keys must be keys[i] (else FB_REG_KEY_MISMATCH; change keys with
 * fb_registry_rotate()). Status is left alone. outcome[i] tells what was
 * done. Returns FB_REG_OK or the reason (naming the member) in err. */
fb_reg_rc_t fb_registry_import(fb_registry_t *self, const fb_member_t *members, const fb_keys_t *keys, size_t n,
                               fb_reg_outcome_t *outcome, char *err, size_t err_size);

/* Sets the status of member id to status ("active", "suspended" or
 * "revoked"), with reason (may be NULL) in the audit. A revoked member
 * changes no more (FB_REG_REVOKED); revoking closes every open Ed25519 key
 * window at now, so signatures made later do not count. *changed is false
 * when the member had that status already (nothing is written then);
 * old_status (16 bytes) receives the status before. */
fb_reg_rc_t fb_registry_set_status(fb_registry_t *self, const char *id, const char *status, const char *reason,
                                   bool *changed, char old_status[16], char *err, size_t err_size);

/* Sets what member id may read to the patterns of read (checked by the
 * caller with fb_member_check_read()), with reason (may be NULL) in the
 * audit (action "set-read"). The broker applies it within seconds to the
 * member's open feed connections and replays (docs/operations.md, "Read
 * permissions"). *changed is false when the member read exactly that
 * already (nothing is written then). Refuses a revoked member. */
fb_reg_rc_t fb_registry_set_read(fb_registry_t *self, const char *id, const fb_member_patterns_t *read,
                                 const char *reason, bool *changed, char *err, size_t err_size);

/* Rotates member id's keys to keys: the new Ed25519 key is valid from now;
 * every key still valid at now + overlap_s gets valid_until = now +
 * overlap_s; the CURVE key is replaced at once. Refuses keys registered
 * already and a revoked member. */
fb_reg_rc_t fb_registry_rotate(fb_registry_t *self, const char *id, const fb_keys_t *keys, int64_t overlap_s,
                               char *err, size_t err_size);

/* Every member, by id: a JSON array of members (id, kind, status, name
 * {ko, en}, country, region, publish, read, curve_public, created_at,
 * updated_at) each with "key_id", the hex id of its Ed25519 key valid now
 * (the newest, null when none). Returns FB_REG_OK and *out (new reference). */
fb_reg_rc_t fb_registry_list(fb_registry_t *self, json_t **out, char *err, size_t err_size);

/* One member: as in the list, plus "keys" (key_id, public_key in base64,
 * valid_from, valid_until: null when open) and "audit", its last
 * audit_rows audit rows (id, at, actor, member, action, detail), oldest first. */
fb_reg_rc_t fb_registry_show(fb_registry_t *self, const char *id, int audit_rows, json_t **out, char *err,
                             size_t err_size);

/* The audit trail, oldest first: of member id (NULL: of all), from since
 * (RFC 3339; NULL: from the start), its last limit rows (0: all). */
fb_reg_rc_t fb_registry_log(fb_registry_t *self, const char *id, const char *since, long long limit,
                            json_t **out, char *err, size_t err_size);

/* The member directory: {"version": 1, "generated_at", "members": [...]},
 * each member as in fb_registry_show() without its audit. */
fb_reg_rc_t fb_registry_directory(fb_registry_t *self, json_t **out, char *err, size_t err_size);

#endif
