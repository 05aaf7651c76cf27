/* it_verify_dup.c — a message published twice through a signing node: the second copy is linked into the chain
 * but not stored, and `fedbus verify` accepts it (from PostgreSQL and from an archive) while a deleted original,
 * a flipped byte of the kept copy and a deletion disguised as such a copy still fail; a duplicate whose
 * original retention dropped is accepted. */
#define _GNU_SOURCE /* memmem() */
#include "harness.h"

#include "fb_archive.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_ID "019b76da-a812-7400-a1c5-9f6676648827"

static th_t s_t;
static char s_pg[300];

static void s_send(fb_publisher_t *pub, const char *json)
{
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
    if (ack.status == FB_ACK_REJECTED) fail_msg("publish: %s %s", ack.reason_name, ack.detail);
}

/* Runs fedbus with args (NULL-terminated); returns its status, its stdout in *out (caller frees). */
static int s_fedbus(char **out, ...)
{
    const char *argv[16] = {FEDBUS_CLI_BIN};
    int n = 1;
    va_list ap;
    va_start(ap, out);
    for (const char *a; n < 15 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char *buf = NULL;
    int rc = th_run(argv, &buf, 60);
    *out = buf;
    return rc;
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "verify_dup", 29800);
    const char *extra[] = {"--signatures=required", NULL};
    th_broker_start(&s_t, extra);
    int a = th_node_start(&s_t, "kr-seoul", NULL);
    snprintf(s_pg, sizeof(s_pg), "--pg=%s", s_t.conninfo);
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[a]);
    assert_non_null(pub);
    const char *again = "{\"message_id\":\"" S_ID "\",\"topic\":\"event.kr-seoul.forum\",\"event\":{\"kind\":\"forum\","
                        "\"title\":{\"en\":\"published twice\"},\"starts_at\":\"2026-05-20T14:00:00+09:00\"}}";
    s_send(pub, th_event_json("kr-seoul", "forum", "the first one"));
    s_send(pub, again);
    s_send(pub, again); /* a new origin_seq, linked into the chain, not stored */
    s_send(pub, th_event_json("kr-seoul", "forum", "after the second copy"));
    s_send(pub, th_event_json("kr-seoul", "forum", "the last one"));
    fb_publisher_destroy(&pub);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static void test_a_message_published_twice_is_kept_as_linked_but_not_stored(void **state)
{
    (void)state;
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-seoul'"), 4);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_seals WHERE origin = 'kr-seoul' AND 3 = ANY (seqs)"), 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_unstored WHERE origin = 'kr-seoul' AND origin_seq = 3"
                                      " AND reason = 'DUPLICATE' AND original_seq = (SELECT global_seq FROM"
                                      " fedbus_messages WHERE origin_seq = 2)"),
                     1);
}

static void test_verify_from_postgresql_and_from_an_archive_accepts_the_second_copy(void **state)
{
    (void)state;
    char *out;
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 0);
    if (!strstr(out, "VERIFIED: 1 origins") || !strstr(out, "linked but not stored: 1 (DUPLICATE 1"))
        fail_msg("verify --pg said: %s", out);
    free(out);
    char *archive, file[300];
    assert_int_equal(s_fedbus(&archive, "archive", "export", s_pg, NULL), 0);
    assert_non_null(strstr(archive, "{\"unstored\":{"));
    snprintf(file, sizeof(file), "%s/history.jsonl", s_t.dir);
    s_write(file, archive);
    assert_int_equal(s_fedbus(&out, "verify", file, NULL), 0);
    if (!strstr(out, "VERIFIED: 1 origins") || !strstr(out, "linked but not stored: 1 (DUPLICATE 1"))
        fail_msg("verify FILE said: %s", out);
    free(out);
    /* one byte of the kept copy flipped in the archive */
    char *line = strstr(archive, "{\"unstored\":{\"envelope\":\"");
    assert_non_null(line);
    char *b64 = line + strlen("{\"unstored\":{\"envelope\":\""), *end = strchr(b64, '"');
    char *text = strndup(b64, (size_t)(end - b64));
    uint8_t *bytes = malloc(strlen(text));
    long len = fb_archive_unb64(text, bytes);
    assert_true(len > 40);
    uint8_t *t = memmem(bytes, (size_t)len, "twice", 5);
    assert_non_null(t);
    t[0] ^= 0x01; /* a letter of the title */
    fb_archive_b64(bytes, (size_t)len, text);
    memcpy(b64, text, strlen(text));
    s_write(file, archive);
    assert_int_equal(s_fedbus(&out, "verify", file, NULL), 1);
    if (!strstr(out, "FAIL kr-seoul seq 3 message_id") || !strstr(out, "not the envelope sealed"))
        fail_msg("verify FILE (flipped) said: %s", out);
    free(out);
    free(text);
    free(bytes);
    free(archive);
}

static void test_a_flipped_byte_of_the_kept_copy_in_postgresql_fails(void **state)
{
    (void)state;
    char *out;
    th_sql_exec(&s_t, "UPDATE fedbus_unstored SET envelope = overlay(envelope placing convert_to('twicE', 'UTF8')"
                      " from position(convert_to('twice', 'UTF8') in envelope)) WHERE origin_seq = 3");
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 1);
    if (!strstr(out, "FAIL kr-seoul seq 3 message_id") || !strstr(out, "not the envelope sealed"))
        fail_msg("verify said: %s", out);
    free(out);
    th_sql_exec(&s_t, "UPDATE fedbus_unstored SET envelope = overlay(envelope placing convert_to('twice', 'UTF8')"
                      " from position(convert_to('twicE', 'UTF8') in envelope)) WHERE origin_seq = 3");
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 0);
    free(out);
}

static void test_a_deletion_disguised_as_a_kept_duplicate_fails(void **state)
{
    (void)state;
    /* seq 4 moved, its broker's stamp cut off so that its entry hash is the sealed one */
    long long gseq = th_sql_int(&s_t, "SELECT global_seq FROM fedbus_messages WHERE origin_seq = 4");
    long long at = th_sql_int(&s_t, "SELECT (extract(epoch FROM stored_at) * 1000000)::bigint FROM fedbus_messages"
                                    " WHERE origin_seq = 4");
    uint8_t stamp[FB_STAMP_MAX];
    size_t slen = fb_wire_stamp_stored((uint64_t)gseq, at, stamp);
    char sql[600], *out;
    snprintf(sql, sizeof(sql),
             "INSERT INTO fedbus_unstored (origin, origin_seq, reason, original_seq, envelope) SELECT origin, origin_seq,"
             " 'DUPLICATE', global_seq, substring(envelope from 1 for length(envelope) - %zu) FROM fedbus_messages"
             " WHERE origin_seq = 4; CREATE TABLE saved AS SELECT * FROM fedbus_messages WHERE origin_seq = 4;"
             " DELETE FROM fedbus_messages WHERE origin_seq = 4",
             slen);
    th_sql_exec(&s_t, sql);
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 1);
    if (!strstr(out, "FAIL kr-seoul seq 4 message_id") || !strstr(out, "no stored envelope of its origin is its original"))
        fail_msg("verify said: %s", out);
    if (strstr(out, "entry hash differs")) fail_msg("the stamp was not cut: %s", out);
    free(out);
    th_sql_exec(&s_t, "DELETE FROM fedbus_unstored WHERE origin_seq = 4;"
                      " INSERT INTO fedbus_messages SELECT * FROM saved; DROP TABLE saved");
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 0);
    free(out);
}

static void test_a_deleted_original_fails(void **state)
{
    (void)state;
    char *out;
    th_sql_exec(&s_t, "DELETE FROM fedbus_messages WHERE origin_seq = 2");
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 1);
    if (!strstr(out, "FAIL kr-seoul seq 3 message_id " S_ID) || !strstr(out, "no stored envelope of its origin") ||
        !strstr(out, "FAIL kr-seoul seq 2 message_id -: sealed"))
        fail_msg("verify said: %s", out);
    free(out);
}

static void test_a_kept_duplicate_whose_original_retention_dropped_is_accepted(void **state)
{
    (void)state;
    char *out;
    /* the original (dated January 2026 by its UUIDv7) lay where retention dropped partitions */
    th_sql_exec(&s_t, "UPDATE fedbus_retention SET ids_from = '2026-06-01T00:00:00Z'");
    assert_int_equal(s_fedbus(&out, "verify", s_pg, NULL), 1);
    if (strstr(out, "FAIL kr-seoul seq 3") || !strstr(out, "FAIL kr-seoul seq 2 message_id -: sealed"))
        fail_msg("verify said: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_message_published_twice_is_kept_as_linked_but_not_stored),
        cmocka_unit_test(test_verify_from_postgresql_and_from_an_archive_accepts_the_second_copy),
        cmocka_unit_test(test_a_flipped_byte_of_the_kept_copy_in_postgresql_fails),
        cmocka_unit_test(test_a_deletion_disguised_as_a_kept_duplicate_fails),
        cmocka_unit_test(test_a_deleted_original_fails),
        cmocka_unit_test(test_a_kept_duplicate_whose_original_retention_dropped_is_accepted),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
