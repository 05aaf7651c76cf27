/* it_ingest_limits.c — heartbeats of unknown origins, floods of bad frames and hostile strings cost the broker little. */
#include "harness.h"

#include "fb_zmq.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "ingest_limits", 24400);
    /* What a peer that may name any origin costs the broker: only one
     * without keys lets a connection speak for other members. */
    th_broker_start(&s_t, (const char *const[]){"--insecure-plaintext", NULL});
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static void *s_dealer(void)
{
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_t.ingest});
    assert_non_null(s);
    return s;
}

/* Sends NodeMessage m on s. */
static void s_send(void *s, const Fedbus__NodeMessage *m)
{
    size_t len = fedbus__node_message__get_packed_size(m);
    uint8_t *buf = malloc(len ? len : 1);
    fedbus__node_message__pack(m, buf);
    assert_true(zmq_send(s, buf, len, 0) >= 0);
    free(buf);
}

/* Says Hello as origin on s and returns the Welcome's last_origin_seq. */
static uint64_t s_hello(void *s, const char *origin, const char *version)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = (char *)origin;
    h.version = (char *)version;
    Fedbus__NodeMessage m = FEDBUS__NODE_MESSAGE__INIT;
    m.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    m.hello = &h;
    s_send(s, &m);
    int timeout = 10000;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout, sizeof(timeout));
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) < 0) fail_msg("no Welcome (see %s)", s_t.broker_log);
    Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    assert_non_null(bm);
    assert_int_equal(bm->body_case, FEDBUS__BROKER_MESSAGE__BODY_WELCOME);
    uint64_t last = bm->welcome->last_origin_seq;
    fedbus__broker_message__free_unpacked(bm, NULL);
    zmq_msg_close(&msg);
    return last;
}

/* The broker's resident size, KiB. */
static long s_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)s_t.broker);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    fclose(f);
    return kib;
}

/* Sends heartbeats of the distinct origins hb-first .. hb-(first+n-1), then
 * waits until the broker has read them (its Welcome to a Hello sent after
 * them on the same socket). */
static void s_heartbeats(void *s, int first, int n)
{
    for (int i = first; i < first + n; i++) {
        char origin[32];
        snprintf(origin, sizeof(origin), "hb-%d", i);
        Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
        hb.origin = origin;
        hb.last_origin_seq = 1;
        Fedbus__NodeMessage m = FEDBUS__NODE_MESSAGE__INIT;
        m.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
        m.heartbeat = &hb;
        s_send(s, &m);
    }
    s_hello(s, "hb-sync", "test");
}

static void test_heartbeats_of_200000_origins_that_never_publish_keep_the_broker_small(void **state)
{
    (void)state;
    void *s = s_dealer();
    s_heartbeats(s, 0, 10000); /* the broker's own working set first */
    long before = s_rss_kib();
    for (int k = 0; k < 200; k++) s_heartbeats(s, 10000 + k * 1000, 1000);
    long after = s_rss_kib();
    print_message("broker VmRSS before %ld KiB, after 200,000 heartbeats %ld KiB (+%ld)\n", before, after,
                  after - before);
#if defined(__SANITIZE_ADDRESS__)
    /* AddressSanitizer holds freed memory in quarantine (every decoded
     * heartbeat's): only the plain build measures the broker's own. */
    (void)before;
#else
    assert_true(after - before < 4096);
#endif
    zmq_close(s);
}

/* The number of lines of the broker's log that contain needle, and the
 * counts "N more lines" of those among them that are summaries. */
static int s_lines(const char *needle, long long *left_out)
{
    FILE *f = fopen(s_t.broker_log, "r");
    assert_non_null(f);
    char line[8192];
    int n = 0;
    *left_out = 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strstr(line, needle)) continue;
        n++;
        const char *p = strstr(line, "): ");
        long long k;
        if (strstr(line, "more lines like it") && p && sscanf(p + 3, "%lld", &k) == 1) *left_out += k;
    }
    fclose(f);
    return n;
}

static void test_10000_bad_frames_write_a_few_lines_and_are_all_counted(void **state)
{
    (void)state;
    void *s = s_dealer();
    enum { N = 10000 };
    for (int i = 0; i < N; i++) assert_true(zmq_send(s, "\xff\xff\xff", 3, 0) >= 0);
    for (int i = 0; i < N; i++) {
        th_ack_t a;
        if (th_read_ack(s, 10000, &a) != 0) fail_msg("only %d of %d rejects (see %s)", i, N, s_t.broker_log);
        assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_MALFORMED);
    }
    usleep(2500 * 1000); /* a summary and a stats line */
    long long left_out;
    int lines = s_lines("reject MALFORMED", &left_out);
    print_message("%d rejects: %d log lines, %lld left out and counted in summaries; stats MALFORMED=%.0f\n", N,
                  lines, left_out, th_stat(&s_t, " MALFORMED="));
    assert_true(lines <= 40);
    assert_true(left_out > 0);
    assert_int_equal(lines - th_count_lines(s_t.broker_log, "more lines like it") + left_out, N);
    assert_int_equal((long long)th_stat(&s_t, " MALFORMED="), N);
    assert_int_equal((long long)th_stat(&s_t, " rejected="), N);
    zmq_close(s);
}

/* Whether the broker's log holds byte c. */
static int s_log_has_byte(int c)
{
    FILE *f = fopen(s_t.broker_log, "rb");
    assert_non_null(f);
    int ch, found = 0;
    while (!found && (ch = fgetc(f)) != EOF) found = ch == c;
    fclose(f);
    return found;
}

static void test_control_characters_a_peer_sends_are_logged_escaped(void **state)
{
    (void)state;
    void *s = s_dealer();
    assert_int_equal(s_hello(s, "kr-\x1b[31m\n", "1.0\x1b[0m\xff"), 0);
    /* A reject whose detail quotes the peer's bytes. */
    size_t len;
    uint8_t *f = th_frame(th_event_json("kr-seoul", "forum", "x"), "kr-\x1b[31m", 1, NULL, &len);
    assert_true(zmq_send(s, f, len, 0) >= 0);
    free(f);
    th_ack_t a;
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    usleep(300 * 1000);
    assert_true(th_count_lines(s_t.broker_log, "hello from kr-\\x1b[31m\\x0a (version 1.0\\x1b[0m\\xff)") == 1);
    assert_false(s_log_has_byte(0x1b));
    assert_false(s_log_has_byte(0xff));
    int status;
    assert_int_equal(waitpid(s_t.broker, &status, WNOHANG), 0);
    zmq_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heartbeats_of_200000_origins_that_never_publish_keep_the_broker_small,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_10000_bad_frames_write_a_few_lines_and_are_all_counted, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_control_characters_a_peer_sends_are_logged_escaped, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
