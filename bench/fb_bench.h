/* fb_bench.h — what the bench programs share: their arguments, the benchmark message and percentiles.
 *
 * Both the COPY baseline (fb_bench_copy.c) and the load driver
 * (fb_bench_load.c) build their envelopes here, so that the rows the
 * baseline COPYs are the rows the broker stores during the end-to-end run:
 * same fields, same sizes. */
#ifndef FB_BENCH_H
#define FB_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "fb_config.h"

/* Reads a bench program's arguments (--key=value, as fb_config_load()) into
 * cfg. --help prints "usage: NAME SYNOPSIS", about (ending in a newline) and
 * the keys, and returns 0; bad input or a stray argument prints one line
 * "NAME: why" on stderr and returns 2; returns -1 when the program is to
 * run (the caller exits with what it returns otherwise). */
int fb_bench_args(const fb_cfg_key_t *keys, void *cfg, int argc, char **argv, const char *name, const char *synopsis,
                  const char *about);

/* The benchmark message of one origin: an Event whose summary is padded so
 * that the packed envelope, as the broker stores it before its stamp, is
 * `size` bytes (within 2 bytes: origin_seq is a varint that grows from 1
 * byte below 128 to 3 bytes below 2^21). */
typedef struct {
    char origin[64];
    char topic[96];
    char *summary; /* the padding (owned), NUL-terminated; NULL when none fits */
    size_t size;   /* bytes of the envelope with origin_seq 1 */
} fb_bench_msg_t;

/* Prepares m for origin and a wanted envelope size. A size below the
 * smallest envelope gives the smallest envelope (m->size says which).
 * Returns 0, or -1 when origin is not a member id or memory ran out. */
int fb_bench_msg_init(fb_bench_msg_t *m, const char *origin, size_t size);
void fb_bench_msg_fini(fb_bench_msg_t *m);

/* Packs the envelope with message id, created_at_us and origin_seq (0 =
 * leave it to the node) into out, or only measures it when out is NULL.
 * Returns the packed length. */
size_t fb_bench_msg_pack(const fb_bench_msg_t *m, const uint8_t id[16], int64_t created_at_us,
                         uint64_t origin_seq, uint8_t *out);

/* Wraps an envelope into a NodeMessage{publish} frame in out (NULL: only
 * measure). Returns the frame length. */
size_t fb_bench_frame(const uint8_t *env, size_t env_len, uint8_t *out);

/* Sorts v[0..n) in place and returns its q-quantile (0 <= q <= 1) by
 * nearest rank, or 0 when n is 0. Call fb_bench_sort once, then
 * fb_bench_rank for each quantile. */
void fb_bench_sort(int64_t *v, size_t n);
int64_t fb_bench_rank(const int64_t *sorted, size_t n, double q);

/* CPU seconds (user + system) this process used so far. */
double fb_bench_cpu_s(void);

/* Clock ticks of all CPUs so far, from the first line of /proc/stat: in
 * *total all of them, in *steal those in which a virtual CPU wanted to run
 * and its host ran something else. Returns 0, or -1 when they cannot be
 * read (*steal and *total are then 0). */
int fb_bench_host_ticks(uint64_t *steal, uint64_t *total);

#endif
