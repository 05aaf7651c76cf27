/* fuzz_node_submit.c — frames a local client sends to the node's submit socket, as the node takes them.
 *
 * `fedbus publish` and any program of the agency's own send NodeMessage
 * frames to the submit endpoint (tcp://127.0.0.1:7711): a publish, a
 * PublishBatch, or anything else (refused). The node scans each envelope in
 * place, refuses what only it or the broker may set, stamps its origin,
 * next origin_seq and what was left out, and queues the frame. Each input
 * is up to FZ_FRAMES_MAX frames (cut at FZ_SPLIT) from one client; every
 * publish the node queued must name this node's origin, its origin_seq and
 * message_id, and is checked as the broker checks it. */
#include "fuzz_node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_node_t *node;
    static void *client;
    if (!node) {
        fz_quiet();
        node = fz_node();
        client = fz_socket(ZMQ_DEALER, FZ_NODE_SUBMIT, 0);
    }
    const uint8_t *p = data, *f;
    size_t n;
    for (int i = 0; i < FZ_FRAMES_MAX && fz_next(&p, data + size, &f, &n); i++)
        FZ_CHECK(fz_send(client, f, n, 0) == (int)n, "cannot send to the submit socket");
    fz_node_settle(node);
    fz_drop_all(client); /* the node's rejects */
    return 0;
}
