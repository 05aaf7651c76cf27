/* fuzz_replay_request.c — frames a client sends to the broker's replay socket, as the broker takes them.
 *
 * Each input is up to FZ_FRAMES_MAX requests (cut at FZ_SPLIT) from one
 * client, read by the broker's own replay service (fb_replay_srv_read):
 * decoded, checked (prefixes, from_seq, since_us, the limits per broker
 * and per client) and started, or answered with an error chunk. Serving
 * pages needs PostgreSQL and is not run: a fresh service takes each input.
 * Every answer must be a ReplayChunk that says done, with a reason. */
#include "fuzz.h"

#include "fb_broker_stats.h"
#include "fb_identity.h"
#include "fb_replay_srv.h"
#include "fedbus.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned runs;
    static fb_broker_stats_t stats;
    static fb_identity_t *identity; /* a plaintext broker's: no members */
    if (!runs) fz_quiet();
    if (!identity) FZ_CHECK((identity = fb_identity_new(NULL)) != NULL, "out of memory");
    fz_pace_sockets();
    char ep[64];
    snprintf(ep, sizeof(ep), "inproc://fuzz-replay-%u", runs++);
    void *router = fb_zmq_open(&(fb_zmq_opts_t){.type = ZMQ_ROUTER, .endpoint = ep, .bind = 1, .max_msg = 1 << 20});
    FZ_CHECK(router != NULL, "cannot make the replay socket");
    fb_replay_limits_t limits = {.max_active = 8, .max_per_peer = 4, .stall_ms = 1000};
    fb_replay_srv_t *srv = fb_replay_srv_new(router, NULL, &stats, &limits, identity);
    FZ_CHECK(srv != NULL, "out of memory");
    void *client = fz_socket(ZMQ_DEALER, ep, 0);
    const uint8_t *p = data, *f;
    size_t n;
    int sent = 0;
    for (; sent < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); sent++)
        FZ_CHECK(fz_send(client, f, n, 0) == (int)n, "cannot send to replay");
    for (int i = 0; i < sent; i++) fb_replay_srv_read(srv, 42);
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, client, ZMQ_DONTWAIT) >= 0) {
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        FZ_CHECK(ch != NULL, "the broker answered a request with a frame that is not a ReplayChunk");
        FZ_CHECK(ch->done && ch->error && ch->head_seq == 42, "an error chunk that is not final, or says no reason");
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    zmq_msg_close(&m);
    zmq_close(client);
    fb_replay_srv_destroy(&srv);
    return 0;
}
