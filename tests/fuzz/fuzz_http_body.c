/* fuzz_http_body.c — a POST /v1/publish body as the node's HTTP handler takes it: one JSON object, or an array of them.
 *
 * The handler (nodes/fb_http.c, s_publish) parses the body; an object goes
 * whole to fb_publisher_send_json(), an array's elements, each written out
 * again, to fb_publisher_send_json_many(); both publish on the node's own
 * submit socket (FB_NODE_INPROC). The handler's three steps are repeated
 * here (it is reached only through libmicrohttpd), then the publisher, the
 * submit socket, the stamping and the outbox are the node's own, and each
 * publish the node queues is checked as the broker checks it. The
 * publisher does not wait for answers (a time-out of 0). */
#include "fuzz_node.h"

#include "fedbus/fb_client.h"
#include "fedbus/fedbus.h"

#include <jansson.h>

/* As s_publish_many(): each element written out, then all sent at once. */
static void s_many(fb_publisher_t *pub, json_t *doc)
{
    size_t n = json_array_size(doc);
    if (n > FB_BATCH_MAX * 2) n = FB_BATCH_MAX * 2; /* the body's limit (max-frame) bounds it in the node */
    char **texts = calloc(n ? n : 1, sizeof(*texts));
    size_t *lens = calloc(n ? n : 1, sizeof(*lens));
    fb_ack_t *acks = calloc(n ? n : 1, sizeof(*acks));
    int *rcs = calloc(n ? n : 1, sizeof(*rcs));
    FZ_CHECK(texts && lens && acks && rcs, "out of memory");
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_dumps(json_array_get(doc, i), JSON_COMPACT);
        lens[i] = texts[i] ? strlen(texts[i]) : 0;
    }
    fb_publisher_send_json_many(pub, (const char *const *)texts, lens, n, acks, rcs, 0);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(acks);
    free(rcs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fz_node_t *node;
    if (!node) {
        fz_quiet();
        node = fz_node();
    }
    fz_pace_sockets();
    /* libmicrohttpd hands the handler a NUL-terminated body. */
    char *body = malloc(size + 1);
    FZ_CHECK(body != NULL, "out of memory");
    memcpy(body, data, size);
    body[size] = '\0';
    json_error_t jerr;
    json_t *doc = json_loadb(body, size, JSON_REJECT_DUPLICATES, &jerr);
    if (doc) {
        fb_publisher_t *pub = fb_publisher_new(FB_NODE_INPROC);
        FZ_CHECK(pub != NULL, "cannot connect to the submit socket");
        if (!json_is_array(doc)) {
            fb_ack_t ack;
            fb_publisher_send_json(pub, body, size, &ack, 0);
        } else {
            s_many(pub, doc);
        }
        fz_node_settle(node);
        fb_publisher_destroy(&pub);
        json_decref(doc);
    }
    free(body);
    return 0;
}
