/* it_read.c — read permissions: a member reads only what its registry row permits, on the live feed
 * and in replay alike; a change of what it reads takes effect on open connections within 5 s.
 *
 * A broker with keys; members registered by SQL (th_member()) and given their read patterns by SQL
 * or by `fedbus member set-read`. kr-daejeon (a hub) publishes researcher updates, which only hubs
 * read, and events, which partners read too. Ports 27000-27190. */
#include "harness.h"

#include "fb_time.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#define S_CHANGE_MS 5000  /* a change of read permission takes effect within this */
#define S_WATCH_MS 1500   /* how long "nothing of it comes" is watched for */
#define S_PUBLIC "PUBLIC-EVENT"
#define S_SECRET "RESEARCHER-NEWS"

static th_t s_t;
static uint64_t s_seq;

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* A database with member id registered as a partner reading read (an SQL
 * array literal), by hand in SQL with its NOTIFY. */
static void s_partner(const char *id, const char *read)
{
    char sql[512];
    th_member(&s_t, id);
    snprintf(sql, sizeof(sql),
             "UPDATE fedbus_members SET kind = 'partner', read = '%s', updated_at = now() WHERE member = '%s';"
             " NOTIFY fedbus_members",
             read, id);
    th_sql_exec(&s_t, sql);
}

/* Publishes, as kr-daejeon on pub, a researcher update titled with S_SECRET
 * and n, then an event titled with S_PUBLIC and n; both must be stored. */
static void s_publish_pair(void *pub, int n)
{
    char json[512], title[64];
    snprintf(title, sizeof(title), "%s-%d", S_SECRET, n);
    snprintf(json, sizeof(json),
             "{\"topic\":\"researcher.kr-daejeon.joined\",\"researcher\":{\"researcher_id\":\"kr-daejeon:%d\","
             "\"name\":{\"en\":\"%s\"},\"kind\":\"joined\"}}",
             n, title);
    for (int i = 0; i < 2; i++) {
        size_t len;
        if (i == 1) snprintf(title, sizeof(title), "%s-%d", S_PUBLIC, n);
        uint8_t *f = th_frame(i ? th_event_json("kr-daejeon", "forum", title) : json, "kr-daejeon", ++s_seq, NULL,
                              &len);
        assert_int_equal(zmq_send(pub, f, len, 0), (int)len);
        free(f);
        th_ack_t a;
        assert_int_equal(th_read_ack(pub, 10000, &a), 0);
        assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    }
}

/* What frames came on a feed socket. */
typedef struct {
    int secret, public_, heads;
    int64_t last_secret_us; /* monotonic */
} s_seen_t;

/* Whether the len bytes at p hold text. */
static int s_contains(const void *p, size_t len, const char *text)
{
    size_t n = strlen(text);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp((const char *)p + i, text, n) == 0) return 1;
    return 0;
}

/* Reads every frame that comes on sub within ms into *seen. */
static void s_watch(void *sub, int ms, s_seen_t *seen)
{
    int64_t end = fb_time_mono_us() + ms * 1000LL;
    for (;;) {
        int64_t left = (end - fb_time_mono_us()) / 1000;
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (left <= 0 || zmq_poll(&it, 1, (long)left) != 1) return;
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sub, 0) >= 0);
        const uint8_t *d = zmq_msg_data(&m);
        size_t len = zmq_msg_size(&m);
        if (len && d[0] == 0x02) seen->heads++;
        if (s_contains(d, len, S_SECRET)) {
            seen->secret++;
            seen->last_secret_us = fb_time_mono_us();
        }
        if (s_contains(d, len, S_PUBLIC)) seen->public_++;
        zmq_msg_close(&m);
    }
}

/* Publishes pairs on pub until sub shows an event (its subscription is in place), or fails. */
static void s_until_public(void *pub, void *sub, int *n)
{
    int64_t end = fb_time_mono_us() + 10000 * 1000LL;
    s_seen_t seen = {0};
    while (!seen.public_) {
        if (fb_time_mono_us() > end) fail_msg("no event came on the feed within 10 s");
        s_publish_pair(pub, ++*n);
        s_watch(sub, 200, &seen);
    }
}

/* A SUB to the feed as member, subscribed to each of the n prefixes (len bytes each). */
static void *s_sub(const char *member, const char *const *prefixes, const size_t *lens, int n)
{
    void *s = th_socket(&s_t, ZMQ_SUB, s_t.feed, member);
    for (int i = 0; i < n; i++) assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefixes[i], lens[i]), 0);
    return s;
}

/* What one replay returned: envelopes holding each marker, and the error. */
typedef struct {
    int secret, public_, error;
    char detail[256];
} s_replayed_t;

/* Replays from 1 as member with the n prefixes (none: everything). */
static s_replayed_t s_replay(const char *member, const char *const *prefixes, size_t n)
{
    s_replayed_t out = {0};
    void *s = th_socket(&s_t, ZMQ_DEALER, s_t.replay, member);
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = 1;
    req.from_seq = 1;
    req.prefixes = (char **)prefixes;
    req.n_prefixes = n;
    uint8_t buf[1024];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
    for (int done = 0; !done;) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 10000) != 1) fail_msg("no replay chunk for %s", member);
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, s, 0) >= 0);
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        for (size_t i = 0; i < ch->n_envelopes; i++) {
            out.secret += s_contains(ch->envelopes[i].data, ch->envelopes[i].len, S_SECRET);
            out.public_ += s_contains(ch->envelopes[i].data, ch->envelopes[i].len, S_PUBLIC);
        }
        if (ch->error) {
            out.error = ch->error;
            snprintf(out.detail, sizeof(out.detail), "%s", ch->detail);
        }
        done = ch->done;
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    zmq_close(s);
    return out;
}

/* Waits up to ms for the last "stats trust" line to show key at least min. */
static void s_trust_stat(const char *key, double min, int ms)
{
    double v = -1;
    for (int i = 0; i < ms / 100; i++) {
        if ((v = th_stat_trust(&s_t, key)) >= min) return;
        usleep(100 * 1000);
    }
    fail_msg("%s stayed at %.0f (wanted >= %.0f)", key, v, min);
}

/* ------------------------------------------------------------------ live and replay --- */

static void test_a_partner_is_denied_a_non_public_feed_live_and_via_replay_and_still_receives_public_ones(
    void **state)
{
    (void)state;
    th_init(&s_t, "read_partner", 27000);
    s_partner("intl-wta", "{event,cfp}");
    th_member(&s_t, "kr-busan"); /* a hub: reads everything */
    th_broker_start(&s_t, NULL);
    void *pub = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-daejeon");

    /* The partner asks for everything, for researcher updates by name, plain and batched. */
    const char *const asks[] = {"", "researcher.", "\x01researcher.", "\x01"};
    const size_t lens[] = {0, 11, 12, 1};
    void *partner = s_sub("intl-wta", asks, lens, 4), *hub = s_sub("kr-busan", asks, lens, 1);
    int n = 0;
    s_until_public(pub, partner, &n);
    s_until_public(pub, hub, &n);
    s_seen_t p = {0}, h = {0};
    for (int i = 0; i < 5; i++) s_publish_pair(pub, ++n);
    s_watch(partner, S_WATCH_MS, &p);
    s_watch(hub, 200, &h);
    print_message("partner: %d events, %d researcher updates, %d head frames; hub: %d and %d\n", p.public_, p.secret,
                  p.heads, h.public_, h.secret);
    assert_int_equal(p.secret, 0);
    assert_true(p.public_ >= 5);
    assert_true(p.heads >= 1); /* its repairs still learn the head */
    assert_true(h.secret >= 5 && h.public_ >= 5);

    /* Replay: a non-public prefix is refused, everything is narrowed to the public rows. */
    const char *const researcher[] = {"researcher."}, *const both[] = {"researcher.kr-daejeon", "event."};
    s_replayed_t r = s_replay("intl-wta", researcher, 1);
    assert_int_equal(r.error, FEDBUS__REJECT_REASON__REJECT_NOT_AUTHORIZED);
    assert_non_null(strstr(r.detail, "intl-wta may read none"));
    assert_int_equal(r.secret, 0);
    r = s_replay("intl-wta", NULL, 0);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.secret, 0);
    assert_int_equal(r.public_, n);
    r = s_replay("intl-wta", both, 2);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.secret, 0);
    assert_int_equal(r.public_, n);
    r = s_replay("kr-busan", NULL, 0);
    assert_int_equal(r.error, 0);
    assert_int_equal(r.secret, n);
    assert_int_equal(r.public_, n);

    s_trust_stat(" feed_denied=", 2, 5000);   /* "researcher." plain and batched */
    s_trust_stat(" feed_narrowed=", 2, 5000); /* "" and "\x01" */
    s_trust_stat(" replays_denied=", 1, 5000);
    s_trust_stat(" replays_narrowed=", 2, 5000);
    zmq_close(partner);
    zmq_close(hub);
    zmq_close(pub);
}

/* ------------------------------------------------------------------ a change --- */

static void test_a_changed_read_permission_takes_effect_within_5_s_on_an_open_feed_connection(void **state)
{
    (void)state;
    th_init(&s_t, "read_change", 27020);
    s_partner("intl-example-sciencepark", "{*}");
    th_broker_start(&s_t, NULL);
    void *pub = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "kr-daejeon");
    const char *const everything[] = {""};
    const size_t lens[] = {0};
    void *sub = s_sub("intl-example-sciencepark", everything, lens, 1);
    int n = 0;
    s_seen_t seen = {0};
    while (!seen.secret) {
        s_publish_pair(pub, ++n);
        s_watch(sub, 200, &seen);
        if (n > 50) fail_msg("the partner reading * got no researcher update");
    }

    /* Narrowed by the admin's command: researcher updates stop within 5 s, events go on. */
    char pg[300];
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    const char *argv[] = {FEDBUS_CLI_BIN, "member", "set-read", pg, "--actor=it_read", "intl-example-sciencepark",
                          "--read=event", "--read=cfp", "--reason=public feeds only", NULL};
    char *out = NULL;
    int64_t t0 = fb_time_mono_us();
    assert_int_equal(th_run(argv, &out, 30), 0);
    assert_non_null(strstr(out, "reads event,cfp from now on"));
    free(out);
    memset(&seen, 0, sizeof(seen));
    while (fb_time_mono_us() - t0 < S_CHANGE_MS * 1000LL) {
        s_publish_pair(pub, ++n);
        s_watch(sub, 100, &seen);
    }
    int64_t ms = seen.secret ? (seen.last_secret_us - t0) / 1000 : 0;
    print_message("last researcher update %lld ms after set-read (%d after it)\n", (long long)ms, seen.secret);
    memset(&seen, 0, sizeof(seen));
    for (int i = 0; i < 10; i++) {
        s_publish_pair(pub, ++n);
        s_watch(sub, S_WATCH_MS / 10, &seen);
    }
    assert_int_equal(seen.secret, 0);
    assert_true(seen.public_ >= 5); /* it reconnected by itself and subscribed again, narrowed */
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_member_audit WHERE action = 'set-read'"
                                      " AND actor = 'it_read' AND detail->>'reason' = 'public feeds only'"),
                     1);

    /* Widened again by hand in SQL: researcher updates come back within 5 s. */
    th_sql_exec(&s_t, "UPDATE fedbus_members SET read = '{*}' WHERE member = 'intl-example-sciencepark';"
                      " NOTIFY fedbus_members");
    t0 = fb_time_mono_us();
    memset(&seen, 0, sizeof(seen));
    while (!seen.secret && fb_time_mono_us() - t0 < S_CHANGE_MS * 1000LL) {
        s_publish_pair(pub, ++n);
        s_watch(sub, 100, &seen);
    }
    print_message("researcher updates back %lld ms after the widening\n", (long long)(fb_time_mono_us() - t0) / 1000);
    assert_true(seen.secret > 0);
    zmq_close(sub);
    zmq_close(pub);
}

/* ------------------------------------------------------------------ the CLI --- */

static void test_set_read_refuses_patterns_the_feed_cannot_apply_and_unknown_members(void **state)
{
    (void)state;
    th_init(&s_t, "read_cli", 27040);
    th_member(&s_t, "intl-wta");
    char pg[300];
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    const char *inner[] = {FEDBUS_CLI_BIN, "member", "set-read", pg, "intl-wta", "--read=cfp.*.bio", NULL};
    assert_int_equal(th_run(inner, NULL, 30), 2);
    const char *unknown[] = {FEDBUS_CLI_BIN, "member", "set-read", pg, "intl-nobody", "--read=event", NULL};
    assert_int_equal(th_run(unknown, NULL, 30), 3);
    const char *missing[] = {FEDBUS_CLI_BIN, "member", "set-read", pg, "intl-wta", NULL};
    assert_int_equal(th_run(missing, NULL, 30), 2);
    const char *nothing[] = {FEDBUS_CLI_BIN, "member", "set-read", pg, "intl-wta", "--read=", NULL};
    assert_int_equal(th_run(nothing, NULL, 30), 0);
    assert_int_equal(th_sql_int(&s_t, "SELECT cardinality(read) FROM fedbus_members WHERE member = 'intl-wta'"), 0);
    char *out = NULL;
    assert_int_equal(th_run(nothing, &out, 30), 0);
    assert_non_null(strstr(out, "nothing changed"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_a_partner_is_denied_a_non_public_feed_live_and_via_replay_and_still_receives_public_ones,
            s_teardown),
        cmocka_unit_test_teardown(test_a_changed_read_permission_takes_effect_within_5_s_on_an_open_feed_connection,
                                  s_teardown),
        cmocka_unit_test_teardown(test_set_read_refuses_patterns_the_feed_cannot_apply_and_unknown_members,
                                  s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
