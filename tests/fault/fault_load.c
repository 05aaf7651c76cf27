/* fault_load.c — load, subscribers and end-of-run checks for the fault suite.
 *
 * Each member has one publisher thread on its node's submit socket, paced to a rate, one
 * message in flight at a time: a time-out is retried with the same message_id until it is
 * answered, as a real client does, so "told accepted" means exactly what a caller saw. Two
 * subscribers read the broker's feed through the library (feed + replay, from global_seq 1):
 * one keeps up, one is slow on purpose (small high-water mark, long pauses). Threads record
 * only; every assertion runs in the test's thread, after they have stopped. */
#include "fault_load.h"

#include "fb_crypto.h"
#include "fb_time.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

const char *const FL_MEMBER[FL_MEMBERS] = {"kr-incheon", "kr-seoul", "kr-daejeon", "kr-busan"};

/* A growable array of fixed-size items. */
typedef struct {
    void *v;
    size_t n, cap, size;
} s_vec_t;

static void s_push(s_vec_t *a, const void *item)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->v = realloc(a->v, a->cap * a->size);
        if (!a->v) abort();
    }
    memcpy((char *)a->v + a->n * a->size, item, a->size);
    a->n++;
}

typedef struct {
    fl_run_t *run;
    int i;
    pthread_t thread;
    s_vec_t told;          /* char[37]: message_ids told accepted (or duplicate) */
    long published, sends, rejected, unresolved;
    atomic_long told_n, told_down_n;
    char last_reject[64];
    int64_t last_ack_us, max_gap_us;
} s_pub_t;

typedef struct {
    fl_run_t *run;
    const char *name;
    const char *patterns[2];
    int npatterns;
    const char *like;      /* the same selection in SQL */
    int hwm, slow;
    pthread_t thread;
    s_vec_t seqs;          /* uint64_t: global_seq as delivered */
    atomic_ullong last_seq;
    int open_failed;
    fb_endpoint_opts_t feed, replay; /* made on the main thread: the harness is not thread-safe */
} s_sub_t;

struct fl_run {
    th_t *t;
    int rate;
    atomic_int publishing, subscribing, broker_down;
    int64_t settle_until_us, fault_begin_us, fault_end_us;
    s_pub_t pub[FL_MEMBERS];
    s_sub_t sub[2];
    int started;
};

fl_run_t *fl_run_new(th_t *t, int rate)
{
    fl_run_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    self->t = t;
    self->rate = rate;
    for (int i = 0; i < FL_MEMBERS; i++) {
        self->pub[i] = (s_pub_t){.run = self, .i = i, .told = {.size = 37}};
    }
    /* The fast one takes everything; the slow one two members' worth. */
    self->sub[0] = (s_sub_t){.run = self, .name = "fast", .patterns = {"event"}, .npatterns = 1,
                             .like = "topic LIKE 'event.%'", .hwm = 0, .seqs = {.size = sizeof(uint64_t)}};
    self->sub[1] = (s_sub_t){.run = self, .name = "slow", .patterns = {"event.kr-seoul", "event.kr-busan"},
                             .npatterns = 2, .like = "(topic LIKE 'event.kr-seoul.%' OR topic LIKE 'event.kr-busan.%')",
                             .hwm = 10, .slow = 1, .seqs = {.size = sizeof(uint64_t)}};
    for (int k = 0; k < 2; k++) {
        self->sub[k].feed = th_endpoint(t, t->feed, "th-probe");
        self->sub[k].feed.hwm = self->sub[k].hwm;
        self->sub[k].replay = th_endpoint(t, t->replay, "th-probe");
    }
    return self;
}

/* One publish of member p, retried under the same message_id until it is
 * answered or (after fl_stop) the settle time is over. */
static void s_publish_one(s_pub_t *p, fb_publisher_t *pub, uint64_t n)
{
    fl_run_t *run = p->run;
    uint8_t id[16];
    char uuid[37], json[1024];
    fb_uuid_v7(fb_time_now_us(), id);
    fb_uuid_format(id, uuid);
    snprintf(json, sizeof(json),
             "{\"message_id\":\"%s\",\"topic\":\"event.%s.forum\",\"event\":{\"kind\":\"forum\","
             "\"title\":{\"en\":\"fault load %llu\"},\"starts_at\":\"2026-05-20T14:00:00+09:00\"}}",
             uuid, FL_MEMBER[p->i], (unsigned long long)n);
    p->published++;
    for (;;) {
        fb_ack_t ack;
        int down = atomic_load(&run->broker_down);
        p->sends++;
        int rc = fb_publisher_send_json(pub, json, strlen(json), &ack, 1000);
        int64_t now = fb_time_mono_us();
        if (rc == FB_OK) {
            s_push(&p->told, uuid);
            atomic_fetch_add(&p->told_n, 1);
            if (down && atomic_load(&run->broker_down)) atomic_fetch_add(&p->told_down_n, 1);
            if (p->last_ack_us) {
                int64_t gap = now - p->last_ack_us;
                if (gap > p->max_gap_us) p->max_gap_us = gap;
            }
            p->last_ack_us = now;
            return;
        }
        if (rc == FB_EREJECTED) {
            p->rejected++;
            snprintf(p->last_reject, sizeof(p->last_reject), "%s", ack.reason_name);
            return;
        }
        /* FB_ETIMEOUT (or a send that failed): the same message again. */
        if (!atomic_load(&run->publishing) && now > run->settle_until_us) {
            p->unresolved++;
            return;
        }
    }
}

static void *s_publisher(void *arg)
{
    s_pub_t *p = arg;
    fl_run_t *run = p->run;
    fb_publisher_t *pub = fb_publisher_new(run->t->node_submit[p->i]);
    if (!pub) return NULL;
    int64_t period = 1000000 / run->rate, next = fb_time_mono_us();
    for (uint64_t n = 1; atomic_load(&run->publishing); n++) {
        s_publish_one(p, pub, n);
        next += period;
        int64_t now = fb_time_mono_us();
        if (next > now) usleep((useconds_t)(next - now));
        else if (now - next > 1000000) next = now; /* no catch-up burst after a fault */
    }
    fb_publisher_destroy(&pub);
    return NULL;
}

static void *s_subscriber(void *arg)
{
    s_sub_t *s = arg;
    fl_run_t *run = s->run;
    fb_subscriber_t *sub = fb_subscriber_open(&s->feed, &s->replay);
    if (!sub) {
        s->open_failed = 1;
        return NULL;
    }
    for (int k = 0; k < s->npatterns; k++) fb_subscriber_add(sub, s->patterns[k]);
    fb_subscriber_from(sub, 1);
    while (atomic_load(&run->subscribing)) {
        fb_message_t m;
        if (fb_subscriber_recv(sub, &m, 100) != FB_OK) continue;
        s_push(&s->seqs, &m.global_seq);
        atomic_store(&s->last_seq, m.global_seq);
        /* The slow reader stops reading for 3 s after every 1,000 messages,
         * as a paused `fedbus tail` would, so its queues overflow. */
        if (s->slow && s->seqs.n % 1000 == 0) usleep(3000 * 1000);
    }
    fb_subscriber_destroy(&sub);
    return NULL;
}

void fl_start(fl_run_t *self)
{
    atomic_store(&self->publishing, 1);
    atomic_store(&self->subscribing, 1);
    for (int k = 0; k < 2; k++) pthread_create(&self->sub[k].thread, NULL, s_subscriber, &self->sub[k]);
    usleep(300 * 1000); /* subscriptions reach the broker before the first publish */
    for (int i = 0; i < FL_MEMBERS; i++) pthread_create(&self->pub[i].thread, NULL, s_publisher, &self->pub[i]);
    self->started = 1;
}

void fl_fault_begin(fl_run_t *self) { self->fault_begin_us = fb_time_mono_us(); }
void fl_fault_end(fl_run_t *self) { self->fault_end_us = fb_time_mono_us(); }
void fl_broker_down(fl_run_t *self, int down) { atomic_store(&self->broker_down, down); }
long fl_told_accepted(fl_run_t *self, int i) { return atomic_load(&self->pub[i].told_n); }
long fl_told_accepted_broker_down(fl_run_t *self, int i) { return atomic_load(&self->pub[i].told_down_n); }

/* The highest global_seq stored that sub matches, 0 when none. */
static uint64_t s_last_matching(fl_run_t *self, const s_sub_t *s)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT coalesce(max(global_seq), 0) FROM fedbus_messages WHERE %s", s->like);
    return (uint64_t)th_sql_int(self->t, sql);
}

static void s_join(fl_run_t *self)
{
    if (!self->started) return;
    atomic_store(&self->publishing, 0);
    atomic_store(&self->subscribing, 0);
    for (int i = 0; i < FL_MEMBERS; i++) pthread_join(self->pub[i].thread, NULL);
    for (int k = 0; k < 2; k++) pthread_join(self->sub[k].thread, NULL);
    self->started = 0;
}

void fl_stop(fl_run_t *self, int settle_s)
{
    int64_t stop = fb_time_mono_us();
    self->settle_until_us = stop + (int64_t)settle_s * 1000000;
    atomic_store(&self->publishing, 0);
    for (int i = 0; i < FL_MEMBERS; i++) {
        pthread_join(self->pub[i].thread, NULL);
        /* A member still waiting at the end has been without an ack since its last one. */
        s_pub_t *p = &self->pub[i];
        if (p->unresolved && p->last_ack_us && stop - p->last_ack_us > p->max_gap_us)
            p->max_gap_us = stop - p->last_ack_us;
    }
    int64_t deadline = fb_time_mono_us() + (int64_t)settle_s * 1000000;
    for (int k = 0; k < 2; k++) {
        uint64_t last = s_last_matching(self, &self->sub[k]);
        while (atomic_load(&self->sub[k].last_seq) < last && fb_time_mono_us() < deadline) usleep(50 * 1000);
    }
    usleep(300 * 1000); /* a duplicate after the last one would show now */
    atomic_store(&self->subscribing, 0);
    for (int k = 0; k < 2; k++) pthread_join(self->sub[k].thread, NULL);
    self->started = 0;
}

void fl_run_destroy(fl_run_t **self_p)
{
    if (!self_p || !*self_p) return;
    fl_run_t *self = *self_p;
    s_join(self);
    for (int i = 0; i < FL_MEMBERS; i++) free(self->pub[i].told.v);
    for (int k = 0; k < 2; k++) free(self->sub[k].seqs.v);
    free(self);
    *self_p = NULL;
}

static int s_cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Runs sql on t's database; the caller clears the result. */
static PGresult *s_query(fl_run_t *self, const char *sql)
{
    PGconn *c = PQconnectdb(self->t->conninfo);
    if (PQstatus(c) != CONNECTION_OK) fail_msg("PostgreSQL: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQfinish(c);
    return r;
}

/* Every id told accepted, stored once? Counts those stored 0 and >1 times. */
static void s_check_told(fl_run_t *self, long *told, long *missing, long *dup)
{
    s_vec_t all = {.size = 37};
    for (int i = 0; i < FL_MEMBERS; i++)
        for (size_t k = 0; k < self->pub[i].told.n; k++) s_push(&all, (char *)self->pub[i].told.v + k * 37);
    qsort(all.v, all.n, 37, s_cmp_str);
    *told = (long)all.n;
    *missing = *dup = 0;
    /* Counts per id straight from PostgreSQL, looked up by binary search. */
    PGresult *r = s_query(self, "SELECT message_id::text, count(*)::text FROM fedbus_messages GROUP BY 1");
    int rows = PQntuples(r);
    char(*sid)[37 + 24] = calloc((size_t)rows + 1, 37 + 24);
    for (int k = 0; k < rows; k++)
        snprintf(sid[k], 37 + 24, "%.36s%c%s", PQgetvalue(r, k, 0), '\0', PQgetvalue(r, k, 1));
    PQclear(r);
    qsort(sid, (size_t)rows, 37 + 24, s_cmp_str);
    for (size_t k = 0; k < all.n; k++) {
        const char *id = (char *)all.v + k * 37;
        const char *hit = bsearch(id, sid, (size_t)rows, 37 + 24, s_cmp_str);
        long c = hit ? atol(hit + 37) : 0;
        if (c == 0) (*missing)++;
        else if (c > 1) (*dup)++;
    }
    free(sid);
    free(all.v);
}

/* Compares what s delivered with what PostgreSQL holds for its patterns. */
static void s_check_sub(fl_run_t *self, const s_sub_t *s, long *expected, long *missing, long *dup, long *disorder)
{
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT global_seq FROM fedbus_messages WHERE %s ORDER BY global_seq", s->like);
    PGresult *r = s_query(self, sql);
    int rows = PQntuples(r);
    uint64_t *want = calloc((size_t)rows + 1, sizeof(uint64_t));
    for (int k = 0; k < rows; k++) want[k] = strtoull(PQgetvalue(r, k, 0), NULL, 10);
    PQclear(r);
    const uint64_t *got = s->seqs.v;
    size_t n = s->seqs.n;
    *expected = rows;
    *missing = *dup = *disorder = 0;
    for (size_t k = 1; k < n; k++) {
        if (got[k] == got[k - 1]) (*dup)++;
        else if (got[k] < got[k - 1]) (*disorder)++;
    }
    /* Missing: wanted ones not delivered (delivered sorted for the lookup). */
    uint64_t *sorted = malloc((n + 1) * sizeof(uint64_t));
    memcpy(sorted, got, n * sizeof(uint64_t));
    qsort(sorted, n, sizeof(uint64_t), s_cmp_u64);
    size_t j = 0;
    char first[160] = "";
    for (int k = 0; k < rows; k++) {
        while (j < n && sorted[j] < want[k]) j++;
        if (j >= n || sorted[j] != want[k]) {
            if (!*missing) snprintf(first, sizeof(first), " first_missing=%llu", (unsigned long long)want[k]);
            (*missing)++;
        }
    }
    /* Delivered but not stored (or not matching): a message that should not exist. */
    long unexpected = 0;
    int k = 0;
    for (size_t a = 0; a < n; a++) {
        while (k < rows && want[k] < sorted[a]) k++;
        if (k >= rows || want[k] != sorted[a]) {
            if (!unexpected)
                snprintf(first + strlen(first), sizeof(first) - strlen(first), " first_unexpected=%llu",
                         (unsigned long long)sorted[a]);
            unexpected++;
        }
    }
    if (*missing || unexpected)
        print_message("subscriber %s: %ld missing, %ld delivered but not stored/matching;%s\n", s->name, *missing,
                      unexpected, first);
    *missing += unexpected;
    free(sorted);
    free(want);
}

void fl_check(fl_run_t *self, const char *scenario, const int max_gap_ms[FL_MEMBERS])
{
    long told, missing, dup, published = 0, sends = 0, rejected = 0, unresolved = 0;
    s_check_told(self, &told, &missing, &dup);
    for (int i = 0; i < FL_MEMBERS; i++) {
        published += self->pub[i].published;
        sends += self->pub[i].sends;
        rejected += self->pub[i].rejected;
        unresolved += self->pub[i].unresolved;
    }
    long stored = th_sql_int(self->t, "SELECT count(*) FROM fedbus_messages");
    long stored_dup = th_sql_int(self->t, "SELECT count(*) - count(DISTINCT message_id) FROM fedbus_messages");
    print_message("fault %s: published=%ld sends=%ld told_accepted=%ld rejected=%ld unresolved=%ld stored=%ld "
                  "told_missing=%ld told_stored_twice=%ld stored_duplicate_ids=%ld\n",
                  scenario, published, sends, told, rejected, unresolved, stored, missing, dup, stored_dup);
    int broken = missing || dup || stored_dup || rejected;
    long sm[2][4];
    for (int k = 0; k < 2; k++) {
        const s_sub_t *s = &self->sub[k];
        s_check_sub(self, s, &sm[k][0], &sm[k][1], &sm[k][2], &sm[k][3]);
        print_message("fault %s: subscriber %s expected=%ld delivered=%zu missing=%ld duplicates=%ld "
                      "out_of_order=%ld%s\n",
                      scenario, s->name, sm[k][0], s->seqs.n, sm[k][1], sm[k][2], sm[k][3],
                      s->open_failed ? " (could not open)" : "");
        if (s->open_failed || sm[k][1] || sm[k][2] || sm[k][3] || (long)s->seqs.n != sm[k][0]) broken = 1;
    }
    for (int i = 0; i < FL_MEMBERS; i++) {
        const s_pub_t *p = &self->pub[i];
        print_message("fault %s: member %s published=%ld told_accepted=%zu rejected=%ld%s%s max_ack_gap_ms=%lld "
                      "(allowed %d)\n",
                      scenario, FL_MEMBER[i], p->published, p->told.n, p->rejected, p->rejected ? " last=" : "",
                      p->last_reject, (long long)(p->max_gap_us / 1000), max_gap_ms[i]);
        if (p->max_gap_us / 1000 > max_gap_ms[i] || p->told.n == 0) broken = 1;
    }
    if (self->fault_begin_us)
        print_message("fault %s: fault window %.1f s\n", scenario,
                      (double)((self->fault_end_us ? self->fault_end_us : fb_time_mono_us()) - self->fault_begin_us) / 1e6);
    if (missing) fail_msg("%ld publishes told accepted are not in PostgreSQL", missing);
    if (dup || stored_dup) fail_msg("message_ids stored more than once: %ld told, %ld in all", dup, stored_dup);
    if (rejected) fail_msg("%ld honest publishes were rejected", rejected);
    for (int k = 0; k < 2; k++)
        if (self->sub[k].open_failed || sm[k][1] || sm[k][2] || sm[k][3] || (long)self->sub[k].seqs.n != sm[k][0])
            fail_msg("subscriber %s: %ld missing, %ld duplicates, %ld out of order (%zu delivered of %ld)",
                     self->sub[k].name, sm[k][1], sm[k][2], sm[k][3], self->sub[k].seqs.n, sm[k][0]);
    for (int i = 0; i < FL_MEMBERS; i++)
        if (self->pub[i].max_gap_us / 1000 > max_gap_ms[i] || self->pub[i].told.n == 0)
            fail_msg("member %s went %lld ms without an ack (allowed %d)", FL_MEMBER[i],
                     (long long)(self->pub[i].max_gap_us / 1000), max_gap_ms[i]);
    assert_false(broken);
}
