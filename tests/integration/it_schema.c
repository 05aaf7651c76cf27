/* it_schema.c — migrations: fresh database, upgrade from v1 (rows kept, partitioned) and v9, newer schema refused. */
#include "harness.h"

#include "fb_zmq.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <cmocka.h>

/* 1 when the envelope column is stored out of line without compression (version 2). */
#define S_ENVELOPE_EXTERNAL                                                              \
    "SELECT (attstorage = 'e')::int FROM pg_attribute"                                   \
    " WHERE attrelid = 'fedbus_messages'::regclass AND attname = 'envelope'"

/* 1 when ids and topics compare as bytes and the unique key leads with
 * message_id (version 3). */
#define S_BYTEWISE_KEYS                                                                  \
    "SELECT (count(*) = 3)::int FROM information_schema.columns"                         \
    " WHERE table_name IN ('fedbus_messages', 'fedbus_origins')"                         \
    " AND column_name IN ('origin', 'topic') AND collation_name = 'C'"
#define S_ID_FIRST_KEY                                                                   \
    "SELECT count(*) FROM pg_constraint WHERE conname = 'fedbus_messages_id_origin_key'" \
    " AND conkey = ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid ="              \
    " 'fedbus_messages'::regclass AND attname = 'message_id'), (SELECT attnum FROM"      \
    " pg_attribute WHERE attrelid = 'fedbus_messages'::regclass AND attname = 'origin')]"

/* How many of a seal's entry hashes and origin_seqs columns are stored out of
 * line without compression (version 10): 2 when both. */
#define S_SEALS_EXTERNAL                                                                 \
    "SELECT count(*) FROM pg_attribute WHERE attrelid = 'fedbus_seals'::regclass"        \
    " AND attname IN ('entries', 'seqs') AND attstorage = 'e'"

typedef struct {
    uint64_t *seqs;
    int *n;
} s_seqs_t;

static int s_note_seq(const fb_message_t *msg, void *arg)
{
    s_seqs_t *c = arg;
    if (*c->n < 4) c->seqs[(*c->n)++] = msg->global_seq;
    return 0;
}

/* Versions 1..max are all recorded, each once, and in effect. */
static void s_assert_every_version(th_t *t)
{
    assert_int_equal(
        th_sql_int(t, "SELECT count(*) FROM fedbus_schema WHERE version IN (2, 3)"), 2);
    assert_int_equal(th_sql_int(t, S_BYTEWISE_KEYS), 1);
    assert_int_equal(th_sql_int(t, S_ID_FIRST_KEY), 1);
    assert_int_equal(th_sql_int(t, S_SEALS_EXTERNAL), 2);
    assert_int_equal(
        th_sql_int(t, "SELECT (count(*) = max(version) AND min(version) = 1)::int"
                      " FROM fedbus_schema"),
        1);
}

/* Publishes one event of about 12 KB whose summary is one sentence repeated:
 * pglz or lz4 would shrink it to a fraction. */
static void s_publish_compressible(th_t *t, uint64_t origin_seq)
{
    enum { REPEAT = 200 };
    const char *sentence = "Incheon S&T forum on quantum sensing, session notes. ";
    size_t cap = strlen(sentence) * REPEAT + 512, n = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    n += (size_t)snprintf(
        json + n, cap - n,
        "{\"topic\":\"event.kr-incheon.forum\",\"event\":{\"kind\":\"forum\","
        "\"title\":{\"en\":\"notes\"},\"starts_at\":\"2026-05-20T14:00:00+09:00\","
        "\"summary\":{\"en\":\"");
    for (int i = 0; i < REPEAT; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s", sentence);
    snprintf(json + n, cap - n, "\"}}}");
    size_t len;
    uint8_t *f = th_frame(json, "kr-incheon", origin_seq, NULL, &len);
    free(json);
    void *s = th_socket(t, ZMQ_DEALER, t->ingest, "kr-incheon");
    assert_true(zmq_send(s, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    zmq_close(s);
}

/* These tests are about the schema the broker makes: without keys (the
 * harness registers members with keys, migrating first). */
#define S_PLAIN ((const char *const[]){"--insecure-plaintext", NULL})

static void test_fresh_database_gets_every_version(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schema", 21900);
    /* Without keys the harness registers nobody: the broker alone makes the schema. */
    th_broker_start(&t, S_PLAIN);
    s_assert_every_version(&t);
    assert_int_equal(th_sql_int(&t, S_ENVELOPE_EXTERNAL), 1);
    /* The envelope is stored as it came: no TOAST compression. */
    s_publish_compressible(&t, 1);
    assert_true(th_sql_int(&t, "SELECT octet_length(envelope) FROM fedbus_messages") >
                10000);
    assert_int_equal(
        th_sql_int(&t, "SELECT (pg_column_size(envelope) >= octet_length(envelope))::int"
                       " FROM fedbus_messages"),
        1);
    th_cleanup(&t);
}

/* Turns t's database (a broker stopped) back into what a version-1 broker
 * left, with the rows it holds: fedbus_messages one plain table, its
 * unique key on (origin, message_id) under the database's collation, the
 * column's default storage (a row compressed under it), nothing newer. */
static void s_back_to_version_1(th_t *t)
{
    th_sql_exec(t, "CREATE TABLE fedbus_it_rows AS SELECT * FROM fedbus_messages");
    th_sql_exec(t, "DROP TABLE fedbus_messages, fedbus_retention");
    th_sql_exec(t, "DROP TABLE fedbus_member_keys, fedbus_member_audit, fedbus_members, fedbus_seals, fedbus_member_states,"
                   " fedbus_unstored");
    th_sql_exec(t, "CREATE TABLE fedbus_messages ("
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
                   "CREATE INDEX fedbus_messages_stored_at ON fedbus_messages USING brin (stored_at)");
    th_sql_exec(t, "INSERT INTO fedbus_messages SELECT * FROM fedbus_it_rows; DROP TABLE fedbus_it_rows");
    th_sql_exec(t, "ALTER TABLE fedbus_origins ALTER COLUMN origin TYPE text COLLATE \"default\"");
    th_sql_exec(t, "DELETE FROM fedbus_schema WHERE version > 1");
    assert_int_equal(th_sql_int(t, S_BYTEWISE_KEYS), 0);
    assert_int_equal(th_sql_int(t, S_ENVELOPE_EXTERNAL), 0);
}

/* 1 when fedbus_messages is partitioned, with the index on global_seq
 * the replay reads in every partition (version 6). */
#define S_PARTITIONED                                                                        \
    "SELECT (c.relkind = 'p' AND (SELECT bool_and(EXISTS (SELECT 1 FROM pg_index x"          \
    " JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = x.indkey[0]"             \
    " WHERE x.indrelid = i.inhrelid AND a.attname = 'global_seq' AND x.indnatts = 1))"       \
    " FROM pg_inherits i WHERE i.inhparent = c.oid))::int FROM pg_class c"                   \
    " WHERE c.relname = 'fedbus_messages'"

static void test_version_1_database_is_upgraded(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schemaup", 21920);
    th_broker_start(&t, S_PLAIN);
    s_publish_compressible(&t, 1);
    th_broker_stop(&t, SIGTERM);
    s_back_to_version_1(&t);
    assert_int_equal(
        th_sql_int(&t,
                   "SELECT (pg_column_size(envelope) < octet_length(envelope) / 2)::int"
                   " FROM fedbus_messages"),
        1);

    th_broker_start(&t, S_PLAIN);
    s_assert_every_version(&t);
    assert_int_equal(th_sql_int(&t, S_ENVELOPE_EXTERNAL), 1);
    assert_int_equal(th_sql_int(&t, S_PARTITIONED), 1);
    /* The old table, not rewritten, is the partition of every id up to the
     * upgrade: its row is there, still compressed. */
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages_legacy"), 1);
    /* The old row stays compressed and readable; the new one is stored raw. */
    s_publish_compressible(&t, 2);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 2);
    assert_int_equal(th_sql_int(&t, "SELECT max(global_seq) FROM fedbus_messages"), 2);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"
                                    " WHERE octet_length(envelope) > 10000"),
                     2);
    assert_int_equal(
        th_sql_int(&t,
                   "SELECT (pg_column_size(envelope) < octet_length(envelope) / 2)::int"
                   " FROM fedbus_messages WHERE origin_seq = 1"),
        1);
    assert_int_equal(
        th_sql_int(&t, "SELECT (pg_column_size(envelope) >= octet_length(envelope))::int"
                       " FROM fedbus_messages WHERE origin_seq = 2"),
        1);
    th_cleanup(&t);
}

/* Publishes the event of th_event_json() as origin_seq seq under id (NULL:
 * a new one) and returns its ack. */
static th_ack_t s_publish(th_t *t, uint64_t seq, const char *id)
{
    size_t len;
    uint8_t *f = th_frame(th_event_json("kr-incheon", "forum", "legacy"), "kr-incheon", seq, id, &len);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = t->ingest});
    assert_true(zmq_send(s, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    zmq_close(s);
    return a;
}

/* Older brokers took any 16 bytes as a message_id: such rows keep their
 * place in history (in the default partition), are replayed in order, and
 * the numbering goes on after them. */
static void test_an_upgrade_keeps_rows_whose_ids_are_not_uuid_v7(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schemav4", 21960);
    th_broker_start(&t, S_PLAIN);
    assert_int_equal(s_publish(&t, 1, NULL).status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    th_broker_stop(&t, SIGTERM);
    s_back_to_version_1(&t);
    /* A row as a UUIDv4 publisher left it with an older broker (its
     * envelope says global_seq 2: protobuf keeps the last field 7). */
    th_sql_exec(&t, "INSERT INTO fedbus_messages SELECT 2, origin, 2, '5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f',"
                    " topic, created_at, stored_at, content_hash, envelope || '\\x3802'::bytea FROM fedbus_messages");
    th_broker_start(&t, S_PLAIN);
    assert_int_equal(th_sql_int(&t, S_PARTITIONED), 1);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 2);
    assert_int_equal(th_sql_int(&t, "SELECT global_seq FROM fedbus_messages_legacy"), 1);
    assert_int_equal(th_sql_int(&t, "SELECT global_seq FROM fedbus_messages_default"), 2);
    /* Both are replayed, in order. */
    uint64_t seqs[4];
    int n = 0;
    fb_replay(t.replay, NULL, 0, 0, 0, 0, s_note_seq, &(s_seqs_t){seqs, &n}, 5000);
    assert_int_equal(n, 2);
    assert_int_equal(seqs[0], 1);
    assert_int_equal(seqs[1], 2);
    /* New messages are numbered after them; the old id cannot be published
     * again (not UUIDv7), and a new one lands in a dated partition. */
    th_ack_t a = s_publish(&t, 3, "5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f");
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    a = s_publish(&t, 4, NULL);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    assert_int_equal(a.global_seq, 3);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages_default"), 1);
    th_cleanup(&t);
}

/* A database a version-9 broker left, seals stored under the default
 * storage, is upgraded: the seal columns go out of line uncompressed. */
static void test_version_9_database_gets_seal_columns_uncompressed(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schemav9", 30800);
    th_broker_start(&t, S_PLAIN);
    th_broker_stop(&t, SIGTERM);
    th_sql_exec(&t, "ALTER TABLE fedbus_seals ALTER COLUMN entries SET STORAGE EXTENDED,"
                    " ALTER COLUMN seqs SET STORAGE EXTENDED");
    th_sql_exec(&t, "DELETE FROM fedbus_schema WHERE version > 9");
    assert_int_equal(th_sql_int(&t, S_SEALS_EXTERNAL), 0);
    th_broker_start(&t, S_PLAIN);
    assert_int_equal(th_sql_int(&t, S_SEALS_EXTERNAL), 2);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_schema WHERE version = 10"), 1);
    s_assert_every_version(&t);
    th_cleanup(&t);
}

static void test_newer_database_is_refused(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schemanew", 21940);
    th_broker_start(&t, NULL);
    th_broker_stop(&t, SIGTERM);
    th_sql_exec(
        &t,
        "INSERT INTO fedbus_schema (version) SELECT max(version) + 1 FROM fedbus_schema");
    char pg[300];
    snprintf(pg, sizeof(pg), "--pg=%s", t.conninfo);
    const char *argv[] = {FEDBUS_BROKER_BIN,
                          pg,
                          "--ingest=tcp://127.0.0.1:21950",
                          "--feed=tcp://127.0.0.1:21951",
                          "--replay=tcp://127.0.0.1:21952",
                          "--insecure-plaintext", /* refused for the schema alone */
                          NULL};
    assert_int_equal(th_run(argv, NULL, 20), 1);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_database_gets_every_version),
        cmocka_unit_test(test_version_1_database_is_upgraded),
        cmocka_unit_test(test_an_upgrade_keeps_rows_whose_ids_are_not_uuid_v7),
        cmocka_unit_test(test_version_9_database_gets_seal_columns_uncompressed),
        cmocka_unit_test(test_newer_database_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
