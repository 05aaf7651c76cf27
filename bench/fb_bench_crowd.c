/* fb_bench_crowd.c — fedbus-bench-crowd: many idle nodes and subscribers held open on one broker.
 *
 * One process, one thread, one poll loop. It opens N DEALER connections to
 * the broker's ingest, each a member of its own (crowd-0001, ...): each
 * sends a Hello, counts its Welcome, then sends a Heartbeat every
 * heartbeat-ms, spread evenly over the period so the broker sees a steady
 * trickle rather than a burst. It also opens M SUB connections to the feed.
 * The first `live` of them subscribe to patterns that carry traffic (by
 * default the namespaces of the four load nodes, one each, so that every
 * load message reaches exactly one of them); the others each subscribe to
 * the namespace of one crowd member, which publishes nothing. Live
 * subscribers read origin_seq from what arrives and count gaps.
 *
 * Every socket has small high-water marks: a crowd member sends one frame a
 * second and receives one Welcome. The loop wakes at most once per tick-ms.
 * It waits in epoll on the sockets' ZMQ_FDs and looks only at the sockets
 * that were signalled. zmq_poll (--loop=zmq_poll) does the same work but
 * asks every socket for its events on every pass, several system calls
 * each: over 2,000 sockets that cost 57% of a core here, against 7% for
 * epoll. ZeroMQ's own I/O thread carries the TCP connections.
 *
 * Whether a connection is up is read from the kernel: the TCP connections
 * this process holds in state ESTABLISHED towards the ingest and feed ports
 * (/proc/self/fd and /proc/self/net/tcp*). */
#include "fb_bench.h"

#include "fb_config.h"
#include "fb_envelope.h"
#include "fb_map.h"
#include "fb_time.h"
#include "fb_zmq.h"
#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_SOCKETS 9999 /* member ids keep four digits: crowd-0001 ... crowd-9999 */
#define S_FDS_PER_SOCKET 2 /* the TCP connection and the socket's mailbox (an eventfd) */
#define S_FDS_SPARE 128    /* stdio, ZeroMQ's context and I/O thread, /proc reads */
#define S_SCAN_US 1000000  /* how often connections are counted until all are up */
#define S_PROGRESS_US (10 * 1000000)
#define S_SWEEP_US (10 * 1000000) /* every socket read once, in case a signal was missed */

typedef struct {
    char ingest[256];
    char feed[256];
    long long nodes;
    long long subscribers;
    char member_prefix[24];
    long long heartbeat_ms;
    long long hello_ms;
    long long live;
    char live_patterns[1024];
    char crowd_kind[16];
    long long hwm;
    long long live_hwm;
    long long tick_ms;
    char loop[16];
    char frames[16];
    long long duration;
    long long ready_timeout;
    char json[512];
} s_config_t;

#define S_FIELD(f) offsetof(s_config_t, f), sizeof(((s_config_t *)0)->f)
#define S_INT(f) offsetof(s_config_t, f), 0

static const fb_cfg_key_t s_keys[] = {
    {"ingest", FB_CFG_STR, S_FIELD(ingest), "tcp://127.0.0.1:17701", 0, 0,
     "the broker's ingest endpoint the crowd nodes connect to"},
    {"feed", FB_CFG_STR, S_FIELD(feed), "tcp://127.0.0.1:17702", 0, 0,
     "the broker's feed endpoint the crowd subscribers connect to"},
    {"nodes", FB_CFG_INT, S_INT(nodes), "1000", 0, S_MAX_SOCKETS,
     "DEALER connections to ingest, one member each (Hello, then heartbeats)"},
    {"subscribers", FB_CFG_INT, S_INT(subscribers), "1000", 0, S_MAX_SOCKETS,
     "SUB connections to the feed"},
    {"member-prefix", FB_CFG_STR, S_FIELD(member_prefix), "crowd-", 0, 0,
     "node i is member PREFIX<i>, four digits: crowd-0001, crowd-0002, ..."},
    {"heartbeat-ms", FB_CFG_INT, S_INT(heartbeat_ms), "1000", 10, 3600000,
     "heartbeat period of each node, once welcomed"},
    {"hello-ms", FB_CFG_INT, S_INT(hello_ms), "2000", 100, 3600000,
     "a node not welcomed after this long says Hello again"},
    {"live", FB_CFG_INT, S_INT(live), "4", 0, S_MAX_SOCKETS,
     "subscribers that take live-patterns (round robin); the rest take a crowd member's namespace"},
    {"live-patterns", FB_CFG_STR, S_FIELD(live_patterns),
     "event.bench-01,event.bench-02,event.bench-03,event.bench-04", 0, 0,
     "comma-separated patterns that carry traffic: the four load nodes' namespaces"},
    {"crowd-kind", FB_CFG_STR, S_FIELD(crowd_kind), "event", 0, 0,
     "the other subscribers subscribe to KIND.<member> of the crowd member with their number"},
    {"hwm", FB_CFG_INT, S_INT(hwm), "16", 1, 1000000,
     "send and receive high-water mark of the nodes and the quiet subscribers"},
    {"live-hwm", FB_CFG_INT, S_INT(live_hwm), "1000", 1, 1000000,
     "receive high-water mark of the live subscribers"},
    {"tick-ms", FB_CFG_INT, S_INT(tick_ms), "10", 1, 1000,
     "the loop wakes at most once per tick (heartbeats leave up to a tick late)"},
    {"loop", FB_CFG_STR, S_FIELD(loop), "epoll", 0, 0,
     "epoll: wait on the sockets' ZMQ_FDs, look only at those signalled; zmq_poll: scan all"},
    {"frames", FB_CFG_STR, S_FIELD(frames), "batched", 0, 0,
     "feed frames the subscribers take: batched (as the C library's subscribers do) or plain (one message each)"},
    {"duration", FB_CFG_INT, S_INT(duration), "60", 0, 30 * 86400,
     "seconds to run (0 = until SIGINT or SIGTERM)"},
    {"ready-timeout", FB_CFG_INT, S_INT(ready_timeout), "60", 1, 3600,
     "seconds after which missing welcomes and connections are reported (the run goes on)"},
    {"json", FB_CFG_STR, S_FIELD(json), "-", 0, 0, "file that receives the JSON result (- = stdout)"},
    FB_CFG_END,
};

/* One crowd node: a DEALER to ingest. */
typedef struct {
    void *sock;
    char member[40];
    int welcomed;
    uint64_t last_origin_seq; /* from the Welcome */
    int64_t hello_at;         /* monotonic µs of the last Hello */
    int64_t next_beat;        /* monotonic µs of the next Heartbeat */
} s_node_t;

/* One subscriber: a SUB to the feed. */
typedef struct {
    void *sock;
    char pattern[FB_TOPIC_MAX + 1];
    int live;
    uint64_t deliveries; /* messages whose topic matches the pattern */
    uint64_t unmatched;  /* selected by the prefix, refused by the exact check */
    fb_map_t *last_seq;  /* live: origin -> last origin_seq seen */
} s_sub_t;

typedef struct {
    uint64_t hellos_sent, welcomes, heartbeats_sent;
    uint64_t send_failed;  /* Hello or Heartbeat refused by a full queue */
    uint64_t recv_failed;  /* a receive error other than EAGAIN */
    uint64_t stray_frames; /* on a node: not a Welcome; on a subscriber: not two frames */
    uint64_t undecodable;  /* live: a delivery that is not an Envelope */
    uint64_t deliveries, live_deliveries, unmatched, gaps, reordered;
    uint64_t last_global_seq;
} s_counts_t;

static s_config_t s_cfg;
static volatile sig_atomic_t s_stop;
static s_counts_t s_n;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* ----------------------------------------------------------- fd limit -- */

/* Raises RLIMIT_NOFILE to at least `need` (up to the hard limit). Returns the
 * soft limit now in force, or -1 when the hard limit is below need. */
static long long s_raise_nofile(long long need, long long *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    *hard = rl.rlim_max == RLIM_INFINITY ? -1 : (long long)rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && (long long)rl.rlim_cur < need) {
        if (rl.rlim_max != RLIM_INFINITY && (long long)rl.rlim_max < need) return -1;
        rl.rlim_cur = (rlim_t)need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
    }
    return rl.rlim_cur == RLIM_INFINITY ? LLONG_MAX : (long long)rl.rlim_cur;
}

/* ------------------------------------------------- connections, counted -- */

static int s_cmp_ino(const void *a, const void *b)
{
    unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
    return x < y ? -1 : x > y;
}

/* Returns the TCP port of a tcp:// endpoint, or -1. */
static int s_port_of(const char *endpoint)
{
    const char *c = strrchr(endpoint, ':');
    if (strncmp(endpoint, "tcp://", 6) != 0 || !c) return -1;
    int p = atoi(c + 1);
    return p > 0 && p < 65536 ? p : -1;
}

/* Counts the TCP connections of this process in state ESTABLISHED whose
 * remote port is port_a (into *a) or port_b (into *b). Returns 0, or -1 when
 * /proc could not be read. */
static int s_count_established(int port_a, int port_b, long *a, long *b)
{
    *a = *b = 0;
    size_t n = 0, cap = 4096;
    unsigned long *inos = malloc(cap * sizeof(*inos));
    DIR *d = opendir("/proc/self/fd");
    if (!inos || !d) {
        free(inos);
        if (d) closedir(d);
        return -1;
    }
    struct dirent *e;
    char path[300], link[64];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof(link) - 1);
        if (l <= 0) continue;
        link[l] = '\0';
        unsigned long ino;
        if (sscanf(link, "socket:[%lu]", &ino) != 1) continue;
        if (n == cap) {
            unsigned long *more = realloc(inos, 2 * cap * sizeof(*inos));
            if (!more) break;
            inos = more;
            cap *= 2;
        }
        inos[n++] = ino;
    }
    closedir(d);
    qsort(inos, n, sizeof(*inos), s_cmp_ino);
    static const char *const tables[] = {"/proc/self/net/tcp", "/proc/self/net/tcp6"};
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        if (!f) continue;
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            unsigned rport, state;
            unsigned long ino;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%*x %*[0-9A-Fa-f]:%x %x %*s %*s %*s %*d %*d %lu",
                       &rport, &state, &ino) != 3)
                continue;
            if (state != 1 /* TCP_ESTABLISHED */) continue;
            if ((int)rport != port_a && (int)rport != port_b) continue;
            if (!bsearch(&ino, inos, n, sizeof(*inos), s_cmp_ino)) continue;
            if ((int)rport == port_a) (*a)++;
            else (*b)++;
        }
        fclose(f);
    }
    free(inos);
    return 0;
}

/* ---------------------------------------------------------------- nodes -- */

/* Sends one NodeMessage without blocking; returns 0, or -1 when the
 * socket's queue is full. */
static int s_send_nm(void *sock, const Fedbus__NodeMessage *nm)
{
    uint8_t buf[512];
    size_t len = fedbus__node_message__get_packed_size(nm);
    if (len > sizeof(buf)) return -1;
    fedbus__node_message__pack(nm, buf);
    if (zmq_send(sock, buf, len, ZMQ_DONTWAIT) < 0) {
        s_n.send_failed++;
        return -1;
    }
    return 0;
}

static void s_hello(s_node_t *c, int64_t now)
{
    Fedbus__Hello h = FEDBUS__HELLO__INIT;
    h.origin = c->member;
    h.version = (char *)"fedbus-bench-crowd";
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HELLO;
    nm.hello = &h;
    c->hello_at = now;
    if (s_send_nm(c->sock, &nm) == 0) s_n.hellos_sent++;
}

/* The fields are what an idle fedbus-node sends: nothing in its outbox. */
static void s_heartbeat(s_node_t *c)
{
    Fedbus__Heartbeat hb = FEDBUS__HEARTBEAT__INIT;
    hb.origin = c->member;
    hb.sent_at_us = fb_time_now_us();
    hb.outbox_depth = 0;
    hb.oldest_unconfirmed_us = 0;
    hb.last_origin_seq = c->last_origin_seq;
    hb.last_global_seq_seen = s_n.last_global_seq;
    Fedbus__NodeMessage nm = FEDBUS__NODE_MESSAGE__INIT;
    nm.body_case = FEDBUS__NODE_MESSAGE__BODY_HEARTBEAT;
    nm.heartbeat = &hb;
    if (s_send_nm(c->sock, &nm) == 0) s_n.heartbeats_sent++;
}

/* Reads everything queued on node i; a Welcome starts its heartbeats, at
 * its own phase within the period. Returns how many frames it read. */
static int s_node_read(s_node_t *nodes, int i, int n, int64_t now)
{
    s_node_t *c = &nodes[i];
    const int64_t period = s_cfg.heartbeat_ms * 1000;
    for (int got = 0;; got++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN) s_n.recv_failed++;
            zmq_msg_close(&m);
            return got;
        }
        if (zmq_msg_more(&m)) {
            fb_zmq_drain(c->sock);
            s_n.stray_frames++;
            zmq_msg_close(&m);
            continue;
        }
        Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (!bm || bm->body_case != FEDBUS__BROKER_MESSAGE__BODY_WELCOME) {
            s_n.stray_frames++;
        } else {
            s_n.welcomes++;
            c->last_origin_seq = bm->welcome->last_origin_seq;
            if (!c->welcomed) c->next_beat = now + period * i / (n ? n : 1);
            c->welcomed = 1;
        }
        if (bm) fedbus__broker_message__free_unpacked(bm, NULL);
    }
}

/* ---------------------------------------------------------- subscribers -- */

/* Finds origin, origin_seq and global_seq among the envelope's top-level
 * fields without decoding the payload: a live subscriber reads every
 * message of a load node, and a full unpack would cost the shared machine
 * more than the broker's own work on it. The last occurrence wins, as in
 * protobuf (the broker's stamp is appended). Returns 0 or -1. */
static int s_envelope_seqs(const uint8_t *p, size_t len, const char **origin, size_t *olen,
                           uint64_t *origin_seq, uint64_t *global_seq)
{
    fb_envelope_head_t h;
    if (fb_wire_envelope_scan(p, len, &h) != 0) return -1;
    *origin = (const char *)h.origin;
    *olen = h.origin_len;
    *origin_seq = h.origin_seq;
    *global_seq = h.global_seq;
    return *origin && *olen > 0 && *olen <= FB_SEGMENT_MAX ? 0 : -1;
}

/* Counts one live delivery: the envelope's origin_seq must follow the last
 * one seen from its origin. */
static void s_live_check(s_sub_t *s, const void *data, size_t len)
{
    const char *origin;
    size_t olen;
    uint64_t seq, gseq, last = 0;
    if (s_envelope_seqs(data, len, &origin, &olen, &seq, &gseq) != 0) {
        s_n.undecodable++;
        return;
    }
    if (fb_map_get(s->last_seq, origin, olen, &last)) {
        if (seq > last + 1) s_n.gaps += seq - last - 1;
        else if (seq <= last) s_n.reordered++;
    }
    if (seq > last) fb_map_put(s->last_seq, origin, olen, seq);
    if (gseq > s_n.last_global_seq) s_n.last_global_seq = gseq;
    s_n.live_deliveries++;
}

/* Reads every queued feed message (one frame: topic, NUL, stored envelope)
 * of one subscriber; returns how many. */
static int s_sub_read(s_sub_t *s)
{
    for (int got = 0;; got++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) < 0) {
            if (errno != EAGAIN) s_n.recv_failed++;
            zmq_msg_close(&m);
            return got;
        }
        const uint8_t *data = zmq_msg_data(&m);
        size_t size = zmq_msg_size(&m);
        const uint8_t *nul = zmq_msg_more(&m) ? NULL : memchr(data, 0, size);
        /* A batched frame (mark, topic, NUL, FeedBatch.envelopes) holds
         * messages of its topic: each counts as a delivery. */
        int batched = nul && size > 0 && data[0] == FB_FEED_MARK;
        const uint8_t *topic = data + batched;
        if (!nul) {
            if (zmq_msg_more(&m)) fb_zmq_drain(s->sock);
            s_n.stray_frames++;
        } else if (!fb_pattern_match(s->pattern, (const char *)topic, (size_t)(nul - topic))) {
            s->unmatched++;
            s_n.unmatched++;
        } else if (batched) {
            const uint8_t *p = nul + 1, *end = data + size, *env;
            size_t env_len;
            int rc;
            while ((rc = fb_wire_next_item(&p, end, &env, &env_len)) == 1) {
                s->deliveries++;
                s_n.deliveries++;
                if (s->live) s_live_check(s, env, env_len);
            }
            if (rc < 0) s_n.undecodable++;
        } else {
            s->deliveries++;
            s_n.deliveries++;
            if (s->live) s_live_check(s, nul + 1, size - (size_t)(nul + 1 - data));
        }
        zmq_msg_close(&m);
    }
}

/* Creates subscriber s on its pattern; returns 0 or -1 (reason printed). */
static int s_sub_open(s_sub_t *s, int hwm)
{
    char prefixes[FB_PATTERN_MAX_PREFIXES][FB_TOPIC_MAX + 1];
    int np = fb_pattern_prefixes(s->pattern, prefixes, FB_PATTERN_MAX_PREFIXES);
    if (np < 0) {
        fprintf(stderr, "fedbus-bench-crowd: '%s' is not a pattern\n", s->pattern);
        return -1;
    }
    s->sock = fb_zmq_open(
        &(fb_zmq_opts_t){.type = ZMQ_SUB, .endpoint = s_cfg.feed, .sndhwm = hwm, .rcvhwm = hwm});
    if (!s->sock) {
        fprintf(stderr, "fedbus-bench-crowd: cannot connect a subscriber to %s: %s\n", s_cfg.feed,
                zmq_strerror(errno));
        return -1;
    }
    for (int k = 0; k < np; k++) {
        char sub[FB_TOPIC_MAX + 2];
        size_t len = strlen(prefixes[k]), off = strcmp(s_cfg.frames, "batched") == 0;
        sub[0] = FB_FEED_MARK;
        memcpy(sub + off, prefixes[k], len);
        if (zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, sub, off + len) != 0) {
            fprintf(stderr, "fedbus-bench-crowd: cannot subscribe: %s\n", zmq_strerror(errno));
            return -1;
        }
    }
    if (s->live && !(s->last_seq = fb_map_new(16))) return -1;
    return 0;
}

/* ----------------------------------------------------------------- main -- */

static int s_write_json(json_t *j)
{
    FILE *out = strcmp(s_cfg.json, "-") ? fopen(s_cfg.json, "w") : stdout;
    if (!out) {
        fprintf(stderr, "fedbus-bench-crowd: cannot write %s\n", s_cfg.json);
        return -1;
    }
    json_dumpf(j, out, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    fputc('\n', out);
    if (out != stdout) fclose(out);
    return 0;
}

/* Reads whatever socket k (nodes first, then subscribers) holds; returns how many. */
static int s_read(s_node_t *nodes, int n, s_sub_t *subs, int k, int64_t now)
{
    return k < n ? s_node_read(nodes, k, n, now) : s_sub_read(&subs[k - n]);
}

static void s_sleep_us(int64_t us)
{
    if (us <= 0) return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
    int rc = 2;
    s_node_t *nodes = NULL;
    s_sub_t *subs = NULL;
    zmq_pollitem_t *items = NULL;
    struct epoll_event *evs = NULL;
    int ep = -1;
    memset(&s_cfg, 0, sizeof(s_cfg));
    int arc = fb_bench_args(s_keys, &s_cfg, argc, argv, "fedbus-bench-crowd", "[--key=value ...]",
                            "Holds many fedbus nodes and subscribers open on one broker from one thread:\n"
                            "each node says Hello and then sends a Heartbeat every heartbeat-ms; each\n"
                            "subscriber subscribes to one narrow pattern and counts what arrives. Runs for\n"
                            "--duration seconds or until SIGINT/SIGTERM, then prints one JSON object.\n"
                            "Prints 'ready:' on stderr once every node is welcomed and every connection is\n"
                            "up. Exits 1 when a node was never welcomed, a connection was down at the end,\n"
                            "or an error was counted; 2 when it could not start.\n");
    if (arc >= 0) return arc;
    const int n = (int)s_cfg.nodes, m = (int)s_cfg.subscribers;
    const int live = (int)(s_cfg.live < m ? s_cfg.live : m);
    const int use_epoll = strcmp(s_cfg.loop, "epoll") == 0;
    if (!use_epoll && strcmp(s_cfg.loop, "zmq_poll") != 0) {
        fprintf(stderr, "fedbus-bench-crowd: --loop is epoll or zmq_poll, not '%s'\n", s_cfg.loop);
        return 2;
    }
    if (strcmp(s_cfg.frames, "batched") != 0 && strcmp(s_cfg.frames, "plain") != 0) {
        fprintf(stderr, "fedbus-bench-crowd: --frames is batched or plain, not '%s'\n", s_cfg.frames);
        return 2;
    }
    if (n + m == 0) {
        fprintf(stderr, "fedbus-bench-crowd: nothing to open (--nodes and --subscribers are 0)\n");
        return 2;
    }

    /* ---- file descriptors: two per socket, raised here, up to the hard limit ---- */
    long long need = (long long)(n + m) * S_FDS_PER_SOCKET + S_FDS_SPARE, hard = 0;
    long long nofile = s_raise_nofile(need, &hard);
    if (nofile < 0) {
        fprintf(stderr,
                "fedbus-bench-crowd: %d sockets need %lld file descriptors, but the hard limit "
                "(ulimit -Hn) is %lld: raise it (limits.conf, systemd LimitNOFILE) or open fewer\n",
                n + m, need, hard);
        return 2;
    }
    void *ctx = fb_zmq_context();
    if (!ctx || zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + m + 16) != 0) {
        fprintf(stderr, "fedbus-bench-crowd: no ZeroMQ context for %d sockets\n", n + m);
        return 2;
    }

    /* ---- patterns ---- */
    char lp[sizeof(s_cfg.live_patterns)], *save = NULL;
    char *pats[256];
    int npats = 0;
    snprintf(lp, sizeof(lp), "%s", s_cfg.live_patterns);
    for (char *p = strtok_r(lp, ", ", &save); p && npats < 256; p = strtok_r(NULL, ", ", &save)) {
        if (!fb_pattern_valid(p, NULL)) {
            fprintf(stderr, "fedbus-bench-crowd: live pattern '%s' is not a pattern\n", p);
            return 2;
        }
        pats[npats++] = p;
    }
    if (live > 0 && npats == 0) {
        fprintf(stderr, "fedbus-bench-crowd: --live=%d but --live-patterns is empty\n", live);
        return 2;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* ---- sockets ---- */
    nodes = calloc((size_t)(n ? n : 1), sizeof(*nodes));
    subs = calloc((size_t)(m ? m : 1), sizeof(*subs));
    items = calloc((size_t)(n + m), sizeof(*items));
    evs = calloc((size_t)(n + m), sizeof(*evs));
    if (!nodes || !subs || !items || !evs) {
        fprintf(stderr, "fedbus-bench-crowd: out of memory\n");
        goto done;
    }
    int64_t t0 = fb_time_mono_us();
    for (int i = 0; i < n; i++) {
        s_node_t *c = &nodes[i];
        snprintf(c->member, sizeof(c->member), "%s%04d", s_cfg.member_prefix, i + 1);
        if (!fb_segment_valid(c->member, strlen(c->member))) {
            fprintf(stderr, "fedbus-bench-crowd: '%s' is not a member id\n", c->member);
            goto done;
        }
        c->sock = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = s_cfg.ingest,
                                               .max_msg = 1 << 20, .sndhwm = (int)s_cfg.hwm,
                                               .rcvhwm = (int)s_cfg.hwm});
        if (!c->sock) {
            fprintf(stderr, "fedbus-bench-crowd: node %d: cannot connect to %s: %s\n", i + 1,
                    s_cfg.ingest, zmq_strerror(errno));
            goto done;
        }
        /* Queued until the connection is up, then sent at once. */
        s_hello(c, fb_time_mono_us());
        items[i] = (zmq_pollitem_t){c->sock, 0, ZMQ_POLLIN, 0};
    }
    for (int j = 0; j < m; j++) {
        s_sub_t *s = &subs[j];
        s->live = j < live;
        if (s->live)
            snprintf(s->pattern, sizeof(s->pattern), "%s", pats[j % npats]);
        else
            snprintf(s->pattern, sizeof(s->pattern), "%s.%s%04d", s_cfg.crowd_kind,
                     s_cfg.member_prefix, (j - live) % (n ? n : S_MAX_SOCKETS) + 1);
        if (s_sub_open(s, (int)(s->live ? s_cfg.live_hwm : s_cfg.hwm)) != 0) goto done;
        items[n + j] = (zmq_pollitem_t){s->sock, 0, ZMQ_POLLIN, 0};
    }
    /* ZMQ_FD is the socket's mailbox: readable when ZeroMQ has commands for
     * it (a pipe became readable or writable, a peer came or went). Reading
     * ZMQ_EVENTS consumes them, so a signalled socket is drained to EAGAIN. */
    if (use_epoll && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        fprintf(stderr, "fedbus-bench-crowd: epoll: %s\n", strerror(errno));
        goto done;
    }
    for (int k = 0; use_epoll && k < n + m; k++) {
        int fd = -1;
        size_t sz = sizeof(fd);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
        if (zmq_getsockopt(items[k].socket, ZMQ_FD, &fd, &sz) != 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            fprintf(stderr, "fedbus-bench-crowd: epoll: %s\n", strerror(errno));
            goto done;
        }
    }
    /* A socket signals a pipe only after a read found it empty: read each
     * once now, or a Welcome that arrives first would wait for the sweep. */
    for (int k = 0; k < n + m; k++) s_read(nodes, n, subs, k, fb_time_mono_us());
    fprintf(stderr,
            "fedbus-bench-crowd: %d nodes on %s, %d subscribers on %s (%d live), fd limit %lld "
            "(hard %lld), %s loop, opened in %.2f s\n",
            n, s_cfg.ingest, m, s_cfg.feed, live, nofile, hard, s_cfg.loop,
            (double)(fb_time_mono_us() - t0) / 1e6);

    /* ---- the loop ---- */
    const int port_in = s_port_of(s_cfg.ingest), port_feed = s_port_of(s_cfg.feed);
    const int64_t tick = s_cfg.tick_ms * 1000, period = s_cfg.heartbeat_ms * 1000;
    const int64_t end = s_cfg.duration ? t0 + s_cfg.duration * 1000000 : INT64_MAX;
    const int64_t ready_by = t0 + s_cfg.ready_timeout * 1000000;
    int64_t next_scan = t0, next_progress = t0 + S_PROGRESS_US, next_sweep = t0 + S_SCAN_US, ready_at = 0;
    long up_in = -1, up_feed = -1, min_in = -1, min_feed = -1;
    int welcomed = 0, late_reported = 0;
    uint64_t polls = 0, woken = 0, swept = 0;
    while (!s_stop) {
        const int64_t pass = fb_time_mono_us();
        int64_t now = pass;
        if (now >= end) break;
        int rcp;
        if (use_epoll) rcp = epoll_wait(ep, evs, n + m, (int)(tick / 1000));
        else rcp = zmq_poll(items, n + m, (long)(tick / 1000));
        polls++;
        if (rcp < 0 && errno != EINTR) {
            fprintf(stderr, "fedbus-bench-crowd: poll: %s\n", zmq_strerror(errno));
            s_n.recv_failed++;
            break;
        }
        now = fb_time_mono_us();
        for (int k = 0; use_epoll && k < rcp; k++) {
            int idx = (int)evs[k].data.u32;
            uint32_t zev = 0;
            size_t sz = sizeof(zev);
            zmq_getsockopt(items[idx].socket, ZMQ_EVENTS, &zev, &sz); /* consumes the signal */
            woken++;
            s_read(nodes, n, subs, idx, now);
        }
        for (int k = 0; !use_epoll && rcp > 0 && k < n + m; k++)
            if (items[k].revents & ZMQ_POLLIN) {
                woken++;
                s_read(nodes, n, subs, k, now);
            }
        if (use_epoll && now >= next_sweep) {
            /* A safety net, every 10 s: whatever a socket holds without
             * its fd having fired. It should find nothing (see "swept"). */
            for (int k = 0; k < n + m; k++) swept += (uint64_t)s_read(nodes, n, subs, k, now);
            next_sweep = now + S_SWEEP_US;
        }
        welcomed = 0;
        for (int i = 0; i < n; i++) {
            s_node_t *c = &nodes[i];
            if (!c->welcomed) {
                if (now - c->hello_at >= s_cfg.hello_ms * 1000) s_hello(c, now);
                continue;
            }
            welcomed++;
            if (now < c->next_beat) continue;
            s_heartbeat(c);
            /* A send may process the socket's commands and so consume the
             * signal of a frame that arrived: look now. */
            s_node_read(nodes, i, n, now);
            c->next_beat += period;
            if (c->next_beat <= now) c->next_beat = now + period; /* fell a whole period behind */
        }
        if (now >= next_scan) {
            if (port_in > 0 && port_feed > 0 && s_count_established(port_in, port_feed, &up_in, &up_feed) == 0) {
                if (ready_at) {
                    if (up_in < min_in) min_in = up_in;
                    if (up_feed < min_feed) min_feed = up_feed;
                }
            } else {
                up_in = up_feed = -1; /* not TCP, or /proc unreadable: judged by welcomes alone */
            }
            int conns_up = (up_in < 0 || up_in >= n) && (up_feed < 0 || up_feed >= m);
            if (!ready_at && welcomed == n && conns_up) {
                ready_at = now;
                min_in = up_in;
                min_feed = up_feed;
                fprintf(stderr,
                        "fedbus-bench-crowd: ready: %d/%d nodes welcomed, %ld ingest and %ld feed "
                        "connections up, after %.2f s\n",
                        welcomed, n, up_in, up_feed, (double)(now - t0) / 1e6);
            } else if (!ready_at && !late_reported && now >= ready_by) {
                late_reported = 1;
                fprintf(stderr,
                        "fedbus-bench-crowd: not ready after %lld s: %d/%d nodes welcomed, %ld/%d "
                        "ingest and %ld/%d feed connections up\n",
                        s_cfg.ready_timeout, welcomed, n, up_in, n, up_feed, m);
            }
            next_scan = now + (ready_at ? S_PROGRESS_US : S_SCAN_US);
        }
        if (now >= next_progress) {
            fprintf(stderr,
                    "fedbus-bench-crowd: %.0f s: %d welcomed, %llu heartbeats, %llu deliveries "
                    "(%llu gaps), %llu errors, %.2f CPU s\n",
                    (double)(now - t0) / 1e6, welcomed, (unsigned long long)s_n.heartbeats_sent,
                    (unsigned long long)s_n.deliveries, (unsigned long long)s_n.gaps,
                    (unsigned long long)(s_n.send_failed + s_n.recv_failed + s_n.stray_frames +
                                         s_n.undecodable),
                    fb_bench_cpu_s());
            next_progress += S_PROGRESS_US;
        }
        /* At most one pass per tick: a zmq_poll scans every socket. */
        s_sleep_us(pass + tick - fb_time_mono_us());
    }
    int64_t t1 = fb_time_mono_us();
    if (port_in > 0 && port_feed > 0) s_count_established(port_in, port_feed, &up_in, &up_feed);
    double cpu = fb_bench_cpu_s();

    /* ---- result ---- */
    uint64_t errors = s_n.send_failed + s_n.recv_failed + s_n.stray_frames + s_n.undecodable;
    int all_up = welcomed == n && (up_in < 0 || up_in >= n) && (up_feed < 0 || up_feed >= m);
    int ok = all_up && errors == 0;
    json_t *j = json_object();
    json_t *e = json_object();
    json_t *conns = json_object();
    if (!j || !e || !conns) {
        fprintf(stderr, "fedbus-bench-crowd: out of memory\n");
        goto done;
    }
#define S_SETI(o, key, v) json_object_set_new(o, key, json_integer((json_int_t)(v)))
    S_SETI(conns, "nodes", n);
    S_SETI(conns, "nodes_welcomed", welcomed);
    S_SETI(conns, "ingest_up", up_in);
    S_SETI(conns, "ingest_up_min", ready_at ? min_in : -1);
    S_SETI(conns, "subscribers", m);
    S_SETI(conns, "live_subscribers", live);
    S_SETI(conns, "feed_up", up_feed);
    S_SETI(conns, "feed_up_min", ready_at ? min_feed : -1);
    S_SETI(e, "send_failed", s_n.send_failed);
    S_SETI(e, "recv_failed", s_n.recv_failed);
    S_SETI(e, "stray_frames", s_n.stray_frames);
    S_SETI(e, "undecodable", s_n.undecodable);
    json_object_set_new(j, "tool", json_string("fedbus-bench-crowd"));
    json_object_set_new(j, "connections", conns);
    json_object_set_new(j, "ready_after_s", ready_at ? json_real((double)(ready_at - t0) / 1e6) : json_null());
    json_object_set_new(j, "elapsed_s", json_real((double)(t1 - t0) / 1e6));
    S_SETI(j, "hellos_sent", s_n.hellos_sent);
    S_SETI(j, "welcomes", s_n.welcomes);
    S_SETI(j, "heartbeats_sent", s_n.heartbeats_sent);
    S_SETI(j, "heartbeat_ms", s_cfg.heartbeat_ms);
    S_SETI(j, "deliveries", s_n.deliveries);
    S_SETI(j, "live_deliveries", s_n.live_deliveries);
    S_SETI(j, "quiet_deliveries", s_n.deliveries - s_n.live_deliveries);
    S_SETI(j, "unmatched_deliveries", s_n.unmatched);
    S_SETI(j, "delivery_gaps", s_n.gaps);
    S_SETI(j, "reordered", s_n.reordered);
    S_SETI(j, "last_global_seq", s_n.last_global_seq);
    S_SETI(j, "errors", errors);
    json_object_set_new(j, "error_counts", e);
    S_SETI(j, "hwm", s_cfg.hwm);
    S_SETI(j, "live_hwm", s_cfg.live_hwm);
    S_SETI(j, "fd_limit", nofile);
    json_object_set_new(j, "loop", json_string(s_cfg.loop));
    json_object_set_new(j, "frames", json_string(s_cfg.frames));
    S_SETI(j, "polls", polls);
    S_SETI(j, "sockets_woken", woken);
    S_SETI(j, "found_by_sweep", swept);
    json_object_set_new(j, "cpu_s", json_real(cpu));
    json_object_set_new(j, "ok", json_boolean(ok));
    json_t *lv = json_array();
    for (int k = 0; lv && k < live; k++)
        json_array_append_new(lv, json_pack("{s:s, s:I}", "pattern", subs[k].pattern, "deliveries",
                                            (json_int_t)subs[k].deliveries));
    if (lv) json_object_set_new(j, "live", lv);
#undef S_SETI
    fprintf(stderr,
            "fedbus-bench-crowd: %.1f s: %d/%d nodes welcomed, %ld/%d ingest and %ld/%d feed "
            "connections up; %llu heartbeats sent; %llu deliveries (%llu live, %llu gaps); "
            "%llu errors; %.2f CPU s%s\n",
            (double)(t1 - t0) / 1e6, welcomed, n, up_in, n, up_feed, m,
            (unsigned long long)s_n.heartbeats_sent, (unsigned long long)s_n.deliveries,
            (unsigned long long)s_n.live_deliveries, (unsigned long long)s_n.gaps,
            (unsigned long long)errors, cpu, ok ? "" : "; FAILED");
    rc = s_write_json(j) == 0 && ok ? 0 : 1;
    json_decref(j);
done:
    for (int i = 0; nodes && i < n; i++)
        if (nodes[i].sock) zmq_close(nodes[i].sock);
    for (int k = 0; subs && k < m; k++) {
        if (subs[k].sock) zmq_close(subs[k].sock);
        fb_map_destroy(&subs[k].last_seq);
    }
    free(nodes);
    free(subs);
    if (ep >= 0) close(ep);
    free(items);
    free(evs);
    return rc;
}
