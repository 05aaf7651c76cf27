/* fb_migrate.c — the store's schema: versions applied in order, each once, at the writer's start. */
#include "fb_migrate.h"

#include "fb_proofs.h"
#include "fb_unstored.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Schema versions, applied in order, each once; the pending ones run in one
 * transaction under an advisory lock. Never edit an applied entry: append a
 * new one. */
static const char *const s_migrations[] = {
    /* 1: messages and per-origin heads */
    "CREATE TABLE fedbus_messages ("
    "  global_seq   bigint PRIMARY KEY,"
    "  origin       text NOT NULL,"
    "  origin_seq   bigint NOT NULL,"
    "  message_id   uuid NOT NULL,"
    "  topic        text NOT NULL,"
    "  created_at   timestamptz NOT NULL,"
    "  stored_at    timestamptz NOT NULL,"
    "  content_hash bytea NOT NULL,"
    "  envelope     bytea NOT NULL,"
    "  UNIQUE (origin, message_id));"
    "CREATE INDEX fedbus_messages_stored_at ON fedbus_messages USING brin (stored_at);"
    "CREATE TABLE fedbus_origins ("
    "  origin          text PRIMARY KEY,"
    "  last_origin_seq bigint NOT NULL,"
    "  last_global_seq bigint NOT NULL,"
    "  last_stored_at  timestamptz NOT NULL);",
    /* 2: envelopes are stored without TOAST compression. Above ~2 KB the
     * default (pglz) tries to compress each one inside the COPY: with the
     * bench's 16 KiB envelopes that cost the server ~480 us of CPU per row
     * (COPY ~1,900 rows/s), and they were stored raw anyway, as they did not
     * shrink enough. lz4 gives up on them sooner (~120 us/row, ~7,100 rows/s)
     * but is still a wasted attempt; EXTERNAL makes none (~95 us/row,
     * ~8,200 rows/s) and stores the same bytes out of line. The price:
     * envelopes that would compress take their full size on disk. Envelopes
     * below ~2 KB were never compressed and are unaffected; rows already
     * stored keep their form. */
    "ALTER TABLE fedbus_messages ALTER COLUMN envelope SET STORAGE EXTERNAL;",
    /* 3: ids and topics compare as bytes. Every stored row is inserted into
     * the unique index on (origin, message_id) with ~20 comparisons, and
     * under a libc collation (C.UTF-8, en_US.UTF-8...) each one compared
     * origin with strcoll() first. Now message_id (16 bytes, time-ordered:
     * inserts land at the right edge) comes first and origin, like topic,
     * is COLLATE "C" (memcmp; origins and topics are [a-z0-9.-] only, so
     * no order anyone relies on changes). The type change rebuilds the
     * indexes. */
    "ALTER TABLE fedbus_messages DROP CONSTRAINT fedbus_messages_origin_message_id_key;"
    "ALTER TABLE fedbus_messages ALTER COLUMN origin TYPE text COLLATE \"C\","
    "  ALTER COLUMN topic TYPE text COLLATE \"C\";"
    "ALTER TABLE fedbus_messages ADD CONSTRAINT fedbus_messages_id_origin_key"
    "  UNIQUE (message_id, origin);"
    "ALTER TABLE fedbus_origins ALTER COLUMN origin TYPE text COLLATE \"C\";",
    /* 4: replay by topic prefix reads an index. Without one, a prefix that
     * matches little read every row from from_seq on (64 such replays over
     * 400k rows took the broker's acks from 0.6 ms to 335 ms at p50). A
     * prefix is asked as the byte range [prefix, prefix with its last byte
     * + 1), which this index serves under topic's COLLATE "C"; global_seq
     * second keeps each topic's rows in replay order and filters the
     * requested window inside the index. Building it holds a write lock on
     * fedbus_messages for the time it takes (about a second per million
     * rows): on a large table, create it by hand first with CREATE INDEX
     * CONCURRENTLY under this name and the migration skips it. */
    "CREATE INDEX IF NOT EXISTS fedbus_messages_topic_seq ON fedbus_messages (topic, global_seq);",
    /* 5: the member registry. Who may connect (curve_public, status), what
     * each member may publish and read (topic patterns, docs/protocol.md),
     * the Ed25519 keys its signatures are checked with, each valid in a
     * window so that a rotated-out key stops counting at a known time; and
     * an audit row for every change an admin makes. */
    "CREATE TABLE fedbus_members ("
    "  member       text COLLATE \"C\" PRIMARY KEY,"
    "  name_ko      text NOT NULL DEFAULT '',"
    "  name_en      text NOT NULL DEFAULT '',"
    "  country      text NOT NULL DEFAULT '',"
    "  region       text NOT NULL DEFAULT '',"
    "  kind         text NOT NULL CHECK (kind IN ('hub', 'partner', 'observer')),"
    "  curve_public text COLLATE \"C\" UNIQUE CHECK (length(curve_public) = 40),"
    "  publish      text[] NOT NULL DEFAULT '{}',"
    "  read         text[] NOT NULL DEFAULT '{}',"
    "  status       text NOT NULL DEFAULT 'active'"
    "               CHECK (status IN ('active', 'suspended', 'revoked')),"
    "  created_at   timestamptz NOT NULL DEFAULT now(),"
    "  updated_at   timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE fedbus_member_keys ("
    "  member      text COLLATE \"C\" NOT NULL REFERENCES fedbus_members,"
    "  key_id      bytea NOT NULL CHECK (length(key_id) = 8),"
    "  public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),"
    "  valid_from  timestamptz NOT NULL,"
    "  valid_until timestamptz CHECK (valid_until IS NULL OR valid_until > valid_from),"
    "  PRIMARY KEY (member, key_id));"
    "CREATE TABLE fedbus_member_audit ("
    "  id     bigserial PRIMARY KEY,"
    "  at     timestamptz NOT NULL DEFAULT now(),"
    "  actor  text NOT NULL,"
    "  member text COLLATE \"C\" NOT NULL,"
    "  action text NOT NULL,"
    "  detail jsonb NOT NULL DEFAULT '{}');"
    "CREATE INDEX fedbus_member_audit_member ON fedbus_member_audit (member, at);",
    /* 6: the seals the broker verified, with the entry hashes they cover
     * and the chain head after each (broker/fb_proofs.c). */
    fb_proofs_schema_sql,
    /* 7: retention. fedbus_messages becomes a table partitioned by range
     * of message_id: ids are UUIDv7, whose first 48 bits are Unix
     * milliseconds, so a range of ids is a range of creation times, and
     * retention drops whole partitions (a DROP, not a DELETE). The unique
     * key (message_id, origin) holds the partition key, so PostgreSQL
     * still enforces it across all partitions, and a look-up by id reads
     * one partition. global_seq loses its primary key (a partitioned table
     * can only have one that holds the partition key): the broker, the only
     * writer, numbers the rows itself, and every partition keeps an index
     * on it for replay. Partitions are made and dropped by the broker's
     * partition manager (fb_retention.c); fedbus_retention records what it
     * dropped. The table as it was is kept, not rewritten, as the first
     * partition: every id up to now (or up to its newest UUIDv7, if later);
     * rows whose ids are not UUIDv7 (older brokers took any 16 bytes), or
     * lie after that, move to the DEFAULT partition first. This reads the
     * table twice and builds the index on global_seq for its rows. */
    "CREATE TABLE fedbus_retention ("
    "  one                boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  horizon_seq        bigint NOT NULL DEFAULT 1,"
    "  horizon_at         timestamptz,"
    "  ids_from           timestamptz,"
    "  dropped_partitions bigint NOT NULL DEFAULT 0,"
    "  dropped_rows       bigint NOT NULL DEFAULT 0,"
    "  updated_at         timestamptz NOT NULL DEFAULT now());"
    "INSERT INTO fedbus_retention DEFAULT VALUES;"
    "ALTER TABLE fedbus_messages RENAME TO fedbus_messages_legacy;"
    "ALTER INDEX fedbus_messages_id_origin_key RENAME TO fedbus_messages_legacy_id_origin_key;"
    "ALTER INDEX fedbus_messages_stored_at RENAME TO fedbus_messages_legacy_stored_at;"
    "ALTER INDEX IF EXISTS fedbus_messages_topic_seq RENAME TO fedbus_messages_legacy_topic_seq;"
    "CREATE TABLE fedbus_messages ("
    "  global_seq   bigint NOT NULL,"
    "  origin       text COLLATE \"C\" NOT NULL,"
    "  origin_seq   bigint NOT NULL,"
    "  message_id   uuid NOT NULL,"
    "  topic        text COLLATE \"C\" NOT NULL,"
    "  created_at   timestamptz NOT NULL,"
    "  stored_at    timestamptz NOT NULL,"
    "  content_hash bytea NOT NULL,"
    "  envelope     bytea NOT NULL,"
    "  CONSTRAINT fedbus_messages_id_origin_key UNIQUE (message_id, origin))"
    "  PARTITION BY RANGE (message_id);"
    "ALTER TABLE fedbus_messages ALTER COLUMN envelope SET STORAGE EXTERNAL;"
    "CREATE INDEX fedbus_messages_global_seq ON fedbus_messages (global_seq);"
    "CREATE INDEX fedbus_messages_stored_at ON fedbus_messages USING brin (stored_at);"
    "CREATE INDEX fedbus_messages_topic_seq ON fedbus_messages (topic, global_seq);"
    "CREATE TABLE fedbus_messages_default PARTITION OF fedbus_messages DEFAULT;"
    "DO $$ DECLARE newest uuid; bound uuid; BEGIN"
    "  SELECT message_id INTO newest FROM fedbus_messages_legacy"
    "   WHERE message_id < (lpad(to_hex((extract(epoch FROM now() + interval '1 day') * 1000)::bigint), 12, '0')"
    "                       || '00000000000000000000')::uuid"
    "     AND substr(message_id::text, 15, 1) = '7' AND substr(message_id::text, 20, 1) IN ('8', '9', 'a', 'b')"
    "   ORDER BY message_id DESC LIMIT 1;"
    "  bound := (lpad(to_hex(greatest((extract(epoch FROM now()) * 1000)::bigint,"
    "             coalesce(('x' || substr(replace(newest::text, '-', ''), 1, 12))::bit(48)::bigint, 0)) + 1), 12, '0')"
    "            || '00000000000000000000')::uuid;"
    "  WITH moved AS (DELETE FROM fedbus_messages_legacy"
    "    WHERE NOT (message_id < bound AND substr(message_id::text, 15, 1) = '7'"
    "               AND substr(message_id::text, 20, 1) IN ('8', '9', 'a', 'b'))"
    "    RETURNING global_seq, origin, origin_seq, message_id, topic, created_at, stored_at, content_hash, envelope)"
    "  INSERT INTO fedbus_messages_default (global_seq, origin, origin_seq, message_id, topic, created_at,"
    "    stored_at, content_hash, envelope) SELECT * FROM moved;"
    "  ALTER TABLE fedbus_messages_legacy DROP CONSTRAINT fedbus_messages_pkey;"
    "  EXECUTE format('ALTER TABLE fedbus_messages ATTACH PARTITION fedbus_messages_legacy"
    " FOR VALUES FROM (MINVALUE) TO (%L)', bound);"
    "END $$;",
    /* 8: members' state changes as the broker saw them (broker/fb_health.c):
     * the outage history admins query. */
    "CREATE TABLE fedbus_member_states ("
    "  id         bigserial PRIMARY KEY,"
    "  member     text COLLATE \"C\" NOT NULL,"
    "  from_state text NOT NULL CHECK (from_state IN ('never', 'up', 'stale', 'down')),"
    "  to_state   text NOT NULL CHECK (to_state IN ('never', 'up', 'stale', 'down')),"
    "  at         timestamptz NOT NULL);"
    "CREATE INDEX fedbus_member_states_member ON fedbus_member_states (member, at);",
    /* 9: envelopes linked into their origin's chain but not stored
     * (broker/fb_unstored.c), so that verify tells them from deleted rows. */
    fb_unstored_schema_sql,
    /* 10: a seal's entry hashes (32 bytes per envelope: ~30 KB for a frame
     * of 950) and origin_seqs go out of line without a compression attempt:
     * hashes do not compress, and pglz tried on every seal row inside the
     * writer's transaction (~3 % of the server's CPU with trust on). */
    "ALTER TABLE fedbus_seals ALTER COLUMN entries SET STORAGE EXTERNAL,"
    " ALTER COLUMN seqs SET STORAGE EXTERNAL",
};
#define S_NMIGRATIONS ((int)(sizeof(s_migrations) / sizeof(s_migrations[0])))

int fb_migrate_latest(void)
{
    return S_NMIGRATIONS;
}

void fb_migrate_error(PGconn *conn, const char *what, const PGresult *res, char *err, size_t err_size)
{
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(conn);
    snprintf(err, err_size, "%s: %s", what, msg && *msg ? msg : "failed");
    for (char *p = err; *p; p++)
        if (*p == '\n') *p = ' ';
}

int fb_migrate_exec(PGconn *conn, const char *sql, ExecStatusType want, char *err, size_t err_size)
{
    PGresult *r = PQexec(conn, sql);
    int ok = PQresultStatus(r) == want;
    if (!ok) {
        char what[48];
        snprintf(what, sizeof(what), "%.40s%s", sql, strlen(sql) > 40 ? "..." : "");
        fb_migrate_error(conn, what, r, err, err_size);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

int fb_migrate_run(PGconn *conn, char *err, size_t err_size)
{
    if (fb_migrate_exec(conn, "SET client_min_messages = warning", PGRES_COMMAND_OK, err, err_size) ||
        fb_migrate_exec(conn, "BEGIN", PGRES_COMMAND_OK, err, err_size) ||
        fb_migrate_exec(conn, "SELECT pg_advisory_xact_lock(" FB_MIGRATE_LOCK_KEY " + 1)", PGRES_TUPLES_OK,
                        err, err_size) ||
        fb_migrate_exec(conn,
                        "CREATE TABLE IF NOT EXISTS fedbus_schema (version int PRIMARY KEY,"
                        " applied_at timestamptz NOT NULL DEFAULT now())",
                        PGRES_COMMAND_OK, err, err_size))
        goto error;
    PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM fedbus_schema");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fb_migrate_error(conn, "reading schema version", r, err, err_size);
        PQclear(r);
        goto error;
    }
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (have > S_NMIGRATIONS) {
        snprintf(err, err_size, "database schema version %d is newer than this broker's %d", have,
                 S_NMIGRATIONS);
        goto error;
    }
    for (int v = have + 1; v <= S_NMIGRATIONS; v++) {
        char sql[96];
        if (fb_migrate_exec(conn, s_migrations[v - 1], PGRES_COMMAND_OK, err, err_size)) goto error;
        snprintf(sql, sizeof(sql), "INSERT INTO fedbus_schema (version) VALUES (%d)", v);
        if (fb_migrate_exec(conn, sql, PGRES_COMMAND_OK, err, err_size)) goto error;
    }
    return fb_migrate_exec(conn, "COMMIT", PGRES_COMMAND_OK, err, err_size);
error:
    PQclear(PQexec(conn, "ROLLBACK"));
    return -1;
}
