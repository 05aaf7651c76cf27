/* it_cli_edges.c — the command line's rough edges, through the real CLI: fail fast with advice, publish inline and whole, admin queries, readable output. */
#define _XOPEN_SOURCE 700 /* posix_openpt(): a terminal for the colour test */
#include "harness.h"

#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <poll.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>
#include <cmocka.h>

#define S_BASE 27800
#define S_NOTHING "tcp://127.0.0.1:27899" /* nothing listens here */
#define S_HTTP_PORT (S_BASE + 31)

static th_t s_t;
static char s_node_flag[100], s_feed_flag[100], s_replay_flag[100];

extern char **environ;

/* What one run of the CLI gave. */
typedef struct {
    int rc;
    long ms;
    char *out, *err;
    char first_err[512]; /* the first line of stderr */
} s_res_t;

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t r = fread(b, 1, (size_t)n, f);
    b[r] = '\0';
    fclose(f);
    return b;
}

static long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs argv with input (may be NULL) on stdin; fills r (free with s_free). */
static void s_run(const char *const *argv, const char *input, s_res_t *r)
{
    const char *in = "it-cli_edges-in", *out = "it-cli_edges-out", *err = "it-cli_edges-err";
    FILE *f = fopen(in, "wb");
    if (input) fputs(input, f);
    fclose(f);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in, O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    long t0 = s_ms();
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st = 0;
    for (int i = 0; i < 600 && waitpid(pid, &st, WNOHANG) == 0; i++) {
        usleep(50 * 1000);
        if (i == 599) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
        }
    }
    r->ms = s_ms() - t0;
    r->rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    r->out = s_slurp(out);
    r->err = s_slurp(err);
    snprintf(r->first_err, sizeof(r->first_err), "%.*s", (int)strcspn(r->err, "\n"), r->err);
}

static void s_free(s_res_t *r)
{
    free(r->out);
    free(r->err);
}

static int s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    return n;
}

/* Fails unless r exited with rc and its first stderr line holds want. */
static void s_expect(const s_res_t *r, int rc, const char *want, const char *what)
{
    if (r->rc != rc || !strstr(r->first_err, want))
        fail_msg("%s: exit %d (want %d), first line of stderr '%s' (want '%s'); stdout '%s'", what, r->rc, rc,
                 r->first_err, want, r->out);
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "cli_edges", S_BASE);
    th_broker_start(&s_t, NULL);
    char http[64];
    snprintf(http, sizeof(http), "--http-port=%d", S_HTTP_PORT);
    const char *extra[] = {http, "--max-frame=4096", NULL};
    th_node_spawn(&s_t, 0, "kr-busan", NULL, NULL, extra);
    snprintf(s_node_flag, sizeof(s_node_flag), "--node=%s", s_t.node_submit[0]);
    snprintf(s_feed_flag, sizeof(s_feed_flag), "--feed=%s", s_t.feed);
    snprintf(s_replay_flag, sizeof(s_replay_flag), "--replay=%s", s_t.replay);
    if (s_t.trust) { /* the CLI reaches a broker run with keys as the harness's member */
        setenv("FEDBUS_KEYS", th_member(&s_t, "th-probe")->file, 1);
        setenv("FEDBUS_BROKER_KEY", s_t.broker_keys.curve_public, 1);
    }
    setenv("NO_COLOR", "", 1);
    /* The node is up when its HTTP health answers. */
    char body[2048];
    for (int i = 0; i < 100 && th_http(S_HTTP_PORT, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body)) != 200; i++)
        usleep(100 * 1000);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

#define S_EVENT_BODY(title)                                                                                   \
    "\"event\":{\"kind\":\"forum\",\"title\":{\"ko\":\"" title "\",\"en\":\"" title                             \
    "\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}"
#define S_EVENT(title) "{" S_EVENT_BODY(title) "}"

static void test_nothing_listening_fails_within_3s_and_says_what_to_do(void **state)
{
    (void)state;
    s_res_t r;
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", "--node=" S_NOTHING, "event.kr-busan.forum", S_EVENT("x"), NULL};
    s_run(pub, NULL, &r);
    s_expect(&r, 1, "no fedbus-node answers at " S_NOTHING, "publish to nothing");
    assert_non_null(strstr(r.first_err, "is it running? see --node"));
    assert_true(r.ms <= 3000);
    s_free(&r);
    const char *rep[] = {FEDBUS_CLI_BIN, "replay", "--replay=" S_NOTHING, NULL};
    s_run(rep, NULL, &r);
    s_expect(&r, 1, "no fedbus-broker answers at " S_NOTHING, "replay to nothing");
    assert_true(r.ms <= 3000);
    s_free(&r);
}

static void test_host_port_without_tcp_is_taken_as_tcp(void **state)
{
    (void)state;
    char node[100];
    snprintf(node, sizeof(node), "--node=%.60s", s_t.node_submit[0] + strlen("tcp://"));
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", node, "event.kr-busan.forum", S_EVENT("host:port"), NULL};
    s_res_t r;
    s_run(pub, NULL, &r);
    if (r.rc != 0) fail_msg("exit %d: %s", r.rc, r.err);
    assert_int_equal(s_count(r.out, "accepted global_seq="), 1);
    s_free(&r);
}

static void test_wrong_endpoints_are_named_within_3s(void **state)
{
    (void)state;
    s_res_t r;
    char node[100], feed[100], http_node[100], xpub_ep[64], xpub_replay[100];
    /* publish to the broker's ingest: said to be a broker's, not a node's */
    snprintf(node, sizeof(node), "--node=%s", s_t.ingest);
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", node, "event.kr-busan.forum", S_EVENT("ingest"), NULL};
    s_run(pub, NULL, &r);
    s_expect(&r, 2, "broker's", "publish to the ingest");
    assert_non_null(strstr(r.first_err, "not a node's submit socket"));
    assert_true(r.ms <= 3000);
    s_free(&r);
    /* publish to the node's HTTP port: not ZeroMQ */
    snprintf(http_node, sizeof(http_node), "--node=127.0.0.1:%d", S_HTTP_PORT);
    const char *pub_http[] = {FEDBUS_CLI_BIN, "publish", http_node, "event.kr-busan.forum", S_EVENT("http"), NULL};
    s_run(pub_http, NULL, &r);
    s_expect(&r, 2, "answers, but not as ZeroMQ", "publish to the HTTP port");
    s_free(&r);
    /* tail at a node's submit socket: not a feed, said at once (not silent forever) */
    snprintf(feed, sizeof(feed), "--feed=%s", s_t.node_submit[0]);
    const char *tail[] = {FEDBUS_CLI_BIN, "tail", feed, "cfp", NULL};
    s_run(tail, NULL, &r);
    s_expect(&r, 2, "is not a feed", "tail at a submit socket");
    assert_true(r.ms <= 3000);
    s_free(&r);
    /* replay at a feed (an XPUB of the test's own) */
    snprintf(xpub_ep, sizeof(xpub_ep), "tcp://127.0.0.1:%d", S_BASE + 40);
    void *xpub = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_XPUB, .endpoint = xpub_ep, .bind = 1});
    assert_non_null(xpub);
    snprintf(xpub_replay, sizeof(xpub_replay), "--replay=%s", xpub_ep);
    const char *rep[] = {FEDBUS_CLI_BIN, "replay", xpub_replay, NULL};
    s_run(rep, NULL, &r);
    s_expect(&r, 2, "is a broker's feed, not a broker's replay endpoint", "replay at a feed");
    assert_true(r.ms <= 3000);
    s_free(&r);
    zmq_close(xpub);
}

/* Waits up to ms for a line of path holding needle; returns how long it took (ms), or -1. */
static long s_wait_line(const char *path, const char *needle, long ms)
{
    long t0 = s_ms();
    while (th_count_lines(path, needle) < 1) {
        if (s_ms() - t0 > ms) return -1;
        usleep(50 * 1000);
    }
    return s_ms() - t0;
}

static void test_tail_says_when_subscribed_and_warns_while_the_broker_is_away(void **state)
{
    (void)state;
    /* th_spawn() appends: each run's log starts empty */
    const char *away = "it-cli_edges-tail-away.log", *ok_log = "it-cli_edges-tail-ok.log";
    unlink(away);
    unlink(ok_log);
    const char *argv[] = {FEDBUS_CLI_BIN, "tail", "--feed=" S_NOTHING, "cfp", NULL};
    pid_t pid = th_spawn(argv, away);
    long ms = s_wait_line(away, "fedbus tail: warning: no fedbus-broker answers at " S_NOTHING, 3000);
    usleep(1500 * 1000); /* it goes on trying, without saying so again every second */
    th_stop_pid(pid, SIGTERM);
    if (ms < 0) fail_msg("no warning within 3 s");
    assert_int_equal(th_count_lines(away, "warning: no fedbus-broker answers at " S_NOTHING), 1);
    assert_int_equal(th_count_lines(away, "subscribed"), 0);

    const char *ok[] = {FEDBUS_CLI_BIN, "tail", s_feed_flag, s_replay_flag, "cfp", NULL};
    pid = th_spawn(ok, ok_log);
    ms = s_wait_line(ok_log, "fedbus tail: subscribed to cfp at ", 3000);
    th_stop_pid(pid, SIGTERM);
    if (ms < 0) fail_msg("no 'subscribed' line within 3 s");
    assert_int_equal(th_count_lines(ok_log, "warning"), 0);
}

/* With CURVE keys, what a handshake tells: the broker refuses the member's
 * key, the broker key given is not the broker's, the socket is of the other
 * kind, each said on the first line within 3 s (not silence, not a time-out). */
static void test_with_keys_a_refused_member_a_wrong_broker_key_and_the_wrong_socket_are_told_apart(void **state)
{
    (void)state;
    if (!s_t.trust) skip();
    th_keys_t stranger;
    th_keys_make(&s_t, "cli-stranger", &stranger); /* made, never registered */
    char keys[400], bkey[100], bkey_file[400], at_replay[300], at_feed[300];
    snprintf(keys, sizeof(keys), "--keys=%s", stranger.file);
    snprintf(bkey, sizeof(bkey), "--broker-key=%s", th_member(&s_t, "kr-busan")->curve_public);
    snprintf(bkey_file, sizeof(bkey_file), "--broker-key=%s", th_member(&s_t, "kr-busan")->pub_file);
    snprintf(at_replay, sizeof(at_replay), "--feed=%s", s_t.replay);
    snprintf(at_feed, sizeof(at_feed), "--replay=%s", s_t.feed);
    const struct {
        const char *argv[8];
        int rc;
        const char *first;
    } cases[] = {
        {{FEDBUS_CLI_BIN, "replay", s_replay_flag, keys, NULL}, 1,
         "refuses the key of member cli-stranger (CURVE handshake refused, ZAP status 400)"},
        {{FEDBUS_CLI_BIN, "tail", s_feed_flag, keys, "cfp", NULL}, 1, "refuses the key of member cli-stranger"},
        {{FEDBUS_CLI_BIN, "replay", s_replay_flag, bkey, NULL}, 1,
         "dropped the CURVE handshake: the broker key given (--broker-key, FEDBUS_BROKER_KEY) is not the public key"},
        {{FEDBUS_CLI_BIN, "tail", s_feed_flag, bkey, "cfp", NULL}, 1, "dropped the CURVE handshake"},
        {{FEDBUS_CLI_BIN, "replay", s_replay_flag, bkey_file, "--limit=1", NULL}, 1,
         "dropped the CURVE handshake: the broker key given"},
        {{FEDBUS_CLI_BIN, "tail", at_replay, "cfp", NULL}, 2,
         "is a broker's ingest or replay endpoint (a ROUTER), not a broker's feed"},
        {{FEDBUS_CLI_BIN, "replay", at_feed, NULL}, 2, "is a broker's feed, not a broker's replay endpoint"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_res_t r;
        char what[600];
        snprintf(what, sizeof(what), "case %zu (%s %s)", i, cases[i].argv[1], cases[i].argv[3] ? cases[i].argv[3] : "");
        s_run(cases[i].argv, NULL, &r);
        snprintf(what + strlen(what), sizeof(what) - strlen(what), ", %ld ms", r.ms);
        s_expect(&r, cases[i].rc, cases[i].first, what);
        if (r.ms > 3000) fail_msg("%s: %ld ms", what, r.ms);
        s_free(&r);
    }
    /* nothing listening, with keys: said at once too (replay stops; tail warns and goes on) */
    const char *rep[] = {FEDBUS_CLI_BIN, "replay", "--replay=" S_NOTHING, NULL};
    s_res_t r;
    s_run(rep, NULL, &r);
    s_expect(&r, 1, "no fedbus-broker answers at " S_NOTHING " (connection refused)", "replay to nothing, with keys");
    assert_true(r.ms <= 3000);
    s_free(&r);
}

static void test_inline_dash_m_and_stdin_json_lines_publish(void **state)
{
    (void)state;
    s_res_t r;
    const char *m[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "-t", "event.kr-busan.forum", "-m", S_EVENT("dash-m"), NULL};
    s_run(m, NULL, &r);
    if (r.rc != 0) fail_msg("-m: exit %d: %s", r.rc, r.err);
    assert_int_equal(s_count(r.out, "accepted "), 1);
    s_free(&r);
    char input[2048];
    snprintf(input, sizeof(input), "{\"topic\":\"event.kr-busan.forum\",%s\n{\"topic\":\"event.kr-busan.forum\",%s\n",
             S_EVENT("line one") + 1, S_EVENT("line two") + 1);
    const char *in[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "-", NULL};
    s_run(in, input, &r);
    if (r.rc != 0) fail_msg("stdin: exit %d: %s", r.rc, r.err);
    assert_int_equal(s_count(r.out, "accepted "), 2);
    assert_non_null(strstr(r.out, " -:2\n"));
    s_free(&r);
}

/* The messages stored so far (by SQL). */
static long long s_stored(void)
{
    return th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages");
}

static void test_an_array_with_one_bad_item_sends_nothing_cli_and_http(void **state)
{
    (void)state;
    long long before = s_stored();
    char input[4096];
    snprintf(input, sizeof(input), "[{\"topic\":\"event.kr-busan.forum\",%s,\n {\"topic\":\"event.kr-busan.forum\","
             "\"event\":{\"kind\":\"forum\"}},\n {\"topic\":\"event.kr-busan.forum\",%s]",
             S_EVENT("array one") + 1, S_EVENT("array three") + 1);
    const char *in[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "-", NULL};
    s_res_t r;
    s_run(in, input, &r);
    s_expect(&r, 1, "-[1]: MISSING_FIELD", "array with a bad item");
    assert_int_equal(s_count(r.out, "invalid MISSING_FIELD"), 1);
    assert_non_null(strstr(r.err, "nothing was sent"));
    s_free(&r);
    char body[8192];
    int st = th_http(S_HTTP_PORT, "POST", "/v1/publish", input, NULL, 0, body, sizeof(body));
    assert_int_equal(st, 422);
    assert_int_equal(s_count(body, "\"status\":\"not_sent\""), 2);
    assert_int_equal(s_count(body, "\"message_id\":\""), 3);
    assert_int_equal(s_stored(), before);
}

static void test_replay_output_published_again_and_seeds_twice_store_nothing_new(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/seeds/messages/kr-busan", FEDBUS_SOURCE_DIR);
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, dir, NULL};
    s_res_t r;
    s_run(pub, NULL, &r);
    if (r.rc != 0) fail_msg("seeds: exit %d: %s\n%s", r.rc, r.out, r.err);
    int n = s_count(r.out, "\n");
    s_free(&r);
    long long stored = s_stored();
    s_run(pub, NULL, &r);
    if (r.rc != 0) fail_msg("seeds again: exit %d: %s\n%s", r.rc, r.out, r.err);
    assert_int_equal(s_count(r.out, "duplicate global_seq="), n);
    s_free(&r);
    const char *rep[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--format=json", "event.kr-busan", NULL};
    s_run(rep, NULL, &r);
    assert_int_equal(r.rc, 0);
    char *json = r.out;
    r.out = NULL;
    int lines = s_count(json, "\n");
    s_free(&r);
    const char *again[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "-", NULL};
    s_run(again, json, &r);
    free(json);
    if (r.rc != 0) fail_msg("replay | publish -: exit %d: %s", r.rc, r.err);
    assert_int_equal(s_count(r.out, "duplicate global_seq="), lines);
    s_free(&r);
    assert_int_equal(s_stored(), stored);
}

static void test_error_text_points_at_the_mistake(void **state)
{
    (void)state;
    s_res_t r;
    const char *path = "it-cli_edges-comma.json";
    FILE *f = fopen(path, "w");
    fputs("{\n  \"topic\": \"event.kr-busan.forum\",\n  \"event\": {\"kind\": \"forum\"},\n}\n", f);
    fclose(f);
    const char *comma[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, path, NULL};
    s_run(comma, NULL, &r);
    s_expect(&r, 1, "JSON line 3, column 29: a trailing comma", "trailing comma");
    s_free(&r);
    const char *gala = "{\"event\":{\"kind\":\"gala\",\"title\":{\"en\":\"g\"},\"starts_at\":\"2026-06-01T15:00:00Z\"}}";
    const char *en[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "event.kr-busan.forum", gala, NULL};
    s_run(en, NULL, &r);
    s_expect(&r, 1, "unknown enum value 'gala'; one of: forum, seminar", "unknown enum");
    s_free(&r);
    const char *typo[] = {FEDBUS_CLI_BIN, "publish", "--nod=x", "f.json", NULL};
    s_run(typo, NULL, &r);
    s_expect(&r, 2, "unknown option --nod: did you mean --node?", "mistyped option");
    s_free(&r);
    /* every program and command suggests the nearest option, the daemons and status too */
    const struct {
        const char *argv[4], *first;
    } typos[] = {
        {{FEDBUS_NODE_BIN, "--membr=x", NULL}, "fedbus-node: unknown option --membr: did you mean --member?"},
        {{FEDBUS_BROKER_BIN, "--ingets=x", NULL}, "fedbus-broker: unknown option --ingets: did you mean --ingest?"},
        {{FEDBUS_CLI_BIN, "status", "--brker-http=x", NULL}, "unknown option --brker-http: did you mean --broker-http?"},
    };
    for (size_t i = 0; i < sizeof(typos) / sizeof(typos[0]); i++) {
        s_run(typos[i].argv, NULL, &r);
        s_expect(&r, 2, typos[i].first, typos[i].argv[1]);
        s_free(&r);
    }
    const char *help[] = {FEDBUS_CLI_BIN, "help", "publish", NULL};
    s_run(help, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: fedbus publish"));
    s_free(&r);
    const char *help_sub[] = {FEDBUS_CLI_BIN, "help", "member", "list", NULL};
    s_run(help_sub, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_non_null(strstr(r.out, "usage: fedbus member list"));
    s_free(&r);
    const char *empty_dir = "it-cli_edges-empty";
    mkdir(empty_dir, 0700);
    const char *empty[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, empty_dir, NULL};
    s_run(empty, NULL, &r);
    s_expect(&r, 1, "warning: it-cli_edges-empty: no *.json files", "empty directory");
    s_free(&r);
    const char *progs[] = {FEDBUS_CLI_BIN, FEDBUS_BROKER_BIN, FEDBUS_NODE_BIN};
    const char *names[] = {"fedbus ", "fedbus-broker ", "fedbus-node "};
    for (int i = 0; i < 3; i++) {
        const char *v[] = {progs[i], "--version", NULL};
        s_run(v, NULL, &r);
        assert_int_equal(r.rc, 0);
        assert_int_equal(strncmp(r.out, names[i], strlen(names[i])), 0);
        s_free(&r);
    }
    /* 413 names the limit in bytes (the node runs with max-frame 4096) */
    char *big = malloc(6000), body[2048];
    snprintf(big, 6000, "{\"topic\":\"event.kr-busan.forum\",\"pad\":\"%05000d\"}", 0);
    assert_int_equal(th_http(S_HTTP_PORT, "POST", "/v1/publish", big, NULL, 0, body, sizeof(body)), 413);
    assert_non_null(strstr(body, "4096 bytes"));
    free(big);
}

static void test_admin_queries_until_relative_times_count_and_tail_since(void **state)
{
    (void)state;
    s_res_t r;
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "event.kr-busan.forum", S_EVENT("count me"), NULL};
    s_run(pub, NULL, &r);
    assert_int_equal(r.rc, 0);
    s_free(&r);
    long long busan = th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-busan'");
    char want[32];
    snprintf(want, sizeof(want), "%lld\n", busan);
    const char *today[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--since=today", "--count", "*.kr-busan", NULL};
    s_run(today, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, want);
    s_free(&r);
    const char *hour[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--since=1h", "--count", NULL};
    s_run(hour, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_true(atoll(r.out) >= busan);
    s_free(&r);
    const char *until[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--until=2h", "--count", NULL};
    s_run(until, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_string_equal(r.out, "0\n");
    s_free(&r);
    const char *bad[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--since=last tuesday", NULL};
    s_run(bad, NULL, &r);
    s_expect(&r, 2, "--since: 'last tuesday' is not a time", "bad --since");
    s_free(&r);
    const char *tail[] = {FEDBUS_CLI_BIN, "tail", s_feed_flag, s_replay_flag, "--since=1h", "--count=2", "event", NULL};
    s_run(tail, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(s_count(r.out, "\n"), 2);
    s_free(&r);
}

static void test_text_json_and_pretty_output(void **state)
{
    (void)state;
    s_res_t r;
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "event.kr-busan.forum", S_EVENT("Readable"), NULL};
    s_run(pub, NULL, &r);
    assert_int_equal(r.rc, 0);
    s_free(&r);
    const char *text[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--format=text", "--lang=en", "event.kr-busan", NULL};
    s_run(text, NULL, &r);
    assert_int_equal(r.rc, 0);
    const char *line = strstr(r.out, "Readable");
    assert_non_null(line);
    assert_non_null(strstr(r.out, "kr-busan"));
    assert_non_null(strstr(r.out, "event.forum"));
    assert_null(strchr(r.out, '\033')); /* a pipe: never colour */
    s_free(&r);
    const char *pretty[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--pretty", "--limit=1", NULL};
    s_run(pretty, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_true(s_count(r.out, "\n") > 3);
    assert_non_null(strstr(r.out, "\n  \"topic\": "));
    s_free(&r);
}

/* Runs argv with stdout and stderr on a terminal of its own (a pty) and
 * returns what it wrote there (malloc'd). */
static char *s_run_tty(const char *const *argv)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, ptsname(m), O_RDWR | O_NOCTTY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    int exited = 0, st;
    for (int i = 0; i < 200; i++) {
        struct pollfd p = {.fd = m, .events = POLLIN};
        ssize_t n = poll(&p, 1, 100) > 0 ? read(m, out + len, cap - 1 - len) : 0;
        if (n > 0) len += (size_t)n;
        else if (exited || n < 0) break; /* drained; EIO once the terminal has no writer */
        if (!exited && waitpid(pid, &st, WNOHANG) == pid) exited = 1;
    }
    if (!exited) kill(pid, SIGKILL), waitpid(pid, &st, 0);
    close(m);
    out[len] = '\0';
    return out;
}

static void test_text_is_coloured_on_a_terminal_unless_no_color(void **state)
{
    (void)state;
    const char *text[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--format=text", "--limit=3", NULL};
    unsetenv("NO_COLOR");
    char *out = s_run_tty(text);
    if (!strstr(out, "\033[")) fail_msg("no colour on a terminal: '%.300s'", out);
    free(out);
    setenv("NO_COLOR", "1", 1);
    out = s_run_tty(text);
    if (strstr(out, "\033[")) fail_msg("colour with NO_COLOR=1: '%.300s'", out);
    assert_non_null(strstr(out, "kr-busan"));
    free(out);
}

static void test_reject_log_lines_name_the_sender_and_the_message_id(void **state)
{
    (void)state;
    /* a call's topic over an event */
    const char *bad = "{\"topic\":\"cfp.kr-busan.bio\"," S_EVENT_BODY("kind mismatch") "}";
    const char *ids[] = {"0190f0e0-0000-7000-8000-00000000abcd", "0190f0e0-0000-7000-8000-00000000abce"};
    fb_endpoint_opts_t e = th_endpoint(&s_t, s_t.ingest, "kr-busan");
    fb_publisher_t *pubs[] = {fb_publisher_open(&e), fb_publisher_new(s_t.node_submit[0])};
    const char *logs[] = {s_t.broker_log, s_t.node_log[0]};
    const char *who[] = {"peer ", "(client "};
    for (int i = 0; i < 2; i++) {
        size_t len;
        /* the broker refuses the kind; the node, before that, another member's origin */
        uint8_t *frame = th_frame(bad, i == 0 ? "kr-busan" : "kr-seoul", 1, ids[i], &len);
        fb_ack_t ack;
        assert_non_null(pubs[i]);
        assert_int_equal(fb_publisher_send_raw(pubs[i], frame, len, &ack, 5000), FB_EREJECTED);
        free(frame);
        fb_publisher_destroy(&pubs[i]);
        char needle[128];
        snprintf(needle, sizeof(needle), "message_id %s)", ids[i]);
        usleep(200 * 1000);
        if (th_count_lines(logs[i], needle) != 1) fail_msg("%s: no reject line ending '%s'", logs[i], needle);
        assert_true(th_count_lines(logs[i], who[i]) >= 1);
    }
    if (s_t.trust) assert_true(th_count_lines(s_t.broker_log, "(member kr-busan, peer ") >= 1);
}

static void test_a_plaintext_brokers_ingest_is_named_and_replay_at_it_says_so(void **state)
{
    (void)state;
    th_t plain;
    /* plaintext: no keys, for the CLI nor for the broker (which reads FEDBUS_KEYS too) */
    unsetenv("FEDBUS_KEYS");
    unsetenv("FEDBUS_BROKER_KEY");
    th_init(&plain, "cli_edges_plain", S_BASE + 50);
    static const char *const extra[] = {"--insecure-plaintext", NULL};
    th_broker_start(&plain, extra);
    char node[100], replay[100];
    snprintf(node, sizeof(node), "--node=%s", plain.ingest);
    snprintf(replay, sizeof(replay), "--replay=%s", plain.ingest);
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", node, "event.kr-busan.forum", S_EVENT("to the ingest"), NULL};
    s_res_t r;
    s_run(pub, NULL, &r);
    s_expect(&r, 2, "is a broker's ingest endpoint, not a node's submit socket", "publish to a plaintext ingest");
    assert_int_equal(th_sql_int(&plain, "SELECT count(*) FROM fedbus_messages"), 0);
    s_free(&r);
    const char *rep[] = {FEDBUS_CLI_BIN, "replay", replay, "--timeout-ms=2000", NULL};
    s_run(rep, NULL, &r);
    if (r.rc != 1 || (!strstr(r.err, "not as a broker's replay endpoint") && !strstr(r.err, "timed out")))
        fail_msg("replay at the ingest: exit %d: %s", r.rc, r.err);
    s_free(&r);
    if (s_t.trust) {
        setenv("FEDBUS_KEYS", th_member(&s_t, "th-probe")->file, 1);
        setenv("FEDBUS_BROKER_KEY", s_t.broker_keys.curve_public, 1);
        /* keys given, a plaintext broker: said, not a silent wait */
        snprintf(replay, sizeof(replay), "--replay=%s", plain.replay);
        const char *keyed[] = {FEDBUS_CLI_BIN, "replay", replay, NULL};
        s_run(keyed, NULL, &r);
        s_expect(&r, 1, "speaks plaintext (a broker run with insecure-plaintext, or not a broker), but CURVE keys",
                 "replay with keys at a plaintext broker");
        assert_true(r.ms <= 3000);
        s_free(&r);
    }
    th_cleanup(&plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nothing_listening_fails_within_3s_and_says_what_to_do),
        cmocka_unit_test(test_host_port_without_tcp_is_taken_as_tcp),
        cmocka_unit_test(test_wrong_endpoints_are_named_within_3s),
        cmocka_unit_test(test_tail_says_when_subscribed_and_warns_while_the_broker_is_away),
        cmocka_unit_test(test_with_keys_a_refused_member_a_wrong_broker_key_and_the_wrong_socket_are_told_apart),
        cmocka_unit_test(test_inline_dash_m_and_stdin_json_lines_publish),
        cmocka_unit_test(test_an_array_with_one_bad_item_sends_nothing_cli_and_http),
        cmocka_unit_test(test_replay_output_published_again_and_seeds_twice_store_nothing_new),
        cmocka_unit_test(test_error_text_points_at_the_mistake),
        cmocka_unit_test(test_admin_queries_until_relative_times_count_and_tail_since),
        cmocka_unit_test(test_text_json_and_pretty_output),
        cmocka_unit_test(test_text_is_coloured_on_a_terminal_unless_no_color),
        cmocka_unit_test(test_reject_log_lines_name_the_sender_and_the_message_id),
        cmocka_unit_test(test_a_plaintext_brokers_ingest_is_named_and_replay_at_it_says_so),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
