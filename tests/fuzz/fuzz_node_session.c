/* fuzz_node_session.c — what the broker sends a node (Welcome, Ack, AckBatch, anything), as the node's session takes it.
 *
 * For each input a node session (fb_session) says Hello to a broker socket
 * played here, four publishes wait in its outbox (message_ids 00..01 to
 * 00..04, two submitted alone and two in a PublishBatch by one local
 * client), and the input's frames (up to FZ_FRAMES_MAX, cut at FZ_SPLIT)
 * arrive from the broker, each taken by fb_session_on_broker(); then the
 * session's timer runs once. What must hold: everything the node sends the
 * broker is a NodeMessage frame, its publishes carry this node's origin
 * and an origin_seq; everything the node
 * hands its local client is a BrokerMessage frame. */
#include "fuzz_node.h"

#include "fb_session.h"

#include <errno.h>

#define S_BROKER "inproc://fuzz-node-broker-%u" /* one broker socket per input */

/* A publish frame with message_id 00..0k, of topic event.kr-seoul.forum. */
static uint8_t *s_publish(uint8_t k, size_t *len)
{
    uint8_t id[FB_UUID_LEN] = {0};
    id[FB_UUID_LEN - 1] = k;
    Fedbus__Text title = FEDBUS__TEXT__INIT;
    title.en = "Forum";
    Fedbus__Timestamp at = FEDBUS__TIMESTAMP__INIT;
    at.unix_us = 1767225600000000;
    Fedbus__Event ev = FEDBUS__EVENT__INIT;
    ev.kind = FEDBUS__EVENT_KIND__EVENT_KIND_FORUM;
    ev.title = &title;
    ev.starts_at = &at;
    Fedbus__Envelope env = FEDBUS__ENVELOPE__INIT;
    env.message_id = (ProtobufCBinaryData){FB_UUID_LEN, id};
    env.topic = "event.kr-seoul.forum";
    env.payload_case = FEDBUS__ENVELOPE__PAYLOAD_EVENT;
    env.event = &ev;
    uint8_t *f = fb_envelope_publish_frame(&env, len);
    FZ_CHECK(f != NULL, "out of memory");
    return f;
}

/* A PublishBatch frame of the envelopes of publish frames a and b. */
static uint8_t *s_batch(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, size_t *len)
{
    const uint8_t *ea, *eb;
    size_t la, lb;
    FZ_CHECK(fb_wire_publish_view(a, alen, &ea, &la) == 0 && fb_wire_publish_view(b, blen, &eb, &lb) == 0, "bad frame");
    size_t items = fb_wire_item_size(la) + fb_wire_item_size(lb);
    *len = fb_wire_publish_batch_size(items);
    uint8_t *f = malloc(*len), *p = f;
    FZ_CHECK(f != NULL, "out of memory");
    p += fb_wire_put_publish_batch_header(items, p);
    p += fb_wire_put_item(ea, la, p);
    fb_wire_put_item(eb, lb, p);
    return f;
}

/* What the node sent the broker: NodeMessages; publishes of this node. */
static void s_check_sent(void *broker)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, broker, ZMQ_DONTWAIT) >= 0) {
        if (zmq_msg_more(&m)) continue; /* the node's identity */
        const uint8_t *d = zmq_msg_data(&m), *env, *items;
        size_t len = zmq_msg_size(&m), env_len, items_len;
        Fedbus__NodeMessage *nm = fedbus__node_message__unpack(NULL, len, d);
        FZ_CHECK(nm != NULL, "the node sent the broker a frame that is not a NodeMessage");
        fedbus__node_message__free_unpacked(nm, NULL);
        fb_envelope_head_t h;
        if (fb_wire_publish_view(d, len, &env, &env_len) == 0) {
            FZ_CHECK(fb_wire_envelope_scan(env, env_len, &h) == 0 && h.origin_seq > 0, "the node sent an envelope that does not scan");
            FZ_CHECK(h.origin_len == strlen(FZ_NODE_MEMBER) && memcmp(h.origin, FZ_NODE_MEMBER, h.origin_len) == 0,
                     "the node sent a publish of another origin");
        } else if (fb_wire_publish_batch_view(d, len, &items, &items_len) == 0) {
            const uint8_t *p = items;
            while (fb_wire_next_item(&p, items + items_len, &env, &env_len) == 1)
                FZ_CHECK(fb_wire_envelope_scan(env, env_len, &h) == 0 && h.origin_seq > 0,
                         "the node sent a batch with an envelope that does not scan");
        }
    }
    zmq_msg_close(&m);
}

/* What the node handed its local client: BrokerMessages. */
static void s_check_client(void *client)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, client, ZMQ_DONTWAIT) >= 0) {
        Fedbus__BrokerMessage *bm = fedbus__broker_message__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        FZ_CHECK(bm != NULL, "the node answered its client with a frame that is not a BrokerMessage");
        fedbus__broker_message__free_unpacked(bm, NULL);
    }
    zmq_msg_close(&m);
}

typedef struct {
    fz_node_t *node;
    void *broker, *client;
    uint8_t *frames[3];
    size_t lens[3];
} s_state_t;

static s_state_t *s_setup(void)
{
    static s_state_t s;
    fz_quiet();
    s.node = fz_node();
    s.node->cfg.resend_ms = 3000;
    s.node->cfg.heartbeat_ms = 1000;
    s.node->cfg.inflight_frames = 2;
    s.client = fz_socket(ZMQ_DEALER, FZ_NODE_SUBMIT, 0);
    size_t l3, l4;
    s.frames[0] = s_publish(1, &s.lens[0]);
    s.frames[1] = s_publish(2, &s.lens[1]);
    uint8_t *f3 = s_publish(3, &l3), *f4 = s_publish(4, &l4);
    s.frames[2] = s_batch(f3, l3, f4, l4, &s.lens[2]);
    free(f3);
    free(f4);
    return &s;
}

/* A new session, talking to a broker socket of its own: a frame the
 * session before sent can then never be taken for this one's (ZeroMQ may
 * hand such a frame over after the drain of the input before). The
 * session's monitor has an inproc endpoint named after its address, and
 * ZeroMQ lets go of a closed socket's endpoint a moment later, on its own
 * thread: the session before is closed only once this one is made (so the
 * two differ), and a name still taken is tried again. */
static fb_session_t *s_session(s_state_t *s)
{
    static fb_session_t *before;
    static void *before_broker;
    static unsigned n;
    snprintf(s->node->cfg.broker, sizeof(s->node->cfg.broker), S_BROKER, n++);
    s->broker = fz_socket(ZMQ_ROUTER, s->node->cfg.broker, 1);
    fb_session_t *session = NULL;
    for (int i = 0; i < 1000 && !session; i++) {
        session = fb_session_new(&s->node->cfg, s->node->outbox, s->node->submit, NULL, &s->node->stats);
        if (!session) usleep(1000);
    }
    FZ_CHECK(session != NULL, "cannot make a session");
    fb_session_destroy(&before);
    if (before_broker) zmq_close(before_broker);
    before = session;
    before_broker = s->broker;
    return session;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static s_state_t *s;
    if (!s) s = s_setup();
    fz_pace_sockets();
    fb_session_t *session = s_session(s);
    fb_session_start(session);
    /* As the node's loop does: a Hello that could not be queued yet (the
     * connection not up: ZMQ_IMMEDIATE) goes again on the next timer. */
    zmq_msg_t ident;
    zmq_msg_init(&ident);
    int got = 0;
    for (int i = 0; i < 2000 && !(got = fz_msg_recv(&ident, s->broker, ZMQ_DONTWAIT) >= 0); i++) {
        if (fb_session_hello_due(session)) fb_session_on_timer(session);
        else usleep(100);
    }
    if (!got) fprintf(stderr, "fuzz: no Hello; hello_due %d\n", fb_session_hello_due(session));
    FZ_CHECK(got && zmq_msg_more(&ident), "no Hello from the node");
    fz_drop_all(s->broker); /* the Hello */
    for (int i = 0; i < 3; i++) FZ_CHECK(fz_send(s->client, s->frames[i], s->lens[i], 0) >= 0, "cannot submit");
    while (fb_submit_take(s->node->submit, s->node->cfg.max_frame) == 0)
        ;
    fb_outbox_sync(s->node->outbox);
    const uint8_t *p = data, *f;
    size_t n;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++) {
        zmq_msg_t id;
        zmq_msg_init(&id);
        zmq_msg_copy(&id, &ident);
        int sent = fz_msg_send(&id, s->broker, ZMQ_SNDMORE) >= 0 && fz_send(s->broker, f, n, 0) >= 0;
        if (!sent)
            fprintf(stderr, "fuzz: send to the node: %s (identity of %zu bytes, frame %d)\n", zmq_strerror(errno),
                    zmq_msg_size(&ident), i);
        FZ_CHECK(sent, "cannot send to the node");
        while (fb_session_on_broker(session) == 0)
            ;
    }
    fb_session_on_timer(session);
    s_check_sent(s->broker);
    s_check_client(s->client);
    zmq_msg_close(&ident);
    fz_node_settle(s->node);
    return 0;
}
