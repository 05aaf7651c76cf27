/* fb_bench_replay.c — how long one replay page of a topic prefix takes on a partitioned fedbus_messages (bench/replay). */
#include "fb_store.h"
#include "fb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WINDOW 16384 /* global_seqs a page reads, as the replay server starts with */
#define S_PAGES_MAX 100000

typedef struct {
    size_t n;
    uint64_t last;
} s_got_t;

static void s_count(const fb_store_page_t *page, void *arg)
{
    s_got_t *g = arg;
    g->n = page->n;
    g->last = page->last_seq;
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Replays prefix from global_seq 1 to head, pages of 256 in windows of
 * S_WINDOW, rounds times; prints the pages' p50, p90 and the total. */
int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: fedbus-bench-replay CONNINFO PREFIX HEAD ROUNDS\n");
        return 2;
    }
    const char *prefixes[1] = {argv[2]};
    uint64_t head = strtoull(argv[3], NULL, 10);
    int rounds = atoi(argv[4]);
    char err[256];
    fb_store_t *st = fb_store_open(argv[1], FB_STORE_READER, err, sizeof(err));
    if (!st) {
        fprintf(stderr, "fedbus-bench-replay: %s\n", err);
        return 1;
    }
    int64_t *us = malloc(S_PAGES_MAX * sizeof(*us));
    size_t npages = 0, rows = 0;
    int64_t t0 = fb_time_mono_us();
    for (int r = 0; r < rounds; r++) {
        for (uint64_t from = 1; from <= head && npages < S_PAGES_MAX;) {
            s_got_t got = {0, 0};
            int64_t a = fb_time_mono_us();
            int n = fb_store_page(st, from, from + S_WINDOW, 0, prefixes, 1, 256, s_count, &got);
            us[npages++] = fb_time_mono_us() - a;
            if (n < 0) {
                fprintf(stderr, "fedbus-bench-replay: %s\n", fb_store_error(st));
                return 1;
            }
            rows += got.n;
            from = (unsigned)n == 256 ? got.last + 1 : from + S_WINDOW;
        }
    }
    int64_t total = fb_time_mono_us() - t0;
    qsort(us, npages, sizeof(*us), s_cmp);
    printf("replay %s: %zu pages, %zu rows, page p50 %.2f ms, p90 %.2f ms, total %.0f ms\n", argv[2], npages, rows,
           us[npages / 2] / 1000.0, us[npages * 9 / 10] / 1000.0, total / 1000.0);
    free(us);
    fb_store_destroy(&st);
    return 0;
}
