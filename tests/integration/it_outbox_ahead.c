/* it_outbox_ahead.c — a node keeps sending while its journal syncs, and a kill -9 before the sync loses nothing it answered and wedges no sequence. */
#include "harness.h"

#include "fb_time.h"
#include "fb_zmq.h"

#include <jansson.h>
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

enum { S_HTTP = 30, WAVES = 6, WAVE = 5, AFTER = 20 };

static const char *const s_member = "kr-jeju";

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "outbox_ahead", 28000);
    th_broker_start(&s_t, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* Starts node 0 of s_member; with delay_ms, under the journal's test hook
 * (every sync waits that long first). */
static void s_node(const char *delay_ms)
{
    char http[40];
    snprintf(http, sizeof(http), "--http-port=%d", s_t.port_base + S_HTTP);
    const char *extra[] = {http, "--outbox=disk", NULL};
    th_node_bin = FEDBUS_NODE_HOOKS_BIN;
    if (delay_ms) assert_int_equal(setenv("FEDBUS_TEST_SYNC_DELAY_MS", delay_ms, 1), 0);
    th_node_spawn(&s_t, 0, s_member, NULL, NULL, extra);
    unsetenv("FEDBUS_TEST_SYNC_DELAY_MS");
}

/* The integer at key of the node's /v1/health (in "journal" when journal),
 * -1 when it does not answer or has none; "connected" counts as 0 or 1. */
static long long s_health(int journal, const char *key)
{
    char head[4096], body[8192];
    if (!th_http(s_t.port_base + S_HTTP, "GET", "/v1/health", NULL, head, sizeof(head), body, sizeof(body)))
        return -1;
    json_t *h = json_loads(body, 0, NULL);
    json_t *o = h && journal ? json_object_get(h, "journal") : h;
    json_t *v = o ? json_object_get(o, key) : NULL;
    long long got = json_is_integer(v) ? json_integer_value(v) : json_is_boolean(v) ? json_is_true(v) : -1;
    json_decref(h);
    return got;
}

static void s_wait_health(int journal, const char *key, long long want)
{
    long long got = -1;
    for (int i = 0; i < 300 && (got = s_health(journal, key)) != want; i++) usleep(100 * 1000);
    if (got != want)
        fail_msg("health %s%s is %lld, want %lld (see %s)", journal ? "journal." : "", key, got, want,
                 s_t.node_log[0]);
}

/* Sends publish i of group g (message_id "0190000g-0000-7000-8000-<i>") to
 * the node on a raw DEALER, not waiting for its answer. */
static void s_submit(void *sock, int g, int i)
{
    char id[40], title[32];
    size_t len;
    snprintf(id, sizeof(id), "0190000%d-0000-7000-8000-%012d", g, i);
    snprintf(title, sizeof(title), "ahead %d.%d", g, i);
    uint8_t *f = th_frame(th_event_json(s_member, "forum", title), "", 0, id, &len);
    assert_true(zmq_send(sock, f, len, 0) >= 0);
    free(f);
}

/* Stored rows of group g (all groups when g is 0). */
static long long s_stored(int g, const char *what)
{
    char sql[300], group[80] = "";
    if (g) snprintf(group, sizeof(group), " AND message_id::text LIKE '0190000%d-%%'", g);
    snprintf(sql, sizeof(sql), "SELECT %s FROM fedbus_messages WHERE origin = '%s'%s", what, s_member, group);
    return th_sql_int(&s_t, sql);
}

/* With every journal sync taking 6 s, waves of publishes are sent and
 * stored one after the other while the first sync still runs (the node
 * frees a frame slot when the broker answers the frame, not when the
 * journal has it), and none is answered before its sync. The node is then
 * killed -9: nothing of the waves was journaled, the broker holds them.
 * The restarted node numbers new publishes above every origin_seq its
 * predecessor sent, so none is refused STALE_SEQUENCE and nothing wedges;
 * the waves' submitters, never answered, send again and are answered
 * DUPLICATE; the one publish answered before the kill is stored. */
static void test_waves_sent_ahead_of_a_slow_journal_and_a_kill_9_lose_nothing_answered_nor_wedge_the_sequence(
    void **state)
{
    (void)state;
    s_node("6000");
    s_wait_health(0, "connected", 1);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.node_submit[0]});
    assert_non_null(s);
    th_ack_t a;
    s_submit(s, 1, 1); /* its answer says the Welcome is durable */
    assert_int_equal(th_read_ack(s, 30000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);

    int64_t t0 = fb_time_mono_us();
    for (int w = 0; w < WAVES; w++) {
        for (int i = 1; i <= WAVE; i++) s_submit(s, 2, w * WAVE + i);
        while (s_stored(2, "count(*)") < (w + 1) * WAVE && fb_time_mono_us() - t0 < 4500000) usleep(10 * 1000);
    }
    int64_t took_ms = (fb_time_mono_us() - t0) / 1000;
    long long stored = s_stored(2, "count(*)");
    int answered = th_read_ack(s, 0, &a) == 0;
    th_stop_pid(s_t.nodes[0], SIGKILL);
    zmq_close(s);
    print_message("%lld of %d stored %lld ms after the first wave (every sync waits 6000 ms), then kill -9\n",
                  stored, WAVES * WAVE, (long long)took_ms);
    if (stored != WAVES * WAVE)
        fail_msg("%lld of %d stored in %lld ms: the node waited for its journal to send", stored, WAVES * WAVE,
                 (long long)took_ms);
    if (answered) fail_msg("a publish was answered before its journal sync");

    s_node(NULL);
    s_wait_health(0, "connected", 1);
    assert_int_equal(th_count_lines(s_t.node_log[0], "not closed cleanly"), 1);
    /* The waves were not journaled (publish 1 may be, its answer not). */
    long long replayed = s_health(1, "replayed");
    if (replayed < 0 || replayed > 1) fail_msg("journal.replayed %lld: the kill came after the sync", replayed);
    s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.node_submit[0]});
    assert_non_null(s);
    for (int i = 1; i <= AFTER; i++) s_submit(s, 3, i);
    for (int i = 1; i <= AFTER; i++) {
        assert_int_equal(th_read_ack(s, 30000, &a), 0);
        if (a.status != FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED)
            fail_msg("new publish %d answered status %d reason %d (see %s)", i, a.status, a.reason,
                     s_t.node_log[0]);
    }
    for (int i = 1; i <= WAVES * WAVE; i++) s_submit(s, 2, i);
    for (int i = 1; i <= WAVES * WAVE; i++) {
        assert_int_equal(th_read_ack(s, 30000, &a), 0);
        if (a.status != FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE)
            fail_msg("resent publish %d answered status %d reason %d", i, a.status, a.reason);
    }
    zmq_close(s);
    s_wait_health(0, "outbox", 0);
    long long top = s_stored(2, "max(origin_seq)"), low = s_stored(3, "min(origin_seq)");
    print_message("the dead node's sends reached origin_seq %lld; new publishes start at %lld\n", top, low);
    assert_true(low > top);
    assert_int_equal(s_stored(1, "count(*)"), 1);
    assert_int_equal(s_stored(0, "count(*)"), 1 + WAVES * WAVE + AFTER);
    assert_int_equal(s_stored(0, "count(DISTINCT message_id)"), 1 + WAVES * WAVE + AFTER);
    assert_int_equal(s_stored(0, "count(DISTINCT origin_seq)"), 1 + WAVES * WAVE + AFTER);
    th_stop_pid(s_t.nodes[0], SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_waves_sent_ahead_of_a_slow_journal_and_a_kill_9_lose_nothing_answered_nor_wedge_the_sequence),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
