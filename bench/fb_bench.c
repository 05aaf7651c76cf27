/* fb_bench.c — the benchmark message (an Event padded to size), frames and percentiles. */
#include "fb_bench.h"

#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* 2026-03-05 19:00 KST: a fixed start time, so every message has the same size. */
#define S_STARTS_AT_US 1772704800000000LL

/* Writes len bytes of filler text: pseudo-random lowercase words, the same
 * every time. Unlike a run of one letter, it does not shrink to nothing
 * under PostgreSQL's TOAST compression, so the bytes stored are about the
 * bytes sent. */
static void s_filler(char *out, size_t len)
{
    uint32_t x = 2463534242u; /* xorshift32 */
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (x % 7 == 0 && i > 0 && out[i - 1] != ' ') ? ' ' : (char)('a' + x % 26);
    }
    out[len] = '\0';
}

int fb_bench_msg_init(fb_bench_msg_t *m, const char *origin, size_t size)
{
    memset(m, 0, sizeof(*m));
    if (!fb_segment_valid(origin, strlen(origin))) return -1;
    snprintf(m->origin, sizeof(m->origin), "%s", origin);
    snprintf(m->topic, sizeof(m->topic), "event.%s.bench", origin);
    uint8_t id[16] = {0};
    int64_t now = 1772704800000000LL; /* any 8-byte varint: every created_at_us this century */
    size_t base = fb_bench_msg_pack(m, id, now, 1, NULL);
    if (size <= base) {
        m->size = base;
        return 0;
    }
    /* The summary's own tags and lengths take a few bytes: start from the
     * gap and shrink until the envelope fits. */
    size_t pad = size - base;
    m->summary = malloc(pad + 1);
    if (!m->summary) return -1;
    s_filler(m->summary, pad);
    size_t got;
    while ((got = fb_bench_msg_pack(m, id, now, 1, NULL)) > size && pad > 0)
        m->summary[--pad] = '\0';
    if (pad == 0) {
        free(m->summary);
        m->summary = NULL;
        got = base;
    }
    m->size = got;
    return 0;
}

void fb_bench_msg_fini(fb_bench_msg_t *m)
{
    free(m->summary);
    m->summary = NULL;
}

size_t fb_bench_msg_pack(const fb_bench_msg_t *m, const uint8_t id[16], int64_t created_at_us,
                         uint64_t origin_seq, uint8_t *out)
{
    Fedbus__Text title = FEDBUS__TEXT__INIT;
    title.ko = (char *)"fedbus 성능 측정 포럼";
    title.en = (char *)"fedbus benchmark forum";
    Fedbus__Text summary = FEDBUS__TEXT__INIT;
    summary.en = m->summary;
    Fedbus__Timestamp starts = FEDBUS__TIMESTAMP__INIT;
    starts.unix_us = S_STARTS_AT_US;
    starts.utc_offset_min = 540;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    ev.title = &title;
    ev.summary = m->summary ? &summary : NULL;
    ev.starts_at = &starts;
    ev.timezone = (char *)"Asia/Seoul";
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    env.message_id.data = (uint8_t *)id;
    env.message_id.len = 16;
    env.origin = (char *)m->origin;
    env.topic = (char *)m->topic;
    env.created_at_us = created_at_us;
    env.schema_version = FEDBUS_SCHEMA_VERSION;
    env.origin_seq = origin_seq;
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    if (!out) return fedbus__envelope__get_packed_size(&env);
    return fedbus__envelope__pack(&env, out);
}

size_t fb_bench_frame(const uint8_t *env, size_t env_len, uint8_t *out)
{
    Fedbus__Publish pub = FEDBUS__PUBLISH__INIT;
    pub.envelope.data = (uint8_t *)env;
    pub.envelope.len = env_len;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_PUBLISH;
    nm.publish = &pub;
    if (!out) return fedbus__node_message__get_packed_size(&nm);
    return fedbus__node_message__pack(&nm, out);
}

static int s_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Least significant byte first, one counting pass per byte that is not
 * the same in every value (latencies in µs: three or four of eight): a
 * load run's 200,000 latencies in a few ms instead of qsort's ~30. The
 * sign bit is flipped so that negative values sort first. */
void fb_bench_sort(int64_t *v, size_t n)
{
    if (n < 2) return;
    uint64_t *a = (uint64_t *)v, *b = malloc(n * sizeof(*b));
    if (!b) {
        qsort(v, n, sizeof(*v), s_cmp);
        return;
    }
    const uint64_t flip = UINT64_C(1) << 63;
    uint64_t all_or = 0, all_and = ~UINT64_C(0);
    for (size_t i = 0; i < n; i++) {
        a[i] ^= flip;
        all_or |= a[i];
        all_and &= a[i];
    }
    for (int shift = 0; shift < 64; shift += 8) {
        if ((((all_or ^ all_and) >> shift) & 0xFF) == 0) continue; /* this byte is the same in all */
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xFF) + 1]++;
        for (int d = 0; d < 256; d++) count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++) b[count[(a[i] >> shift) & 0xFF]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) a[i] ^= flip;
    if (a != (uint64_t *)v) {
        memcpy(v, a, n * sizeof(*v));
        b = a;
    }
    free(b);
}

int64_t fb_bench_rank(const int64_t *sorted, size_t n, double q)
{
    if (n == 0) return 0;
    size_t k = (size_t)(q * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

double fb_bench_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int fb_bench_host_ticks(uint64_t *steal, uint64_t *total)
{
    *steal = *total = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    /* cpu  user nice system idle iowait irq softirq steal (guest time is
     * counted in user already) */
    unsigned long long v[8];
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n != 8) return -1;
    for (int i = 0; i < 8; i++) *total += v[i];
    *steal = v[7];
    return 0;
}

int fb_bench_args(const fb_cfg_key_t *keys, void *cfg, int argc, char **argv, const char *name, const char *synopsis,
                  const char *about)
{
    char err[512];
    int nargs = 0, rc = fb_config_load(keys, cfg, argc, argv, &nargs, err, sizeof(err));
    if (rc == 1) {
        printf("usage: %s %s\n%s\nKeys:\n", name, synopsis, about);
        fb_config_help(keys, stdout);
        return 0;
    }
    if (rc < 0 || nargs > 0) {
        fprintf(stderr, "%s: %s\n", name, rc < 0 ? err : "unexpected argument (see --help)");
        return 2;
    }
    return -1;
}
