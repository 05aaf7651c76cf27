/* fb_copy.c — fedbus_messages rows as binary COPY data, encoded into one reused chunk. */
#include "fb_copy.h"

#include <stdlib.h>
#include <string.h>

/* The COPY data goes to the server in chunks of this size while it is
 * encoded, not as one buffer for the whole batch: the server parses the
 * first rows while the rest are encoded, each chunk is still in the cache
 * when libpq copies it into its output buffer, and neither buffer grows with
 * the batch (a batch of 16 MiB used to hold 16 MiB in each). */
#define S_CHUNK (128u << 10)

struct fb_copy {
    uint8_t *buf; /* COPY data being encoded: one chunk, reused */
    size_t cap, len;
    fb_copy_sink_fn *sink;
    void *arg;
};

fb_copy_t *fb_copy_new(fb_copy_sink_fn *sink, void *arg)
{
    fb_copy_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    if (!(self->buf = malloc(S_CHUNK))) {
        free(self);
        return NULL;
    }
    self->cap = S_CHUNK;
    self->sink = sink;
    self->arg = arg;
    return self;
}

void fb_copy_destroy(fb_copy_t **self_p)
{
    if (!self_p || !*self_p) return;
    free((*self_p)->buf);
    free(*self_p);
    *self_p = NULL;
}

/* Sends the encoded chunk; returns 0, or -1 when the sink failed. */
static int s_flush(fb_copy_t *self)
{
    if (self->len == 0) return 0;
    if (self->sink(self->arg, self->buf, self->len) != 0) return -1;
    self->len = 0;
    return 0;
}

/* Makes room for more bytes in the chunk, sending what it holds when they
 * would not fit; 0, or -1 when the sink failed. */
static int s_room(fb_copy_t *self, size_t more)
{
    return self->len + more <= self->cap ? 0 : s_flush(self);
}

static void s_put16(fb_copy_t *self, uint16_t v)
{
    self->buf[self->len++] = (uint8_t)(v >> 8);
    self->buf[self->len++] = (uint8_t)v;
}

static void s_put32(fb_copy_t *self, uint32_t v)
{
    for (int s = 24; s >= 0; s -= 8) self->buf[self->len++] = (uint8_t)(v >> s);
}

static void s_put64(fb_copy_t *self, uint64_t v)
{
    for (int s = 56; s >= 0; s -= 8) self->buf[self->len++] = (uint8_t)(v >> s);
}

static void s_field(fb_copy_t *self, const void *data, size_t len)
{
    s_put32(self, (uint32_t)len);
    memcpy(self->buf + self->len, data, len);
    self->len += len;
}

static void s_field64(fb_copy_t *self, uint64_t v)
{
    s_put32(self, 8);
    s_put64(self, v);
}

/* Appends bytes that may be larger than a chunk: into the chunk when they
 * fit, else straight to libpq after what the chunk holds. */
static int s_bytes(fb_copy_t *self, const uint8_t *data, size_t len)
{
    if (s_room(self, len) != 0) return -1;
    if (len <= self->cap) {
        memcpy(self->buf + self->len, data, len);
        self->len += len;
        return 0;
    }
    return self->sink(self->arg, data, len);
}

int fb_copy_rows(fb_copy_t *self, const fb_store_row_t *rows, size_t n)
{
    static const uint8_t header[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};
    self->len = 0;
    memcpy(self->buf, header, sizeof(header));
    self->len = sizeof(header);
    s_put32(self, 0); /* flags */
    s_put32(self, 0); /* header extension length */
    for (size_t i = 0; i < n; i++) {
        const fb_store_row_t *r = &rows[i];
        size_t olen = strlen(r->origin), tlen = strlen(r->topic);
        /* origin and topic are at most a few hundred bytes (their
         * grammar), far below a chunk; the envelope may be larger. */
        if (s_room(self, 2 + 9 * 4 + 8 * 5 + 16 + 32 + olen + tlen) != 0) return -1;
        s_put16(self, 9);
        s_field64(self, r->global_seq);
        s_field(self, r->origin, olen);
        s_field64(self, r->origin_seq);
        s_field(self, r->message_id, 16);
        s_field(self, r->topic, tlen);
        s_field64(self, (uint64_t)(r->created_at_us - FB_COPY_PG_EPOCH_US));
        s_field64(self, (uint64_t)(r->stored_at_us - FB_COPY_PG_EPOCH_US));
        s_field(self, r->hash, 32);
        s_put32(self, (uint32_t)(r->body_len + r->stamp_len));
        if (s_bytes(self, r->body, r->body_len) != 0 || s_bytes(self, r->stamp, r->stamp_len) != 0)
            return -1;
    }
    if (s_room(self, 2) != 0) return -1;
    s_put16(self, 0xffff);
    return s_flush(self);
}

