/* test_health.c — member states judged from what the broker hears, changes as messages and rows in the batch, snapshots as JSON and Prometheus text. */
#include "fb_health.h"
#include "fb_status.h"

#include "fb_envelope.h"
#include "fedbus/fb_topic.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static fb_batch_t *s_b;
static fb_map_t *s_heads;
static const fb_health_broker_t s_pg_up = {.global_seq = 100, .pg_up = 1, .schema_ok = 1};

static int s_setup(void **state)
{
    (void)state;
    s_b = fb_batch_new(8);
    s_heads = fb_map_new(8);
    return s_b && s_heads ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    fb_batch_destroy(&s_b);
    fb_map_destroy(&s_heads);
    return 0;
}

/* A heartbeat of origin, as a node sends it. */
static void s_beat(fb_health_t *h, const char *origin, uint64_t depth, uint64_t seen)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = (char *)origin;
    hb.sent_at_us = 2000000;
    hb.outbox_depth = depth;
    hb.oldest_unconfirmed_us = depth ? 500000 : 0;
    hb.last_global_seq_seen = seen;
    hb.version = "9.9.9";
    hb.uptime_us = 42000000;
    fb_health_heartbeat(h, &hb);
}

/* The state of member in a fresh snapshot. */
static const char *s_state_of(fb_health_t *h, const char *member)
{
    fb_health_snap_t *s = fb_health_snap_get(h);
    const char *st = "absent";
    for (size_t i = 0; s && i < s->nmembers; i++)
        if (!strcmp(s->members[i].id, member)) st = fb_health_state_name(s->members[i].state);
    fb_health_snap_release(&s);
    return st;
}

/* The MemberState of the batch's item i (decoded), checked to be the broker's own. */
static Fedbus__Envelope *s_change(size_t i, uint64_t origin_seq)
{
    const fb_batch_item_t *it = &s_b->items[i];
    assert_string_equal(it->origin, FB_ORIGIN_BROKER);
    assert_string_equal(it->topic, FB_TOPIC_HEALTH);
    assert_int_equal(it->origin_seq, origin_seq);
    assert_true(it->has_id);
    Fedbus__Envelope *env = fedbus__envelope__unpack(NULL, it->env_len, it->env_data);
    assert_non_null(env);
    assert_int_equal(env->payload_case, FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE);
    assert_string_equal(fb_envelope_kind(env), FB_KIND_MEMBER_STATE);
    return env;
}

static void test_a_silent_member_goes_up_stale_down_each_change_a_message_and_a_row(void **state)
{
    (void)state;
    fb_map_put(s_heads, FB_ORIGIN_BROKER, strlen(FB_ORIGIN_BROKER), 41); /* the broker's own head, stored */
    /* Thresholds far apart, so that a slow machine (or a sanitizer build)
     * sleeping longer than asked still lands between them. */
    fb_health_t *h = fb_health_new(300, 1500, s_heads, 8);
    assert_non_null(h);
    s_beat(h, "kr-busan", 0, 0);
    fb_health_tick(h, s_b, &s_pg_up);
    assert_string_equal(s_state_of(h, "kr-busan"), "up");
    assert_int_equal(s_b->nitems, 1);
    Fedbus__Envelope *e = s_change(0, 42);
    assert_string_equal(e->member_state->member, "kr-busan");
    assert_string_equal(e->member_state->from_state, "never");
    assert_string_equal(e->member_state->to_state, "up");
    fedbus__envelope__free_unpacked(e, NULL);
    usleep(400000); /* past stale-after, and past the tick's 200 ms */
    fb_health_tick(h, s_b, &s_pg_up);
    assert_string_equal(s_state_of(h, "kr-busan"), "stale");
    usleep(1200000); /* past down-after */
    fb_health_tick(h, s_b, &s_pg_up);
    assert_string_equal(s_state_of(h, "kr-busan"), "down");
    assert_int_equal(s_b->nitems, 3);
    e = s_change(2, 44);
    assert_string_equal(e->member_state->from_state, "stale");
    assert_string_equal(e->member_state->to_state, "down");
    fedbus__envelope__free_unpacked(e, NULL);
    /* The rows go in the same transaction, in the same order. */
    const char *up = strstr(s_b->extra_sql, "'kr-busan', 'never', 'up'");
    const char *stale = strstr(s_b->extra_sql, "'kr-busan', 'up', 'stale'");
    const char *down = strstr(s_b->extra_sql, "'kr-busan', 'stale', 'down'");
    assert_true(up && stale && down && up < stale && stale < down);
    assert_int_equal(fb_health_changes(h), 3);
    fb_batch_release(s_b);
    fb_health_destroy(&h);
    assert_null(h);
}

static void test_a_change_waits_while_the_batch_is_full_and_origins_not_member_ids_are_ignored(void **state)
{
    (void)state;
    fb_health_t *h = fb_health_new(100, 300, s_heads, 0); /* no room at all */
    s_beat(h, "kr-seoul", 0, 0);
    s_beat(h, "Not A Member!", 0, 0);
    s_beat(h, "_fedbus", 0, 0);
    fb_health_tick(h, s_b, &s_pg_up);
    assert_int_equal(s_b->nitems, 0);
    assert_string_equal(s_state_of(h, "kr-seoul"), "never"); /* not announced: not changed */
    fb_health_snap_t *s = fb_health_snap_get(h);
    assert_int_equal(s->nmembers, 1);
    fb_health_snap_release(&s);
    fb_health_destroy(&h);
}

static void test_the_snapshot_reads_as_the_status_document_and_as_prometheus_text(void **state)
{
    (void)state;
    fb_health_t *h = fb_health_new(10000, 20000, s_heads, 8);
    fb_memberdir_t *dir = fb_memberdir_new();
    fb_memberdir_row_t row = {"kr-incheon", "hub", NULL, "active", "{}", "{}"};
    fb_member_t m;
    char warn[256];
    assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, sizeof(warn)), 0);
    fb_member_set_names(&m, "Incheon", "인천");
    fb_memberdir_add(dir, &m);
    fb_memberdir_seal(dir);
    fb_health_directory(h, dir);
    fb_memberdir_release(&dir);
    s_beat(h, "kr-incheon", 3, 90);
    fb_health_snap_t *before = NULL;
    fb_health_tick(h, s_b, &s_pg_up);
    fb_health_snap_t *s = fb_health_snap_get(h);
    size_t len;
    char *json = fb_status_json(s, "0.1.0", &len);
    json_t *doc = json_loads(json, 0, NULL);
    assert_non_null(doc);
    json_t *mem = json_array_get(json_object_get(doc, "members"), 0);
    assert_string_equal(json_string_value(json_object_get(mem, "id")), "kr-incheon");
    assert_string_equal(json_string_value(json_object_get(json_object_get(mem, "name"), "ko")), "인천");
    assert_string_equal(json_string_value(json_object_get(mem, "role")), "hub");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "outbox"), "depth")), 3);
    assert_true(json_real_value(json_object_get(json_object_get(mem, "outbox"), "oldest_age_seconds")) == 1.5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(mem, "feed"), "lag")), 10);
    assert_int_equal(json_array_size(json_object_get(mem, "series")), FB_HEALTH_SERIES);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "summary"), "up")), 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "broker"), "state")), "up");
    json_decref(doc);
    free(json);
    char *text = fb_status_metrics(s, "0.1.0", &len);
    assert_non_null(strstr(text, "fedbus_member_state{member=\"kr-incheon\",state=\"up\"} 1\n"));
    assert_non_null(strstr(text, "fedbus_member_outbox_depth{member=\"kr-incheon\"} 3\n"));
    assert_non_null(strstr(text, "fedbus_commit_latency_seconds_bucket{le=\"+Inf\"} 0\n"));
    free(text);
    char why[256];
    assert_int_equal(fb_status_ready(s, why, sizeof(why)), 1);
    fb_health_snap_release(&s);
    fb_health_snap_release(&before);
    fb_batch_release(s_b);
    fb_health_destroy(&h);
}

static void test_postgres_away_or_an_old_schema_is_not_ready_with_a_reason(void **state)
{
    (void)state;
    fb_health_snap_t s = {0};
    char why[256];
    s.broker.pg_up = 0;
    snprintf(s.broker.pg_reason, sizeof(s.broker.pg_reason), "connection refused");
    assert_int_equal(fb_status_ready(&s, why, sizeof(why)), 0);
    assert_string_equal(why, "postgres unreachable: connection refused");
    s.broker.pg_up = 1;
    s.broker.schema_ok = 0;
    snprintf(s.broker.pg_reason, sizeof(s.broker.pg_reason), "database schema version 7, this broker's is 8");
    assert_int_equal(fb_status_ready(&s, why, sizeof(why)), 0);
    assert_string_equal(why, "database schema version 7, this broker's is 8");
}

static void test_the_health_topic_is_a_pattern_of_its_own_that_no_member_can_publish_on_nor_star_covers(void **state)
{
    (void)state;
    assert_int_equal(fb_pattern_valid(FB_TOPIC_HEALTH, NULL), 1);
    assert_int_equal(fb_pattern_match(FB_TOPIC_HEALTH, FB_TOPIC_HEALTH, strlen(FB_TOPIC_HEALTH)), 1);
    assert_int_equal(fb_topic_valid(FB_TOPIC_HEALTH, strlen(FB_TOPIC_HEALTH), NULL), 0);
    char prefixes[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    int n = fb_pattern_prefixes("*", prefixes, FB_PATTERN_MAX_PREFIXES);
    for (int i = 0; i < n; i++) assert_int_not_equal(prefixes[i][0], '_');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_silent_member_goes_up_stale_down_each_change_a_message_and_a_row, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_a_change_waits_while_the_batch_is_full_and_origins_not_member_ids_are_ignored,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_the_snapshot_reads_as_the_status_document_and_as_prometheus_text, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_postgres_away_or_an_old_schema_is_not_ready_with_a_reason),
        cmocka_unit_test(test_the_health_topic_is_a_pattern_of_its_own_that_no_member_can_publish_on_nor_star_covers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
