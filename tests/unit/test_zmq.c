/* test_zmq.c — fb_zmq_open over real TCP on 127.0.0.1: sockets that talk, options really set, CURVE keys checked.
 *
 * Every socket binds to port "*" (the kernel picks a free one, read back
 * from ZMQ_LAST_ENDPOINT), so this test never collides with the
 * integration tests' fixed ports. Every wait is bounded by a poll timeout. */
#include "fb_zmq.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#define S_ANY_PORT "tcp://127.0.0.1:*"
#define S_WAIT_MS 5000    /* how long a message that must come may take */
#define S_NOTHING_MS 500  /* how long "nothing comes" is watched for */

/* Opens a socket as *o says, bound to a port the kernel picks on
 * 127.0.0.1; writes the endpoint to connect to into ep. */
static void *s_bind_any(fb_zmq_opts_t o, char ep[64])
{
    o.endpoint = S_ANY_PORT;
    o.bind = 1;
    void *s = fb_zmq_open(&o);
    if (!s) fail_msg("cannot bind %s: %s", S_ANY_PORT, zmq_strerror(errno));
    size_t len = 64;
    assert_int_equal(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    return s;
}

/* Receives one frame into buf within timeout_ms; returns its size, or -1
 * when none came. */
static int s_recv(void *s, void *buf, size_t cap, int timeout_ms)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) != 1) return -1;
    return zmq_recv(s, buf, cap, ZMQ_DONTWAIT);
}

/* The dealer sends "ping"; when the router gets it within timeout_ms, it
 * answers "pong", which the dealer must get; returns 0. Returns -1 when
 * the router got nothing. */
static int s_ping(void *router, void *dealer, int timeout_ms)
{
    uint8_t id[256];
    char body[16];
    int rc = zmq_send(dealer, "ping", 4, ZMQ_DONTWAIT);
    assert_true(rc == 4 || (rc == -1 && errno == EAGAIN));
    int idlen = s_recv(router, id, sizeof(id), timeout_ms);
    if (idlen < 0) return -1;
    assert_int_equal(zmq_recv(router, body, sizeof(body), ZMQ_DONTWAIT), 4); /* the body follows its peer id */
    assert_memory_equal(body, "ping", 4);
    assert_int_equal(zmq_send(router, id, (size_t)idlen, ZMQ_SNDMORE), idlen);
    assert_int_equal(zmq_send(router, "pong", 4, 0), 4);
    assert_int_equal(s_recv(dealer, body, sizeof(body), S_WAIT_MS), 4);
    assert_memory_equal(body, "pong", 4);
    return 0;
}

/* Binds a ROUTER made as server says to a free port, connects a DEALER
 * made as client says to it, pings (s_ping) and closes both; returns what
 * s_ping returned. */
static int s_pair_ping(fb_zmq_opts_t server, fb_zmq_opts_t client, int timeout_ms)
{
    char ep[64];
    server.type = ZMQ_ROUTER;
    void *router = s_bind_any(server, ep);
    client.type = ZMQ_DEALER;
    client.endpoint = ep;
    void *dealer = fb_zmq_open(&client);
    assert_non_null(dealer);
    int rc = s_ping(router, dealer, timeout_ms);
    zmq_close(dealer);
    zmq_close(router);
    return rc;
}

/* Asserts that fb_zmq_open refuses *o: NULL, errno EINVAL. */
static void s_assert_refused(const fb_zmq_opts_t *o, const char *what)
{
    errno = 0;
    void *s = fb_zmq_open(o);
    if (s) fail_msg("made a socket of %s", what);
    assert_int_equal(errno, EINVAL);
}

static int s_getint(void *s, int opt)
{
    int v = -12345;
    size_t len = sizeof(v);
    assert_int_equal(zmq_getsockopt(s, opt, &v, &len), 0);
    return v;
}

static int64_t s_max_msg(void *s)
{
    int64_t v = -12345;
    size_t len = sizeof(v);
    assert_int_equal(zmq_getsockopt(s, ZMQ_MAXMSGSIZE, &v, &len), 0);
    return v;
}

static void test_dealer_and_router_exchange_a_message_over_tcp(void **state)
{
    (void)state;
    assert_int_equal(s_pair_ping((fb_zmq_opts_t){0}, (fb_zmq_opts_t){0}, S_WAIT_MS), 0);
}

static void test_every_option_is_set_on_the_socket(void **state)
{
    (void)state;
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .linger_ms = 1234, .max_msg = 4096,
                                           .sndhwm = 111, .rcvhwm = 222, .immediate = 1});
    assert_non_null(s);
    assert_int_equal(s_getint(s, ZMQ_LINGER), 1234);
    assert_int_equal(s_getint(s, ZMQ_SNDHWM), 111);
    assert_int_equal(s_getint(s, ZMQ_RCVHWM), 222);
    assert_int_equal(s_getint(s, ZMQ_IMMEDIATE), 1);
    assert_int_equal(s_max_msg(s), 4096);
    zmq_close(s);
}

static void test_options_left_zero_are_zeromqs_defaults_but_linger_is_zero(void **state)
{
    (void)state;
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER});
    assert_non_null(s);
    assert_int_equal(s_getint(s, ZMQ_LINGER), 0); /* fedbus never blocks at close (ZeroMQ: -1) */
    /* ZeroMQ's documented defaults */
    assert_int_equal(s_getint(s, ZMQ_SNDHWM), 1000);
    assert_int_equal(s_getint(s, ZMQ_RCVHWM), 1000);
    assert_int_equal(s_getint(s, ZMQ_IMMEDIATE), 0);
    assert_int_equal(s_max_msg(s), -1); /* no limit */
    zmq_close(s);
}

static void test_bound_router_refuses_to_send_to_a_peer_it_does_not_know(void **state)
{
    (void)state;
    char ep[64];
    void *router = s_bind_any((fb_zmq_opts_t){.type = ZMQ_ROUTER}, ep);
    /* Mandatory routing: the reply fails instead of vanishing. */
    errno = 0;
    assert_int_equal(zmq_send(router, "nobody", 6, ZMQ_SNDMORE | ZMQ_DONTWAIT), -1);
    assert_int_equal(errno, EHOSTUNREACH);
    zmq_close(router);
}

static void test_bind_to_a_port_already_taken_returns_null(void **state)
{
    (void)state;
    char ep[64];
    void *first = s_bind_any((fb_zmq_opts_t){.type = ZMQ_ROUTER}, ep);
    errno = 0;
    void *second = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = ep, .bind = 1});
    assert_null(second);
    assert_int_equal(errno, EADDRINUSE);
    zmq_close(first);
}

/* ------------------------------------------------------------------ CURVE --- */

/* A CURVE key pair, Z85 text. */
typedef struct {
    char pub[FB_CURVE_KEY_Z85 + 1], sec[FB_CURVE_KEY_Z85 + 1];
} s_keys_t;

static void s_keypair(s_keys_t *k)
{
    if (!zmq_has("curve")) skip(); /* a libzmq built without CURVE */
    assert_int_equal(zmq_curve_keypair(k->pub, k->sec), 0);
}

/* The options of a CURVE server of key pair *k. */
static fb_zmq_opts_t s_curve_server(const s_keys_t *k)
{
    return (fb_zmq_opts_t){.curve_server = 1, .curve_secretkey = k->sec};
}

/* The options of a CURVE client of key pair *k that takes serverkey for the server's. */
static fb_zmq_opts_t s_curve_client(const s_keys_t *k, const char *serverkey)
{
    return (fb_zmq_opts_t){.curve_serverkey = serverkey, .curve_publickey = k->pub,
                           .curve_secretkey = k->sec};
}

static void test_curve_client_and_server_with_matching_keys_exchange_a_message(void **state)
{
    (void)state;
    s_keys_t server, client;
    s_keypair(&server);
    s_keypair(&client);
    assert_int_equal(s_pair_ping(s_curve_server(&server), s_curve_client(&client, server.pub), S_WAIT_MS), 0);
}

static void test_curve_client_with_the_wrong_server_key_gets_nothing_through(void **state)
{
    (void)state;
    s_keys_t server, client, other;
    s_keypair(&server);
    s_keypair(&client);
    s_keypair(&other);
    assert_int_equal(s_pair_ping(s_curve_server(&server), s_curve_client(&client, other.pub), S_NOTHING_MS),
                     -1);
}

static void test_plain_client_gets_nothing_through_to_a_curve_server(void **state)
{
    (void)state;
    s_keys_t server;
    s_keypair(&server);
    assert_int_equal(s_pair_ping(s_curve_server(&server), (fb_zmq_opts_t){0}, S_NOTHING_MS), -1);
}

static void test_curve_key_that_is_not_40_characters_is_refused(void **state)
{
    (void)state;
    s_keys_t server, client;
    s_keypair(&server);
    s_keypair(&client);
    char shorter[FB_CURVE_KEY_Z85 + 1], longer[FB_CURVE_KEY_Z85 + 2];
    memcpy(shorter, server.sec, FB_CURVE_KEY_Z85 - 1);
    shorter[FB_CURVE_KEY_Z85 - 1] = '\0';
    memcpy(longer, server.sec, FB_CURVE_KEY_Z85);
    memcpy(longer + FB_CURVE_KEY_Z85, "x", 2);
    const char *bad[] = {shorter, longer, ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* as a server's secret key, and as each of a client's keys */
        const fb_zmq_opts_t opts[] = {
            {.type = ZMQ_ROUTER, .curve_server = 1, .curve_secretkey = bad[i]},
            {.type = ZMQ_DEALER, .curve_serverkey = bad[i], .curve_publickey = client.pub,
             .curve_secretkey = client.sec},
            {.type = ZMQ_DEALER, .curve_serverkey = server.pub, .curve_publickey = bad[i],
             .curve_secretkey = client.sec},
            {.type = ZMQ_DEALER, .curve_serverkey = server.pub, .curve_publickey = client.pub,
             .curve_secretkey = bad[i]},
        };
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
            s_assert_refused(&opts[k], "a key that is not 40 characters");
    }
}

static void test_curve_client_without_all_three_keys_is_refused(void **state)
{
    (void)state;
    s_keys_t server, client;
    s_keypair(&server);
    s_keypair(&client);
    const char *key[3] = {server.pub, client.pub, client.sec};
    /* every non-empty proper subset of the three keys: one alone, or two */
    for (unsigned set = 1; set < 7; set++) {
        fb_zmq_opts_t o = {.type = ZMQ_DEALER,
                           .curve_serverkey = set & 1 ? key[0] : NULL,
                           .curve_publickey = set & 2 ? key[1] : NULL,
                           .curve_secretkey = set & 4 ? key[2] : NULL};
        s_assert_refused(&o, "a client without all three keys");
    }
}

static void test_curve_server_without_its_secret_key_is_refused(void **state)
{
    (void)state;
    s_keys_t server;
    s_keypair(&server);
    /* ZeroMQ itself would serve with an all-zero secret key. */
    s_assert_refused(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .curve_server = 1}, "a server without keys");
    s_assert_refused(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .curve_server = 1, .curve_publickey = server.pub},
                     "a server with only its public key");
}

static volatile sig_atomic_t s_alarms;

static void s_on_alarm(int sig)
{
    (void)sig;
    s_alarms++;
}

/* A signal that interrupts a system call inside zmq_bind() or
 * zmq_connect() (libzmq reads its commands first, and a poll() can return
 * EINTR) must not fail the socket: a daemon's stop signal, or a fuzzer's
 * alarm, arrives at any moment. Signals every 20 µs, without SA_RESTART,
 * while 2,500 pairs of sockets are made. */
static void test_sockets_are_made_while_signals_keep_arriving(void **state)
{
    (void)state;
    struct sigaction sa = {.sa_handler = s_on_alarm}, old;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    struct itimerval every = {{0, 20}, {0, 20}}, off = {{0, 0}, {0, 0}};
    assert_int_equal(setitimer(ITIMER_REAL, &every, NULL), 0);
    int failed = 0, eintr = 0;
    for (int i = 0; i < 2500; i++) {
        char ep[64];
        snprintf(ep, sizeof(ep), "inproc://test-zmq-signals-%d", i);
        void *b = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = ep, .bind = 1});
        if (!b && errno == EINTR) eintr++;
        void *c = b ? fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_PAIR, .endpoint = ep}) : NULL;
        if (b && !c && errno == EINTR) eintr++;
        failed += !b || !c;
        if (c) zmq_close(c);
        if (b) zmq_close(b);
    }
    setitimer(ITIMER_REAL, &off, NULL);
    sigaction(SIGALRM, &old, NULL);
    print_message("%d signals; %d pairs failed, %d of them EINTR\n", (int)s_alarms, failed, eintr);
    assert_true(s_alarms > 100);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dealer_and_router_exchange_a_message_over_tcp),
        cmocka_unit_test(test_every_option_is_set_on_the_socket),
        cmocka_unit_test(test_options_left_zero_are_zeromqs_defaults_but_linger_is_zero),
        cmocka_unit_test(test_bound_router_refuses_to_send_to_a_peer_it_does_not_know),
        cmocka_unit_test(test_bind_to_a_port_already_taken_returns_null),
        cmocka_unit_test(test_curve_client_and_server_with_matching_keys_exchange_a_message),
        cmocka_unit_test(test_curve_client_with_the_wrong_server_key_gets_nothing_through),
        cmocka_unit_test(test_curve_key_that_is_not_40_characters_is_refused),
        cmocka_unit_test(test_curve_client_without_all_three_keys_is_refused),
        cmocka_unit_test(test_plain_client_gets_nothing_through_to_a_curve_server),
        cmocka_unit_test(test_curve_server_without_its_secret_key_is_refused),
        cmocka_unit_test(test_sockets_are_made_while_signals_keep_arriving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
