/* fb_registry.c — the member registry's queries: each change one audited, notified transaction. */
#include "fb_registry.h"

#include "fb_migrate.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fb_registry {
    PGconn *conn;
    char *actor;
};

/* A timestamptz as RFC 3339 UTC text with microseconds (NULL stays NULL). */
#define S_TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* The fields of member row m, for json_build_object(). */
#define S_MEMBER_FIELDS                                                                                        \
    "'id', m.member, 'kind', m.kind, 'status', m.status,"                                                     \
    " 'name', json_build_object('ko', m.name_ko, 'en', m.name_en), 'country', m.country,"                    \
    " 'region', m.region, 'publish', to_json(m.publish), 'read', to_json(m.read),"                           \
    " 'curve_public', m.curve_public, 'created_at', " S_TS("m.created_at") ", 'updated_at', " S_TS("m.updated_at")

/* The Ed25519 keys of member expression mem, a JSON array by valid_from. */
#define S_KEYS_JSON(mem)                                                                                       \
    "(SELECT coalesce(json_agg(json_build_object('key_id', encode(k.key_id, 'hex'),"                          \
    " 'public_key', encode(k.public_key, 'base64'), 'valid_from', " S_TS("k.valid_from") ","                 \
    " 'valid_until', " S_TS("k.valid_until") ") ORDER BY k.valid_from, k.key_id), '[]')"                      \
    " FROM fedbus_member_keys k WHERE k.member = " mem ")"

/* An audit row a, for json_build_object(). */
#define S_AUDIT_FIELDS                                                                                         \
    "'id', a.id, 'at', " S_TS("a.at") ", 'actor', a.actor, 'member', a.member, 'action', a.action,"            \
    " 'detail', a.detail"

static const char *const s_statuses[] = {"active", "suspended", "revoked"};

/* Runs sql with params; returns its result when its status is want, else
 * NULL with the reason in err and, in *rc, FB_REG_EXISTS or
 * FB_REG_KEY_TAKEN for a unique violation (a concurrent change), else
 * FB_REG_FAILED. */
static PGresult *s_query(fb_registry_t *self, const char *sql, int n, const char *const *params,
                         ExecStatusType want, fb_reg_rc_t *rc, char *err, size_t err_size)
{
    PGresult *r = PQexecParams(self->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) == want) return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *constraint = r ? PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME) : NULL;
    *rc = FB_REG_FAILED;
    if (state && !strcmp(state, "23505") && constraint) {
        *rc = !strcmp(constraint, "fedbus_members_pkey") ? FB_REG_EXISTS : FB_REG_KEY_TAKEN;
        snprintf(err, err_size, "%s (%s): changed by someone else meanwhile; try again",
                 *rc == FB_REG_EXISTS ? "the member id is registered already" : "a key is registered already",
                 constraint);
    } else {
        fb_migrate_error(self->conn, "registry", r, err, err_size);
    }
    PQclear(r);
    return NULL;
}

/* s_query() for statements whose rows do not matter; returns FB_REG_OK or the reason. */
static fb_reg_rc_t s_exec(fb_registry_t *self, const char *sql, int n, const char *const *params, char *err,
                          size_t err_size)
{
    fb_reg_rc_t rc = FB_REG_OK;
    PGresult *r = s_query(self, sql, n, params, PGRES_COMMAND_OK, &rc, err, err_size);
    if (!r) return rc;
    PQclear(r);
    return FB_REG_OK;
}

/* Runs sql returning one row with one JSON column; *out gets it parsed,
 * or NULL when there is no row. */
static fb_reg_rc_t s_json(fb_registry_t *self, const char *sql, int n, const char *const *params, json_t **out,
                          char *err, size_t err_size)
{
    fb_reg_rc_t rc = FB_REG_OK;
    *out = NULL;
    PGresult *r = s_query(self, sql, n, params, PGRES_TUPLES_OK, &rc, err, err_size);
    if (!r) return rc;
    if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
        json_error_t je;
        *out = json_loads(PQgetvalue(r, 0, 0), JSON_DECODE_ANY, &je);
        if (!*out) {
            snprintf(err, err_size, "registry: PostgreSQL sent JSON jansson cannot read: %s", je.text);
            rc = FB_REG_FAILED;
        }
    }
    PQclear(r);
    return rc;
}

fb_registry_t *fb_registry_open(const char *conninfo, const char *actor, bool migrate, char *err,
                                size_t err_size)
{
    fb_registry_t *self = calloc(1, sizeof(*self));
    if (!self || !(self->actor = strdup(actor))) {
        snprintf(err, err_size, "out of memory");
        goto error;
    }
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *values[] = {conninfo ? conninfo : "", "fedbus-member", NULL};
    self->conn = PQconnectdbParams(keys, values, 1);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        fb_migrate_error(self->conn, "cannot connect to PostgreSQL", NULL, err, err_size);
        goto error;
    }
    if (migrate) {
        if (fb_migrate_run(self->conn, err, err_size) != 0) goto error;
        return self;
    }
    json_t *exists = NULL;
    if (s_json(self, "SELECT to_json(to_regclass('fedbus_member_audit') IS NOT NULL)", 0, NULL, &exists, err,
               err_size) != FB_REG_OK)
        goto error;
    int ok = json_is_true(exists);
    json_decref(exists);
    if (!ok) {
        snprintf(err, err_size, "this database holds no member registry yet (fedbus member add or import, "
                                "or the broker's first start, creates it)");
        goto error;
    }
    return self;
error:
    fb_registry_destroy(&self);
    return NULL;
}

void fb_registry_destroy(fb_registry_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_registry_t *self = *self_p;
    if (self->conn) PQfinish(self->conn);
    free(self->actor);
    free(self);
    *self_p = NULL;
}

static void s_rollback(fb_registry_t *self)
{
    PQclear(PQexec(self->conn, "ROLLBACK"));
}

/* A member's row as the registry holds it, locked for the transaction. */
typedef struct {
    fb_member_t m;
    char status[16];
    char curve[FB_CURVE_Z85_LEN + 1];
    char sign_public[FB_ED25519_B64_LEN + 1]; /* its newest Ed25519 key */
} s_row_t;

/* Reads and locks member id; FB_REG_UNKNOWN when there is none. */
static fb_reg_rc_t s_load(fb_registry_t *self, const char *id, s_row_t *row, char *err, size_t err_size)
{
    fb_reg_rc_t rc = FB_REG_OK;
    const char *p[] = {id};
    PGresult *r = s_query(self,
                          "SELECT kind, name_ko, name_en, country, region, array_to_string(publish, ','),"
                          " array_to_string(read, ','), status, coalesce(curve_public, ''),"
                          " coalesce((SELECT encode(public_key, 'base64') FROM fedbus_member_keys k"
                          "  WHERE k.member = m.member ORDER BY valid_from DESC LIMIT 1), '')"
                          " FROM fedbus_members m WHERE member = $1 FOR UPDATE",
                          1, p, PGRES_TUPLES_OK, &rc, err, err_size);
    if (!r) return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(err, err_size, "no member '%s' (fedbus member list shows them)", id);
        return FB_REG_UNKNOWN;
    }
    memset(row, 0, sizeof(*row));
    fb_member_t *m = &row->m;
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->kind, sizeof(m->kind), "%s", PQgetvalue(r, 0, 0));
    snprintf(m->name_ko, sizeof(m->name_ko), "%s", PQgetvalue(r, 0, 1));
    snprintf(m->name_en, sizeof(m->name_en), "%s", PQgetvalue(r, 0, 2));
    snprintf(m->country, sizeof(m->country), "%s", PQgetvalue(r, 0, 3));
    snprintf(m->region, sizeof(m->region), "%s", PQgetvalue(r, 0, 4));
    snprintf(row->status, sizeof(row->status), "%s", PQgetvalue(r, 0, 7));
    snprintf(row->curve, sizeof(row->curve), "%s", PQgetvalue(r, 0, 8));
    snprintf(row->sign_public, sizeof(row->sign_public), "%s", PQgetvalue(r, 0, 9));
    m->publish_set = m->read_set = true;
    if (fb_member_patterns_add(&m->publish, "publish", PQgetvalue(r, 0, 5), err, err_size) ||
        fb_member_patterns_add(&m->read, "read", PQgetvalue(r, 0, 6), err, err_size))
        rc = FB_REG_FAILED;
    PQclear(r);
    return rc;
}

/* Adds {"old": o, "new": n} under name to changes when they differ; takes both references. */
static void s_diff(json_t *changes, const char *name, json_t *o, json_t *n)
{
    if (!json_equal(o, n) && (o || n))
        json_object_set_new(changes, name,
                            json_pack("{s:o,s:o}", "old", o ? o : json_null(), "new", n ? n : json_null()));
    else {
        json_decref(o);
        json_decref(n);
    }
}

/* Adds the profile fields that differ between old (NULL: none, a new
 * member, whose empty texts are left out) and m. */
static void s_diff_member(json_t *changes, const fb_member_t *old, const fb_member_t *m)
{
    const struct { const char *name; size_t off; } texts[] = {
        {"kind", offsetof(fb_member_t, kind)},       {"name_ko", offsetof(fb_member_t, name_ko)},
        {"name_en", offsetof(fb_member_t, name_en)}, {"country", offsetof(fb_member_t, country)},
        {"region", offsetof(fb_member_t, region)},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (old || *((const char *)m + texts[i].off))
            s_diff(changes, texts[i].name, old ? json_string((const char *)old + texts[i].off) : NULL,
                   json_string((const char *)m + texts[i].off));
    s_diff(changes, "publish", old ? fb_member_patterns_json(&old->publish) : NULL,
           fb_member_patterns_json(&m->publish));
    s_diff(changes, "read", old ? fb_member_patterns_json(&old->read) : NULL, fb_member_patterns_json(&m->read));
}

/* The member's Ed25519 keys as JSON (new reference), NULL on failure. */
static json_t *s_keys(fb_registry_t *self, const char *id, char *err, size_t err_size)
{
    const char *p[] = {id};
    json_t *keys = NULL;
    if (s_json(self, "SELECT " S_KEYS_JSON("$1"), 1, p, &keys, err, err_size) != FB_REG_OK) return NULL;
    return keys;
}

/* What every change ends with: updated_at, the audit row, the NOTIFY.
 * Takes the reference of changes; extra (borrowed, may be NULL) adds keys to detail. */
static fb_reg_rc_t s_record(fb_registry_t *self, const char *id, const char *action, json_t *changes,
                            const char *reason, json_t *extra, char *err, size_t err_size)
{
    json_t *detail = json_pack("{s:o}", "changes", changes);
    if (detail && reason && *reason) json_object_set_new(detail, "reason", json_string(reason));
    if (detail && extra) json_object_update(detail, extra);
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    json_decref(detail);
    if (!text) {
        snprintf(err, err_size, "out of memory");
        return FB_REG_FAILED;
    }
    const char *p[] = {id, self->actor, action, text};
    fb_reg_rc_t rc = s_exec(self, "UPDATE fedbus_members SET updated_at = now() WHERE member = $1", 1, p, err,
                            err_size);
    if (rc == FB_REG_OK)
        rc = s_exec(self,
                    "INSERT INTO fedbus_member_audit (actor, member, action, detail)"
                    " VALUES ($2, $1, $3, $4::jsonb || jsonb_build_object('db_user', current_user::text))",
                    4, p, err, err_size);
    PGresult *r = rc == FB_REG_OK ? s_query(self, "SELECT pg_notify('fedbus_members', $1)", 1, p,
                                            PGRES_TUPLES_OK, &rc, err, err_size)
                                  : NULL;
    PQclear(r);
    free(text);
    return rc;
}

/* Refuses keys another row holds: the CURVE key of any member (this one
 * too), the Ed25519 key of any member's key window. */
static fb_reg_rc_t s_keys_free(fb_registry_t *self, const fb_keys_t *keys, char *err, size_t err_size)
{
    char curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1];
    fb_keys_z85(keys->curve_public, curve);
    fb_keys_b64(keys->sign_public, sign);
    const char *p[] = {curve, sign};
    fb_reg_rc_t rc = FB_REG_OK;
    PGresult *r = s_query(self,
                          "SELECT 'CURVE key', member FROM fedbus_members WHERE curve_public = $1 UNION ALL"
                          " SELECT 'signing key ' || encode(key_id, 'hex'), member FROM fedbus_member_keys"
                          " WHERE public_key = decode($2, 'base64') LIMIT 1",
                          2, p, PGRES_TUPLES_OK, &rc, err, err_size);
    if (!r) return rc;
    if (PQntuples(r) > 0) {
        snprintf(err, err_size, "the %s of %s's key file is registered already, to member %s", PQgetvalue(r, 0, 0),
                 keys->member, PQgetvalue(r, 0, 1));
        rc = FB_REG_KEY_TAKEN;
    }
    PQclear(r);
    return rc;
}

/* Inserts member m with keys; the caller holds the transaction. */
static fb_reg_rc_t s_insert(fb_registry_t *self, const fb_member_t *m, const fb_keys_t *keys, char *err,
                            size_t err_size)
{
    char publish[FB_MEMBER_PATTERNS_MAX * (FB_TOPIC_MAX + 1) + 2], read[sizeof(publish)];
    char curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1], key_id[FB_KEY_ID_HEX_LEN + 1];
    publish[0] = read[0] = '{';
    if (fb_member_patterns_join(&m->publish, publish + 1, sizeof(publish) - 2) ||
        fb_member_patterns_join(&m->read, read + 1, sizeof(read) - 2)) {
        snprintf(err, err_size, "%s: patterns too long", m->id);
        return FB_REG_INVALID;
    }
    strcat(publish, "}"); /* patterns are [a-z0-9.*-]: an array literal needs no quoting */
    strcat(read, "}");
    fb_keys_z85(keys->curve_public, curve);
    fb_keys_b64(keys->sign_public, sign);
    fb_keys_id_hex(keys->sign_key_id, key_id);
    fb_reg_rc_t rc = s_keys_free(self, keys, err, err_size);
    if (rc != FB_REG_OK) return rc;
    const char *p[] = {m->id, m->name_ko, m->name_en, m->country, m->region, m->kind, curve, publish, read};
    const char *pk[] = {m->id, key_id, sign};
    rc = s_exec(self,
                "INSERT INTO fedbus_members (member, name_ko, name_en, country, region, kind, curve_public,"
                " publish, read) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $9::text[])",
                9, p, err, err_size);
    if (rc == FB_REG_OK)
        rc = s_exec(self,
                    "INSERT INTO fedbus_member_keys (member, key_id, public_key, valid_from)"
                    " VALUES ($1, decode($2, 'hex'), decode($3, 'base64'), now())",
                    3, pk, err, err_size);
    if (rc != FB_REG_OK) return rc;
    json_t *changes = json_object(), *after = s_keys(self, m->id, err, err_size);
    if (!changes || !after) {
        json_decref(changes);
        json_decref(after);
        return FB_REG_FAILED;
    }
    s_diff_member(changes, NULL, m);
    s_diff(changes, "status", NULL, json_string("active"));
    s_diff(changes, "curve_public", NULL, json_string(curve));
    s_diff(changes, "sign_keys", json_array(), after);
    return s_record(self, m->id, "add", changes, NULL, NULL, err, err_size);
}

/* Runs one change inside BEGIN ... COMMIT, rolled back when it fails. */
static fb_reg_rc_t s_commit(fb_registry_t *self, fb_reg_rc_t rc, char *err, size_t err_size)
{
    if (rc == FB_REG_OK) rc = s_exec(self, "COMMIT", 0, NULL, err, err_size);
    else s_rollback(self);
    return rc;
}

fb_reg_rc_t fb_registry_add(fb_registry_t *self, const fb_member_t *m, const fb_keys_t *keys, char *err,
                            size_t err_size)
{
    if (fb_member_check(m, err, err_size) != 0) return FB_REG_INVALID;
    fb_reg_rc_t rc = s_exec(self, "BEGIN", 0, NULL, err, err_size);
    if (rc != FB_REG_OK) return rc;
    const char *p[] = {m->id};
    PGresult *r = s_query(self, "SELECT status FROM fedbus_members WHERE member = $1 FOR UPDATE", 1, p,
                          PGRES_TUPLES_OK, &rc, err, err_size);
    if (r && PQntuples(r) > 0) {
        snprintf(err, err_size, "member %s is registered already (%s; fedbus member show %s)", m->id,
                 PQgetvalue(r, 0, 0), m->id);
        rc = FB_REG_EXISTS;
    } else if (r) {
        rc = s_insert(self, m, keys, err, err_size);
    }
    PQclear(r);
    return s_commit(self, rc, err, err_size);
}

/* Brings a registered member to m (keys must be its own); *updated tells whether anything changed. */
static fb_reg_rc_t s_update(fb_registry_t *self, const s_row_t *row, const fb_member_t *m, const fb_keys_t *keys,
                            bool *updated, char *err, size_t err_size)
{
    char curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1], id[FB_KEY_ID_HEX_LEN + 1];
    fb_keys_z85(keys->curve_public, curve);
    fb_keys_b64(keys->sign_public, sign);
    fb_keys_id_hex(keys->sign_key_id, id);
    *updated = false;
    if (strcmp(curve, row->curve) || strcmp(sign, row->sign_public)) {
        snprintf(err, err_size,
                 "%s: the keys given (sign-key-id %s) are not the member's registered keys; "
                 "change keys with fedbus member rotate-key",
                 m->id, id);
        return FB_REG_KEY_MISMATCH;
    }
    json_t *changes = json_object();
    if (!changes) return FB_REG_FAILED;
    s_diff_member(changes, &row->m, m);
    if (json_object_size(changes) == 0) {
        json_decref(changes);
        return FB_REG_OK;
    }
    char publish[FB_MEMBER_PATTERNS_MAX * (FB_TOPIC_MAX + 1)], read[sizeof(publish)];
    fb_member_patterns_join(&m->publish, publish, sizeof(publish));
    fb_member_patterns_join(&m->read, read, sizeof(read));
    const char *p[] = {m->id, m->name_ko, m->name_en, m->country, m->region, m->kind, publish, read};
    fb_reg_rc_t rc = s_exec(self,
                            "UPDATE fedbus_members SET name_ko = $2, name_en = $3, country = $4, region = $5,"
                            " kind = $6, publish = string_to_array(nullif($7, ''), ','),"
                            " read = string_to_array(nullif($8, ''), ',') WHERE member = $1",
                            8, p, err, err_size);
    if (rc != FB_REG_OK) {
        json_decref(changes);
        return rc;
    }
    *updated = true;
    return s_record(self, m->id, "update", changes, NULL, NULL, err, err_size);
}

fb_reg_rc_t fb_registry_import(fb_registry_t *self, const fb_member_t *members, const fb_keys_t *keys, size_t n,
                               fb_reg_outcome_t *outcome, char *err, size_t err_size)
{
    for (size_t i = 0; i < n; i++)
        if (fb_member_check(&members[i], err, err_size) != 0) return FB_REG_INVALID;
    fb_reg_rc_t rc = s_exec(self, "BEGIN", 0, NULL, err, err_size);
    for (size_t i = 0; i < n && rc == FB_REG_OK; i++) {
        s_row_t row;
        bool updated = false;
        rc = s_load(self, members[i].id, &row, err, err_size);
        if (rc == FB_REG_UNKNOWN) {
            rc = s_insert(self, &members[i], &keys[i], err, err_size);
            outcome[i] = FB_REG_ADDED;
        } else if (rc == FB_REG_OK) {
            rc = s_update(self, &row, &members[i], &keys[i], &updated, err, err_size);
            outcome[i] = updated ? FB_REG_UPDATED : FB_REG_UNCHANGED;
        }
    }
    return s_commit(self, rc, err, err_size);
}

fb_reg_rc_t fb_registry_set_status(fb_registry_t *self, const char *id, const char *status, const char *reason,
                                   bool *changed, char old_status[16], char *err, size_t err_size)
{
    int known = 0;
    for (size_t i = 0; i < sizeof(s_statuses) / sizeof(s_statuses[0]); i++) known |= !strcmp(status, s_statuses[i]);
    *changed = false;
    if (!known) {
        snprintf(err, err_size, "status '%s' is not active, suspended or revoked", status);
        return FB_REG_INVALID;
    }
    s_row_t row;
    fb_reg_rc_t rc = s_exec(self, "BEGIN", 0, NULL, err, err_size);
    if (rc == FB_REG_OK) rc = s_load(self, id, &row, err, err_size);
    if (rc != FB_REG_OK) return s_commit(self, rc, err, err_size);
    snprintf(old_status, 16, "%s", row.status);
    if (!strcmp(row.status, status)) return s_commit(self, rc, err, err_size);
    if (!strcmp(row.status, "revoked")) {
        snprintf(err, err_size, "member %s is revoked; revocation is final (register it again under a new id)", id);
        return s_commit(self, FB_REG_REVOKED, err, err_size);
    }
    json_t *changes = json_object(), *before = s_keys(self, id, err, err_size), *after = NULL;
    const char *p[] = {id, status};
    rc = changes && before ? FB_REG_OK : FB_REG_FAILED;
    if (rc == FB_REG_OK)
        rc = s_exec(self, "UPDATE fedbus_members SET status = $2 WHERE member = $1", 2, p, err, err_size);
    /* Revoked: signatures made from now on do not count, whatever the keys' windows said. */
    if (rc == FB_REG_OK && !strcmp(status, "revoked"))
        rc = s_exec(self,
                    "UPDATE fedbus_member_keys SET valid_until = now() WHERE member = $1"
                    " AND valid_from < now() AND (valid_until IS NULL OR valid_until > now())",
                    1, p, err, err_size);
    if (rc == FB_REG_OK && !(after = s_keys(self, id, err, err_size))) rc = FB_REG_FAILED;
    if (rc != FB_REG_OK) {
        json_decref(changes);
        json_decref(before);
        json_decref(after);
        return s_commit(self, rc, err, err_size);
    }
    s_diff(changes, "status", json_string(row.status), json_string(status));
    s_diff(changes, "sign_keys", before, after);
    const char *action = !strcmp(status, "active")      ? "reactivate"
                         : !strcmp(status, "suspended") ? "suspend"
                                                        : "revoke";
    rc = s_record(self, id, action, changes, reason, NULL, err, err_size);
    *changed = rc == FB_REG_OK;
    return s_commit(self, rc, err, err_size);
}

fb_reg_rc_t fb_registry_set_read(fb_registry_t *self, const char *id, const fb_member_patterns_t *read,
                                 const char *reason, bool *changed, char *err, size_t err_size)
{
    s_row_t row;
    *changed = false;
    fb_reg_rc_t rc = s_exec(self, "BEGIN", 0, NULL, err, err_size);
    if (rc == FB_REG_OK) rc = s_load(self, id, &row, err, err_size);
    if (rc != FB_REG_OK || fb_member_patterns_equal(&row.m.read, read)) return s_commit(self, rc, err, err_size);
    if (!strcmp(row.status, "revoked")) {
        snprintf(err, err_size, "member %s is revoked; revocation is final", id);
        return s_commit(self, FB_REG_REVOKED, err, err_size);
    }
    char joined[FB_MEMBER_PATTERNS_MAX * (FB_TOPIC_MAX + 1)];
    fb_member_patterns_join(read, joined, sizeof(joined));
    const char *p[] = {id, joined};
    json_t *changes = json_object();
    rc = changes ? s_exec(self, "UPDATE fedbus_members SET read = coalesce(string_to_array(nullif($2, ''), ','),"
                                " '{}') WHERE member = $1",
                          2, p, err, err_size)
                 : FB_REG_FAILED;
    if (rc != FB_REG_OK) {
        json_decref(changes);
        return s_commit(self, rc, err, err_size);
    }
    s_diff(changes, "read", fb_member_patterns_json(&row.m.read), fb_member_patterns_json(read));
    rc = s_record(self, id, "set-read", changes, reason, NULL, err, err_size);
    *changed = rc == FB_REG_OK;
    return s_commit(self, rc, err, err_size);
}

fb_reg_rc_t fb_registry_rotate(fb_registry_t *self, const char *id, const fb_keys_t *keys, int64_t overlap_s,
                               char *err, size_t err_size)
{
    s_row_t row;
    fb_reg_rc_t rc = s_exec(self, "BEGIN", 0, NULL, err, err_size);
    if (rc == FB_REG_OK) rc = s_load(self, id, &row, err, err_size);
    if (rc == FB_REG_OK && !strcmp(row.status, "revoked")) {
        snprintf(err, err_size, "member %s is revoked; revocation is final", id);
        rc = FB_REG_REVOKED;
    }
    if (rc == FB_REG_OK) rc = s_keys_free(self, keys, err, err_size);
    json_t *before = rc == FB_REG_OK ? s_keys(self, id, err, err_size) : NULL, *after = NULL;
    if (rc == FB_REG_OK && !before) rc = FB_REG_FAILED;
    char curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1], key_id[FB_KEY_ID_HEX_LEN + 1], overlap[24];
    fb_keys_z85(keys->curve_public, curve);
    fb_keys_b64(keys->sign_public, sign);
    fb_keys_id_hex(keys->sign_key_id, key_id);
    snprintf(overlap, sizeof(overlap), "%lld", (long long)overlap_s);
    const char *p[] = {id, overlap}, *pk[] = {id, key_id, sign}, *pc[] = {id, curve};
    if (rc == FB_REG_OK)
        rc = s_exec(self,
                    "UPDATE fedbus_member_keys SET valid_until = now() + $2::bigint * interval '1 second'"
                    " WHERE member = $1 AND valid_from < now() + $2::bigint * interval '1 second'"
                    " AND (valid_until IS NULL OR valid_until > now() + $2::bigint * interval '1 second')",
                    2, p, err, err_size);
    if (rc == FB_REG_OK)
        rc = s_exec(self,
                    "INSERT INTO fedbus_member_keys (member, key_id, public_key, valid_from)"
                    " VALUES ($1, decode($2, 'hex'), decode($3, 'base64'), now())",
                    3, pk, err, err_size);
    if (rc == FB_REG_OK)
        rc = s_exec(self, "UPDATE fedbus_members SET curve_public = $2 WHERE member = $1", 2, pc, err, err_size);
    if (rc == FB_REG_OK && !(after = s_keys(self, id, err, err_size))) rc = FB_REG_FAILED;
    if (rc != FB_REG_OK) {
        json_decref(before);
        json_decref(after);
        return s_commit(self, rc, err, err_size);
    }
    json_t *changes = json_object(), *extra = json_pack("{s:I}", "overlap_s", (json_int_t)overlap_s);
    s_diff(changes, "curve_public", json_string(row.curve), json_string(curve));
    s_diff(changes, "sign_keys", before, after);
    rc = s_record(self, id, "rotate-key", changes, NULL, extra, err, err_size);
    json_decref(extra);
    return s_commit(self, rc, err, err_size);
}

fb_reg_rc_t fb_registry_list(fb_registry_t *self, json_t **out, char *err, size_t err_size)
{
    fb_reg_rc_t rc = s_json(self,
                            "SELECT coalesce(json_agg(json_build_object(" S_MEMBER_FIELDS ", 'key_id',"
                            " (SELECT encode(k.key_id, 'hex') FROM fedbus_member_keys k WHERE k.member = m.member"
                            "  AND k.valid_from <= now() AND (k.valid_until IS NULL OR k.valid_until > now())"
                            "  ORDER BY k.valid_from DESC LIMIT 1)) ORDER BY m.member), '[]')"
                            " FROM fedbus_members m",
                            0, NULL, out, err, err_size);
    return rc;
}

fb_reg_rc_t fb_registry_show(fb_registry_t *self, const char *id, int audit_rows, json_t **out, char *err,
                             size_t err_size)
{
    char n[16];
    snprintf(n, sizeof(n), "%d", audit_rows);
    const char *p[] = {id, n};
    fb_reg_rc_t rc = s_json(self,
                            "SELECT json_build_object(" S_MEMBER_FIELDS ", 'keys', " S_KEYS_JSON("m.member") ","
                            " 'audit', (SELECT coalesce(json_agg(json_build_object(" S_AUDIT_FIELDS ")"
                            "  ORDER BY a.at, a.id), '[]') FROM (SELECT * FROM fedbus_member_audit a"
                            "  WHERE a.member = m.member ORDER BY a.at DESC, a.id DESC LIMIT $2::int) a))"
                            " FROM fedbus_members m WHERE m.member = $1",
                            2, p, out, err, err_size);
    if (rc == FB_REG_OK && !*out) {
        snprintf(err, err_size, "no member '%s' (fedbus member list shows them)", id);
        rc = FB_REG_UNKNOWN;
    }
    return rc;
}

fb_reg_rc_t fb_registry_log(fb_registry_t *self, const char *id, const char *since, long long limit,
                            json_t **out, char *err, size_t err_size)
{
    char n[24];
    snprintf(n, sizeof(n), "%lld", limit);
    const char *p[] = {id, since, n};
    json_t *known = NULL;
    fb_reg_rc_t rc = FB_REG_OK;
    if (id) {
        rc = s_json(self, "SELECT to_json(count(*)) FROM fedbus_members WHERE member = $1", 1, p, &known, err,
                    err_size);
        if (rc == FB_REG_OK && json_integer_value(known) == 0) {
            snprintf(err, err_size, "no member '%s' (fedbus member list shows them)", id);
            rc = FB_REG_UNKNOWN;
        }
        json_decref(known);
        if (rc != FB_REG_OK) return rc;
    }
    return s_json(self,
                  "SELECT coalesce(json_agg(json_build_object(" S_AUDIT_FIELDS ") ORDER BY a.at, a.id), '[]')"
                  " FROM (SELECT * FROM fedbus_member_audit a WHERE ($1::text IS NULL OR a.member = $1)"
                  "  AND ($2::timestamptz IS NULL OR a.at >= $2::timestamptz)"
                  "  ORDER BY a.at DESC, a.id DESC LIMIT nullif($3::bigint, 0)) a",
                  3, p, out, err, err_size);
}

fb_reg_rc_t fb_registry_directory(fb_registry_t *self, json_t **out, char *err, size_t err_size)
{
    return s_json(self,
                  "SELECT json_build_object('version', 1, 'generated_at', " S_TS("now()") ", 'members',"
                  " (SELECT coalesce(json_agg(json_build_object(" S_MEMBER_FIELDS ", 'keys', " S_KEYS_JSON("m.member")
                  ") ORDER BY m.member), '[]') FROM fedbus_members m))",
                  0, NULL, out, err, err_size);
}
