/* fb_cli_probe.c — what answers at an endpoint, found out in a second or two before the CLI relies on it.
 *
 * ZeroMQ connects in the background and retries for ever, so a client
 * pointed at nothing (or at the wrong socket) just waits. The CLI asks
 * first, over a plain TCP connection: is anything listening, does it speak
 * ZeroMQ (ZMTP 3), with which security mechanism, and — when plaintext —
 * which socket type (the READY command names it). That tells a node's
 * submit socket or a broker's ingest (ROUTER) from a feed (XPUB), and a
 * broker run with keys (CURVE) from both. The connection is closed after
 * the greeting: nothing is sent that the server could act on.
 *
 * A CURVE server says nothing more before a handshake, so a command that
 * has keys then makes one with them, on a ZeroMQ socket of the type it
 * will use, watched by a socket monitor: the handshake succeeds; or the
 * broker's ZAP handler refuses the key (HANDSHAKE_FAILED_AUTH: the member
 * is not registered, or not active); or the server drops it (NO_DETAIL:
 * it could not open our HELLO, sealed to a broker key that is not its own
 * — or, with the right key, our socket type does not fit its: a handshake
 * with the other type tells which). */
#include "fb_cli_probe.h"

#include "fb_zmq.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define S_REFUSED_MS 1500 /* how long a refused connection is tried again */
#define S_SHAKE_MS 1000   /* how long a CURVE handshake may take */
#define S_SHAKES_MS 2500  /* ... and both, when the first was dropped: the second has what is left */

static fb_curve_t s_keys; /* what handshakes are made with (fb_cli_probe_keys()) */

void fb_cli_probe_keys(const fb_curve_t *c)
{
    if (c) s_keys = *c;
    else memset(&s_keys, 0, sizeof(s_keys));
}

int fb_cli_endpoint_norm(const char *endpoint, char *out, size_t size)
{
    int n;
    if (strstr(endpoint, "://")) n = snprintf(out, size, "%s", endpoint);
    else if (endpoint[0] && strspn(endpoint, "0123456789") == strlen(endpoint))
        n = snprintf(out, size, "tcp://127.0.0.1:%s", endpoint);
    else n = snprintf(out, size, "tcp://%s", endpoint);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static long long s_ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until deadline (monotonic ms); returns 1 when
 * ready, 0 at the deadline, -1 on an error. */
static int s_wait(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - s_ms_now();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int rc = poll(&p, 1, (int)left);
        if (rc > 0) return 1;
        if (rc < 0 && errno != EINTR) return -1;
    }
}

/* Reads exactly n bytes before deadline; returns 1, 0 when the peer closed
 * or the deadline passed first, -1 on an error. */
static int s_read_n(int fd, uint8_t *buf, size_t n, long long deadline)
{
    size_t got = 0;
    while (got < n) {
        int w = s_wait(fd, POLLIN, deadline);
        if (w <= 0) return w;
        ssize_t r = read(fd, buf + got, n - got);
        if (r == 0) return 0;
        if (r < 0 && errno != EINTR && errno != EAGAIN) return -1;
        if (r > 0) got += (size_t)r;
    }
    return 1;
}

/* Connects fd-to-be to host:port before deadline; returns the fd, or -1
 * with *found and why set. */
static int s_connect(const char *host, const char *port, long long deadline, fb_probe_t *found, char *why,
                     size_t size)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
        *found = FB_PROBE_UNRESOLVED;
        snprintf(why, size, "host '%s' not found", host);
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fd < 0 ? -1 : connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (fd >= 0 && rc != 0 && errno == EINPROGRESS) {
        int w = s_wait(fd, POLLOUT, deadline), err = 0;
        socklen_t len = sizeof(err);
        if (w == 0) err = ETIMEDOUT;
        else if (w < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        rc = err ? -1 : 0;
        errno = err;
    }
    if (rc == 0) return fd;
    int err = errno;
    if (fd >= 0) close(fd);
    *found = err == ECONNREFUSED ? FB_PROBE_REFUSED : FB_PROBE_NO_ANSWER;
    snprintf(why, size, "%s", err == ETIMEDOUT ? "no answer" : err == ECONNREFUSED ? "connection refused" : strerror(err));
    return -1;
}

/* Finds the Socket-Type property in a READY command's properties. */
static fb_probe_t s_socket_type(const uint8_t *p, size_t n, char *why, size_t size)
{
    size_t i = 0;
    while (i < n) {
        size_t nl = p[i++];
        if (i + nl + 4 > n) break;
        const uint8_t *name = p + i;
        i += nl;
        size_t vl = (size_t)p[i] << 24 | (size_t)p[i + 1] << 16 | (size_t)p[i + 2] << 8 | p[i + 3];
        i += 4;
        if (i + vl > n) break;
        if (nl == 11 && memcmp(name, "Socket-Type", 11) == 0) {
            snprintf(why, size, "a ZeroMQ %.*s socket", (int)vl, (const char *)p + i);
            if (vl == 6 && !memcmp(p + i, "ROUTER", 6)) return FB_PROBE_ROUTER;
            if ((vl == 4 && !memcmp(p + i, "XPUB", 4)) || (vl == 3 && !memcmp(p + i, "PUB", 3))) return FB_PROBE_XPUB;
            return FB_PROBE_OTHER;
        }
        i += vl;
    }
    snprintf(why, size, "a ZeroMQ socket of unknown type");
    return FB_PROBE_OTHER;
}

/* The greeting and, for NULL, the READY exchange on a connected fd. Ours
 * goes in two parts: the signature and major version first, which is all a
 * peer waits for before it sends the rest of its greeting; the rest (our
 * mechanism) only once theirs is read, so that a CURVE server, which drops
 * a NULL client, has told its mechanism first. */
static fb_probe_t s_greet(int fd, long long deadline, char *why, size_t size)
{
    /* ZMTP 3.0 greeting: signature, version 3.0, mechanism NULL, as-server 0, filler. */
    uint8_t hello[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0, 'N', 'U', 'L', 'L'};
    static const uint8_t ready[] = {0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S', 'o', 'c', 'k', 'e', 't',
                                    '-',  'T', 'y', 'p', 'e', 0,   0,   0,   6,   'D', 'E', 'A', 'L', 'E', 'R'};
    uint8_t peer[64];
    if (write(fd, hello, 11) != 11) {
        snprintf(why, size, "closed at once");
        return FB_PROBE_NOT_ZMTP;
    }
    int rc = s_read_n(fd, peer, sizeof(peer), deadline);
    if (rc <= 0 || peer[0] != 0xff || peer[9] != 0x7f || peer[10] < 3) {
        snprintf(why, size, "%s", rc == 0 && s_ms_now() >= deadline ? "no ZeroMQ greeting" : "not ZeroMQ");
        return FB_PROBE_NOT_ZMTP;
    }
    if (memcmp(peer + 12, "CURVE", 5) == 0) {
        snprintf(why, size, "a ZeroMQ server asking for CURVE keys");
        return FB_PROBE_CURVE;
    }
    if (memcmp(peer + 12, "NULL", 4) != 0) {
        snprintf(why, size, "a ZeroMQ server asking for %.20s", (const char *)peer + 12);
        return FB_PROBE_OTHER;
    }
    if (write(fd, hello + 11, sizeof(hello) - 11) != (ssize_t)sizeof(hello) - 11 ||
        write(fd, ready, sizeof(ready)) != (ssize_t)sizeof(ready))
        return FB_PROBE_OTHER;
    uint8_t head[2], body[255];
    if (s_read_n(fd, head, 2, deadline) <= 0 || !(head[0] & 0x04) || (head[0] & 0x02)) {
        snprintf(why, size, "a ZeroMQ socket that did not say its type");
        return FB_PROBE_OTHER;
    }
    if (s_read_n(fd, body, head[1], deadline) <= 0 || head[1] < 6 || memcmp(body, "\5READY", 6) != 0) {
        snprintf(why, size, "a ZeroMQ socket that did not say its type");
        return FB_PROBE_OTHER;
    }
    return s_socket_type(body + 6, (size_t)head[1] - 6, why, size);
}

fb_probe_t fb_cli_probe(const char *endpoint, int timeout_ms, char *why, size_t size)
{
    char host[256];
    snprintf(why, size, "%s", "");
    if (strncmp(endpoint, "tcp://", 6) != 0) return FB_PROBE_SKIPPED;
    const char *hp = endpoint + 6, *colon = strrchr(hp, ':');
    if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof(host)) {
        snprintf(why, size, "not tcp://HOST:PORT");
        return FB_PROBE_UNRESOLVED;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    long long start = s_ms_now(), deadline = start + timeout_ms;
    fb_probe_t found;
    int fd;
    /* A server started a moment ago may not listen yet: a refusal is tried
     * again for S_REFUSED_MS before it counts. */
    while ((fd = s_connect(host, colon + 1, deadline, &found, why, size)) < 0 && found == FB_PROBE_REFUSED &&
           s_ms_now() + 100 < start + S_REFUSED_MS)
        usleep(100 * 1000);
    if (fd < 0) return found;
    found = s_greet(fd, deadline, why, size);
    close(fd);
    return found;
}

/* What a CURVE handshake with s_keys found. */
typedef enum {
    S_SHAKE_NONE,     /* no verdict in time */
    S_SHAKE_OK,       /* the handshake succeeded */
    S_SHAKE_REFUSED,  /* nothing listens (any more) */
    S_SHAKE_AUTH,     /* the server's ZAP handler refused the key */
    S_SHAKE_DROPPED,  /* the server closed: not its key, or not a socket type it takes */
    S_SHAKE_PROTOCOL, /* a protocol error: the server speaks another mechanism */
} s_shake_t;

/* Reads one monitor event from m before deadline: its number into *event
 * and value into *value. Returns 1, or 0 when none came. */
static int s_event(void *m, long long deadline, uint16_t *event, uint32_t *value)
{
    long long left = deadline - s_ms_now();
    zmq_pollitem_t it = {m, 0, ZMQ_POLLIN, 0};
    if (left <= 0 || zmq_poll(&it, 1, (long)left) <= 0) return 0;
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    int ok = zmq_msg_recv(&ev, m, 0) >= 6 && zmq_msg_more(&ev) && zmq_msg_recv(&addr, m, 0) >= 0;
    if (ok) {
        memcpy(event, zmq_msg_data(&ev), sizeof(*event));
        memcpy(value, (const uint8_t *)zmq_msg_data(&ev) + 2, sizeof(*value));
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    return ok;
}

/* Makes a CURVE handshake with s_keys at endpoint from a socket of type,
 * within timeout_ms, and closes; returns what became of it (*value: the
 * event's value, a ZAP status for S_SHAKE_AUTH). */
static s_shake_t s_handshake(const char *endpoint, int type, int timeout_ms, uint32_t *value)
{
    static unsigned count;
    char mon[64];
    snprintf(mon, sizeof(mon), "inproc://fedbus-cli-probe-%u", count++);
    void *s = fb_zmq_open(&(fb_zmq_opts_t){
        .type = type, .monitor = mon,
        .monitor_events = ZMQ_EVENT_CONNECT_RETRIED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                          ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL,
        .curve_serverkey = s_keys.server_key, .curve_publickey = s_keys.public_key,
        .curve_secretkey = s_keys.secret_key});
    void *m = s ? fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = mon}) : NULL;
    s_shake_t found = S_SHAKE_NONE;
    long long deadline = s_ms_now() + timeout_ms;
    uint16_t event;
    if (m && fb_zmq_attach(s, endpoint, 0) == 0)
        while (found == S_SHAKE_NONE && s_event(m, deadline, &event, value))
            found = event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED       ? S_SHAKE_OK
                    : event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH     ? S_SHAKE_AUTH
                    : event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? S_SHAKE_DROPPED
                    : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? S_SHAKE_PROTOCOL
                    : event == ZMQ_EVENT_CONNECT_RETRIED           ? S_SHAKE_REFUSED
                                                                   : S_SHAKE_NONE;
    /* The monitor stops first: an event the socket still has to tell (a
     * reconnect failing again) would otherwise wait for ever on a monitor
     * that nobody reads, holding up the I/O thread and with it every later
     * handshake of this process. */
    if (s) zmq_socket_monitor(s, NULL, 0);
    if (s) zmq_close(s);
    if (m) zmq_close(m);
    return found;
}

/* The CURVE server at endpoint, for role, judged by a handshake with the
 * keys (when fb_cli_probe_keys() gave them); returns as fb_cli_check(). */
static int s_check_keys(fb_cli_role_t role, const char *endpoint, const char *wanted, const char *option,
                        const char *fallback, char *msg, size_t size)
{
    if (!s_keys.on) return 0;
    int type = role == FB_ROLE_FEED ? ZMQ_SUB : ZMQ_DEALER, other = role == FB_ROLE_FEED ? ZMQ_DEALER : ZMQ_SUB;
    uint32_t value = 0;
    long long start = s_ms_now();
    switch (s_handshake(endpoint, type, S_SHAKE_MS, &value)) {
    case S_SHAKE_AUTH:
        snprintf(msg, size, "the broker at %s refuses the key of member %s (CURVE handshake refused, ZAP status %u): "
                 "is %s registered and active, with this key? see fedbus member show %s", endpoint, s_keys.member,
                 (unsigned)value, s_keys.member, s_keys.member);
        return 3;
    case S_SHAKE_DROPPED:
        switch (s_handshake(endpoint, other, (int)(start + S_SHAKES_MS - s_ms_now()), &value)) {
        case S_SHAKE_OK:
            snprintf(msg, size, "%s is %s, not %s; see %s (default %s)", endpoint,
                     role == FB_ROLE_FEED ? "a broker's ingest or replay endpoint (a ROUTER)" : "a broker's feed",
                     wanted, option, fallback);
            return 2;
        case S_SHAKE_DROPPED:
            snprintf(msg, size, "%s dropped the CURVE handshake: the broker key given (--broker-key, "
                     "FEDBUS_BROKER_KEY) is not the public key of the broker there", endpoint);
            return 3;
        default: /* no second verdict in time */
            snprintf(msg, size, "%s dropped the CURVE handshake: is it %s (see %s), and the broker key given "
                     "(--broker-key, FEDBUS_BROKER_KEY) the public key of the broker there?", endpoint, wanted, option);
            return 3;
        }
    case S_SHAKE_PROTOCOL:
        snprintf(msg, size, "the CURVE handshake with %s failed (protocol error %u): is it a fedbus-broker run with "
                 "keys?", endpoint, (unsigned)value);
        return 3;
    default:
        return 0; /* it worked, or no verdict in time: the command goes on and says what it finds */
    }
}

/* A plaintext server where the command has keys: the handshake could
 * never succeed (ZeroMQ's mechanisms must match). Returns 3. */
static int s_plaintext(const char *endpoint, char *msg, size_t size)
{
    snprintf(msg, size, "%s speaks plaintext (a broker run with insecure-plaintext, or not a broker), but CURVE "
             "keys were given: leave out --keys and --broker-key (FEDBUS_KEYS, FEDBUS_BROKER_KEY) for it", endpoint);
    return 3;
}

int fb_cli_check(fb_cli_role_t role, const char *endpoint, int have_keys, char *msg, size_t size)
{
    static const struct {
        const char *program, *option, *fallback, *wanted;
    } r[] = {
        [FB_ROLE_NODE] = {"fedbus-node", "--node", "tcp://127.0.0.1:7711", "a node's submit socket"},
        [FB_ROLE_FEED] = {"fedbus-broker", "--feed", "tcp://127.0.0.1:7702", "a broker's feed"},
        [FB_ROLE_REPLAY] = {"fedbus-broker", "--replay", "tcp://127.0.0.1:7703", "a broker's replay endpoint"},
    };
    char why[128];
    fb_probe_t p = fb_cli_probe(endpoint, 2000, why, sizeof(why));
    switch (p) {
    case FB_PROBE_SKIPPED:
        return 0;
    case FB_PROBE_REFUSED:
    case FB_PROBE_NO_ANSWER:
        snprintf(msg, size, "no %s answers at %s (%s) — is it running? see %s (default %s)", r[role].program,
                 endpoint, why, r[role].option, r[role].fallback);
        return 1;
    case FB_PROBE_UNRESOLVED:
        snprintf(msg, size, "%s: %s (see %s, e.g. %s)", endpoint, why, r[role].option, r[role].fallback);
        return 1;
    case FB_PROBE_NOT_ZMTP:
        snprintf(msg, size, "%s answers, but not as ZeroMQ (%s): an HTTP port? %s takes %s, e.g. %s", endpoint, why,
                 r[role].option, r[role].wanted, r[role].fallback);
        return 2;
    case FB_PROBE_CURVE:
        if (role == FB_ROLE_NODE)
            snprintf(msg, size, "%s is a broker's endpoint (it asks for CURVE keys), not a node's submit socket: "
                     "publish through your node, e.g. --node=%s", endpoint, r[role].fallback);
        else if (!have_keys)
            snprintf(msg, size, "%s asks for CURVE keys (a broker run with keys): give --keys=MEMBER.key and "
                     "--broker-key=BROKER.pub", endpoint);
        if (role == FB_ROLE_NODE) return 2;
        if (!have_keys) return 3;
        return s_check_keys(role, endpoint, r[role].wanted, r[role].option, r[role].fallback, msg, size);
    case FB_PROBE_ROUTER:
        if (role != FB_ROLE_FEED) return have_keys && role != FB_ROLE_NODE ? s_plaintext(endpoint, msg, size) : 0;
        snprintf(msg, size, "%s is not a feed (it answers as a ZeroMQ ROUTER: a node's submit socket, or a "
                 "broker's ingest or replay); the broker's feed is %s, default %s", endpoint, r[role].option,
                 r[role].fallback);
        return 2;
    case FB_PROBE_XPUB:
        if (role == FB_ROLE_FEED) return have_keys ? s_plaintext(endpoint, msg, size) : 0;
        snprintf(msg, size, "%s is a broker's feed, not %s; see %s (default %s)", endpoint, r[role].wanted,
                 r[role].option, r[role].fallback);
        return 2;
    default:
        snprintf(msg, size, "%s answers as %s, not as %s; see %s (default %s)", endpoint, why, r[role].wanted,
                 r[role].option, r[role].fallback);
        return 2;
    }
}
