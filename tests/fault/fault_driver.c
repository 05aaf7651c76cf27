/* fault_driver.c — the fault suite: one failure at a time under continuous load, then the promises checked.
 *
 * `fault_driver SCENARIO` runs one scenario as a CMocka test: a real broker (database and
 * ports of its own, port base 32000 + 100 per scenario, apart from every integration
 * test's, since ctest runs them side by side), four nodes (kr-incheon, kr-seoul,
 * kr-daejeon, kr-busan) with a publisher each, two subscribers (one slow), a few seconds of
 * load, the fault, a few seconds of load after it, then fl_check(). Every process it starts
 * is stopped at exit, also when a check fails (the harness's atexit; the private PostgreSQL
 * cluster's own). Nodes run with the crash-safe disk outbox when the node has one
 * (`--outbox=disk --state-dir=...`, detected from `fedbus-node --help`). */
#include "fault_load.h"
#include "fault_pg.h"

#include "fb_zmq.h"

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

enum { S_RATE = 150, S_BEFORE_MS = 4000, S_AFTER_MS = 5000, S_SETTLE_S = 30, S_CALM_GAP_MS = 4000,
       S_RECOVERY_MS = 6000 };

/* The broker's feed queue at its smallest, so that the slow subscriber's
 * pauses overflow it and the subscriber has gaps to detect and repair. */
static const char *const s_broker_extra[] = {"--feed-queue=100", NULL};

static th_t s_t;
static fl_run_t *s_run;
static int s_disk_outbox;
static char s_state[FL_MEMBERS][128];
static char s_proxy_port[16], s_ingest_port[16];
static pid_t s_proxy;

/* The flags that give node i a disk outbox, when the node has one. */
static const char *const *s_node_extra(int i)
{
    static char dir[FL_MEMBERS][160];
    static const char *extra[FL_MEMBERS][3];
    if (!s_disk_outbox) return NULL;
    snprintf(dir[i], sizeof(dir[i]), "--state-dir=%s", s_state[i]);
    extra[i][0] = "--outbox=disk";
    extra[i][1] = dir[i];
    extra[i][2] = NULL;
    return extra[i];
}

static void s_start_node(int i, const char *broker)
{
    th_node_spawn(&s_t, i, FL_MEMBER[i], NULL, broker, s_node_extra(i));
}

static void s_start_proxy(void)
{
    const char *argv[] = {FAULT_PROXY_BIN, s_proxy_port, s_ingest_port, NULL};
    s_proxy = th_spawn(argv, "fault-link-proxy.log");
    usleep(200 * 1000);
}

/* Broker, four nodes (node link_via_proxy, if >= 0, through the TCP proxy), load started. */
static void s_up(const char *name, int port_base, int link_via_proxy)
{
    char *help = NULL;
    const char *argv[] = {FEDBUS_NODE_BIN, "--help", NULL};
    th_run(argv, &help, 20);
    s_disk_outbox = help && strstr(help, "state-dir") != NULL;
    free(help);
    th_init(&s_t, name, port_base);
    th_broker_start(&s_t, s_broker_extra);
    char proxy[64] = "";
    if (link_via_proxy >= 0) {
        snprintf(s_proxy_port, sizeof(s_proxy_port), "%d", port_base + 30);
        snprintf(s_ingest_port, sizeof(s_ingest_port), "%d", port_base);
        snprintf(proxy, sizeof(proxy), "tcp://127.0.0.1:%d", port_base + 30);
        s_start_proxy();
    }
    for (int i = 0; i < FL_MEMBERS; i++) {
        snprintf(s_state[i], sizeof(s_state[i]), "fault-%s-%s.state", name, FL_MEMBER[i]);
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_state[i]);
        assert_int_equal(system(cmd), 0);
        mkdir(s_state[i], 0755);
        s_start_node(i, i == link_via_proxy ? proxy : NULL);
    }
    print_message("fault %s: nodes with %s outbox\n", name, s_disk_outbox ? "a disk" : "the in-memory");
    s_run = fl_run_new(&s_t, S_RATE);
    assert_non_null(s_run);
    fl_start(s_run);
    usleep(S_BEFORE_MS * 1000);
}

/* Load after the fault, stop, check, tear down. */
static void s_down(const char *name, const int max_gap_ms[FL_MEMBERS])
{
    usleep(S_AFTER_MS * 1000);
    fl_stop(s_run, S_SETTLE_S);
    fl_check(s_run, name, max_gap_ms);
    fl_run_destroy(&s_run);
    th_cleanup(&s_t);
}

static int s_teardown(void **state)
{
    (void)state;
    fl_run_destroy(&s_run);
    th_cleanup(&s_t);
    if (s_proxy) th_stop_pid(s_proxy, SIGKILL);
    s_proxy = 0;
    return 0;
}

/* Every member was affected by a fault of window_ms: each may wait that long and a recovery. */
static void s_all_affected(int gaps[FL_MEMBERS], int window_ms)
{
    for (int i = 0; i < FL_MEMBERS; i++) gaps[i] = window_ms + S_RECOVERY_MS;
}

static void test_broker_killed_under_load_loses_nothing_acked(void **state)
{
    (void)state;
    s_up("broker_kill", 32000, -1);
    fl_fault_begin(s_run);
    fl_broker_down(s_run, 1);
    th_broker_stop(&s_t, SIGKILL);
    usleep(3000 * 1000);
    th_broker_start(&s_t, s_broker_extra);
    fl_broker_down(s_run, 0);
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 3000);
    s_down("broker_kill", gaps);
}

static void test_postgresql_stopped_fast_and_immediate_loses_nothing_acked(void **state)
{
    (void)state;
    fp_start(32190);
    s_up("pg_stop", 32100, -1);
    fl_fault_begin(s_run);
    fp_stop("fast");
    usleep(3000 * 1000);
    fp_restart();
    usleep(3000 * 1000);
    fp_stop("immediate");
    usleep(3000 * 1000);
    fp_restart();
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 9000);
    s_down("pg_stop", gaps);
}

/* The primary is lost (stopped at once, as in a crash) and its synchronous
 * standby promoted two seconds later, as pg_auto_failover or an operator
 * would: the broker, given both hosts with target_session_attrs=read-write
 * (the PG* environment fp_standby_start() sets), follows the new primary,
 * and nothing it acked is lost, since every COMMIT was on the standby's
 * disk before it returned. */
static void test_postgresql_primary_lost_and_standby_promoted_loses_nothing_acked(void **state)
{
    (void)state;
    fp_start(32790);
    fp_standby_start(32791);
    s_up("pg_failover", 32700, -1);
    fl_fault_begin(s_run);
    fp_stop("immediate");
    usleep(2000 * 1000);
    fp_promote();
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 2000);
    s_down("pg_failover", gaps);
}

/* The largest N of the node log's "journal ... holds N unconfirmed
 * publishes" lines (written when a node starts on a journal), or -1. */
static long s_journal_replayed(const char *log)
{
    FILE *f = fopen(log, "r");
    if (!f) return -1;
    char line[1024];
    long best = -1;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, " holds ");
        long n;
        if (p && strstr(p, " unconfirmed publishes") && sscanf(p, " holds %ld", &n) == 1 && n > best) best = n;
    }
    fclose(f);
    return best;
}

static void test_node_killed_with_publishes_waiting_loses_none_it_accepted(void **state)
{
    (void)state;
    enum { BUSAN = 3 };
    s_up("node_kill", 32200, -1);
    fl_fault_begin(s_run);
    fl_broker_down(s_run, 1);
    th_broker_stop(&s_t, SIGKILL);
    usleep(2000 * 1000); /* the nodes hold what they are given */
    th_stop_pid(s_t.nodes[BUSAN], SIGKILL);
    s_start_node(BUSAN, NULL);
    usleep(1000 * 1000);
    th_broker_start(&s_t, s_broker_extra);
    fl_broker_down(s_run, 0);
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 3000);
    long held = s_journal_replayed(s_t.node_log[BUSAN]);
    print_message("fault node_kill: kr-busan's restarted node found %ld unconfirmed publishes in its journal\n", held);
    s_down("node_kill", gaps);
    /* The publishes kr-busan's node held at the kill were in its journal and
     * sent again by the restarted node; the checks above prove that every
     * one a caller was told was accepted is stored exactly once. */
    if (held <= 0) fail_msg("kr-busan's restarted node found nothing in its journal (no disk outbox)");
}

static void test_node_restarted_while_its_frames_are_in_the_broker_keeps_its_sequence(void **state)
{
    (void)state;
    enum { DAEJEON = 2 };
    s_up("node_restart", 32300, -1);
    fl_fault_begin(s_run);
    kill(s_t.broker, SIGSTOP);
    usleep(1000 * 1000); /* daejeon's frames pile up in the frozen broker's queues */
    th_stop_pid(s_t.nodes[DAEJEON], SIGKILL);
    s_start_node(DAEJEON, NULL);
    usleep(1000 * 1000);
    kill(s_t.broker, SIGCONT);
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 2000);
    s_down("node_restart", gaps);
}

static void test_link_cut_longer_than_the_heartbeat_timeout_loses_nothing(void **state)
{
    (void)state;
    enum { SEOUL = 1 };
    s_up("link_cut", 32400, SEOUL);
    fl_fault_begin(s_run);
    th_stop_pid(s_proxy, SIGKILL);
    s_proxy = 0;
    usleep(6000 * 1000); /* the node heartbeats every 200 ms; its default period is 5 s */
    s_start_proxy();
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS] = {S_CALM_GAP_MS, 6000 + S_RECOVERY_MS, S_CALM_GAP_MS, S_CALM_GAP_MS};
    s_down("link_cut", gaps);
}

/* Appends a torn record (junk) to every file under dir, as a crash in the
 * middle of a write leaves it; returns how many files it found. */
static int s_tear_tails(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[512];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        FILE *f = fopen(path, "ab");
        if (!f) continue;
        static const char junk[] = "\x17\x00\x00\x00torn tail of a crashed write";
        fwrite(junk, 1, sizeof(junk) - 1, f);
        fclose(f);
        n++;
    }
    closedir(d);
    return n;
}

static void test_torn_outbox_tail_is_skipped_and_nothing_accepted_is_lost(void **state)
{
    (void)state;
    enum { INCHEON = 0 };
    s_up("torn_tail", 32600, -1);
    fl_fault_begin(s_run);
    fl_broker_down(s_run, 1);
    th_broker_stop(&s_t, SIGKILL);
    usleep(2000 * 1000);
    th_stop_pid(s_t.nodes[INCHEON], SIGKILL);
    int files = s_tear_tails(s_state[INCHEON]);
    print_message("fault torn_tail: torn the tail of %d outbox files of kr-incheon\n", files);
    s_start_node(INCHEON, NULL);
    usleep(1000 * 1000);
    th_broker_start(&s_t, s_broker_extra);
    fl_broker_down(s_run, 0);
    fl_fault_end(s_run);
    int gaps[FL_MEMBERS];
    s_all_affected(gaps, 3000);
    s_down("torn_tail", gaps);
    if (files == 0) fail_msg("kr-incheon's node keeps no outbox file in %s (no disk outbox)", s_state[INCHEON]);
}

/* Sends one raw publish as origin with origin_seq (no ack awaited). */
static void s_raw(void *s, const char *origin, uint64_t origin_seq)
{
    size_t len;
    uint8_t *f = th_frame(th_event_json(origin, "forum", "hostile"), origin, origin_seq, NULL, &len);
    zmq_send(s, f, len, ZMQ_DONTWAIT);
    free(f);
}

static void test_hostile_inputs_never_stop_other_members_acks(void **state)
{
    (void)state;
    s_up("hostile", 32500, -1);
    fl_fault_begin(s_run);
    /* A member of the federation that misbehaves: admitted, then hostile. */
    void *in = th_socket(&s_t, ZMQ_DEALER, s_t.ingest, "intl-evil");
    void *re = th_socket(&s_t, ZMQ_DEALER, s_t.replay, "intl-evil");
    void *sub = th_socket(&s_t, ZMQ_SUB, s_t.feed, "intl-evil");
    assert_true(in && re && sub);
    size_t big = 1 << 20;
    char *junk = malloc(2 * big);
    for (size_t k = 0; k < 2 * big; k++) junk[k] = (char)('a' + (k * 7919) % 26);
    for (int round = 0; round < 5; round++) {
        for (int k = 0; k < 50; k++) zmq_send(in, junk + k, 1 + (size_t)k * 13, ZMQ_DONTWAIT); /* garbage */
        zmq_send(in, junk, 2 * big, ZMQ_DONTWAIT);                                             /* too large */
        s_raw(in, "intl-evil", (1ULL << 63) + (uint64_t)round);
        s_raw(in, "intl-evil", UINT64_MAX - (uint64_t)round);
        s_raw(in, "intl-evil", (uint64_t)INT64_MAX - 10 + (uint64_t)round);
        for (int k = 0; k < 20; k++) zmq_send(re, junk + k, 1 + (size_t)k * 31, ZMQ_DONTWAIT);
        /* 1 MiB of subscription prefixes, 16 KiB each: libzmq keeps them in a
         * trie it frees recursively, so one 1 MiB prefix overflows the stack
         * of the closing side (here, this test) in libzmq itself. */
        for (int k = 0; k < 13; k++) zmq_setsockopt(sub, ZMQ_SUBSCRIBE, junk + round * 13 + k, 16 << 10);
        usleep(1000 * 1000);
    }
    free(junk);
    zmq_close(in);
    zmq_close(re);
    zmq_close(sub);
    fl_fault_end(s_run);
    int status;
    assert_int_equal(waitpid(s_t.broker, &status, WNOHANG), 0); /* the broker lives */
    int gaps[FL_MEMBERS] = {S_CALM_GAP_MS, S_CALM_GAP_MS, S_CALM_GAP_MS, S_CALM_GAP_MS};
    s_down("hostile", gaps);
}

/* Past S_WATCHDOG_S (below ctest's TIMEOUT of 120 s, which kills without
 * running atexit), or on SIGTERM/SIGINT: every process started is killed,
 * then the test fails. */
enum { S_WATCHDOG_S = 105 };

static void s_watchdog(int sig)
{
    static const char msg[] = "fault_driver: out of time (or signalled): stopping every process it started\n";
    th_kill_children_now();
    fp_kill_now();
    if (write(2, msg, sizeof(msg) - 1) < 0) _exit(3);
    _exit(sig == SIGALRM ? 3 : 4);
}

/* Descriptors inherited from the caller (e.g. flock's lock) are not passed on
 * to the processes the test starts: one of them left running must not hold
 * them. */
static void s_close_inherited_on_exec(void)
{
    for (int fd = 3; fd < 1024; fd++) {
        int flags = fcntl(fd, F_GETFD);
        if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* the counts reach the log even if the test is killed */
    s_close_inherited_on_exec();
    signal(SIGALRM, s_watchdog);
    signal(SIGTERM, s_watchdog);
    signal(SIGINT, s_watchdog);
    alarm(S_WATCHDOG_S);
    static const struct CMUnitTest all[] = {
        cmocka_unit_test_teardown(test_broker_killed_under_load_loses_nothing_acked, s_teardown),
        cmocka_unit_test_teardown(test_postgresql_stopped_fast_and_immediate_loses_nothing_acked, s_teardown),
        cmocka_unit_test_teardown(test_node_killed_with_publishes_waiting_loses_none_it_accepted, s_teardown),
        cmocka_unit_test_teardown(test_node_restarted_while_its_frames_are_in_the_broker_keeps_its_sequence,
                                  s_teardown),
        cmocka_unit_test_teardown(test_link_cut_longer_than_the_heartbeat_timeout_loses_nothing, s_teardown),
        cmocka_unit_test_teardown(test_hostile_inputs_never_stop_other_members_acks, s_teardown),
        cmocka_unit_test_teardown(test_torn_outbox_tail_is_skipped_and_nothing_accepted_is_lost, s_teardown),
        cmocka_unit_test_teardown(test_postgresql_primary_lost_and_standby_promoted_loses_nothing_acked, s_teardown),
    };
    static const char *const names[] = {"broker_kill", "pg_stop",  "node_kill",  "node_restart",
                                        "link_cut",    "hostile",  "torn_tail",  "pg_failover"};
    size_t n = sizeof(all) / sizeof(all[0]);
    for (size_t k = 0; k < n; k++)
        if (argc == 2 && strcmp(argv[1], names[k]) == 0) return _cmocka_run_group_tests(names[k], &all[k], 1, NULL, NULL);
    fprintf(stderr, "usage: fault_driver broker_kill|pg_stop|node_kill|node_restart|link_cut|hostile|torn_tail|"
                    "pg_failover\n");
    return 2;
}
