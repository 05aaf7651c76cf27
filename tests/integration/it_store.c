/* it_store.c — the broker's store against a real PostgreSQL: rows of every size, on both
 * sides of the COPY chunk, come back byte for byte; a batch that conflicts after many
 * chunks have gone, or in the first of them, stores nothing and leaves the connection ready
 * for the next batch. */
#include "harness.h"

#include "fb_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define S_CHUNK (128u << 10) /* fb_store.c's chunk of COPY data */

typedef struct {
    fb_store_row_t *rows;
    uint8_t (*ids)[16];
    uint8_t (*hashes)[32];
    uint8_t **bodies;
    uint8_t stamp[4];
    size_t n;
} s_rows_t;

/* n rows from global_seq first on, origin kr-busan, body i of size sizes[i % nsizes],
 * each byte a function of (row, offset) so that a shifted or cut body shows. */
static void s_rows(s_rows_t *r, uint64_t first, size_t n, const size_t *sizes, size_t nsizes)
{
    r->n = n;
    r->rows = calloc(n, sizeof(*r->rows));
    r->ids = calloc(n, sizeof(*r->ids));
    r->hashes = calloc(n, sizeof(*r->hashes));
    r->bodies = calloc(n, sizeof(*r->bodies));
    assert_non_null(r->rows);
    assert_non_null(r->ids);
    assert_non_null(r->hashes);
    assert_non_null(r->bodies);
    memcpy(r->stamp, "\x38\x01\x48\x02", 4);
    for (size_t i = 0; i < n; i++) {
        uint64_t seq = first + i;
        size_t len = sizes[i % nsizes];
        r->bodies[i] = malloc(len ? len : 1);
        assert_non_null(r->bodies[i]);
        for (size_t k = 0; k < len; k++) r->bodies[i][k] = (uint8_t)(seq * 31 + k * 7 + (k >> 8));
        for (int k = 0; k < 16; k++) r->ids[i][k] = (uint8_t)(k < 8 ? seq >> (8 * (7 - k)) : (uint64_t)(0x5a + k));
        memset(r->hashes[i], (int)(seq & 0xff), 32);
        r->rows[i] = (fb_store_row_t){
            .global_seq = seq,
            .origin = "kr-busan",
            .origin_seq = seq,
            .message_id = r->ids[i],
            .topic = "event.kr-busan.forum",
            .created_at_us = 1796000000000000LL + (int64_t)seq,
            .stored_at_us = 1796000000500000LL + (int64_t)seq,
            .hash = r->hashes[i],
            .body = r->bodies[i],
            .body_len = len,
            .stamp = r->stamp,
            .stamp_len = sizeof(r->stamp),
        };
    }
}

static void s_rows_free(s_rows_t *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->bodies[i]);
    free(r->rows);
    free(r->ids);
    free(r->hashes);
    free(r->bodies);
}

typedef struct {
    const s_rows_t *want;
    size_t seen;
    uint64_t last;
    int mismatches;
} s_check_t;

static void s_compare(const fb_store_page_t *page, void *arg)
{
    s_check_t *c = arg;
    for (size_t i = 0; i < page->n; i++, c->seen++) {
        const fb_store_row_t *w = &c->want->rows[c->seen < c->want->n ? c->seen : 0];
        if (c->seen >= c->want->n || page->lens[i] != w->body_len + w->stamp_len ||
            memcmp(page->envs[i], w->body, w->body_len) != 0 ||
            memcmp(page->envs[i] + w->body_len, w->stamp, w->stamp_len) != 0)
            c->mismatches++;
    }
    c->last = page->last_seq;
}

/* Reads everything stored back, page by page, against want. */
static void s_assert_stored(const char *conninfo, const s_rows_t *want)
{
    char err[256];
    fb_store_t *reader = fb_store_open(conninfo, FB_STORE_READER, err, sizeof(err));
    assert_non_null(reader);
    s_check_t c = {want, 0, 0, 0};
    for (;;) {
        int got = fb_store_page(reader, c.last + 1, 0, 0, NULL, 0, 64, s_compare, &c);
        assert_true(got >= 0);
        if (got == 0) break;
    }
    assert_int_equal(c.seen, want->n);
    assert_int_equal(c.mismatches, 0);
    fb_store_destroy(&reader);
}

static void test_rows_on_both_sides_of_a_chunk_come_back_byte_for_byte(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_sizes", 23200);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    /* Empty and tiny bodies, bodies that end a chunk exactly or just miss
     * it, and bodies larger than a chunk, which go to libpq directly. */
    const size_t sizes[] = {0,         1,         255,      1000,          16384,
                            S_CHUNK - 60, S_CHUNK - 1, S_CHUNK, S_CHUNK + 1, 3 * S_CHUNK + 17,
                            777};
    s_rows_t r;
    s_rows(&r, 1, 300, sizes, sizeof(sizes) / sizeof(sizes[0]));
    assert_int_equal(fb_store_append(w, r.rows, r.n), FB_OK);
    uint64_t head = 0;
    assert_int_equal(fb_store_head(w, &head), FB_OK);
    assert_int_equal(head, 300);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 300);
    assert_int_equal(th_sql_int(&t, "SELECT max(length(envelope)) FROM fedbus_messages"),
                     3 * S_CHUNK + 17 + 4);
    s_assert_stored(t.conninfo, &r);
    s_rows_free(&r);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

/* A batch of 2,000 rows of 1,000 bytes (about 16 chunks) in which the row at `at`
 * repeats the (origin, message_id) of a stored row: nothing of it is stored, and
 * the same connection takes the batch without that row at once. */
static void s_conflict_at(const char *name, int port, size_t at)
{
    th_t t;
    th_init(&t, name, port);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    const size_t small[] = {300};
    s_rows_t first;
    s_rows(&first, 1, 10, small, 1);
    assert_int_equal(fb_store_append(w, first.rows, first.n), FB_OK);

    const size_t kb[] = {1000};
    s_rows_t next;
    s_rows(&next, 11, 2000, kb, 1);
    const uint8_t *own = next.rows[at].message_id;
    next.rows[at].message_id = first.ids[3];
    assert_int_equal(fb_store_append(w, next.rows, next.n), FB_ECONFLICT);
    assert_non_null(strstr(fb_store_error(w), "duplicate"));
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 10);

    next.rows[at].message_id = own;
    assert_int_equal(fb_store_append(w, next.rows, next.n), FB_OK);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 10 + 2000);
    s_rows_t all;
    s_rows(&all, 1, 10 + 2000, small, 1);
    for (size_t i = 10; i < all.n; i++) {
        all.rows[i].body = next.rows[i - 10].body;
        all.rows[i].body_len = next.rows[i - 10].body_len;
    }
    s_assert_stored(t.conninfo, &all);
    s_rows_free(&all);
    s_rows_free(&next);
    s_rows_free(&first);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

/* The server refuses the COPY at its end, after every chunk went. */
static void test_a_conflict_in_the_last_row_stores_nothing_and_the_next_batch_goes_in(void **state)
{
    (void)state;
    s_conflict_at("store_conflict_last", 23210, 1999);
}

/* The server refuses the COPY in its first chunk and discards the 15 that
 * follow; the store still ends the COPY cleanly and reads the refusal. */
static void test_a_conflict_in_the_first_row_stores_nothing_and_the_next_batch_goes_in(void **state)
{
    (void)state;
    s_conflict_at("store_conflict_first", 23220, 0);
}

static void test_heads_of_interleaved_runs_of_origins_are_each_origins_last_row(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_heads", 23230);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    /* Runs of one origin as nodes' frames make them, an origin coming back
     * after another: busan 1-3, daejeon 1-2, busan 4-5, seoul 1, daejeon 3. */
    const char *origins[] = {"kr-busan", "kr-busan", "kr-busan", "kr-daejeon", "kr-daejeon",
                             "kr-busan", "kr-busan", "kr-seoul", "kr-daejeon"};
    const uint64_t seqs[] = {1, 2, 3, 1, 2, 4, 5, 1, 3};
    enum { N = 9 };
    const size_t size = 100;
    s_rows_t r;
    s_rows(&r, 1, N, &size, 1);
    for (size_t i = 0; i < N; i++) {
        r.rows[i].origin = origins[i];
        r.rows[i].origin_seq = seqs[i];
    }
    assert_int_equal(fb_store_append(w, r.rows, r.n), FB_OK);
    assert_int_equal(fb_store_write_heads(w), FB_OK);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_origins"), 3);
    assert_int_equal(th_sql_int(&t, "SELECT last_origin_seq * 100 + last_global_seq FROM fedbus_origins "
                                    "WHERE origin = 'kr-busan'"),
                     507);
    assert_int_equal(th_sql_int(&t, "SELECT last_origin_seq * 100 + last_global_seq FROM fedbus_origins "
                                    "WHERE origin = 'kr-daejeon'"),
                     309);
    assert_int_equal(th_sql_int(&t, "SELECT last_origin_seq * 100 + last_global_seq FROM fedbus_origins "
                                    "WHERE origin = 'kr-seoul'"),
                     108);
    /* The stamp of each origin's last row is its head's. */
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_origins o JOIN fedbus_messages m "
                                    "ON m.global_seq = o.last_global_seq AND m.stored_at = o.last_stored_at"),
                     3);
    s_rows_free(&r);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

/* Sessions of this database's writer that are running a COPY. */
static long long s_copies_open(th_t *t)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM pg_stat_activity WHERE datname = 'fedbus_it_%s' "
             "AND state = 'active' AND query LIKE '%%COPY fedbus_messages%%' AND pid <> pg_backend_pid()",
             t->name);
    return th_sql_int(t, sql);
}

static void test_a_copy_sent_ahead_takes_the_next_batch_and_closes_empty_when_idle(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_ahead", 23260);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    fb_store_set_ahead(w, 1);
    const size_t size = 300;
    s_rows_t a, b;
    s_rows(&a, 1, 100, &size, 1);
    s_rows(&b, 101, 100, &size, 1);
    assert_false(fb_store_ahead(w));
    assert_int_equal(fb_store_append(w, a.rows, a.n), FB_OK);
    /* Committed, and the next COPY is already open on the server. */
    assert_true(fb_store_ahead(w));
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 100);
    assert_int_equal(s_copies_open(&t), 1);
    assert_int_equal(fb_store_append(w, b.rows, b.n), FB_OK);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 200);
    assert_true(fb_store_ahead(w));
    /* Idle: it ends empty, and nothing is left open. */
    assert_int_equal(fb_store_idle(w), 1);
    assert_false(fb_store_ahead(w));
    assert_int_equal(fb_store_idle(w), 0);
    assert_int_equal(s_copies_open(&t), 0);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 200);
    assert_int_equal(th_sql_int(&t, "SELECT max(global_seq) - min(global_seq) + 1 FROM fedbus_messages"), 200);
    /* Any other call closes it first: a lookup after an append. */
    s_rows_t c;
    s_rows(&c, 201, 10, &size, 1);
    assert_int_equal(fb_store_append(w, c.rows, c.n), FB_OK);
    assert_true(fb_store_ahead(w));
    fb_store_key_t key = {c.rows[3].origin, c.rows[3].message_id};
    fb_store_found_t found;
    assert_int_equal(fb_store_lookup(w, &key, 1, &found), FB_OK);
    assert_true(found.found);
    assert_int_equal(found.global_seq, 204);
    assert_false(fb_store_ahead(w));
    assert_int_equal(s_copies_open(&t), 0);
    uint64_t head = 0;
    assert_int_equal(fb_store_head(w, &head), FB_OK);
    assert_int_equal(head, 210);
    s_rows_free(&a);
    s_rows_free(&b);
    s_rows_free(&c);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

static void test_a_copy_sent_ahead_that_the_server_ended_is_started_afresh(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_ahead_stale", 23290);
    char err[256];
    /* The server cancels any statement after 300 ms: the COPY sent ahead
     * too, while it waits for the next batch. */
    char sql[256];
    snprintf(sql, sizeof(sql), "ALTER DATABASE fedbus_it_%s SET statement_timeout = '300ms'", t.name);
    th_sql_exec(&t, sql);
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    fb_store_set_ahead(w, 1);
    const size_t size = 200;
    s_rows_t a, b;
    s_rows(&a, 1, 50, &size, 1);
    s_rows(&b, 51, 50, &size, 1);
    /* Twice: once after a plain COPY sent ahead, once after one that also
     * opened a transaction for the heads (the first append writes them). */
    for (int round = 0; round < 2; round++) {
        s_rows_t *r = round ? &b : &a;
        if (round) fb_store_set_heads_interval(w, 0);
        assert_int_equal(fb_store_append(w, r->rows, r->n), FB_OK);
        assert_true(fb_store_ahead(w));
        usleep(600 * 1000);
    }
    assert_int_equal(fb_store_append(w, b.rows, 0), FB_OK); /* nothing to do */
    s_rows_t c;
    s_rows(&c, 101, 50, &size, 1);
    assert_int_equal(fb_store_append(w, c.rows, c.n), FB_OK);
    assert_int_equal(th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"), 150);
    assert_int_equal(th_sql_int(&t, "SELECT last_global_seq FROM fedbus_origins WHERE origin = 'kr-busan'"), 150);
    s_rows_free(&a);
    s_rows_free(&b);
    s_rows_free(&c);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

/* Rows of 100 topics event.oN.forum, global_seq 1..n, for the replay tests. */
static void s_fill_topics(th_t *t, int n)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO fedbus_messages SELECT g, 'o' || (g %% 100), g, md5(g::text)::uuid,"
             " 'event.o' || (g %% 100) || '.forum', now(), now(), '\\x00'::bytea, int8send(g)"
             " FROM generate_series(1, %d) g; ANALYZE fedbus_messages",
             n);
    th_sql_exec(t, sql);
}

typedef struct {
    size_t n;
    uint64_t last;
    int bad; /* an envelope out of order */
} s_seen_t;

/* Each envelope of s_fill_topics() is its global_seq, 8 bytes big-endian. */
static void s_count(const fb_store_page_t *page, void *arg)
{
    s_seen_t *c = arg;
    for (size_t i = 0; i < page->n; i++, c->n++) {
        uint64_t seq = 0;
        for (int k = 0; k < 8 && page->lens[i] == 8; k++) seq = seq << 8 | page->envs[i][k];
        c->bad += seq <= c->last;
        c->last = seq;
    }
}

static void test_a_prefix_replay_reads_the_topic_index_and_returns_exactly_its_rows(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_prefix", 23320);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    s_fill_topics(&t, 50000);
    fb_store_t *r = fb_store_open(t.conninfo, FB_STORE_READER, err, sizeof(err));
    assert_non_null(r);
    char plan[4096];
    const char *none[] = {"event.nothing"}, *some[] = {"event.o7", "event.o42."};
    assert_int_equal(fb_store_page_plan(r, 1, 0, 0, none, 1, plan, sizeof(plan)), 0);
    /* Each partition has its own copy of the index on (topic, global_seq):
     * *_topic_seq where the table was kept from before partitioning,
     * *_topic_global_seq_idx where PostgreSQL named it. */
    if (!strstr(plan, "_topic_seq") && !strstr(plan, "_topic_global_seq_idx"))
        fail_msg("the replay query does not use the index:\n%s", plan);
    /* o7, o70..o79 and o42: 12 topics of 100, read through windows. */
    s_seen_t c = {0, 0, 0};
    for (uint64_t from = 1; from <= 50000; from += 4096) {
        size_t before = c.n;
        for (;;) {
            int n = fb_store_page(r, c.n > before ? c.last + 1 : from, from + 4096, 0, some, 2, 256, s_count, &c);
            assert_true(n >= 0);
            if (n < 256) break;
        }
    }
    assert_int_equal(c.n, th_sql_int(&t, "SELECT count(*) FROM fedbus_messages"
                                         " WHERE topic LIKE 'event.o7%' OR topic LIKE 'event.o42.%'"));
    assert_int_equal(c.n, 6000);
    assert_int_equal(c.bad, 0);
    fb_store_destroy(&r);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

/* Rows 1..3000 of topics event.oN.forum in three partitions of 1000
 * (store_part_p0..p2, days 200-202 from now), in global_seq order. */
static void s_fill_partitions(th_t *t)
{
    th_sql_exec(t, "DO $$ DECLARE day0 bigint := (extract(epoch FROM now()) * 1000)::bigint + 200 * 86400000::bigint;"
                   " BEGIN FOR d IN 0..2 LOOP"
                   "  EXECUTE format('CREATE TABLE store_part_p%s (LIKE fedbus_messages INCLUDING DEFAULTS"
                   " INCLUDING STORAGE INCLUDING CONSTRAINTS)', d);"
                   "  EXECUTE format('ALTER TABLE fedbus_messages ATTACH PARTITION store_part_p%s"
                   " FOR VALUES FROM (%L) TO (%L)', d,"
                   "   (lpad(to_hex(day0 + d * 86400000::bigint), 12, '0') || '00000000000000000000')::uuid,"
                   "   (lpad(to_hex(day0 + (d + 1) * 86400000::bigint), 12, '0') || '00000000000000000000')::uuid);"
                   " END LOOP;"
                   " INSERT INTO fedbus_messages SELECT g, 'o' || (g % 100), g,"
                   "  (lpad(to_hex(day0 + ((g - 1) / 1000) * 86400000::bigint + g), 12, '0') || '7000'"
                   "   || '8' || lpad(to_hex(g), 15, '0'))::uuid,"
                   "  'event.o' || (g % 100) || '.forum', now(), now(), '\\x00'::bytea, int8send(g)"
                   " FROM generate_series(1, 3000) g; END $$; ANALYZE fedbus_messages");
}

/* A page with prefixes over old history is planned and read on the
 * partitions that hold its window only; one that reaches past what was
 * stored when the reader looked (a row stored since, with an old id) still
 * finds everything. */
static void test_a_prefix_page_reads_only_the_partitions_that_hold_its_window(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_parts", 29640);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    s_fill_partitions(&t);
    fb_store_t *r = fb_store_open(t.conninfo, FB_STORE_READER, err, sizeof(err));
    assert_non_null(r);
    char plan[8192];
    const char *some[] = {"event.o7"};
    assert_int_equal(fb_store_page_plan(r, 1100, 1900, 0, some, 1, plan, sizeof(plan)), 0);
    if (!strstr(plan, "store_part_p1") || strstr(plan, "store_part_p0") || strstr(plan, "store_part_p2") ||
        strstr(plan, "fedbus_messages_default"))
        fail_msg("a page of global_seqs 1100-1899 is not planned on store_part_p1 alone:\n%s", plan);
    /* Stored after the reader looked, in the first partition. */
    th_sql_exec(&t, "INSERT INTO fedbus_messages SELECT 3001, 'o7', 3001, (SELECT (substr(message_id::text, 1, 24)"
                    " || 'ffffffffffff')::uuid FROM store_part_p0 ORDER BY message_id LIMIT 1), 'event.o7.forum',"
                    " now(), now(), '\\x00'::bytea, int8send(3001::bigint)");
    s_seen_t c = {0, 0, 0};
    for (uint64_t from = 1; from <= 3001; from += 500) {
        int n = fb_store_page(r, from, from + 500, 0, some, 1, 256, s_count, &c);
        assert_true(n >= 0 && n < 256);
    }
    assert_int_equal(c.n, th_sql_int(&t, "SELECT count(*) FROM fedbus_messages WHERE topic LIKE 'event.o7%'"));
    assert_int_equal(c.last, 3001);
    assert_int_equal(c.bad, 0);
    fb_store_destroy(&r);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

static void test_a_reader_whose_connection_the_server_dropped_serves_the_next_page_at_once(void **state)
{
    (void)state;
    th_t t;
    th_init(&t, "store_reader_cut", 23350);
    char err[256];
    fb_store_t *w = fb_store_open(t.conninfo, FB_STORE_WRITER, err, sizeof(err));
    assert_non_null(w);
    s_fill_topics(&t, 300);
    fb_store_t *r = fb_store_open(t.conninfo, FB_STORE_READER, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(fb_store_set_timeout(r, 1000), 0);
    /* As after a PostgreSQL restart: the server ends every session. */
    th_sql_int(&t, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()");
    usleep(100 * 1000);
    assert_int_equal(fb_store_check(r), 0); /* the connection still looks fine */
    s_seen_t c = {0, 0, 0};
    int n = fb_store_page(r, 1, 0, 0, NULL, 0, 256, s_count, &c);
    if (n < 0) fail_msg("the first page after the cut failed: %s", fb_store_error(r));
    assert_int_equal(n, 256);
    fb_store_destroy(&r);
    fb_store_destroy(&w);
    th_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_on_both_sides_of_a_chunk_come_back_byte_for_byte),
        cmocka_unit_test(test_a_conflict_in_the_last_row_stores_nothing_and_the_next_batch_goes_in),
        cmocka_unit_test(test_a_conflict_in_the_first_row_stores_nothing_and_the_next_batch_goes_in),
        cmocka_unit_test(test_heads_of_interleaved_runs_of_origins_are_each_origins_last_row),
        cmocka_unit_test(test_a_copy_sent_ahead_takes_the_next_batch_and_closes_empty_when_idle),
        cmocka_unit_test(test_a_copy_sent_ahead_that_the_server_ended_is_started_afresh),
        cmocka_unit_test(test_a_prefix_replay_reads_the_topic_index_and_returns_exactly_its_rows),
        cmocka_unit_test(test_a_prefix_page_reads_only_the_partitions_that_hold_its_window),
        cmocka_unit_test(test_a_reader_whose_connection_the_server_dropped_serves_the_next_page_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
