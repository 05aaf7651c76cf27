/* it_subverify.c — the subscriber library verifies what it delivers: signed messages arrive verified by default;
 * an envelope edited in PostgreSQL fails verification in fb_subscriber's catch-up, fb_replay, `fedbus replay`
 * and `fedbus tail` (exit 3, its message_id on stderr); --no-verify and FB_VERIFY_OFF deliver it; a raw unsigned
 * publish is reported unsigned, not failed; replay's seal_origin look-up returns the seal of a readable envelope
 * and nothing for one the requester may not read; replay serves the member keys. Ports 29000-29199. */
#include "harness.h"

#include "fb_envelope.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#define S_SEOUL 30 /* signed events of kr-seoul, through its node */
#define S_BUSAN 12 /* signed events of kr-busan: one of them is edited in PostgreSQL */

static th_t s_t;
static int s_seoul_node;
static char s_edited_id[40]; /* message_id of the edited envelope */

static void s_publish(int node, const char *origin, int n)
{
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[node]);
    assert_non_null(pub);
    for (int i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof(title), "signed %03d", i);
        const char *json = th_event_json(origin, "forum", title);
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        if (ack.status != FB_ACK_ACCEPTED) fail_msg("publish %d: %s %s", i, ack.reason_name, ack.detail);
    }
    fb_publisher_destroy(&pub);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "subverify", 29000);
    th_broker_start(&s_t, NULL); /* signatures = optional: raw unsigned publishes are stored */
    int a = th_node_start(&s_t, "kr-seoul", NULL), b = th_node_start(&s_t, "kr-busan", NULL);
    s_seoul_node = a;
    s_publish(a, "kr-seoul", S_SEOUL);
    s_publish(b, "kr-busan", S_BUSAN);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

typedef struct {
    int n, verified, unsigned_, failed, other;
    char failed_id[40], failed_why[200];
} s_tally_t;

static void s_count(s_tally_t *t, const fb_message_t *m)
{
    int v = fb_message_verified(m);
    t->n++;
    if (v == FB_MSG_VERIFIED) t->verified++;
    else if (v == FB_MSG_UNSIGNED) t->unsigned_++;
    else if (v == FB_MSG_FAILED) {
        t->failed++;
        snprintf(t->failed_id, sizeof(t->failed_id), "%s", m->message_id);
        snprintf(t->failed_why, sizeof(t->failed_why), "%s", fb_message_verify_detail(m));
    } else t->other++;
}

/* Catches up on pattern from global_seq 1 as member until want messages came (FB_OK or FB_EVERIFY). */
static void s_catch_up(const char *member, const char *pattern, int want, fb_verify_mode_t mode, s_tally_t *t)
{
    memset(t, 0, sizeof(*t));
    fb_subscriber_t *sub = th_subscriber(&s_t, member);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, pattern), FB_OK);
    assert_int_equal(fb_subscriber_set_verify(sub, mode), FB_OK);
    assert_int_equal(fb_subscriber_from(sub, 1), FB_OK);
    for (int tries = 0; t->n < want && tries < 100;) {
        fb_message_t m;
        int rc = fb_subscriber_recv(sub, &m, 200);
        if (rc == FB_ETIMEOUT) {
            tries++;
            continue;
        }
        if (rc != FB_OK && rc != FB_EVERIFY) fail_msg("recv: %s", fb_strerror(rc));
        assert_int_equal(rc == FB_EVERIFY, fb_message_verified(&m) == FB_MSG_FAILED);
        s_count(t, &m);
    }
    assert_int_equal(fb_subscriber_failed(sub), (uint64_t)t->failed);
    fb_subscriber_destroy(&sub);
    assert_int_equal(t->n, want);
}

static void test_signed_messages_arrive_verified_by_default(void **state)
{
    (void)state;
    s_tally_t t;
    s_catch_up("kr-incheon", "*.kr-seoul", S_SEOUL, FB_VERIFY_ON, &t);
    assert_int_equal(t.verified, S_SEOUL);
    /* And live, after the subscriber started. */
    fb_subscriber_t *sub = th_subscriber(&s_t, "kr-incheon");
    fb_subscriber_add(sub, "*.kr-seoul");
    fb_message_t m;
    while (fb_subscriber_recv(sub, &m, 1000) == FB_OK) {} /* the first head frame: live from here */
    s_publish(s_seoul_node, "kr-seoul", 3);
    int live = 0;
    for (int tries = 0; live < 3 && tries < 50; tries++) {
        int rc = fb_subscriber_recv(sub, &m, 200);
        if (rc == FB_ETIMEOUT) continue;
        assert_int_equal(rc, FB_OK);
        assert_int_equal(fb_message_verified(&m), FB_MSG_VERIFIED);
        assert_string_equal(fb_message_verify_detail(&m), "");
        live++;
    }
    assert_int_equal(live, 3);
    fb_subscriber_destroy(&sub);
}

static void test_a_subscriber_without_catch_up_verifies_through_a_replay_given(void **state)
{
    (void)state;
    fb_endpoint_opts_t feed = th_endpoint(&s_t, s_t.feed, "kr-incheon"),
                       replay = th_endpoint(&s_t, s_t.replay, "kr-incheon");
    fb_subscriber_t *via = fb_subscriber_open(&feed, NULL), *alone = fb_subscriber_open(&feed, NULL);
    assert_int_equal(fb_subscriber_verify_via(via, &replay), FB_OK);
    fb_subscriber_add(via, "*.kr-seoul");
    fb_subscriber_add(alone, "*.kr-seoul");
    usleep(300000); /* the subscriptions reach the broker */
    s_publish(s_seoul_node, "kr-seoul", 4);
    fb_message_t m;
    int n = 0;
    for (int tries = 0; n < 4 && tries < 50; tries++) {
        int rc = fb_subscriber_recv(via, &m, 200);
        if (rc == FB_ETIMEOUT) continue;
        assert_int_equal(rc, FB_OK);
        assert_int_equal(fb_message_verified(&m), FB_MSG_VERIFIED);
        n++;
    }
    assert_int_equal(n, 4);
    /* Without a replay endpoint there is nowhere to fetch proofs from: unsigned, not failed. */
    assert_int_equal(fb_subscriber_recv(alone, &m, 5000), FB_OK);
    assert_int_equal(fb_message_verified(&m), FB_MSG_UNSIGNED);
    fb_subscriber_destroy(&via);
    fb_subscriber_destroy(&alone);
}

static void test_a_raw_unsigned_publish_is_reported_unsigned_not_failed(void **state)
{
    (void)state;
    fb_publisher_t *pub = th_publisher(&s_t, "kr-gwangju");
    size_t flen;
    uint8_t *f = th_frame(th_event_json("kr-gwangju", "forum", "unsigned"), "kr-gwangju", 1, NULL, &flen);
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_raw(pub, f, flen, &ack, 10000), FB_OK);
    free(f);
    fb_publisher_destroy(&pub);
    s_tally_t t;
    s_catch_up("kr-incheon", "*.kr-gwangju", 1, FB_VERIFY_ON, &t);
    assert_int_equal(t.unsigned_, 1);
    assert_int_equal(t.failed, 0);
}

/* Runs a shell command line; returns its exit status, with stdout and stderr in *out (caller frees). */
static int s_sh(char **out, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    char *buf = NULL;
    int rc = th_run(argv, &buf, 60);
    if (out) *out = buf;
    else free(buf);
    return rc;
}

/* Flips one digit of the title of kr-busan's "signed 005" in PostgreSQL; keeps its message_id. */
static void s_edit_once(void)
{
    if (s_edited_id[0]) return;
    th_sql_exec(&s_t, "UPDATE fedbus_messages SET envelope = set_byte(envelope, position('signed 005'::bytea in "
                      "envelope) + 8, get_byte(envelope, position('signed 005'::bytea in envelope) + 8) # 1)"
                      " WHERE origin = 'kr-busan' AND position('signed 005'::bytea in envelope) > 0");
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-busan'"
                                      " AND position('signed 004'::bytea in envelope) > 0"),
                     2);
    s_tally_t t;
    s_catch_up("kr-incheon", "*.kr-busan", S_BUSAN, FB_VERIFY_ON, &t);
    assert_int_equal(t.failed, 1);
    snprintf(s_edited_id, sizeof(s_edited_id), "%s", t.failed_id);
}

static void test_an_envelope_edited_in_postgresql_fails_in_the_subscriber(void **state)
{
    (void)state;
    s_edit_once();
    s_tally_t t;
    s_catch_up("kr-incheon", "*.kr-busan", S_BUSAN, FB_VERIFY_ON, &t);
    assert_int_equal(t.failed, 1);
    assert_int_equal(t.verified, S_BUSAN - 1);
    assert_string_equal(t.failed_id, s_edited_id);
    if (!strstr(t.failed_why, "not the one its origin signed")) fail_msg("why: %s", t.failed_why);
    /* Skipping verification delivers it, unflagged. */
    s_catch_up("kr-incheon", "*.kr-busan", S_BUSAN, FB_VERIFY_OFF, &t);
    assert_int_equal(t.other, S_BUSAN);
}

static int s_tally_fn(const fb_message_t *m, void *arg)
{
    s_count(arg, m);
    return 0;
}

static void test_an_edited_envelope_fails_in_fb_replay(void **state)
{
    (void)state;
    s_edit_once();
    s_tally_t t = {0};
    const char *pat[] = {"*.kr-busan"};
    assert_int_equal(th_replay(&s_t, pat, 1, 0, 0, 0, s_tally_fn, &t, 10000), FB_EVERIFY);
    assert_int_equal(t.n, S_BUSAN);
    assert_int_equal(t.failed, 1);
    assert_string_equal(t.failed_id, s_edited_id);
    memset(&t, 0, sizeof(t));
    fb_endpoint_opts_t e = th_endpoint(&s_t, s_t.replay, "kr-incheon");
    assert_int_equal(fb_replay_verify(&e, &(fb_verify_options_t){.mode = FB_VERIFY_OFF}, pat, 1, 0, 0, 0, s_tally_fn, &t, 10000), FB_OK);
    assert_int_equal(t.other, S_BUSAN);
}

static void test_the_cli_reports_an_edited_envelope_and_exits_3(void **state)
{
    (void)state;
    s_edit_once();
    const th_keys_t *k = th_member(&s_t, "kr-incheon");
    char *out;
    int rc = s_sh(&out, "%s replay --replay=%s --keys=%s --broker-key=%s '*.kr-busan' 2>&1", FEDBUS_CLI_BIN,
                  s_t.replay, k->file, s_t.broker_keys.pub_file);
    if (rc != 3 || !strstr(out, s_edited_id) || !strstr(out, "failed verification") || !strstr(out, "kr-busan"))
        fail_msg("replay exited %d: %s", rc, out);
    free(out);
    rc = s_sh(&out, "%s replay --no-verify --replay=%s --keys=%s --broker-key=%s '*.kr-busan' 2>&1", FEDBUS_CLI_BIN,
              s_t.replay, k->file, s_t.broker_keys.pub_file);
    if (rc != 0 || strstr(out, "failed verification")) fail_msg("replay --no-verify exited %d: %s", rc, out);
    free(out);
    rc = s_sh(&out, "%s tail --from-seq=1 --idle=2 --feed=%s --replay=%s --keys=%s --broker-key=%s '*.kr-busan' 2>&1",
              FEDBUS_CLI_BIN, s_t.feed, s_t.replay, k->file, s_t.broker_keys.pub_file);
    if (rc != 3 || !strstr(out, s_edited_id) || !strstr(out, "failed verification"))
        fail_msg("tail exited %d: %s", rc, out);
    free(out);
    rc = s_sh(&out, "%s tail --no-verify --from-seq=1 --idle=2 --feed=%s --replay=%s --keys=%s --broker-key=%s "
                    "'*.kr-busan' 2>&1",
              FEDBUS_CLI_BIN, s_t.feed, s_t.replay, k->file, s_t.broker_keys.pub_file);
    if (rc != 0 || strstr(out, "failed verification")) fail_msg("tail --no-verify exited %d: %s", rc, out);
    free(out);
}

static void test_the_cli_checks_against_a_pinned_directory_signed_by_the_broker(void **state)
{
    (void)state;
    const th_keys_t *k = th_member(&s_t, "kr-incheon");
    char *out, dir[300];
    snprintf(dir, sizeof(dir), "%s/signed-directory.json", s_t.dir);
    assert_int_equal(s_sh(NULL, "%s member export-directory '--pg=%s' --sign=%s > %s", FEDBUS_CLI_BIN, s_t.conninfo,
                          s_t.broker_keys.file, dir),
                     0);
    char flags[2048];
    snprintf(flags, sizeof(flags), "--replay=%s --keys=%s --broker-key=%s --directory=%s --directory-key=%s",
             s_t.replay, k->file, s_t.broker_keys.pub_file, dir, s_t.broker_keys.pub_file);
    int rc = s_sh(&out, "%s replay %s '*.kr-seoul' 2>&1", FEDBUS_CLI_BIN, flags);
    if (rc != 0 || strstr(out, "failed verification")) fail_msg("replay --directory exited %d: %s", rc, out);
    free(out);
    /* Pinned keys that are not kr-seoul's: every message of kr-seoul fails. */
    char other[300];
    snprintf(other, sizeof(other), "%s/other-directory.json", s_t.dir);
    assert_int_equal(s_sh(NULL, "sed 's/kr-seoul/kr-nobody/g' %s > %s", dir, other), 0);
    rc = s_sh(&out, "%s replay --replay=%s --keys=%s --broker-key=%s --directory=%s --limit=1 '*.kr-seoul' 2>&1",
              FEDBUS_CLI_BIN, s_t.replay, k->file, s_t.broker_keys.pub_file, other);
    if (rc != 3 || !strstr(out, "not a key of kr-seoul")) fail_msg("replay --directory (other keys) exited %d: %s", rc, out);
    free(out);
    /* Edited, the signed directory is refused (exit 2), as is a key without a directory. */
    rc = s_sh(&out, "%s replay --replay=%s --keys=%s --broker-key=%s --directory=%s --directory-key=%s '*.kr-seoul' 2>&1",
              FEDBUS_CLI_BIN, s_t.replay, k->file, s_t.broker_keys.pub_file, other, s_t.broker_keys.pub_file);
    if (rc != 2 || !strstr(out, "--directory=")) fail_msg("replay with an edited signed directory exited %d: %s", rc, out);
    free(out);
    rc = s_sh(&out, "%s tail --directory-key=%s --feed=%s '*.kr-seoul' 2>&1", FEDBUS_CLI_BIN,
              s_t.broker_keys.pub_file, s_t.feed);
    if (rc != 2 || !strstr(out, "give one")) fail_msg("tail --directory-key alone exited %d: %s", rc, out);
    free(out);
}

/* Asks replay, as member, one look-up; returns the chunk (caller frees). */
static Fedbus__ReplayChunk *s_lookup(const char *member, const char *origin, uint64_t seq, uint64_t gseq, int directory)
{
    void *sock = th_socket(&s_t, ZMQ_DEALER, s_t.replay, member);
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = 77;
    req.seal_origin = (char *)origin;
    req.seal_origin_seq = seq;
    req.seal_global_seq = gseq;
    req.directory = directory;
    uint8_t buf[256];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_true(zmq_send(sock, buf, len, 0) >= 0);
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&item, 1, 10000), 1);
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
    Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
    zmq_msg_close(&m);
    zmq_close(sock);
    assert_non_null(ch);
    assert_int_equal(ch->request_id, 77);
    assert_true(ch->done);
    return ch;
}

static void test_seal_origin_returns_the_proof_only_to_a_member_that_may_read_it(void **state)
{
    (void)state;
    Fedbus__ReplayChunk *ch = s_lookup("kr-incheon", "kr-seoul", 3, 0, 0);
    assert_int_equal(ch->error, 0);
    assert_int_equal(ch->n_envelopes, 0);
    assert_int_equal(ch->n_proofs, 1);
    assert_string_equal(ch->proofs[0]->seal->origin, "kr-seoul");
    assert_true(ch->proofs[0]->seal->first_seq <= 3 && ch->proofs[0]->seal->last_seq >= 3);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    /* With the envelope's global_seq (one index probe): the same; with another one, nothing. */
    long long g = th_sql_int(&s_t, "SELECT global_seq FROM fedbus_messages WHERE origin = 'kr-seoul' AND origin_seq = 3");
    ch = s_lookup("kr-incheon", "kr-seoul", 3, (uint64_t)g, 0);
    assert_int_equal(ch->n_proofs, 1);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    ch = s_lookup("kr-incheon", "kr-seoul", 3, (uint64_t)g + 1, 0);
    assert_int_equal(ch->n_proofs, 0);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    /* Nothing stored there: nothing. */
    ch = s_lookup("kr-incheon", "kr-seoul", 100000, 0, 0);
    assert_int_equal(ch->error, 0);
    assert_int_equal(ch->n_proofs, 0);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    /* A partner that reads only kr-busan's events gets the same nothing for kr-seoul's. */
    th_member(&s_t, "intl-wta");
    th_sql_exec(&s_t, "UPDATE fedbus_members SET kind = 'partner', read = '{event.kr-busan}', updated_at = now()"
                      " WHERE member = 'intl-wta'; NOTIFY fedbus_members");
    usleep(1500000); /* the broker reads the registry on the NOTIFY */
    ch = s_lookup("intl-wta", "kr-seoul", 3, 0, 0);
    assert_int_equal(ch->error, 0);
    assert_int_equal(ch->n_proofs, 0);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    ch = s_lookup("intl-wta", "kr-busan", 3, 0, 0);
    assert_int_equal(ch->n_proofs, 1);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
    /* A bad look-up is refused with its reason. */
    ch = s_lookup("kr-incheon", "Not_An_Origin", 3, 0, 0);
    assert_int_equal(ch->error, FEDBUS__REJECT_REASON__REJECT_INVALID_FIELD);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
}

static void test_replay_serves_the_members_signing_keys(void **state)
{
    (void)state;
    Fedbus__ReplayChunk *ch = s_lookup("kr-incheon", NULL, 0, 0, 1);
    assert_int_equal(ch->error, 0);
    int seoul = 0;
    for (size_t i = 0; i < ch->n_keys; i++) {
        assert_int_equal(ch->keys[i]->key_id.len, 8);
        assert_int_equal(ch->keys[i]->public_key.len, 32);
        char hex[65];
        for (int b = 0; b < 32; b++) snprintf(hex + 2 * b, 3, "%02x", ch->keys[i]->public_key.data[b]);
        if (!strcmp(ch->keys[i]->member, "kr-seoul") && !strcmp(hex, th_member(&s_t, "kr-seoul")->sign_public))
            seoul = 1;
    }
    assert_true(seoul);
    fedbus__replay_chunk__free_unpacked(ch, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_messages_arrive_verified_by_default),
        cmocka_unit_test(test_a_subscriber_without_catch_up_verifies_through_a_replay_given),
        cmocka_unit_test(test_a_raw_unsigned_publish_is_reported_unsigned_not_failed),
        cmocka_unit_test(test_seal_origin_returns_the_proof_only_to_a_member_that_may_read_it),
        cmocka_unit_test(test_replay_serves_the_members_signing_keys),
        cmocka_unit_test(test_an_envelope_edited_in_postgresql_fails_in_the_subscriber),
        cmocka_unit_test(test_an_edited_envelope_fails_in_fb_replay),
        cmocka_unit_test(test_the_cli_reports_an_edited_envelope_and_exits_3),
        cmocka_unit_test(test_the_cli_checks_against_a_pinned_directory_signed_by_the_broker),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
