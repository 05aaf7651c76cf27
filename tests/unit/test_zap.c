/* test_zap.c — the ZAP handler over real CURVE sockets on 127.0.0.1: active members' keys in with their member id, every other key out; and fb_identity on what they send.
 *
 * The directory is set by hand (fb_members without PostgreSQL). Every wait
 * is bounded: a refused client simply never delivers anything. */
#include "fb_identity.h"
#include "fb_members.h"
#include "fb_zap.h"
#include "fb_zmq.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#define S_WAIT_MS 5000
#define S_NOTHING_MS 700

typedef struct {
    char pub[41], sec[41];
} s_pair_t;

static fb_members_t *s_members;
static fb_zap_t *s_zap;
static s_pair_t s_server, s_seoul, s_busan, s_wta, s_stranger;

/* A directory: kr-seoul active, kr-busan suspended, intl-wta revoked;
 * kr-seoul's status is given. */
static fb_memberdir_t *s_dir(const char *seoul_status)
{
    const struct {
        const char *id, *status;
        const s_pair_t *k;
    } rows[] = {{"kr-seoul", seoul_status, &s_seoul}, {"kr-busan", "suspended", &s_busan}, {"intl-wta", "revoked", &s_wta}};
    fb_memberdir_t *d = fb_memberdir_new();
    char warn[256];
    for (size_t i = 0; i < 3; i++) {
        fb_memberdir_row_t row = {rows[i].id, "hub", rows[i].k->pub, rows[i].status, "{}", "{}"};
        fb_member_t m;
        assert_int_equal(fb_memberdir_row_parse(&row, &m, warn, sizeof(warn)), 0);
        assert_int_equal(fb_memberdir_add(d, &m), 0);
    }
    fb_memberdir_seal(d);
    return d;
}

static int s_setup(void **state)
{
    (void)state;
    s_pair_t *all[] = {&s_server, &s_seoul, &s_busan, &s_wta, &s_stranger};
    for (size_t i = 0; i < 5; i++) assert_int_equal(zmq_curve_keypair(all[i]->pub, all[i]->sec), 0);
    char err[128];
    s_members = fb_members_new(NULL, err, sizeof(err));
    assert_non_null(s_members);
    fb_members_set(s_members, s_dir("active"));
    s_zap = fb_zap_new(s_members);
    assert_non_null(s_zap);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    fb_zap_destroy(&s_zap);
    fb_members_destroy(&s_members);
    return 0;
}

/* A CURVE ROUTER on a free port; its endpoint into ep. */
static void *s_router(char ep[64])
{
    void *r = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = "tcp://127.0.0.1:*", .bind = 1,
                                           .curve_server = 1, .curve_secretkey = s_server.sec, .zap_domain = "test"});
    assert_non_null(r);
    size_t len = 64;
    assert_int_equal(zmq_getsockopt(r, ZMQ_LAST_ENDPOINT, ep, &len), 0);
    return r;
}

/* A DEALER to ep as k (NULL: plaintext), which sends "hi". */
static void *s_dealer(const char *ep, const s_pair_t *k)
{
    void *d = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_DEALER, .endpoint = ep, .curve_serverkey = k ? s_server.pub : NULL,
                                           .curve_publickey = k ? k->pub : NULL, .curve_secretkey = k ? k->sec : NULL});
    assert_non_null(d);
    zmq_send(d, "hi", 2, ZMQ_DONTWAIT);
    return d;
}

/* Receives the routing id and the body within timeout_ms into *body
 * (initialised here); returns 0, or -1 when nothing came. */
static int s_recv(void *router, zmq_msg_t *body, int timeout_ms)
{
    zmq_pollitem_t it = {router, 0, ZMQ_POLLIN, 0};
    zmq_msg_init(body);
    if (zmq_poll(&it, 1, timeout_ms) != 1) return -1;
    zmq_msg_t id;
    zmq_msg_init(&id);
    assert_true(zmq_msg_recv(&id, router, 0) >= 0);
    zmq_msg_close(&id);
    assert_int_equal(zmq_msg_recv(body, router, 0), 2);
    return 0;
}

static void test_an_active_members_key_is_admitted_with_its_member_id_and_key(void **state)
{
    (void)state;
    char ep[64];
    void *r = s_router(ep), *d = s_dealer(ep, &s_seoul);
    zmq_msg_t body;
    assert_int_equal(s_recv(r, &body, S_WAIT_MS), 0);
    assert_string_equal(zmq_msg_gets(&body, "User-Id"), "kr-seoul");
    assert_string_equal(zmq_msg_gets(&body, FB_ZAP_KEY_PROPERTY), s_seoul.pub);
    zmq_msg_close(&body);
    zmq_close(d);
    zmq_close(r);
}

static void test_unknown_suspended_and_revoked_keys_are_refused_and_counted(void **state)
{
    (void)state;
    fb_zap_stats_t before, after;
    fb_zap_stats(s_zap, &before);
    char ep[64];
    void *r = s_router(ep);
    void *d[] = {s_dealer(ep, &s_stranger), s_dealer(ep, &s_busan), s_dealer(ep, &s_wta)};
    zmq_msg_t body;
    assert_int_equal(s_recv(r, &body, S_NOTHING_MS), -1);
    zmq_msg_close(&body);
    fb_zap_stats(s_zap, &after);
    assert_true(after.unknown > before.unknown);
    assert_true(after.suspended > before.suspended);
    assert_true(after.revoked > before.revoked);
    assert_int_equal(after.admitted, before.admitted);
    for (size_t i = 0; i < 3; i++) zmq_close(d[i]);
    zmq_close(r);
}

static void test_a_plaintext_client_gets_nothing_through_to_a_curve_server(void **state)
{
    (void)state;
    char ep[64];
    void *r = s_router(ep), *d = s_dealer(ep, NULL);
    zmq_msg_t body;
    assert_int_equal(s_recv(r, &body, S_NOTHING_MS), -1);
    zmq_msg_close(&body);
    zmq_close(d);
    zmq_close(r);
}

static void test_a_revocation_refuses_new_connections_and_open_ones_on_their_next_frame(void **state)
{
    (void)state;
    fb_identity_t *ident = fb_identity_new(s_members);
    assert_non_null(ident);
    char ep[64];
    void *r = s_router(ep), *d = s_dealer(ep, &s_seoul);
    zmq_msg_t body;
    fb_peer_id_t peer;
    assert_int_equal(s_recv(r, &body, S_WAIT_MS), 0);
    fb_identity_of(ident, &body, &peer);
    assert_true(peer.checked);
    assert_int_equal(peer.admit, FB_ADMIT_OK);
    assert_string_equal(peer.member->id, "kr-seoul");
    zmq_msg_close(&body);

    uint64_t gen = fb_members_generation(s_members);
    fb_members_set(s_members, s_dir("revoked"));
    assert_true(fb_members_generation(s_members) > gen);
    assert_int_equal(fb_identity_refresh(ident), 1); /* someone was cut off */
    assert_int_equal(fb_identity_refresh(ident), 0);
    /* The open connection still delivers; its frame is now refused. */
    zmq_send(d, "hi", 2, 0);
    assert_int_equal(s_recv(r, &body, S_WAIT_MS), 0);
    fb_identity_of(ident, &body, &peer);
    assert_int_equal(peer.admit, FB_ADMIT_REVOKED);
    char why[128];
    assert_string_equal(fb_identity_why(&peer, why, sizeof(why)), "member kr-seoul is revoked");
    zmq_msg_close(&body);
    /* A new connection is not let in. */
    void *d2 = s_dealer(ep, &s_seoul);
    assert_int_equal(s_recv(r, &body, S_NOTHING_MS), -1);
    zmq_msg_close(&body);

    /* Reactivated: a change that cuts nobody, and the open connection goes on. */
    gen = fb_members_generation(s_members);
    fb_members_set(s_members, s_dir("active"));
    assert_int_equal(fb_members_generation(s_members), gen);
    assert_int_equal(fb_identity_refresh(ident), 0);
    zmq_send(d, "hi", 2, 0);
    assert_int_equal(s_recv(r, &body, S_WAIT_MS), 0);
    fb_identity_of(ident, &body, &peer);
    assert_int_equal(peer.admit, FB_ADMIT_OK);
    zmq_msg_close(&body);
    zmq_close(d2);
    zmq_close(d);
    zmq_close(r);
    fb_identity_destroy(&ident);
}

static void test_without_members_nobody_is_checked(void **state)
{
    (void)state;
    fb_identity_t *ident = fb_identity_new(NULL);
    zmq_msg_t m;
    zmq_msg_init_size(&m, 2);
    fb_peer_id_t peer;
    fb_identity_of(ident, &m, &peer);
    assert_false(peer.checked);
    assert_int_equal(peer.admit, FB_ADMIT_OK);
    assert_int_equal(fb_identity_refresh(ident), 0);
    zmq_msg_close(&m);
    fb_identity_destroy(&ident);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_active_members_key_is_admitted_with_its_member_id_and_key),
        cmocka_unit_test(test_unknown_suspended_and_revoked_keys_are_refused_and_counted),
        cmocka_unit_test(test_a_plaintext_client_gets_nothing_through_to_a_curve_server),
        cmocka_unit_test(test_a_revocation_refuses_new_connections_and_open_ones_on_their_next_frame),
        cmocka_unit_test(test_without_members_nobody_is_checked),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
