/* it_cli.c — the command line and the node's HTTP endpoint, as an agency uses them. */
#include "harness.h"

#include "fb_crypto.h"
#include "fb_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <spawn.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <libical/ical.h>

static th_t s_t;
static char s_node_flag[100], s_feed_flag[100], s_replay_flag[100];

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "cli", 21600);
    th_broker_start(&s_t, NULL);
    th_node_start(&s_t, "kr-busan", NULL);
    snprintf(s_node_flag, sizeof(s_node_flag), "--node=%s", s_t.node_submit[0]);
    snprintf(s_feed_flag, sizeof(s_feed_flag), "--feed=%s", s_t.feed);
    snprintf(s_replay_flag, sizeof(s_replay_flag), "--replay=%s", s_t.replay);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

static int s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p++) n++;
    return n;
}

static void test_help_and_usage_errors_have_clear_exit_codes(void **state)
{
    (void)state;
    struct {
        const char *argv[6];
        int rc;
    } cases[] = {
        {{FEDBUS_CLI_BIN, "--help", NULL}, 0},
        {{FEDBUS_CLI_BIN, NULL}, 2},
        {{FEDBUS_CLI_BIN, "frobnicate", NULL}, 2},
        {{FEDBUS_CLI_BIN, "publish", "--help", NULL}, 0},
        {{FEDBUS_CLI_BIN, "publish", NULL}, 2},
        {{FEDBUS_CLI_BIN, "tail", NULL}, 2},
        {{FEDBUS_CLI_BIN, "tail", "CFP", NULL}, 2},
        {{FEDBUS_CLI_BIN, "tail", "cfp", "--count=x", NULL}, 2},
        {{FEDBUS_CLI_BIN, "replay", "--since=someday", NULL}, 2},
        {{FEDBUS_CLI_BIN, "replay", "--bogus", NULL}, 2},
        {{FEDBUS_CLI_BIN, "replay", "--format=xml", NULL}, 2},
        {{FEDBUS_CLI_BIN, "tail", "cfp", "--format=ics", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--help", NULL}, 0},
        {{FEDBUS_BROKER_BIN, "--max-frame=abc", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "stray", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--log-level=loud", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--heads-interval=-1", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--heads-interval=3600001", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--commit-linger=-1", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--commit-linger=10001", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--commit-min=0", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--commit-interval=-1", NULL}, 2},
        {{FEDBUS_BROKER_BIN, "--commit-interval=1000001", NULL}, 2},
        {{FEDBUS_NODE_BIN, "--help", NULL}, 0},
        {{FEDBUS_NODE_BIN, NULL}, 2},
        {{FEDBUS_NODE_BIN, "--member=Not_A_Member", NULL}, 2},
        {{FEDBUS_NODE_BIN, "--member=kr-busan", "--http-port=70000", NULL}, 2},
        {{FEDBUS_NODE_BIN, "--member=kr-busan", "--inflight-frames=0", NULL}, 2},
        {{FEDBUS_NODE_BIN, "--member=kr-busan", "--inflight-frames=65", NULL}, 2},
        {{FEDBUS_NODE_BIN, "--member=kr-busan", "--config=/nonexistent.ini", NULL}, 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        int rc = th_run(cases[i].argv, &out, 10);
        if (rc != cases[i].rc)
            fail_msg("%s %s: exit %d, want %d", cases[i].argv[0], cases[i].argv[1] ? cases[i].argv[1] : "",
                     rc, cases[i].rc);
        if (cases[i].rc == 0) assert_non_null(strstr(out, "usage:"));
        free(out);
    }
}

static void test_publish_directory_then_replay_and_tail_history(void **state)
{
    (void)state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/seeds/messages/kr-busan", FEDBUS_SOURCE_DIR);
    const char *pub[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, dir, NULL};
    char *out = NULL;
    assert_int_equal(th_run(pub, &out, 60), 0);
    int accepted = s_count(out, "accepted global_seq=");
    assert_true(accepted >= 6);
    free(out);

    const char *rep[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "*.kr-busan", NULL};
    assert_int_equal(th_run(rep, &out, 30), 0);
    assert_int_equal(s_count(out, "\"origin\":\"kr-busan\""), accepted);
    assert_int_equal(s_count(out, "\n"), accepted);
    free(out);

    const char *cfp[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "cfp", NULL};
    assert_int_equal(th_run(cfp, &out, 30), 0);
    int cfps = s_count(out, "\n");
    assert_int_equal(s_count(out, "\"topic\":\"cfp."), cfps);
    assert_true(cfps >= 1 && cfps < accepted);
    free(out);

    const char *tail[] = {FEDBUS_CLI_BIN, "tail", s_feed_flag, s_replay_flag, "--from-seq=1", "--count=3",
                          "event.kr-busan", NULL};
    assert_int_equal(th_run(tail, &out, 30), 0);
    assert_int_equal(s_count(out, "\"topic\":\"event.kr-busan."), 3);
    free(out);
}

/* The seeds of kr-busan (published by the test before): its events and
 * calls for proposals, and nothing else, make one calendar. */
static void test_replay_as_a_calendar_holds_every_event_and_call_and_nothing_else(void **state)
{
    (void)state;
    char *out = NULL;
    const char *ev[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "event.kr-busan", "cfp.kr-busan", NULL};
    assert_int_equal(th_run(ev, &out, 30), 0);
    int items = s_count(out, "\n"), cfps = s_count(out, "\"topic\":\"cfp.");
    free(out);
    const char *all[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "*.kr-busan", "--count", NULL};
    assert_int_equal(th_run(all, &out, 30), 0);
    int messages = atoi(out);
    free(out);
    assert_true(cfps >= 1 && items > cfps && messages > items); /* researcher updates too */

    const char *ics[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--format=ics", "--lang=en", "*.kr-busan", NULL};
    assert_int_equal(th_run(ics, &out, 30), 0);
    assert_int_equal(strncmp(out, "BEGIN:VCALENDAR\r\n", 17), 0);
    size_t n = strlen(out);
    assert_true(n > 15 && strcmp(out + n - 15, "END:VCALENDAR\r\n") == 0);
    icalcomponent *cal = icalparser_parse_string(out);
    assert_non_null(cal);
    assert_int_equal(icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT), items);
    int deadlines = 0;
    for (icalcomponent *e = icalcomponent_get_first_component(cal, ICAL_VEVENT_COMPONENT); e;
         e = icalcomponent_get_next_component(cal, ICAL_VEVENT_COMPONENT)) {
        const char *uid = icalcomponent_get_uid(e);
        assert_non_null(uid);
        assert_int_equal(strlen(uid), 36 + strlen("@fedbus"));
        assert_false(icaltime_is_null_time(icalcomponent_get_dtstart(e)));
        assert_true(icaltime_is_utc(icalcomponent_get_dtstart(e)));
        deadlines += strncmp(icalcomponent_get_summary(e), "Deadline: ", 10) == 0;
    }
    assert_int_equal(deadlines, cfps);
    icalcomponent_free(cal);
    free(out);

    /* The same history as a JSON Feed: every message an item, researcher updates too. */
    const char *jf[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "--format=jsonfeed", "*.kr-busan", NULL};
    assert_int_equal(th_run(jf, &out, 30), 0);
    json_error_t e;
    json_t *feed = json_loads(out, JSON_REJECT_DUPLICATES, &e);
    if (!feed) fail_msg("replay --format=jsonfeed is not JSON (%s): %.300s", e.text, out);
    assert_string_equal(json_string_value(json_object_get(feed, "version")), "https://jsonfeed.org/version/1.1");
    assert_int_equal(json_array_size(json_object_get(feed, "items")), messages);
    json_decref(feed);
    free(out);
    const char *tailjf[] = {FEDBUS_CLI_BIN, "tail", "cfp", "--format=jsonfeed", NULL};
    assert_int_equal(th_run(tailjf, &out, 10), 2);
    free(out);
}

/* One calendar request, made on a thread of its own. */
typedef struct {
    int port, status;
    char head[2048], body[2048];
} s_waiting_t;

static void *s_wait_calendar(void *arg)
{
    s_waiting_t *w = arg;
    w->status = th_http(w->port, "GET", "/v1/calendar.ics?token=cal-token-0123456789", NULL, w->head, sizeof(w->head),
                        w->body, sizeof(w->body));
    return NULL;
}

/* A node's GET /v1/calendar.ics and /v1/feed.json: the same calendar as
 * replay --format=ics, and a feed, for applications that subscribe to a
 * URL; behind the node's token (the header, or ?token= since such an
 * application sends no header). */
static void test_node_serves_the_calendar_and_the_feed_at_urls_behind_its_token(void **state)
{
    (void)state;
    char *out = NULL;
    const char *ev[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "event.kr-busan", "cfp.kr-busan", NULL};
    assert_int_equal(th_run(ev, &out, 30), 0);
    int items = s_count(out, "\n");
    free(out);
    assert_true(items >= 2);
    FILE *tf = fopen("it-cli-token", "w");
    assert_non_null(tf);
    fputs("cal-token-0123456789\n", tf);
    fclose(tf);
    assert_int_equal(chmod("it-cli-token", 0600), 0);
    char m[] = "--member=kr-daejeon", b[100], s[100], h[64], r[100], dir[200], d[220], keys[320], bkey[320];
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(s, sizeof(s), "--submit=tcp://127.0.0.1:%d", s_t.port_base + 34);
    int port = s_t.port_base + 35;
    snprintf(h, sizeof(h), "--http-port=%d", port);
    snprintf(r, sizeof(r), "--replay=%s", s_t.replay);
    snprintf(d, sizeof(d), "--state-dir=%s", th_state_dir(&s_t, "kr-daejeon", dir, sizeof(dir)));
    th_node_flags(&s_t, "kr-daejeon", keys, bkey);
    const char *argv[] = {FEDBUS_NODE_BIN, m, b, s, h, r, d, keys, bkey, "--http-token-file=it-cli-token", NULL};
    pid_t pid = th_spawn(argv, "it-cli-node-calendar.log");
    static char body[1 << 20];
    char head[2048];
    int st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = th_http(port, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body));
        if (st != 200) usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    /* No token, a wrong one: 401. */
    assert_int_equal(th_http(port, "GET", "/v1/calendar.ics", NULL, NULL, 0, body, sizeof(body)), 401);
    assert_int_equal(th_http(port, "GET", "/v1/calendar.ics?token=cal-token-0123456788", NULL, NULL, 0, body,
                             sizeof(body)),
                     401);
    /* Bad queries: 400, naming what is wrong. */
    assert_int_equal(th_http(port, "GET", "/v1/calendar.ics?token=cal-token-0123456789&patterns=CFP", NULL, NULL, 0,
                             body, sizeof(body)),
                     400);
    assert_non_null(strstr(body, "BAD_PATTERN"));
    assert_int_equal(th_http(port, "GET", "/v1/calendar.ics?token=cal-token-0123456789&days=0", NULL, NULL, 0, body,
                             sizeof(body)),
                     400);
    assert_int_equal(th_http(port, "GET", "/v1/calendar.ics?token=cal-token-0123456789&lang=fr", NULL, NULL, 0, body,
                             sizeof(body)),
                     400);
    /* The token in the URL, then in the header: the same calendar. */
    assert_int_equal(th_http(port, "GET",
                             "/v1/calendar.ics?token=cal-token-0123456789&patterns=*.kr-busan&lang=en&days=30", NULL,
                             head, sizeof(head), body, sizeof(body)),
                     200);
    assert_non_null(strstr(head, "text/calendar; charset=utf-8"));
    icalcomponent *cal = icalparser_parse_string(body);
    assert_non_null(cal);
    assert_int_equal(icalcomponent_count_components(cal, ICAL_VEVENT_COMPONENT), items);
    icalcomponent_free(cal);
    char *first = strdup(body);
    assert_non_null(first);
    assert_int_equal(th_http_with(port, "GET", "/v1/calendar.ics?patterns=event.kr-busan,cfp.kr-busan&lang=en",
                                  "Authorization: Bearer cal-token-0123456789", NULL, head, sizeof(head), body,
                                  sizeof(body)),
                     200);
    /* The same items; only the calendar's name (its patterns) differs. */
    assert_string_equal(strstr(first, "BEGIN:VEVENT"), strstr(body, "BEGIN:VEVENT"));
    free(first);
    /* The feed for readers: every message of kr-busan, researcher updates too. */
    const char *all[] = {FEDBUS_CLI_BIN, "replay", s_replay_flag, "*.kr-busan", "--count", NULL};
    assert_int_equal(th_run(all, &out, 30), 0);
    int messages = atoi(out);
    free(out);
    assert_int_equal(th_http(port, "GET", "/v1/feed.json?token=cal-token-0123456789&patterns=*.kr-busan", NULL, head,
                             sizeof(head), body, sizeof(body)),
                     200);
    assert_non_null(strstr(head, "application/feed+json"));
    json_t *feed = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(feed);
    assert_int_equal(json_array_size(json_object_get(feed, "items")), messages);
    json_decref(feed);
    assert_int_equal(th_http(port, "GET", "/v1/feed.json", NULL, NULL, 0, body, sizeof(body)), 401);
    /* The broker away: each waits for its replay (5 s) and is answered 503
     * with Retry-After; a fifth at the same time is turned away at once. */
    th_broker_stop(&s_t, SIGTERM);
    s_waiting_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (s_waiting_t){.port = port};
        assert_int_equal(pthread_create(&th[i], NULL, s_wait_calendar, &w[i]), 0);
    }
    usleep(1500 * 1000);
    int64_t t0 = fb_time_mono_us();
    assert_int_equal(th_http(port, "GET", "/v1/feed.json?token=cal-token-0123456789", NULL, head, sizeof(head), body,
                             sizeof(body)),
                     503);
    assert_true(fb_time_mono_us() - t0 < 2000000);
    assert_non_null(strstr(body, "\"BUSY\""));
    assert_non_null(strstr(head, "Retry-After"));
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].status, 503);
        assert_non_null(strstr(w[i].head, "Retry-After"));
        assert_non_null(strstr(w[i].body, "BROKER_UNAVAILABLE"));
    }
    th_broker_start(&s_t, NULL);
    assert_int_equal(th_stop_pid(pid, SIGTERM), 0);
}

static void test_publish_of_a_bad_file_is_reported_and_fails(void **state)
{
    (void)state;
    char path[] = "/tmp/fedbus-it-badXXXXXX";
    int fd = mkstemp(path);
    const char *bad = "{\"topic\":\"event.kr-busan.forum\",\"event\":{\"kind\":\"forum\"}}";
    assert_int_equal(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    const char *argv[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, path, NULL};
    char *out = NULL;
    assert_int_equal(th_run(argv, &out, 30), 1);
    assert_non_null(strstr(out, "invalid MISSING_FIELD")); /* checked before sending: nothing sent */
    free(out);
    const char *typo = "{\"topic\":\"event.kr-busan.forum\",\"evnt\":{}}";
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, typo, strlen(typo)), (ssize_t)strlen(typo));
    close(fd);
    assert_int_equal(th_run(argv, &out, 30), 1);
    free(out);
    unlink(path);
}

static void test_http_publish_and_health(void **state)
{
    (void)state;
    /* A node with HTTP on, started by hand. */
    char m[] = "--member=kr-seoul", b[100], s[100];
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(s, sizeof(s), "--submit=tcp://127.0.0.1:%d", s_t.port_base + 30);
    int port = s_t.port_base + 31;
    char h[64], dir[200], d[220];
    snprintf(h, sizeof(h), "--http-port=%d", port);
    snprintf(d, sizeof(d), "--state-dir=%s", th_state_dir(&s_t, "kr-seoul", dir, sizeof(dir)));
    char keys[320], bkey[320];
    th_node_flags(&s_t, "kr-seoul", keys, bkey);
    const char *argv[] = {FEDBUS_NODE_BIN, m, b, s, h, d, keys, bkey, NULL};
    pid_t pid = th_spawn(argv, "it-cli-node-http.log");
    char body[8192];
    int st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = th_http(port, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body));
        if (st != 200) usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    assert_non_null(strstr(body, "\"member\":\"kr-seoul\""));
    assert_non_null(strstr(body, "\"connected\":true"));
    /* 64 connections that send nothing do not shut the endpoint for others. */
    int idle[64];
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        idle[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(idle[i] >= 0 && connect(idle[i], (struct sockaddr *)&a, sizeof(a)) == 0);
    }
    usleep(200 * 1000);
    int64_t t0 = fb_time_mono_us();
    assert_int_equal(th_http(port, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body)), 200);
    assert_true(fb_time_mono_us() - t0 < 3000000);
    for (int i = 0; i < 64; i++) close(idle[i]);

    const char *good = "{\"topic\":\"event.kr-seoul.forum\",\"event\":{\"kind\":\"forum\","
                       "\"title\":{\"ko\":\"서울 학술포럼\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}";
    assert_int_equal(th_http(port, "POST", "/v1/publish", good, NULL, 0, body, sizeof(body)), 201);
    assert_non_null(strstr(body, "\"status\":\"accepted\""));
    assert_int_equal(th_http(port, "POST", "/v1/publish", "{not json", NULL, 0, body, sizeof(body)), 400);
    assert_int_equal(th_http(port, "POST", "/v1/publish",
                            "{\"topic\":\"event.kr-busan.forum\",\"event\":{\"kind\":\"forum\","
                            "\"title\":{\"en\":\"x\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}",
                            NULL, 0, body, sizeof(body)),
                     422);
    assert_non_null(strstr(body, "NAMESPACE"));
    char batch[1024];
    snprintf(batch, sizeof(batch), "[%s,%s]", good, good);
    /* An array is answered item by item, with 200 when every item is stored. */
    assert_int_equal(th_http(port, "POST", "/v1/publish", batch, NULL, 0, body, sizeof(body)), 200);
    assert_int_equal(s_count(body, "\"status\":\"accepted\""), 2);
    /* One go for the whole array (PublishBatch), a verdict per item in
     * order, and the worst one as the status. */
    char mixed[2048];
    snprintf(mixed, sizeof(mixed),
             "[%s,{\"topic\":\"event.kr-busan.forum\",\"event\":{\"kind\":\"forum\","
             "\"title\":{\"en\":\"x\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}},42,%s]",
             good, good);
    assert_int_equal(th_http(port, "POST", "/v1/publish", mixed, NULL, 0, body, sizeof(body)), 422);
    /* Checked whole first: one bad item and nothing is sent; each item has its verdict. */
    const char *a1 = strstr(body, "\"status\":\"not_sent\""), *r = strstr(body, "NAMESPACE"),
               *j = strstr(body, "INVALID_JSON");
    assert_non_null(a1);
    assert_non_null(r);
    assert_non_null(j);
    assert_true(a1 < r && r < j); /* in the order posted */
    assert_non_null(strstr(j, "\"status\":\"not_sent\"")); /* the last one, after them */
    assert_int_equal(th_http(port, "GET", "/nope", NULL, NULL, 0, body, sizeof(body)), 404);
    assert_int_equal(th_http(port, "DELETE", "/v1/publish", NULL, NULL, 0, body, sizeof(body)), 405);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-seoul'"), 3);
    assert_int_equal(th_stop_pid(pid, SIGTERM), 0);
}

static void test_http_publish_takes_json_in_utf8_only_and_names_the_type_it_expects(void **state)
{
    (void)state;
    char b[100], s[100], h[64], dir[200], d[220];
    snprintf(b, sizeof(b), "--broker=%s", s_t.ingest);
    snprintf(s, sizeof(s), "--submit=tcp://127.0.0.1:%d", s_t.port_base + 32);
    int port = s_t.port_base + 33;
    snprintf(h, sizeof(h), "--http-port=%d", port);
    snprintf(d, sizeof(d), "--state-dir=%s", th_state_dir(&s_t, "kr-daejeon", dir, sizeof(dir)));
    char keys[320], bkey[320];
    th_node_flags(&s_t, "kr-daejeon", keys, bkey);
    const char *argv[] = {FEDBUS_NODE_BIN, "--member=kr-daejeon", b, s, h, d, keys, bkey, NULL};
    pid_t pid = th_spawn(argv, "it-cli-node-http-type.log");
    char body[8192];
    int st = 0;
    for (int i = 0; i < 50 && st != 200; i++) {
        st = th_http(port, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body));
        if (st != 200) usleep(100 * 1000);
    }
    assert_int_equal(st, 200);
    const char *good = "{\"topic\":\"event.kr-daejeon.forum\",\"event\":{\"kind\":\"forum\","
                       "\"title\":{\"en\":\"typed\"},\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}";
    /* Refused, whatever the body: no type, another type, another charset. */
    const char *wrong[] = {NULL, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        st = th_http_typed(port, "POST", "/v1/publish", wrong[i], good, NULL, 0, body, sizeof(body));
        if (st != 415) fail_msg("Content-Type %s: %d, want 415: %s", wrong[i] ? wrong[i] : "(none)", st, body);
        assert_non_null(strstr(body, "\"reason\":\"UNSUPPORTED_MEDIA_TYPE\""));
        assert_non_null(strstr(body, "\"expected\":\"application/json\""));
        assert_non_null(strstr(body, "Content-Type must be application/json"));
    }
    assert_non_null(strstr(body, "got 'application/json; charset=latin1'"));
    /* Taken: JSON, in any case, with or without charset utf-8. */
    const char *right[] = {"application/json", "Application/JSON; charset=UTF-8", "application/json;charset=\"utf-8\""};
    for (size_t i = 0; i < sizeof(right) / sizeof(right[0]); i++) {
        st = th_http_typed(port, "POST", "/v1/publish", right[i], good, NULL, 0, body, sizeof(body));
        if (st != 201) fail_msg("Content-Type %s: %d, want 201: %s", right[i], st, body);
    }
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-daejeon'"), 3);
    assert_int_equal(th_stop_pid(pid, SIGTERM), 0);
}

/* Counts the messages replay hands over and keeps the last one's global_seq. */
static int s_take(const fb_message_t *msg, void *arg)
{
    uint64_t *seen = arg;
    seen[0]++;
    seen[1] = msg->global_seq;
    return 0;
}

static void test_options_constructors_publish_subscribe_and_replay(void **state)
{
    (void)state;
    fb_endpoint_opts_t submit = {.endpoint = s_t.node_submit[0], .hwm = 50, .linger_ms = -1};
    fb_endpoint_opts_t feed = th_endpoint(&s_t, s_t.feed, "kr-busan");
    fb_endpoint_opts_t replay = th_endpoint(&s_t, s_t.replay, "kr-busan");
    feed.hwm = 500;
    replay.hwm = 20;
    replay.linger_ms = 100;
    fb_publisher_t *pub = fb_publisher_open(&submit);
    assert_non_null(pub);
    const char *json = th_event_json("kr-busan", "opts", "options");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    assert_true(ack.global_seq > 0);

    /* Catch-up goes through the replay options, and so does fb_replay_opts. */
    fb_subscriber_t *sub = fb_subscriber_open(&feed, &replay);
    assert_non_null(sub);
    assert_int_equal(fb_subscriber_add(sub, "event.kr-busan.opts"), FB_OK);
    assert_int_equal(fb_subscriber_from(sub, 1), FB_OK);
    fb_message_t msg;
    assert_int_equal(fb_subscriber_recv(sub, &msg, 10000), FB_OK);
    assert_int_equal(msg.global_seq, ack.global_seq);
    assert_string_equal(msg.message_id, ack.message_id);
    const char *pattern = "event.kr-busan.opts";
    uint64_t seen[2] = {0, 0};
    assert_int_equal(fb_replay_opts(&replay, &pattern, 1, 1, 0, 0, s_take, seen, 10000), FB_OK);
    assert_int_equal(seen[0], 1);
    assert_int_equal(seen[1], ack.global_seq);

    /* Live through the feed options: publishes after the first come, once
     * the subscription has reached the broker (it takes a moment). */
    uint64_t first = ack.global_seq;
    int rc = FB_ETIMEOUT;
    for (int i = 0; i < 50 && rc == FB_ETIMEOUT; i++) {
        json = th_event_json("kr-busan", "opts", "options again");
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        rc = fb_subscriber_recv(sub, &msg, 200);
    }
    assert_int_equal(rc, FB_OK);
    assert_true(msg.global_seq > first);
    assert_string_equal(fb_message_title(&msg, "en"), "options again");
    fb_subscriber_destroy(&sub);
    fb_publisher_destroy(&pub);
    assert_null(pub);
    assert_null(sub);
}

/* Writes text to a new temporary file; its path goes to path (>= 32 bytes). */
static void s_temp_file(char *path, const char *text)
{
    snprintf(path, 32, "/tmp/fedbus-it-cliXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* The UUID after "id=" in out (37 bytes). */
static void s_printed_id(const char *out, char id[37])
{
    const char *p = strstr(out, "id=");
    assert_non_null(p);
    snprintf(id, 37, "%.36s", p + 3);
    uint8_t bin[16];
    assert_int_equal(fb_uuid_parse(id, bin), 0);
}

static long long s_stored(const char *id)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM fedbus_messages WHERE message_id = '%s'", id);
    return th_sql_int(&s_t, sql);
}

static void test_publish_with_message_id_twice_stores_once_and_prints_the_id_both_times(void **state)
{
    (void)state;
    char path[32], path2[32], id[37];
    s_temp_file(path, th_event_json("kr-busan", "forum", "given id"));
    const char *given = "01900000-0000-7000-8000-00000000c11a";
    const char *argv[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "--message-id=01900000-0000-7000-8000-00000000C11A",
                          path, NULL};
    char *out = NULL;
    assert_int_equal(th_run(argv, &out, 30), 0);
    assert_non_null(strstr(out, "accepted "));
    s_printed_id(out, id);
    assert_string_equal(id, given);
    free(out);
    assert_int_equal(th_run(argv, &out, 30), 0);
    assert_non_null(strstr(out, "duplicate "));
    s_printed_id(out, id);
    assert_string_equal(id, given);
    free(out);
    assert_int_equal(s_stored(given), 1);
    /* Without one, the id the command chose is the one stored. */
    const char *own[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, path, NULL};
    assert_int_equal(th_run(own, &out, 30), 0);
    s_printed_id(out, id);
    free(out);
    assert_int_equal(s_stored(id), 1);
    /* --message-id names one message, and a UUID. */
    s_temp_file(path2, th_event_json("kr-busan", "forum", "second"));
    const char *two[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "--message-id=01900000-0000-7000-8000-00000000c11b",
                         path, path2, NULL};
    assert_int_equal(th_run(two, &out, 30), 2);
    free(out);
    const char *bad[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "--message-id=not-a-uuid", path, NULL};
    assert_int_equal(th_run(bad, &out, 30), 2);
    free(out);
    assert_int_equal(s_stored("01900000-0000-7000-8000-00000000c11b"), 0);
    /* The node refuses an id that is not a UUIDv7 itself. */
    const char *v4[] = {FEDBUS_CLI_BIN, "publish", s_node_flag, "--message-id=5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f",
                        path, NULL};
    assert_int_equal(th_run(v4, &out, 30), 1); /* the CLI checks as the node does: nothing sent */
    if (!strstr(out, "invalid INVALID_FIELD: message_id must be a UUIDv7")) fail_msg("publish said: %s", out);
    free(out);
    assert_int_equal(s_stored("5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f"), 0);
    /* Sent anyway (by the library, which does not check), the node refuses it itself. */
    char v4json[512];
    snprintf(v4json, sizeof(v4json), "{\"message_id\":\"5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f\",%s",
             th_event_json("kr-busan", "forum", "v4") + 1);
    fb_publisher_t *raw = fb_publisher_new(s_t.node_submit[0]);
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(raw, v4json, strlen(v4json), &ack, 5000), FB_EREJECTED);
    fb_publisher_destroy(&raw);
    assert_int_equal(s_stored("5f0c2a4e-8d1b-4c3a-9e7f-2b6d1a0c9e8f"), 0);
    assert_true(th_count_lines(s_t.node_log[0], "reject INVALID_FIELD: message_id must be a UUIDv7") >= 1);
    unlink(path);
    unlink(path2);
}

/* Starts a node of kr-incheon, on disk in a state-dir that outlives it,
 * publishing to broker. */
static pid_t s_disk_node(const char *broker)
{
    char b[100], s[100];
    snprintf(b, sizeof(b), "--broker=%s", broker);
    snprintf(s, sizeof(s), "--submit=tcp://127.0.0.1:%d", s_t.port_base + 40);
    char keys[320], bkey[320];
    th_node_flags(&s_t, "kr-incheon", keys, bkey);
    const char *argv[] = {FEDBUS_NODE_BIN, "--member=kr-incheon", b, s, "--outbox=disk",
                          "--state-dir=it-cli-state-kr-incheon", "--resend-ms=300", keys, bkey, NULL};
    return th_spawn(argv, "it-cli-node-disk.log");
}

static void test_publish_that_times_out_prints_the_id_to_publish_it_again_once(void **state)
{
    (void)state;
    char path[32], id[37], again[37], node[100], id_flag[80];
    s_temp_file(path, th_event_json("kr-incheon", "forum", "during the outage"));
    /* No node at all: said at once, naming the id it would have sent. */
    snprintf(node, sizeof(node), "--node=tcp://127.0.0.1:%d", s_t.port_base + 42);
    const char *none[] = {FEDBUS_CLI_BIN, "publish", node, "--timeout-ms=300", path, NULL};
    char *out = NULL;
    assert_int_equal(th_run(none, &out, 30), 1);
    assert_non_null(strstr(out, "unsent id="));
    s_printed_id(out, id);
    free(out);

    /* A node whose broker is away: it holds the publish, the command times out. */
    assert_int_equal(system("rm -rf it-cli-state-kr-incheon"), 0);
    char away[64];
    snprintf(away, sizeof(away), "tcp://127.0.0.1:%d", s_t.port_base + 41);
    pid_t pid = s_disk_node(away);
    snprintf(node, sizeof(node), "--node=tcp://127.0.0.1:%d", s_t.port_base + 40);
    const char *first[] = {FEDBUS_CLI_BIN, "publish", node, "--timeout-ms=1000", path, NULL};
    assert_int_equal(th_run(first, &out, 30), 1);
    assert_non_null(strstr(out, "timeout id="));
    s_printed_id(out, id);
    free(out);
    /* Asked again with its id during the outage: the same message. */
    snprintf(id_flag, sizeof(id_flag), "--message-id=%s", id);
    const char *retry[] = {FEDBUS_CLI_BIN, "publish", node, id_flag, "--timeout-ms=1000", path, NULL};
    assert_int_equal(th_run(retry, &out, 30), 1);
    s_printed_id(out, again);
    assert_string_equal(again, id);
    free(out);
    /* The node restarts towards the broker; asked again, it is stored once. */
    assert_int_equal(th_stop_pid(pid, SIGTERM), 0);
    pid = s_disk_node(s_t.ingest);
    const char *after[] = {FEDBUS_CLI_BIN, "publish", node, id_flag, "--timeout-ms=15000", path, NULL};
    assert_int_equal(th_run(after, &out, 30), 0);
    s_printed_id(out, again);
    assert_string_equal(again, id);
    free(out);
    assert_int_equal(s_stored(id), 1);
    assert_int_equal(th_sql_int(&s_t, "SELECT count(*) FROM fedbus_messages WHERE origin = 'kr-incheon'"), 1);
    assert_int_equal(th_stop_pid(pid, SIGTERM), 0);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage_errors_have_clear_exit_codes),
        cmocka_unit_test(test_publish_directory_then_replay_and_tail_history),
        cmocka_unit_test(test_replay_as_a_calendar_holds_every_event_and_call_and_nothing_else),
        cmocka_unit_test(test_node_serves_the_calendar_and_the_feed_at_urls_behind_its_token),
        cmocka_unit_test(test_publish_of_a_bad_file_is_reported_and_fails),
        cmocka_unit_test(test_http_publish_and_health),
        cmocka_unit_test(test_http_publish_takes_json_in_utf8_only_and_names_the_type_it_expects),
        cmocka_unit_test(test_options_constructors_publish_subscribe_and_replay),
        cmocka_unit_test(test_publish_with_message_id_twice_stores_once_and_prints_the_id_both_times),
        cmocka_unit_test(test_publish_that_times_out_prints_the_id_to_publish_it_again_once),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
