/* it_outbox.c — the node's outbox on disk: publishes held while the broker is down survive kill -9 and are stored
 * once each; resends after a restart store nothing twice; a damaged journal tail is cut and reported; a full
 * outbox says so (submit reject OUTBOX_FULL, `fedbus publish` exit 75, HTTP 503 with Retry-After). */
#include "harness.h"

#include "fb_time.h"
#include "fb_zmq.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

static th_t s_t;

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "outbox", 24200);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static void s_broker_up(void)
{
    if (!s_t.broker) th_broker_start(&s_t, NULL);
}

static void s_broker_down(void)
{
    if (s_t.broker) th_broker_stop(&s_t, SIGTERM);
}

/* ------------------------------------------------------------- a node -- */

/* A node of its own member with a state-dir that outlives its process. */
typedef struct {
    const char *member;
    char dir[128], submit[64], log[128];
    int http;
    pid_t pid;
} s_node_t;

static void s_node_init(s_node_t *n, const char *member, int k)
{
    memset(n, 0, sizeof(*n));
    n->member = member;
    snprintf(n->dir, sizeof(n->dir), "it-outbox-state-%s", member);
    snprintf(n->submit, sizeof(n->submit), "tcp://127.0.0.1:%d", s_t.port_base + 10 + k);
    snprintf(n->log, sizeof(n->log), "it-outbox-node-%s.log", member);
    n->http = s_t.port_base + 30 + k;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", n->dir);
    assert_int_equal(system(cmd), 0);
    unlink(n->log);
}

/* Starts it with up to two more flags (NULL: none). */
static void s_node_start(s_node_t *n, const char *more1, const char *more2)
{
    char m[80], b[80], s[80], h[40], d[160];
    snprintf(m, sizeof(m), "--member=%s", n->member);
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(s, sizeof(s), "--submit=%s", n->submit);
    snprintf(h, sizeof(h), "--http-port=%d", n->http);
    snprintf(d, sizeof(d), "--state-dir=%s", n->dir);
    char keys[320], bkey[320];
    th_node_flags(&s_t, n->member, keys, bkey);
    const char *argv[] = {th_node_bin, m, b, s, h, d, "--outbox=disk", "--resend-ms=300", "--heartbeat-ms=200",
                          "--log-level=debug", keys, bkey, more1, more2, NULL};
    n->pid = th_spawn(argv, n->log);
}

static void s_node_stop(s_node_t *n, int sig)
{
    th_stop_pid(n->pid, sig);
    n->pid = 0;
}

/* --------------------------------------------------------------- HTTP -- */

/* The node's /v1/health as JSON (the caller frees it), NULL when it does not answer. */
static json_t *s_health(const s_node_t *n)
{
    char head[4096], body[8192];
    if (!th_http(n->http, "GET", "/v1/health", NULL, head, sizeof(head), body, sizeof(body))) return NULL;
    return json_loads(body, 0, NULL);
}

/* Waits up to 20 s until the node's health says key (in "journal" when
 * journal) is want; fails the test otherwise. */
static void s_wait_health(const s_node_t *n, int journal, const char *key, long long want)
{
    long long got = -1;
    for (int i = 0; i < 200; i++) {
        json_t *h = s_health(n);
        json_t *o = h && journal ? json_object_get(h, "journal") : h;
        got = o && json_is_integer(json_object_get(o, key)) ? json_integer_value(json_object_get(o, key)) : -1;
        json_decref(h);
        if (got == want) return;
        usleep(100 * 1000);
    }
    fail_msg("%s: health %s%s is %lld, want %lld (see %s)", n->member, journal ? "journal." : "", key, got, want,
             n->log);
}

/* Waits up to 20 s until the broker has welcomed the node; fails the test otherwise. */
static void s_wait_connected(const s_node_t *n)
{
    for (int i = 0; i < 200; i++) {
        json_t *h = s_health(n);
        int up = h && json_is_true(json_object_get(h, "connected"));
        json_decref(h);
        if (up) return;
        usleep(100 * 1000);
    }
    fail_msg("%s: not welcomed (see %s)", n->member, n->log);
}

/* Starts n with the journal's test hook: every sync waits delay_ms first. */
static void s_node_start_slow_disk(s_node_t *n, const char *delay_ms)
{
    assert_int_equal(setenv("FEDBUS_TEST_SYNC_DELAY_MS", delay_ms, 1), 0);
    th_node_bin = FEDBUS_NODE_HOOKS_BIN; /* the hook is only in the tests' own node */
    s_node_start(n, NULL, NULL);
    th_node_bin = FEDBUS_NODE_BIN;
    unsetenv("FEDBUS_TEST_SYNC_DELAY_MS");
}

/* Waits up to 20 s until sql counts want; fails the test otherwise. */
static void s_wait_count(const char *sql, long long want)
{
    long long got = -1;
    for (int i = 0; i < 200 && (got = th_sql_int(&s_t, sql)) != want; i++) usleep(100 * 1000);
    if (got != want) fail_msg("%s: %lld, want %lld", sql, got, want);
}

/* ------------------------------------------------------------ publish -- */

/* The message_id of publish i of test tag t: "0190000t-0000-7000-8000-<i>". */
static void s_id(int t, int i, char out[40])
{
    snprintf(out, 40, "0190000%d-0000-7000-8000-%012d", t, i);
}

/* Sends publish i of test t as member's event on a raw DEALER, without
 * waiting for an answer: origin and origin_seq are the node's to set. */
static void s_submit(void *sock, const char *member, int t, int i)
{
    char id[40], title[32];
    size_t len;
    s_id(t, i, id);
    snprintf(title, sizeof(title), "held %d", i);
    uint8_t *f = th_frame(th_event_json(member, "forum", title), "", 0, id, &len);
    assert_true(zmq_send(sock, f, len, 0) >= 0);
    free(f);
}

/* Submits publishes 1..count of test t as member's events in one
 * PublishBatch, taken by the node in one go, and leaves without waiting
 * for the answers (the frame goes as one to the broker: its first frame
 * slot is free). */
static void s_submit_batch(const s_node_t *n, int t, int count)
{
    char *texts[64];
    size_t lens[64];
    fb_ack_t acks[64];
    int rcs[64];
    assert_true(count <= 64);
    for (int i = 1; i <= count; i++) {
        char id[40], title[32];
        s_id(t, i, id);
        snprintf(title, sizeof(title), "held %d", i);
        const char *ev = th_event_json(n->member, "forum", title);
        size_t size = strlen(ev) + 64;
        texts[i - 1] = malloc(size);
        assert_non_null(texts[i - 1]);
        snprintf(texts[i - 1], size, "{\"message_id\":\"%s\",%s", id, ev + 1);
        lens[i - 1] = strlen(texts[i - 1]);
    }
    fb_publisher_t *pub = fb_publisher_new(n->submit);
    assert_non_null(pub);
    fb_publisher_send_json_many(pub, (const char *const *)texts, lens, (size_t)count, acks, rcs, 200);
    fb_publisher_destroy(&pub);
    for (int i = 0; i < count; i++) free(texts[i]);
}

static void *s_dealer(const s_node_t *n)
{
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = n->submit});
    assert_non_null(s);
    return s;
}

static long long s_count(const char *member, const char *what)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT %s FROM fedbus_messages WHERE origin = '%s'", what, member);
    return th_sql_int(&s_t, sql);
}

/* -------------------------------------------------------------- tests -- */

static void test_publishes_held_while_the_broker_is_down_survive_kill_9_and_are_stored_once(void **state)
{
    (void)state;
    s_broker_down();
    s_node_t n;
    s_node_init(&n, "kr-incheon", 0);
    s_node_start(&n, NULL, NULL);
    s_wait_health(&n, 0, "outbox", 0);
    /* 200 raw submits, none waiting for its answer... */
    void *s = s_dealer(&n);
    for (int i = 1; i <= 200; i++) s_submit(s, n.member, 1, i);
    /* ...an HTTP POST left waiting for its answer... */
    char json[512], id[40];
    s_id(1, 201, id);
    snprintf(json, sizeof(json),
             "{\"message_id\":\"%s\",\"topic\":\"event.kr-incheon.forum\",\"event\":{\"kind\":\"forum\","
             "\"title\":{\"en\":\"by HTTP\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}",
             id);
    int hfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)n.http)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(hfd, (struct sockaddr *)&a, sizeof(a)), 0);
    char req[1024];
    int rl = snprintf(req, sizeof(req), "POST /v1/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      strlen(json), json);
    assert_int_equal(write(hfd, req, (size_t)rl), rl);
    /* ...and the command line, which gives up waiting. */
    char path[] = "/tmp/fedbus-it-outbox-XXXXXX";
    int fd = mkstemp(path);
    const char *cli_json = th_event_json("kr-incheon", "forum", "by the CLI");
    assert_int_equal(write(fd, cli_json, strlen(cli_json)), (ssize_t)strlen(cli_json));
    close(fd);
    s_id(1, 202, id);
    char node_flag[100], id_flag[80];
    snprintf(node_flag, sizeof(node_flag), "--node=%s", n.submit);
    snprintf(id_flag, sizeof(id_flag), "--message-id=%s", id);
    const char *cli[] = {FEDBUS_CLI_BIN, "publish", node_flag, id_flag, "--timeout-ms=1500", path, NULL};
    char *out = NULL;
    assert_int_equal(th_run(cli, &out, 30), 1);
    assert_non_null(strstr(out, id));
    free(out);
    unlink(path);
    /* All journaled: the health says so, the node is killed. */
    s_wait_health(&n, 0, "outbox", 202);
    s_node_stop(&n, SIGKILL);
    close(hfd);
    zmq_close(s);

    /* Restarted, it holds them again before any broker is there. */
    s_node_start(&n, NULL, NULL);
    s_wait_health(&n, 1, "replayed", 202);
    s_wait_health(&n, 0, "outbox", 202);
    s_broker_up();
    s_wait_count("SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-incheon'", 202);
    s_wait_health(&n, 0, "outbox", 0);
    usleep(700 * 1000); /* more than a resend period: nothing comes twice */
    assert_int_equal(s_count("kr-incheon", "count(*)"), 202);
    assert_int_equal(s_count("kr-incheon", "count(DISTINCT message_id)"), 202);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE message_id::text LIKE "
                                      "'01900001-0000-7000-8000-%'"),
                     202);
    assert_int_equal(s_count("kr-incheon", "min(origin_seq)"), 1);
    assert_int_equal(s_count("kr-incheon", "max(origin_seq)"), 202);
    s_node_stop(&n, SIGTERM);
}

static void test_publishes_the_broker_stored_are_not_stored_again_after_a_restart(void **state)
{
    (void)state;
    s_broker_up();
    s_node_t n;
    s_node_init(&n, "kr-seoul", 1);
    s_node_start(&n, NULL, NULL);
    s_wait_health(&n, 0, "outbox", 0);
    /* Confirmed ACCEPTED, then kill -9. */
    fb_publisher_t *pub = fb_publisher_new(n.submit);
    for (int i = 0; i < 20; i++) {
        const char *json = th_event_json("kr-seoul", "forum", "confirmed");
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    }
    fb_publisher_destroy(&pub);
    s_node_stop(&n, SIGKILL);
    s_node_start(&n, NULL, NULL);
    s_wait_health(&n, 0, "outbox", 0);

    /* Stored by the broker but never confirmed to the node: the broker is
     * frozen while they are sent, the node killed before it wakes. */
    kill(s_t.broker, SIGSTOP);
    s_submit_batch(&n, 2, 30);
    s_wait_health(&n, 0, "outbox", 30);
    usleep(300 * 1000); /* sent to the frozen broker */
    s_node_stop(&n, SIGKILL);
    kill(s_t.broker, SIGCONT);
    s_wait_count("SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-seoul'", 50);
    s_node_start(&n, NULL, NULL);
    s_wait_health(&n, 1, "replayed", 30);
    s_wait_health(&n, 0, "outbox", 0); /* answered DUPLICATE */
    /* And what comes next takes new origin_seqs: above the 50 stored (and,
     * after a kill -9, above all its predecessor may have sent). */
    pub = fb_publisher_new(n.submit);
    const char *json = th_event_json("kr-seoul", "forum", "after");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    assert_true(ack.origin_seq > 50);
    assert_int_equal(s_count("kr-seoul", "max(origin_seq)"), (long long)ack.origin_seq);
    fb_publisher_destroy(&pub);
    usleep(700 * 1000);
    assert_int_equal(s_count("kr-seoul", "count(*)"), 51);
    assert_int_equal(s_count("kr-seoul", "count(DISTINCT message_id)"), 51);
    assert_int_equal(s_count("kr-seoul", "count(DISTINCT origin_seq)"), 51);
    s_node_stop(&n, SIGTERM);
}

/* Holds 20 publishes of member in a node with no broker, kills it, and
 * damages the last record of its journal with damage(path). */
static void s_hold_and_damage(s_node_t *n, int t, void (*damage)(const char *path))
{
    s_node_start(n, NULL, NULL);
    s_wait_health(n, 0, "outbox", 0);
    void *s = s_dealer(n);
    for (int i = 1; i <= 20; i++) s_submit(s, n->member, t, i);
    s_wait_health(n, 0, "outbox", 20);
    usleep(500 * 1000); /* taken is not yet written: the journal's write too */
    s_node_stop(n, SIGKILL);
    zmq_close(s);
    char path[300];
    snprintf(path, sizeof(path), "%s/seg-0000000000000001.journal", n->dir);
    damage(path);
}

static void s_truncate_mid_record(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, size - 5), 0);
}

static void s_flip_last_record_byte(const char *path)
{
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    fseek(f, -3, SEEK_END);
    int c = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(c ^ 0x20, f);
    fclose(f);
}

static void test_a_damaged_journal_tail_is_cut_reported_and_the_rest_delivered(void **state)
{
    (void)state;
    s_broker_down();
    s_node_t torn, flipped;
    s_node_init(&torn, "kr-daejeon", 2);
    s_node_init(&flipped, "kr-busan", 3);
    s_hold_and_damage(&torn, 3, s_truncate_mid_record);
    s_hold_and_damage(&flipped, 4, s_flip_last_record_byte);
    s_node_start(&torn, NULL, NULL);
    s_node_start(&flipped, NULL, NULL);
    s_wait_health(&torn, 1, "corrupt_tails", 1);
    s_wait_health(&flipped, 1, "corrupt_tails", 1);
    s_wait_health(&torn, 0, "outbox", 19);
    s_wait_health(&flipped, 0, "outbox", 19);
    assert_int_equal(th_count_lines(torn.log, "torn record at byte"), 1);
    assert_int_equal(th_count_lines(flipped.log, "checksum mismatch at byte"), 1);
    s_broker_up();
    s_wait_count("SELECT count(*) FROM fedbus_messages WHERE origin IN ('kr-daejeon', 'kr-busan')", 38);
    s_wait_health(&torn, 0, "outbox", 0);
    s_wait_health(&flipped, 0, "outbox", 0);
    assert_int_equal(s_count("kr-daejeon", "max(origin_seq)"), 19);
    assert_int_equal(s_count("kr-busan", "count(DISTINCT message_id)"), 19);
    /* The next start finds the journal whole. */
    s_node_stop(&torn, SIGTERM);
    s_node_start(&torn, NULL, NULL);
    s_wait_health(&torn, 1, "corrupt_tails", 0);
    s_node_stop(&torn, SIGTERM);
    s_node_stop(&flipped, SIGTERM);
}

/* `fedbus publish` of one more message to n's full outbox: exit status 75
 * (transient), the reject named OUTBOX_FULL with limit in its detail, and
 * a message naming the outbox and its bounds. */
static void s_check_full_cli(const s_node_t *n, const char *limit)
{
    char path[] = "/tmp/fedbus-it-outbox-full-XXXXXX", cmd[512];
    int fd = mkstemp(path);
    const char *json = th_event_json(n->member, "forum", "by the CLI, to a full outbox");
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    snprintf(cmd, sizeof(cmd), "exec '%s' publish --node=%s --timeout-ms=5000 %s 2>&1", FEDBUS_CLI_BIN, n->submit,
             path);
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    char *out = NULL;
    int rc = th_run(sh, &out, 30);
    unlink(path);
    if (rc != 75 || !strstr(out, "rejected OUTBOX_FULL: node outbox is full: ") || !strstr(out, limit) ||
        !strstr(out, "the node's outbox is full") || !strstr(out, "outbox-max-bytes") || !strstr(out, "--message-id="))
        fail_msg("fedbus publish to a full outbox: exit %d, want 75 and OUTBOX_FULL naming %s:\n%s", rc, limit, out);
    free(out);
}

/* Submits until the node refuses, with room for 16 or bytes of it; checks
 * the refusal (REJECT_OUTBOX_FULL on the raw submit path and through
 * `fedbus publish`) and the HTTP answer's limit, then that the outbox
 * drains. */
static void s_check_full(s_node_t *n, int t, int expect_held, const char *limit)
{
    void *s = s_dealer(n);
    int i = 1;
    th_ack_t a = {0};
    for (; i <= 100; i++) {
        s_submit(s, n->member, t, i);
        if (th_read_ack(s, 300, &a) == 0) break; /* held ones are not answered while the broker is away */
    }
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_REJECTED);
    assert_int_equal(a.reason, FEDBUS__REJECT_REASON__REJECT_OUTBOX_FULL);
    if (expect_held) assert_int_equal(i - 1, expect_held);
    s_wait_health(n, 0, "outbox", i - 1);
    s_check_full_cli(n, limit);
    char head[4096], body[8192], json[512];
    snprintf(json, sizeof(json),
             "{\"topic\":\"event.%s.forum\",\"event\":{\"kind\":\"forum\",\"title\":{\"en\":\"one more\"},"
             "\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}",
             n->member);
    assert_int_equal(th_http(n->http, "POST", "/v1/publish", json, head, sizeof(head), body, sizeof(body)), 503);
    assert_non_null(strstr(head, "Retry-After: 5"));
    assert_non_null(strstr(body, "\"reason\":\"OUTBOX_FULL\""));
    char want[64];
    snprintf(want, sizeof(want), "\"limit\":\"%s\"", limit);
    assert_non_null(strstr(body, want));
    zmq_close(s);
    s_broker_up();
    s_wait_health(n, 0, "outbox", 0);
    assert_int_equal(th_http(n->http, "POST", "/v1/publish", json, head, sizeof(head), body, sizeof(body)), 201);
    s_broker_down();
}

static void test_a_full_outbox_refuses_outbox_full_naming_its_limit_and_http_answers_503_retry_after(void **state)
{
    (void)state;
    s_broker_down();
    s_node_t n;
    s_node_init(&n, "intl-wta", 4);
    s_node_start(&n, "--outbox-max=16", NULL);
    s_wait_health(&n, 0, "outbox", 0);
    s_check_full(&n, 5, 16, "outbox-max");
    s_node_stop(&n, SIGTERM);
    s_node_init(&n, "intl-example-sciencepark", 5);
    s_node_start(&n, "--outbox-max-bytes=4096", "--max-frame=1024");
    s_wait_health(&n, 0, "outbox", 0);
    s_check_full(&n, 6, 0, "outbox-max-bytes");
    assert_int_equal(s_count("intl-example-sciencepark", "count(*)"),
                     s_count("intl-example-sciencepark", "count(DISTINCT message_id)"));
    s_node_stop(&n, SIGTERM);
}

/* The node sends a publish while its journal sync runs, and answers its
 * submitter only once that sync is done: the broker's ack comes first and
 * waits. */
static void test_an_ack_that_comes_before_the_journal_sync_waits_for_it(void **state)
{
    (void)state;
    s_broker_up();
    s_node_t n;
    s_node_init(&n, "kr-gwangju", 6);
    s_node_start_slow_disk(&n, "1500");
    s_wait_connected(&n);
    void *s = s_dealer(&n);
    th_ack_t a;
    s_submit(s, n.member, 7, 1); /* after the Welcome's own sync */
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);

    int64_t t0 = fb_time_mono_us();
    s_submit(s, n.member, 7, 2);
    const char *sql = "SELECT count(*) FROM fedbus_messages WHERE message_id = '01900007-0000-7000-8000-000000000002'";
    while (th_sql_int(&s_t, sql) == 0 && fb_time_mono_us() - t0 < 5000000) usleep(20 * 1000);
    int64_t stored_ms = (fb_time_mono_us() - t0) / 1000;
    /* Stored while its sync still ran: sent at once, not after the sync. */
    if (stored_ms >= 1400)
        fail_msg("stored only after %lld ms: the node waited for the sync to send", (long long)stored_ms);
    /* Not answered before its sync was done, though the broker's ack was in. */
    if (th_read_ack(s, 0, &a) == 0) fail_msg("answered at %lld ms, before its journal sync", (long long)stored_ms);
    assert_int_equal(th_read_ack(s, 10000, &a), 0);
    int64_t answered_ms = (fb_time_mono_us() - t0) / 1000;
    print_message("stored after %lld ms, answered after %lld ms (every sync waits 1500 ms)\n", (long long)stored_ms,
                  (long long)answered_ms);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    if (answered_ms < 1500) fail_msg("answered after %lld ms, before its sync of 1500 ms", (long long)answered_ms);
    zmq_close(s);
    s_node_stop(&n, SIGTERM);
    assert_int_equal(th_count_lines(n.log, "acks came before their sync and waited for it"), 1);
}

/* A node killed while publishes it had sent were not journaled yet (its
 * syncs slowed down, the broker frozen with the frames unread) numbers
 * what it takes after the restart above them: no new publish is refused
 * STALE_SEQUENCE when the broker reads the dead node's frames, and the
 * submitters' resends are stored once. */
static void test_a_node_killed_with_sends_ahead_of_its_journal_never_reuses_their_origin_seqs(void **state)
{
    (void)state;
    s_broker_up();
    s_node_t n;
    s_node_init(&n, "kr-ulsan", 7);
    s_node_start_slow_disk(&n, "2000");
    s_wait_connected(&n);
    void *s = s_dealer(&n);
    th_ack_t a;
    s_submit(s, n.member, 8, 1); /* its answer means the Welcome is durable */
    assert_int_equal(th_read_ack(s, 15000, &a), 0);
    assert_int_equal(a.status, FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED);
    kill(s_t.broker, SIGSTOP);
    for (int i = 2; i <= 21; i++) s_submit(s, n.member, 8, i);
    usleep(500 * 1000); /* sent; the journal's write waits 2 s */
    s_node_stop(&n, SIGKILL);
    zmq_close(s);
    s_node_start(&n, NULL, NULL);
    for (int i = 0; i < 100 && th_count_lines(n.log, "not closed cleanly") == 0; i++) usleep(100 * 1000);
    assert_int_equal(th_count_lines(n.log, "not closed cleanly"), 1);
    s = s_dealer(&n);
    for (int i = 1; i <= 20; i++) s_submit(s, n.member, 9, i);
    usleep(300 * 1000);
    kill(s_t.broker, SIGCONT);
    for (int i = 1; i <= 20; i++) {
        assert_int_equal(th_read_ack(s, 15000, &a), 0);
        if (a.status != FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED)
            fail_msg("a new publish was answered status %d reason %d (see %s)", a.status, a.reason, n.log);
    }
    /* The dead node's submitter never heard back: it publishes again. */
    for (int i = 2; i <= 21; i++) s_submit(s, n.member, 8, i);
    for (int i = 2; i <= 21; i++) {
        assert_int_equal(th_read_ack(s, 15000, &a), 0);
        assert_true(a.status == FEDBUS__ACK_STATUS__ACK_STATUS_ACCEPTED ||
                    a.status == FEDBUS__ACK_STATUS__ACK_STATUS_DUPLICATE);
    }
    zmq_close(s);
    assert_int_equal(s_count(n.member, "count(*)"), 41);
    assert_int_equal(s_count(n.member, "count(DISTINCT message_id)"), 41);
    assert_int_equal(s_count(n.member, "count(DISTINCT origin_seq)"), 41);
    s_node_stop(&n, SIGTERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publishes_held_while_the_broker_is_down_survive_kill_9_and_are_stored_once),
        cmocka_unit_test(test_publishes_the_broker_stored_are_not_stored_again_after_a_restart),
        cmocka_unit_test(test_a_damaged_journal_tail_is_cut_reported_and_the_rest_delivered),
        cmocka_unit_test(test_a_full_outbox_refuses_outbox_full_naming_its_limit_and_http_answers_503_retry_after),
        cmocka_unit_test(test_an_ack_that_comes_before_the_journal_sync_waits_for_it),
        cmocka_unit_test(test_a_node_killed_with_sends_ahead_of_its_journal_never_reuses_their_origin_seqs),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
