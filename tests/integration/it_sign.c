/* it_sign.c — signed provenance end to end: a signing node's history is one unbroken, sealed chain, across a
 * kill -9 of the node; forged seals, broken links, rotated-out keys and unsealed frames are refused. */
#include "harness.h"

#include "fb_keys.h"
#include "fb_seal.h"
#include "fb_time.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static void s_publish(int node, const char *origin, int n, int from)
{
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[node]);
    assert_non_null(pub);
    for (int i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof(title), "signed %d", from + i);
        const char *json = th_event_json(origin, "forum", title);
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        if (ack.status != FB_ACK_ACCEPTED) fail_msg("publish %d: %s %s", from + i, ack.reason_name, ack.detail);
    }
    fb_publisher_destroy(&pub);
}

/* Checks origin's stored history as a verifier would, from PostgreSQL
 * alone: every envelope is covered by a stored seal that verifies with the
 * registered key, with its entry hash at its origin_seq; every envelope
 * links to the one before it. Returns how many envelopes were checked. */
static int s_check_history(const char *origin, const fb_keys_t *keys)
{
    PGconn *c = PQconnectdb(s_t.conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    const char *p[] = {origin};
    PGresult *seals = PQexecParams(c,
                                   "SELECT first_seq, last_seq, root, key_id, signed_at_us, signature, entries,"
                                   " array_to_string(seqs, ',') FROM fedbus_seals WHERE origin = $1",
                                   1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(seals), PGRES_TUPLES_OK);
    int ns = PQntuples(seals);
    assert_true(ns > 0);
    /* each seal: its signature and its root */
    for (int i = 0; i < ns; i++) {
        fb_seal_t s = {0};
        snprintf(s.origin, sizeof(s.origin), "%s", origin);
        s.first_seq = strtoull(PQgetvalue(seals, i, 0), NULL, 10);
        s.last_seq = strtoull(PQgetvalue(seals, i, 1), NULL, 10);
        size_t len;
        unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(seals, i, 2), &len);
        assert_int_equal(len, 32);
        memcpy(s.root, b, 32);
        PQfreemem(b);
        b = PQunescapeBytea((const unsigned char *)PQgetvalue(seals, i, 3), &len);
        memcpy(s.key_id, b, 8);
        PQfreemem(b);
        s.signed_at_us = strtoll(PQgetvalue(seals, i, 4), NULL, 10);
        b = PQunescapeBytea((const unsigned char *)PQgetvalue(seals, i, 5), &len);
        memcpy(s.signature, b, 64);
        PQfreemem(b);
        assert_int_equal(fb_seal_verify(&s, keys->sign_public), 1);
        b = PQunescapeBytea((const unsigned char *)PQgetvalue(seals, i, 6), &len);
        uint8_t root[32];
        assert_int_equal(fb_seal_root((const uint8_t(*)[32])b, len / 32, root), 0);
        assert_memory_equal(root, s.root, 32);
        PQfreemem(b);
    }
    PGresult *m = PQexecParams(c,
                               "SELECT origin_seq, global_seq, (extract(epoch from stored_at) * 1e6)::bigint, envelope"
                               " FROM fedbus_messages WHERE origin = $1 ORDER BY origin_seq",
                               1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(m), PGRES_TUPLES_OK);
    uint8_t prev[32] = {0};
    int have_prev = 0, n = PQntuples(m);
    for (int i = 0; i < n; i++) {
        uint64_t seq = strtoull(PQgetvalue(m, i, 0), NULL, 10), gseq = strtoull(PQgetvalue(m, i, 1), NULL, 10);
        size_t len;
        unsigned char *env = PQunescapeBytea((const unsigned char *)PQgetvalue(m, i, 3), &len);
        fb_envelope_head_t h;
        assert_int_equal(fb_wire_envelope_scan(env, len, &h), 0);
        long olen = fb_seal_origin_len(env, len, gseq, h.stored_at_us);
        if (olen < 0) fail_msg("origin_seq %llu: the stored envelope does not end with the broker's stamp",
                               (unsigned long long)seq);
        uint8_t hash[32];
        fb_seal_entry_hash(env, (size_t)olen, hash);
        assert_int_equal(h.prev_hash_len, 32);
        if (have_prev && memcmp(h.prev_hash, prev, 32) != 0)
            fail_msg("origin_seq %llu does not link to the envelope before it", (unsigned long long)seq);
        memcpy(prev, hash, 32);
        have_prev = 1;
        /* covered: some seal holds this entry hash at this origin_seq */
        int covered = 0;
        for (int k = 0; k < ns && !covered; k++) {
            size_t elen;
            unsigned char *e = PQunescapeBytea((const unsigned char *)PQgetvalue(seals, k, 6), &elen);
            char *seqs = strdup(PQgetvalue(seals, k, 7)), *save = NULL;
            size_t j = 0;
            for (char *tok = strtok_r(seqs, ",", &save); tok && !covered; tok = strtok_r(NULL, ",", &save), j++)
                if (strtoull(tok, NULL, 10) == seq && j * 32 < elen && memcmp(e + j * 32, hash, 32) == 0) covered = 1;
            free(seqs);
            PQfreemem(e);
        }
        if (!covered) fail_msg("origin_seq %llu is covered by no seal", (unsigned long long)seq);
        PQfreemem(env);
    }
    PQclear(m);
    PQclear(seals);
    PQfinish(c);
    return n;
}

static void s_read_keys(const char *origin, fb_keys_t *k)
{
    char err[512];
    const th_keys_t *tk = th_member(&s_t, origin);
    assert_int_equal(fb_keys_read(tk->file, k, err, sizeof(err)), 0);
}

static void test_a_signing_nodes_history_is_one_sealed_chain_across_a_kill(void **state)
{
    (void)state;
    th_init(&s_t, "sign_chain", 26600);
    th_trust(&s_t);
    th_broker_start(&s_t, NULL);
    fb_keys_t k;
    s_read_keys("kr-seoul", &k);
    int n = th_node_start(&s_t, "kr-seoul", NULL);
    s_publish(n, "kr-seoul", 120, 0);
    th_stop_pid(s_t.nodes[n], SIGKILL);
    th_node_spawn(&s_t, n, "kr-seoul", NULL, NULL, NULL);
    s_publish(n, "kr-seoul", 80, 120);
    assert_int_equal(s_check_history("kr-seoul", &k), 200);
    /* The next stats lines. */
    assert_true(th_wait_lines(s_t.broker_log, "signing: sealed=", 1, 10000) > 0);
    printf("it_sign: 200 publishes of kr-seoul, one chain, every one sealed, across a kill -9 of its node\n");
}

/* ----------------------------------------------------- raw sealed frames -- */

static uint8_t s_env[8][512];
static size_t s_env_len[8];

/* Envelope i of origin at origin_seq seq, linked to *prev (which moves on). */
static void s_make(int i, const char *origin, uint64_t seq, uint8_t prev[32])
{
    size_t flen;
    uint8_t *f = th_frame(th_event_json(origin, "forum", "raw"), origin, seq, NULL, &flen);
    const uint8_t *env;
    size_t elen;
    assert_int_equal(fb_wire_publish_view(f, flen, &env, &elen), 0);
    memcpy(s_env[i], env, elen);
    elen += fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.prev_hash = prev, .origin_seq = seq}, s_env[i] + elen);
    s_env_len[i] = elen;
    fb_seal_entry_hash(s_env[i], elen, prev);
    free(f);
}

/* Sends envelopes 0..n as one PublishBatch sealed by secret (key id of
 * keys, signed at at_us), or unsealed when secret is NULL; returns the
 * first ack's reason (0: accepted). */
static int s_send_sealed(void *sock, const char *origin, size_t n, const fb_keys_t *keys, const uint8_t *secret,
                         int64_t at_us)
{
    fb_seal_t s = {0};
    snprintf(s.origin, sizeof(s.origin), "%s", origin);
    uint8_t h[8][32];
    size_t items = 0;
    for (size_t i = 0; i < n; i++) {
        fb_seal_entry_hash(s_env[i], s_env_len[i], h[i]);
        items += fb_wire_item_size(s_env_len[i]);
    }
    fb_envelope_head_t a, b;
    fb_wire_envelope_scan(s_env[0], s_env_len[0], &a);
    fb_wire_envelope_scan(s_env[n - 1], s_env_len[n - 1], &b);
    s.first_seq = a.origin_seq, s.last_seq = b.origin_seq, s.signed_at_us = at_us;
    fb_seal_root((const uint8_t(*)[32])h, n, s.root);
    memcpy(s.key_id, keys->sign_key_id, 8);
    if (secret) assert_int_equal(fb_seal_sign(&s, secret), 0);
    size_t seal_len = secret ? fb_wire_seal_field_size(&s) : 0;
    size_t flen = fb_wire_publish_batch_size(items + seal_len);
    uint8_t *frame = malloc(flen), *p = frame;
    p += fb_wire_put_publish_batch_header(items + seal_len, p);
    for (size_t i = 0; i < n; i++) p += fb_wire_put_item(s_env[i], s_env_len[i], p);
    if (secret) p += fb_wire_put_seal_field(&s, p);
    assert_int_equal((size_t)(p - frame), flen);
    assert_true(zmq_send(sock, frame, flen, 0) >= 0);
    free(frame);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    assert_true(zmq_msg_recv(&msg, sock, 0) >= 0);
    const uint8_t *list, *ack;
    size_t list_len, ack_len;
    int reason = -1;
    if (fb_wire_ack_batch_view(zmq_msg_data(&msg), zmq_msg_size(&msg), &list, &list_len) == 0) {
        const uint8_t *q = list;
        assert_int_equal(fb_wire_next_item(&q, list + list_len, &ack, &ack_len), 1);
        fb_ack_view_t v;
        assert_int_equal(fb_wire_ack_scan(ack, ack_len, &v), 0);
        reason = v.reason;
    }
    zmq_msg_close(&msg);
    return reason;
}

static void test_forged_broken_rotated_and_unsealed_frames_are_refused(void **state)
{
    (void)state;
    th_init(&s_t, "sign_refuse", 26620);
    th_trust(&s_t);
    th_broker_start(&s_t, NULL);
    fb_keys_t k, other;
    char err[256];
    s_read_keys("kr-busan", &k);
    assert_int_equal(fb_keys_generate("kr-busan", &other, err, sizeof(err)), 0);
    void *sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-busan");
    int rcv = 10000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    uint8_t head[32] = {0}, saved[32];
    int64_t now = fb_time_now_us();
    /* a good frame: accepted */
    s_make(0, "kr-busan", 1, head);
    s_make(1, "kr-busan", 2, head);
    assert_int_equal(s_send_sealed(sock, "kr-busan", 2, &k, k.sign_secret, now), 0);
    /* forged: signed by a key that is not the member's */
    memcpy(saved, head, 32);
    s_make(0, "kr-busan", 3, head);
    assert_int_equal(s_send_sealed(sock, "kr-busan", 1, &k, other.sign_secret, now),
                     FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    /* a broken link: linked to something the broker never took */
    uint8_t wrong[32];
    memset(wrong, 0x42, 32);
    s_make(0, "kr-busan", 3, wrong);
    assert_int_equal(s_send_sealed(sock, "kr-busan", 1, &k, k.sign_secret, now),
                     FEDBUS__REJECT_REASON__REJECT_BROKEN_CHAIN);
    /* unsealed, while signatures are optional: taken, and no link of the
     * chain (whose head stays at origin_seq 2) */
    memcpy(head, saved, 32);
    uint8_t scratch[32];
    memcpy(scratch, head, 32);
    s_make(0, "kr-busan", 3, scratch);
    assert_int_equal(s_send_sealed(sock, "kr-busan", 1, &k, NULL, now), 0);
    /* the key rotated out a minute ago: a seal made now is refused */
    th_sql_exec(&s_t, "UPDATE fedbus_member_keys SET valid_until = now() - interval '1 minute',"
                      " valid_from = now() - interval '1 hour' WHERE member = 'kr-busan';"
                      " UPDATE fedbus_members SET updated_at = now() WHERE member = 'kr-busan'; NOTIFY fedbus_members");
    usleep(2500000); /* the broker's directory: on the NOTIFY, and every 2 s */
    uint8_t h2[32];
    memcpy(h2, head, 32);
    s_make(0, "kr-busan", 4, h2);
    int reason = s_send_sealed(sock, "kr-busan", 1, &k, k.sign_secret, fb_time_now_us());
    assert_int_equal(reason, FEDBUS__REJECT_REASON__REJECT_KEY_NOT_VALID);
    /* ... and one made inside its window still counts */
    s_make(0, "kr-busan", 4, head);
    assert_int_equal(s_send_sealed(sock, "kr-busan", 1, &k, k.sign_secret, now - 30 * 60 * 1000000LL), 0);
    zmq_close(sock);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-busan'"), 4);
}

static void test_required_signatures_refuse_an_unsealed_publish(void **state)
{
    (void)state;
    th_init(&s_t, "sign_required", 26640);
    th_trust(&s_t);
    th_broker_start(&s_t, (const char *const[]){"--signatures=required", NULL});
    fb_keys_t k;
    s_read_keys("kr-daejeon", &k);
    void *sock = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-daejeon");
    int rcv = 10000;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof(rcv));
    uint8_t head[32] = {0};
    s_make(0, "kr-daejeon", 1, head);
    assert_int_equal(s_send_sealed(sock, "kr-daejeon", 1, &k, NULL, fb_time_now_us()),
                     FEDBUS__REJECT_REASON__REJECT_BAD_SIGNATURE);
    memset(head, 0, 32);
    s_make(0, "kr-daejeon", 1, head);
    assert_int_equal(s_send_sealed(sock, "kr-daejeon", 1, &k, k.sign_secret, fb_time_now_us()), 0);
    zmq_close(sock);
    /* and a signing node works against it end to end */
    int n = th_node_start(&s_t, "kr-daejeon", NULL);
    s_publish(n, "kr-daejeon", 20, 0);
    assert_int_equal(s_check_history("kr-daejeon", &k), 21);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_a_signing_nodes_history_is_one_sealed_chain_across_a_kill, s_teardown),
        cmocka_unit_test_teardown(test_forged_broken_rotated_and_unsealed_frames_are_refused, s_teardown),
        cmocka_unit_test_teardown(test_required_signatures_refuse_an_unsealed_publish, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
