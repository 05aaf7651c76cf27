/* fb_bench_wake.c — fedbus-bench-wake: what one wake-up costs on this machine, now.
 *
 * Every publish crosses a dozen threads between the load driver and the
 * ack (ZeroMQ's I/O threads, the node, the broker and its writer,
 * PostgreSQL's backend), and each hop is a sleeping thread woken by
 * another. Below saturation that is most of the CPU a publish costs, and
 * on a virtual machine a wake-up on the other CPU can cost several times
 * one on the same CPU (an inter-processor interrupt the hypervisor has to
 * deliver), and that changes with the host's load. bench/run prints this
 * next to its table, so that two runs can be told apart by the machine as
 * well as by the code.
 *
 * Two threads pass a token back and forth through two pipes, `rounds`
 * times: as the scheduler places them, then both pinned to the first
 * allowed CPU, then pinned to two different CPUs (when two are allowed).
 * Each figure is the median of `reps` measurements, in microseconds per
 * round trip (two wake-ups). */
#define _GNU_SOURCE /* pthread_setaffinity_np, CPU_* */
#include "fb_bench.h"
#include "fb_config.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    long long rounds;
    long long reps;
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"rounds", FB_CFG_INT, S_INT(rounds), "20000", 100, 10000000, "round trips per measurement"},
    {"reps", FB_CFG_INT, S_INT(reps), "3", 1, 99, "measurements per placement (the median is reported)"},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

typedef struct {
    int to[2], back[2]; /* pipes: [0] read end, [1] write end */
    long long rounds;
    int cpu; /* -1: wherever the scheduler puts it */
    int failed;
} s_pair_t;

static int s_pin(int cpu)
{
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* Reads exactly one byte, through EINTR. */
static int s_get(int fd)
{
    char c;
    ssize_t r;
    while ((r = read(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return r == 1 ? 0 : -1;
}

static int s_put(int fd)
{
    char c = 'x';
    ssize_t r;
    while ((r = write(fd, &c, 1)) < 0 && errno == EINTR)
        ;
    return r == 1 ? 0 : -1;
}

static void *s_echo(void *arg)
{
    s_pair_t *p = arg;
    if (s_pin(p->cpu) != 0) p->failed = 1;
    for (long long i = 0; i < p->rounds; i++)
        if (s_get(p->to[0]) != 0 || s_put(p->back[1]) != 0) {
            p->failed = 1;
            break;
        }
    return NULL;
}

/* One measurement: µs per round trip, or -1 on failure. */
static double s_measure(long long rounds, int cpu_a, int cpu_b)
{
    s_pair_t p = {.rounds = rounds, .cpu = cpu_b};
    if (pipe(p.to) != 0) return -1;
    if (pipe(p.back) != 0) {
        close(p.to[0]);
        close(p.to[1]);
        return -1;
    }
    double us = -1;
    pthread_t t;
    cpu_set_t saved;
    int have_saved = pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) == 0;
    if (pthread_create(&t, NULL, s_echo, &p) != 0) goto out;
    int ok = s_pin(cpu_a) == 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long long i = 0; ok && i < rounds; i++)
        if (s_put(p.to[1]) != 0 || s_get(p.back[0]) != 0) ok = 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (!ok) close(p.to[1]), p.to[1] = -1; /* lets the echo thread end */
    pthread_join(t, NULL);
    if (ok && !p.failed)
        us = ((double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3) / (double)rounds;
out:
    if (have_saved) pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
    for (int i = 0; i < 2; i++) {
        if (p.to[i] >= 0) close(p.to[i]);
        close(p.back[i]);
    }
    return us;
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of reps measurements, or -1 when one failed. */
static double s_median(const s_config_t *cfg, int cpu_a, int cpu_b)
{
    double v[99];
    int n = (int)cfg->reps;
    for (int i = 0; i < n; i++)
        if ((v[i] = s_measure(cfg->rounds, cpu_a, cpu_b)) < 0) return -1;
    qsort(v, (size_t)n, sizeof(v[0]), s_cmp);
    return v[n / 2];
}

static void s_put_num(FILE *f, const char *key, double v, const char *sep)
{
    if (v < 0) fprintf(f, "\"%s\":null%s", key, sep);
    else fprintf(f, "\"%s\":%.2f%s", key, v, sep);
}

int main(int argc, char **argv)
{
    s_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    int arc = fb_bench_args(s_keys, &cfg, argc, argv, "fedbus-bench-wake", "[--key=value ...]",
                            "Measures what a thread waking another costs on this machine now: two\n"
                            "threads pass a token through pipes, placed by the scheduler, on one\n"
                            "CPU, and on two CPUs; prints microseconds per round trip as JSON.\n");
    if (arc >= 0) return arc;
    /* The first two CPUs this process may run on. */
    cpu_set_t set;
    int cpus[2] = {-1, -1}, ncpus = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE && ncpus < 2; c++)
            if (CPU_ISSET(c, &set)) cpus[ncpus++] = c;
    double free_us = s_median(&cfg, -1, -1);
    double same_us = ncpus >= 1 ? s_median(&cfg, cpus[0], cpus[0]) : -1;
    double cross_us = ncpus >= 2 ? s_median(&cfg, cpus[0], cpus[1]) : -1;
    if (free_us < 0) {
        fprintf(stderr, "fedbus-bench-wake: the measurement failed: %s\n", strerror(errno));
        return 1;
    }
    FILE *out = stdout;
    if (strcmp(cfg.json, "-") != 0 && !(out = fopen(cfg.json, "w"))) {
        fprintf(stderr, "fedbus-bench-wake: cannot write %s: %s\n", cfg.json, strerror(errno));
        return 1;
    }
    fprintf(out, "{\"tool\":\"fedbus-bench-wake\",\"rounds\":%lld,\"reps\":%lld,", cfg.rounds, cfg.reps);
    s_put_num(out, "round_trip_us", free_us, ",");
    s_put_num(out, "same_cpu_us", same_us, ",");
    s_put_num(out, "cross_cpu_us", cross_us, "}\n");
    if (out != stdout && fclose(out) != 0) {
        fprintf(stderr, "fedbus-bench-wake: cannot write %s: %s\n", cfg.json, strerror(errno));
        return 1;
    }
    return 0;
}
