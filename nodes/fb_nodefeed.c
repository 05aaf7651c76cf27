/* fb_nodefeed.c — the node's feed thread: subscribes to the broker's feed and writes each message as a JSON line.
 *
 * The output file is also the cursor: at start the feed reads the last
 * complete line's global_seq, cuts off a line a kill left torn, and asks
 * for history after it (fb_subscriber_from()), so that across a kill -9
 * the file gets every matching message once, in order: no duplicate, no
 * hole. Each line goes out in one write() to a file opened O_APPEND; the
 * file is fdatasync'ed every S_SYNC_US (a kill -9 loses nothing written;
 * an operating-system crash may lose the last second, and the restart then
 * fetches it again). */
#include "fb_nodefeed.h"

#include "fb_log.h"
#include "fb_time.h"
#include "fedbus/fedbus.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_SYNC_US 1000000 /* most time between a line's write and its fdatasync */

struct fb_nodefeed {
    char feed[sizeof(((fb_node_config_t *)0)->feed)];
    char replay[sizeof(((fb_node_config_t *)0)->replay)];
    char subscribe[sizeof(((fb_node_config_t *)0)->subscribe)];
    char output[sizeof(((fb_node_config_t *)0)->output)];
    long long from_seq;
    fb_curve_t curve; /* CURVE to the feed and replay when curve.on */
    int quit; /* atomic: set by fb_nodefeed_stop() */
    uint64_t last_seen; /* atomic: written by the thread, read by the loop */
    pthread_t thread;
    int running;
};

/* Finds the offset just past the last newline before end in fd (0: none);
 * returns it, or -1 on a read error. */
static off_t s_line_start(int fd, off_t end)
{
    char buf[4096];
    while (end > 0) {
        off_t from = end > (off_t)sizeof(buf) ? end - (off_t)sizeof(buf) : 0;
        ssize_t n = pread(fd, buf, (size_t)(end - from), from);
        if (n != end - from) return -1;
        for (ssize_t i = n - 1; i >= 0; i--)
            if (buf[i] == '\n') return from + i + 1;
        end = from;
    }
    return 0;
}

/* Cuts a torn last line off the JSON-lines file fd and sets *last to the
 * global_seq of its last line (0: an empty file). Returns 0, or -1 after
 * logging why (a last line that is not a delivered message: the file is
 * someone else's, and left alone). */
static int s_resume_point(int fd, const char *path, uint64_t *last)
{
    struct stat st;
    *last = 0;
    if (fstat(fd, &st) != 0) goto io;
    off_t end = s_line_start(fd, st.st_size); /* just past the last newline */
    if (end < 0) goto io;
    if (end < st.st_size) {
        fb_warn("feed: %s ends in a torn line of %lld bytes (a kill while writing it): cut off", path,
                (long long)(st.st_size - end));
        if (ftruncate(fd, end) != 0) goto io;
    }
    if (end == 0) return 0;
    off_t start = s_line_start(fd, end - 1);
    if (start < 0) goto io;
    size_t len = (size_t)(end - 1 - start);
    char *line = malloc(len + 1);
    if (!line) goto io;
    int ok = pread(fd, line, len, start) == (ssize_t)len;
    json_t *doc = ok ? json_loadb(line, len, 0, NULL) : NULL;
    json_t *seq = doc ? json_object_get(doc, "global_seq") : NULL;
    ok = seq && json_is_integer(seq) && json_integer_value(seq) > 0;
    if (ok) *last = (uint64_t)json_integer_value(seq);
    json_decref(doc);
    free(line);
    if (ok) return 0;
    fb_err("feed: the last line of %s is not a delivered message (no global_seq): not resuming from it", path);
    return -1;
io:
    fb_err("feed: cannot read %s: %s", path, strerror(errno));
    return -1;
}

/* Opens the output (fd 1 for "-") and works out where the feed starts:
 * after the file's last line, else at from-seq (0: live). Returns the fd,
 * or -1 after logging why. */
static int s_open_output(fb_nodefeed_t *self, uint64_t *from)
{
    *from = self->from_seq > 0 ? (uint64_t)self->from_seq : 0;
    if (strcmp(self->output, "-") == 0) return 1;
    int fd = open(self->output, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        fb_err("feed: cannot open %s: %s", self->output, strerror(errno));
        return -1;
    }
    uint64_t last;
    if (s_resume_point(fd, self->output, &last) != 0) {
        close(fd);
        return -1;
    }
    if (last) {
        fb_info("feed: %s ends at global_seq %llu: resuming after it", self->output, (unsigned long long)last);
        *from = last + 1;
        __atomic_store_n(&self->last_seen, last, __ATOMIC_RELAXED);
    }
    return fd;
}

/* Moves last_seen up to the subscriber's position: every matching message
 * up to it has been written, so a feed whose patterns match little still
 * reports itself level with the broker's head (the broker's feed lag). */
static void s_seen_up_to(fb_nodefeed_t *self, const fb_subscriber_t *sub)
{
    uint64_t pos = fb_subscriber_position(sub);
    if (pos > __atomic_load_n(&self->last_seen, __ATOMIC_RELAXED))
        __atomic_store_n(&self->last_seen, pos, __ATOMIC_RELAXED);
}

/* Writes msg as one line in one write(); returns 0, or -1 after logging. */
static int s_write_line(int fd, const fb_message_t *msg)
{
    char *json = fb_message_json(msg);
    if (!json) {
        fb_warn("feed: global_seq %llu cannot be written as JSON: skipped", (unsigned long long)msg->global_seq);
        return 0;
    }
    size_t len = strlen(json);
    char *line = realloc(json, len + 2);
    if (!line) {
        free(json);
        return -1;
    }
    line[len] = '\n';
    for (size_t off = 0; off < len + 1;) {
        ssize_t n = write(fd, line + off, len + 1 - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            fb_err("feed: cannot write a line: %s", strerror(errno));
            free(line);
            return -1;
        }
        off += (size_t)n;
    }
    free(line);
    return 0;
}

static void *s_main(void *arg)
{
    fb_nodefeed_t *self = arg;
    uint64_t from;
    int fd = s_open_output(self, &from);
    if (fd < 0) return NULL;
    const fb_curve_t *c = &self->curve;
    fb_endpoint_opts_t feed = {.endpoint = self->feed}, replay = {.endpoint = self->replay};
    if (c->on) {
        feed.curve_serverkey = replay.curve_serverkey = c->server_key;
        feed.curve_publickey = replay.curve_publickey = c->public_key;
        feed.curve_secretkey = replay.curve_secretkey = c->secret_key;
    }
    fb_subscriber_t *sub = fb_subscriber_open(&feed, &replay);
    if (!sub) {
        fb_err("feed: cannot connect to %s", self->feed);
        if (fd != 1) close(fd);
        return NULL;
    }
    char buf[sizeof(self->subscribe)];
    snprintf(buf, sizeof(buf), "%s", self->subscribe);
    char *save = NULL;
    for (char *p = strtok_r(buf, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) fb_subscriber_add(sub, p);
    if (from > 0) fb_subscriber_from(sub, from);
    fb_info("feed: delivering '%s' to %s", self->subscribe, self->output);
    int64_t sync_due = 0; /* 0: nothing to sync */
    uint64_t reported = 0;
    while (!__atomic_load_n(&self->quit, __ATOMIC_RELAXED)) {
        fb_message_t msg;
        int rc = fb_subscriber_recv(sub, &msg, 500);
        if (sync_due && fb_time_mono_us() >= sync_due) {
            fdatasync(fd);
            sync_due = 0;
        }
        if (fb_subscriber_repaired(sub) != reported) {
            fb_info("feed: repaired %llu messages from replay", (unsigned long long)(fb_subscriber_repaired(sub) - reported));
            reported = fb_subscriber_repaired(sub);
        }
        if (rc == FB_ETIMEOUT || rc == FB_EINTR) {
            s_seen_up_to(self, sub);
            continue;
        }
        if (rc == FB_ELOST) {
            uint64_t first, last;
            fb_subscriber_lost(sub, &first, &last);
            fb_warn("feed: global_seq %llu to %llu were dropped by the broker's retention before they reached %s:"
                    " the messages among them are lost", (unsigned long long)first, (unsigned long long)last,
                    self->output);
            continue;
        }
        if (rc == FB_EVERIFY) {
            fb_warn("feed: message_id %s of %s (global_seq %llu, origin_seq %llu) failed verification, not written"
                    " to %s: %s", msg.message_id, msg.origin, (unsigned long long)msg.global_seq,
                    (unsigned long long)msg.origin_seq, self->output, fb_message_verify_detail(&msg));
            s_seen_up_to(self, sub);
            continue;
        }
        if (rc != FB_OK) {
            fb_warn("feed: %s", fb_strerror(rc));
            continue;
        }
        if (s_write_line(fd, &msg) != 0) break;
        if (!sync_due && fd != 1) sync_due = fb_time_mono_us() + S_SYNC_US;
        s_seen_up_to(self, sub);
    }
    if (fd != 1) {
        fdatasync(fd);
        close(fd);
    }
    fb_subscriber_destroy(&sub);
    return NULL;
}

fb_nodefeed_t *fb_nodefeed_new(const fb_node_config_t *cfg)
{
    fb_nodefeed_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
    snprintf(self->feed, sizeof(self->feed), "%s", cfg->feed);
    snprintf(self->replay, sizeof(self->replay), "%s", cfg->replay);
    snprintf(self->subscribe, sizeof(self->subscribe), "%s", cfg->subscribe);
    snprintf(self->output, sizeof(self->output), "%s", cfg->output);
    self->from_seq = cfg->from_seq;
    self->curve = cfg->curve;
    return self;
}

int fb_nodefeed_start(fb_nodefeed_t *self)
{
    if (pthread_create(&self->thread, NULL, s_main, self) != 0) {
        fb_err("feed: cannot start thread");
        return -1;
    }
    self->running = 1;
    return 0;
}

void fb_nodefeed_stop(fb_nodefeed_t *self)
{
    if (self) __atomic_store_n(&self->quit, 1, __ATOMIC_RELAXED);
}

uint64_t fb_nodefeed_last_seen(const fb_nodefeed_t *self)
{
    return self ? __atomic_load_n(&self->last_seen, __ATOMIC_RELAXED) : 0;
}

void fb_nodefeed_destroy(fb_nodefeed_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_nodefeed_t *self = *self_p;
    if (self->running) {
        fb_nodefeed_stop(self);
        pthread_join(self->thread, NULL);
    }
    fb_curve_clear(&self->curve);
    free(self);
    *self_p = NULL;
}
