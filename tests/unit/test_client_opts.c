/* test_client_opts.c — the client's endpoint options: defaults, refusals, and CURVE really in force. */
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_wire.h"
#include "fb_zmq.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define S_JSON "{\"topic\":\"event.kr-busan.forum\",\"event\":{\"kind\":\"forum\",\"title\":{\"ko\":\"x\"}," \
               "\"starts_at\":\"2026-06-01T15:00:00+09:00\"}}"

static int s_opt(void *sock, int opt)
{
    int v = -2;
    size_t sz = sizeof(v);
    assert_int_equal(zmq_getsockopt(sock, opt, &v, &sz), 0);
    return v;
}

static void test_endpoint_open_takes_the_sockets_defaults_where_the_options_leave_zero(void **state)
{
    (void)state;
    fb_endpoint_opts_t o = {.endpoint = "tcp://127.0.0.1:1"};
    void *s = fb_endpoint_open(&o, ZMQ_DEALER, 0, 1000);
    assert_non_null(s);
    assert_int_equal(s_opt(s, ZMQ_LINGER), 1000);
    assert_int_equal(s_opt(s, ZMQ_SNDHWM), 1000); /* ZeroMQ's own */
    zmq_close(s);
    s = fb_endpoint_open(&o, ZMQ_SUB, 100000, 0);
    assert_non_null(s);
    assert_int_equal(s_opt(s, ZMQ_RCVHWM), 100000);
    assert_int_equal(s_opt(s, ZMQ_LINGER), 0);
    zmq_close(s);
}

static void test_endpoint_open_applies_hwm_and_linger_and_a_negative_linger_is_none(void **state)
{
    (void)state;
    fb_endpoint_opts_t o = {.endpoint = "tcp://127.0.0.1:1", .hwm = 77, .linger_ms = 250};
    void *s = fb_endpoint_open(&o, ZMQ_DEALER, 0, 1000);
    assert_non_null(s);
    assert_int_equal(s_opt(s, ZMQ_SNDHWM), 77);
    assert_int_equal(s_opt(s, ZMQ_RCVHWM), 77);
    assert_int_equal(s_opt(s, ZMQ_LINGER), 250);
    zmq_close(s);
    o.linger_ms = -1;
    s = fb_endpoint_open(&o, ZMQ_DEALER, 0, 1000);
    assert_non_null(s);
    assert_int_equal(s_opt(s, ZMQ_LINGER), 0);
    zmq_close(s);
}

/* A good key pair and a server key, made fresh. */
static char s_server_pub[41], s_server_sec[41], s_client_pub[41], s_client_sec[41];

static int s_keys(void **state)
{
    (void)state;
    if (zmq_curve_keypair(s_server_pub, s_server_sec) != 0 || zmq_curve_keypair(s_client_pub, s_client_sec) != 0)
        return -1;
    return 0;
}

static void test_constructors_refuse_a_curve_key_of_the_wrong_length(void **state)
{
    (void)state;
    char shorter[40];
    memcpy(shorter, s_client_sec, 39);
    shorter[39] = '\0';
    fb_endpoint_opts_t good = {.endpoint = "tcp://127.0.0.1:1", .curve_serverkey = s_server_pub,
                               .curve_publickey = s_client_pub, .curve_secretkey = s_client_sec};
    fb_endpoint_opts_t bad = good;
    bad.curve_secretkey = shorter;

    errno = 0;
    assert_null(fb_publisher_open(&bad));
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_null(fb_subscriber_open(&bad, NULL));
    assert_int_equal(errno, EINVAL);
    /* The replay's keys are checked at once, not at the first catch-up. */
    errno = 0;
    assert_null(fb_subscriber_open(&good, &bad));
    assert_int_equal(errno, EINVAL);
    assert_int_equal(fb_replay_opts(&bad, NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);

    /* The same options with every key right are taken. */
    fb_publisher_t *pub = fb_publisher_open(&good);
    fb_subscriber_t *sub = fb_subscriber_open(&good, &good);
    assert_non_null(pub);
    assert_non_null(sub);
    fb_publisher_destroy(&pub);
    fb_subscriber_destroy(&sub);
}

static void test_constructors_refuse_partial_keys_text_not_z85_and_no_endpoint(void **state)
{
    (void)state;
    char not_z85[41];
    memset(not_z85, '"', 40); /* '"' is not a Z85 digit */
    not_z85[40] = '\0';
    fb_endpoint_opts_t partial = {.endpoint = "tcp://127.0.0.1:1", .curve_secretkey = s_client_sec};
    fb_endpoint_opts_t garbled = {.endpoint = "tcp://127.0.0.1:1", .curve_serverkey = not_z85,
                                  .curve_publickey = s_client_pub, .curve_secretkey = s_client_sec};
    fb_endpoint_opts_t none = {.endpoint = NULL};
    fb_endpoint_opts_t plain = {.endpoint = "tcp://127.0.0.1:1"};
    const fb_endpoint_opts_t *bad[] = {&partial, &garbled, &none};
    for (size_t i = 0; i < 3; i++) {
        assert_null(fb_publisher_open(bad[i]));
        assert_null(fb_subscriber_open(bad[i], NULL));
        assert_null(fb_subscriber_open(&plain, bad[i]));
        assert_int_equal(fb_replay_opts(bad[i], NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);
    }
    assert_null(fb_publisher_open(NULL));
    assert_null(fb_subscriber_open(NULL, NULL));
    assert_int_equal(fb_replay_opts(NULL, NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);
}

static void test_verification_options_refuse_what_they_cannot_use(void **state)
{
    (void)state;
    fb_endpoint_opts_t plain = {.endpoint = "tcp://127.0.0.1:1"}, none = {.endpoint = NULL};
    fb_subscriber_t *feed_only = fb_subscriber_open(&plain, NULL), *with_replay = fb_subscriber_open(&plain, &plain);
    assert_non_null(feed_only);
    assert_non_null(with_replay);
    assert_int_equal(fb_subscriber_set_verify(feed_only, (fb_verify_mode_t)7), FB_EINVAL);
    assert_int_equal(fb_subscriber_set_verify(feed_only, FB_VERIFY_OFF), FB_OK);
    assert_int_equal(fb_subscriber_set_verify(feed_only, FB_VERIFY_ON), FB_OK);
    assert_int_equal(fb_subscriber_verify_via(feed_only, NULL), FB_EINVAL);
    assert_int_equal(fb_subscriber_verify_via(feed_only, &none), FB_EINVAL);
    assert_int_equal(fb_subscriber_verify_via(with_replay, &plain), FB_EINVAL); /* it verifies through its own */
    assert_int_equal(fb_subscriber_verify_via(feed_only, &plain), FB_OK);
    assert_int_equal(fb_subscriber_verify_via(feed_only, &plain), FB_EINVAL); /* once */
    assert_int_equal(fb_subscriber_failed(feed_only), 0);
    assert_int_equal(fb_subscriber_failed(NULL), 0);
    fb_verify_options_t bad_mode = {.mode = (fb_verify_mode_t)7}, no_keys = {.nkeys = 1};
    assert_int_equal(fb_replay_verify(&plain, &bad_mode, NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);
    assert_int_equal(fb_replay_verify(&plain, &no_keys, NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);
    assert_int_equal(fb_replay_verify(NULL, NULL, NULL, 0, 1, 0, 0, NULL, NULL, 100), FB_EINVAL);
    fb_signing_key_t nameless = {.member = ""};
    assert_int_equal(fb_subscriber_pin_keys(feed_only, NULL, 1), FB_EINVAL);
    assert_int_equal(fb_subscriber_pin_keys(feed_only, &nameless, 1), FB_EINVAL);
    assert_int_equal(fb_subscriber_pin_keys(feed_only, NULL, 0), FB_OK);
    assert_int_equal(fb_message_verified(NULL), FB_MSG_NOT_CHECKED);
    assert_string_equal(fb_message_verify_detail(NULL), "");
    fb_subscriber_destroy(&feed_only);
    fb_subscriber_destroy(&with_replay);
}

static void test_endpoint_dup_copies_every_string(void **state)
{
    (void)state;
    char ep[] = "tcp://127.0.0.1:9";
    fb_endpoint_opts_t o = {.endpoint = ep, .hwm = 5, .linger_ms = -1, .curve_serverkey = s_server_pub,
                            .curve_publickey = s_client_pub, .curve_secretkey = s_client_sec};
    fb_endpoint_opts_t *c = fb_endpoint_dup(&o);
    assert_non_null(c);
    ep[0] = 'X';
    assert_string_equal(c->endpoint, "tcp://127.0.0.1:9");
    assert_ptr_not_equal(c->curve_secretkey, s_client_sec);
    assert_string_equal(c->curve_secretkey, s_client_sec);
    assert_string_equal(c->curve_serverkey, s_server_pub);
    assert_int_equal(c->hwm, 5);
    assert_int_equal(c->linger_ms, -1);
    free(c);
    fb_endpoint_opts_t bare = {.endpoint = "inproc://x"};
    assert_non_null(c = fb_endpoint_dup(&bare));
    assert_null(c->curve_publickey);
    free(c);
}

/* A node's submit socket in miniature, with CURVE: answers one publish
 * with an ack accepting it as global_seq 7. */
typedef struct {
    void *router;
    int answered;
} s_server_t;

static void *s_serve(void *arg)
{
    s_server_t *sv = arg;
    zmq_pollitem_t item = {sv->router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 1500) != 1) return NULL;
    zmq_msg_t who, frame;
    zmq_msg_init(&who);
    zmq_msg_init(&frame);
    const uint8_t *env;
    size_t env_len;
    fb_envelope_head_t h;
    if (zmq_msg_recv(&who, sv->router, 0) >= 0 && zmq_msg_recv(&frame, sv->router, 0) >= 0 &&
        fb_wire_publish_view(zmq_msg_data(&frame), zmq_msg_size(&frame), &env, &env_len) == 0 &&
        fb_wire_envelope_scan(env, env_len, &h) == 0) {
        fb_ack_view_t a = {.message_id = h.message_id, .message_id_len = h.message_id_len, .status = 1,
                           .global_seq = 7};
        size_t len;
        uint8_t *ack = fb_wire_ack_frame(&a, &len);
        zmq_send(sv->router, zmq_msg_data(&who), zmq_msg_size(&who), ZMQ_SNDMORE);
        zmq_send(sv->router, ack, len, 0);
        free(ack);
        sv->answered = 1;
    }
    zmq_msg_close(&who);
    zmq_msg_close(&frame);
    return NULL;
}

/* Publishes one message to a CURVE server that holds server_sec, with
 * serverkey as the server's public key; returns what the publish returned. */
static int s_publish_curve(const char *serverkey, int *answered, fb_ack_t *ack)
{
    fb_zmq_opts_t so = {.type = ZMQ_ROUTER, .endpoint = "tcp://127.0.0.1:*", .bind = 1,
                        .curve_server = 1, .curve_secretkey = s_server_sec};
    s_server_t sv = {fb_zmq_open(&so), 0};
    assert_non_null(sv.router);
    char ep[64];
    size_t ep_len = sizeof(ep);
    assert_int_equal(zmq_getsockopt(sv.router, ZMQ_LAST_ENDPOINT, ep, &ep_len), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_serve, &sv), 0);
    fb_endpoint_opts_t o = {.endpoint = ep, .linger_ms = -1, .curve_serverkey = serverkey,
                            .curve_publickey = s_client_pub, .curve_secretkey = s_client_sec};
    fb_publisher_t *pub = fb_publisher_open(&o);
    assert_non_null(pub);
    int rc = fb_publisher_send_json(pub, S_JSON, strlen(S_JSON), ack, 1000);
    fb_publisher_destroy(&pub);
    pthread_join(t, NULL);
    zmq_close(sv.router);
    *answered = sv.answered;
    return rc;
}

static void test_publisher_open_with_curve_keys_publishes_over_an_encrypted_connection(void **state)
{
    (void)state;
    fb_ack_t ack;
    int answered = 0;
    assert_int_equal(s_publish_curve(s_server_pub, &answered, &ack), FB_OK);
    assert_true(answered);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    assert_int_equal(ack.global_seq, 7);
    /* With another server key the handshake fails: nothing gets through. */
    char other_pub[41], other_sec[41];
    assert_int_equal(zmq_curve_keypair(other_pub, other_sec), 0);
    assert_int_equal(s_publish_curve(other_pub, &answered, &ack), FB_ETIMEOUT);
    assert_false(answered);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoint_open_takes_the_sockets_defaults_where_the_options_leave_zero),
        cmocka_unit_test(test_endpoint_open_applies_hwm_and_linger_and_a_negative_linger_is_none),
        cmocka_unit_test(test_constructors_refuse_a_curve_key_of_the_wrong_length),
        cmocka_unit_test(test_constructors_refuse_partial_keys_text_not_z85_and_no_endpoint),
        cmocka_unit_test(test_endpoint_dup_copies_every_string),
        cmocka_unit_test(test_verification_options_refuse_what_they_cannot_use),
        cmocka_unit_test(test_publisher_open_with_curve_keys_publishes_over_an_encrypted_connection),
    };
    return cmocka_run_group_tests(tests, s_keys, NULL);
}
