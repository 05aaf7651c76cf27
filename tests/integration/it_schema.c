/* it_schema.c — migrations: fresh database, upgrade from v1, newer schema refused. */
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

/* Versions 1..max are all recorded, each once, and in effect. */
static void s_assert_every_version(th_t *t)
{
    assert_int_equal(
        th_sql_int(t, "SELECT count(*) FROM fedbus_schema WHERE version IN (2, 3)"), 2);
    assert_int_equal(th_sql_int(t, S_BYTEWISE_KEYS), 1);
    assert_int_equal(th_sql_int(t, S_ID_FIRST_KEY), 1);
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

static void test_version_1_database_is_upgraded(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "schemaup", 21920);
    th_broker_start(&t, S_PLAIN);
    s_publish_compressible(&t, 1);
    th_broker_stop(&t, SIGTERM);
    /* Back to what a version-1 broker left: the unique key on (origin,
     * message_id) under the database's collation, the column's default
     * storage, and a row compressed under it. */
    th_sql_exec(&t, "ALTER TABLE fedbus_messages DROP CONSTRAINT fedbus_messages_id_origin_key");
    th_sql_exec(&t, "ALTER TABLE fedbus_messages ALTER COLUMN origin TYPE text COLLATE \"default\","
                    " ALTER COLUMN topic TYPE text COLLATE \"default\"");
    th_sql_exec(&t, "ALTER TABLE fedbus_messages ADD UNIQUE (origin, message_id)");
    th_sql_exec(&t, "ALTER TABLE fedbus_origins ALTER COLUMN origin TYPE text COLLATE \"default\"");
    assert_int_equal(th_sql_int(&t, S_BYTEWISE_KEYS), 0);
    th_sql_exec(&t,
                "ALTER TABLE fedbus_messages ALTER COLUMN envelope SET STORAGE EXTENDED");
    th_sql_exec(&t, "DROP TABLE fedbus_member_keys, fedbus_member_audit, fedbus_members, fedbus_seals");
    th_sql_exec(&t, "DELETE FROM fedbus_schema WHERE version > 1");
    th_sql_exec(&t, "UPDATE fedbus_messages SET envelope = envelope || ''::bytea");
    assert_int_equal(th_sql_int(&t, S_ENVELOPE_EXTERNAL), 0);
    assert_int_equal(
        th_sql_int(&t,
                   "SELECT (pg_column_size(envelope) < octet_length(envelope) / 2)::int"
                   " FROM fedbus_messages"),
        1);

    th_broker_start(&t, S_PLAIN);
    s_assert_every_version(&t);
    assert_int_equal(th_sql_int(&t, S_ENVELOPE_EXTERNAL), 1);
    /* The old row stays compressed and readable; the new one is stored raw. */
    s_publish_compressible(&t, 2);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 2);
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
        cmocka_unit_test(test_newer_database_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
