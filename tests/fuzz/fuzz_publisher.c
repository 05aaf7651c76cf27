/* fuzz_publisher.c — answers a publisher reads from its node or broker (Ack, AckBatch, anything), as fb_publisher takes them.
 *
 * For each input a publisher connects to a node socket played here and
 * sends once, so that its identity is known; the input's frames (up to
 * FZ_FRAMES_MAX, cut at FZ_SPLIT) are queued for it; then it publishes two
 * messages at once (fb_publisher_send_json_many, message_ids 00..01 and
 * 00..02, waiting 2 ms at most for their acks) and one alone
 * (fb_publisher_send_json, 00..03, not waiting), and reads what was queued
 * as the answers. What it reports must be one of its own results. */
#include "fuzz.h"

#include "fedbus/fb_client.h"
#include "fedbus/fedbus.h"

#define S_NODE "inproc://fuzz-publisher-node-%u" /* one per input */

static const char *const s_texts[3] = {
    "{\"message_id\":\"00000000-0000-0000-0000-000000000001\",\"topic\":\"event.kr-seoul.forum\","
    "\"event\":{\"kind\":\"forum\",\"title\":{\"en\":\"One\"},\"starts_at\":\"2026-03-12T14:00:00+09:00\"}}",
    "{\"message_id\":\"00000000-0000-0000-0000-000000000002\",\"topic\":\"event.kr-seoul.forum\","
    "\"event\":{\"kind\":\"forum\",\"title\":{\"en\":\"Two\"},\"starts_at\":\"2026-03-12T14:00:00+09:00\"}}",
    "{\"message_id\":\"00000000-0000-0000-0000-000000000003\",\"topic\":\"event.kr-seoul.forum\","
    "\"event\":{\"kind\":\"forum\",\"title\":{\"en\":\"Three\"},\"starts_at\":\"2026-03-12T14:00:00+09:00\"}}",
};

static void s_check_ack(int rc, const fb_ack_t *a)
{
    /* EINTR too: libFuzzer's timer interrupts the wait now and then. */
    FZ_CHECK(rc == FB_OK || rc == FB_EREJECTED || rc == FB_ETIMEOUT || rc == FB_EINVAL || rc == FB_EPROTO ||
                 rc == FB_EINTR || rc == FB_EIO || rc == FB_ENOMEM,
             "a publish ended with a result that is no publisher's");
    FZ_CHECK(memchr(a->detail, 0, sizeof(a->detail)) && memchr(a->reason_name, 0, sizeof(a->reason_name)) &&
                 memchr(a->message_id, 0, sizeof(a->message_id)),
             "an ack's text is not terminated");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    if (!runs) fz_quiet();
    fz_pace_sockets();
    /* A node socket of its own for each publisher: nothing an earlier one
     * sent can be taken for this one's. */
    char ep[64];
    snprintf(ep, sizeof(ep), S_NODE, runs++);
    void *node = fz_socket(ZMQ_ROUTER, ep, 1);
    fb_publisher_t *pub = fb_publisher_new(ep);
    FZ_CHECK(pub != NULL, "cannot connect");
    fb_ack_t ack, acks[2];
    int rcs[2];
    size_t lens[2] = {strlen(s_texts[0]), strlen(s_texts[1])};
    uint8_t hello[] = {0x12, 0x00}; /* NodeMessage{hello{}}: anything, to be known */
    fb_publisher_send_raw(pub, hello, sizeof(hello), &ack, 0);
    zmq_msg_t ident;
    zmq_msg_init(&ident);
    int got = 0;
    for (int i = 0; i < 2000 && !(got = fz_msg_recv(&ident, node, ZMQ_DONTWAIT) >= 0); i++) usleep(100);
    FZ_CHECK(got && zmq_msg_more(&ident), "nothing from the publisher");
    fz_drop_all(node);
    const uint8_t *p = data, *f;
    size_t n;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, &ident);
        FZ_CHECK(fz_msg_send(&id, node, ZMQ_SNDMORE) >= 0 && fz_send(node, f, n, 0) >= 0, "cannot answer");
    }
    int rc = fb_publisher_send_json_many(pub, s_texts, lens, 2, acks, rcs, 2);
    s_check_ack(rc, &acks[0]);
    s_check_ack(rcs[1], &acks[1]);
    rc = fb_publisher_send_json(pub, s_texts[2], strlen(s_texts[2]), &ack, 0);
    s_check_ack(rc, &ack);
    fb_publisher_destroy(&pub);
    zmq_msg_close(&ident);
    zmq_close(node);
    return 0;
}
