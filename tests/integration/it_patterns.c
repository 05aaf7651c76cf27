/* it_patterns.c — hubs publish the seed data through their nodes; subscribers with different patterns each get exactly their messages. */
#include "harness.h"

#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static const char *const s_members[] = {"kr-incheon", "kr-daejeon", "kr-busan", "intl-wta"};
#define S_NMEMBERS 4

/* The oracle, written independently of fb_pattern_match: split the topic. */
static int s_want(int which, const char *topic)
{
    char kind[40] = "", origin[40] = "", cat[40] = "";
    sscanf(topic, "%39[^.].%39[^.].%39[^.]", kind, origin, cat);
    switch (which) {
    case 0: return strcmp(origin, "kr-incheon") == 0;                       /* "*.kr-incheon" */
    case 1: return strcmp(kind, "cfp") == 0;                                 /* "cfp" */
    case 2: return !strcmp(kind, "cfp") && !strcmp(origin, "kr-daejeon") && !strcmp(cat, "bio");
    }
    return 0;
}

static const char *const s_patterns[] = {"*.kr-incheon", "cfp", "cfp.kr-daejeon.bio"};

static int s_json_file(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && !strcmp(d->d_name + n - 5, ".json");
}

static void test_three_subscribers_each_get_exactly_their_messages(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "patterns", 21200);
    th_broker_start(&t, NULL);
    /* Three subscribing nodes (the first three members), plus a publishing-only node. */
    for (int i = 0; i < S_NMEMBERS; i++) th_node_start(&t, s_members[i], i < 3 ? s_patterns[i] : NULL);

    int expected[3] = {0, 0, 0}, published = 0;
    for (int m = 0; m < S_NMEMBERS; m++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/seeds/messages/%s", FEDBUS_SOURCE_DIR, s_members[m]);
        struct dirent **list;
        int n = scandir(dir, &list, s_json_file, alphasort);
        assert_true(n >= 6);
        fb_publisher_t *pub = fb_publisher_new(t.node_submit[m]);
        for (int i = 0; i < n; i++) {
            char path[1024];
            snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
            json_error_t jerr;
            json_t *doc = json_load_file(path, 0, &jerr);
            assert_non_null(doc);
            const char *topic = json_string_value(json_object_get(doc, "topic"));
            assert_non_null(topic);
            for (int k = 0; k < 3; k++) expected[k] += s_want(k, topic);
            char *text = json_dumps(doc, JSON_COMPACT);
            fb_ack_t ack;
            int rc = fb_publisher_send_json(pub, text, strlen(text), &ack, 10000);
            if (rc != FB_OK) fail_msg("%s: %s %s", path, ack.reason_name, ack.detail);
            published++;
            free(text);
            json_decref(doc);
            free(list[i]);
        }
        free(list);
        fb_publisher_destroy(&pub);
    }
    assert_true(expected[0] > 0 && expected[1] > expected[2] && expected[2] > 0);

    /* Wait until each node has written what it should (bounded). */
    for (int k = 0; k < 3; k++) {
        for (int w = 0; w < 100 && th_count_lines(t.node_output[k], "\"topic\"") < expected[k]; w++)
            usleep(100 * 1000);
    }
    usleep(500 * 1000); /* and a little longer, to catch any extra */
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(t.node_output[k], "r");
        assert_non_null(f);
        char line[65536];
        int got = 0, wrong = 0;
        long long last = 0;
        while (fgets(line, sizeof(line), f)) {
            json_error_t jerr;
            json_t *doc = json_loads(line, 0, &jerr);
            assert_non_null(doc);
            if (!s_want(k, json_string_value(json_object_get(doc, "topic")))) wrong++;
            long long seq = json_integer_value(json_object_get(doc, "global_seq"));
            assert_true(seq > last); /* in order, no duplicates */
            last = seq;
            got++;
            json_decref(doc);
        }
        fclose(f);
        print_message("pattern %-20s expected %d got %d\n", s_patterns[k], expected[k], got);
        assert_int_equal(wrong, 0);
        assert_int_equal(got, expected[k]);
    }
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), published);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_subscribers_each_get_exactly_their_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
