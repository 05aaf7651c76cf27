/* fb_journal.c — segment files of checksummed records: reading back, cutting damaged tails, group sync, rotation.
 *
 * The journal keeps, for every segment it has not deleted, its number, its
 * size and the highest origin_seq of a publish in it (0: none), so that
 * fb_journal_release() knows which segments hold nothing unanswered; and
 * the sequence as recorded (next_seq, confirmed_below, anchored), which
 * every new segment's STATE record repeats, so that deleting old segments
 * never loses it. */
#include "fb_journal.h"

#include "fb_syncer.h"
#include "fb_log.h"
#include "fb_time.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    uint64_t index;    /* its number, in its name */
    uint64_t size;     /* bytes durable in it */
    uint64_t last_seq; /* highest origin_seq of a publish in it; 0: none */
} s_seg_t;

/* Records put and not yet durable: what they hold. */
typedef struct {
    uint8_t *buf;
    size_t len, cap;
    int need_fsync;     /* a PUBLISH or SEQ record */
    uint64_t publishes; /* PUBLISH records */
    uint64_t last_seq;  /* the highest origin_seq among them; 0: none */
    fb_journal_state_t state; /* the sequence once they are durable */
} s_batch_t;

struct fb_journal {
    char dir[PATH_MAX];
    int dirfd, lockfd, fd; /* fd: the active segment, the last of segs */
    s_seg_t *segs;
    size_t nsegs, segs_cap;
    size_t segment_bytes;
    /* Records put go to fill; a sync hands fill to the syncer as sync and
     * takes an empty buffer for fill. sync stays with the syncer until the
     * write is collected, and is handed again when it failed. */
    s_batch_t fill, sync;
    fb_syncer_t *syncer;
    int rotate_failed;  /* logged once until a rotation succeeds */
    int closed;         /* reading: the last record read is the closed SEQ record */
    uint64_t last_pub;  /* origin_seq of the newest publish; reading checks they rise */
    fb_journal_state_t state;   /* with every record put */
    fb_journal_state_t durable; /* with every record synced */
    fb_journal_stats_t st;
};

/* Appends record r to the fill buffer; returns 0, or -1 when out of memory. */
static int s_put(fb_journal_t *self, const fb_journal_rec_t *r)
{
    s_batch_t *b = &self->fill;
    size_t need = b->len + fb_jrecord_size(r);
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64 << 10;
        while (cap < need) cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    b->len += fb_jrecord_encode(r, b->buf + b->len);
    return 0;
}

/* ------------------------------------------------------------ tracking -- */

/* What a record, put or read back, does to the tracked sequence. Returns
 * NULL, or why the record cannot follow those before it (only reading
 * meets that): a publish whose origin_seq does not rise, a renumbering that
 * moves a publish to or past the next origin_seq (new publishes would then
 * be numbered below it). The highest origin_seq of each segment is the
 * caller's to keep. */
static const char *s_track(fb_journal_t *self, const fb_journal_rec_t *r)
{
    fb_journal_state_t *s = &self->state;
    switch (r->type) {
    case FB_JOURNAL_PUBLISH:
        if (r->origin_seq <= self->last_pub) return "publish out of origin_seq order";
        self->last_pub = r->origin_seq;
        if (r->origin_seq >= s->next_seq) s->next_seq = r->origin_seq + 1;
        break;
    case FB_JOURNAL_SEQ:
        if (r->renumber_from) {
            /* Every publish from renumber_from on moves up alike, wherever it is. */
            uint64_t from = r->renumber_from, delta = r->renumber_to - r->renumber_from;
            uint64_t next = r->next_seq > s->next_seq ? r->next_seq : s->next_seq;
            /* (fb_jrecord keeps every number within 2^63: no sum wraps.) */
            if (self->last_pub >= from && self->last_pub + delta >= next)
                return "renumbering past the next origin_seq";
            for (size_t i = 0; i < self->nsegs; i++)
                if (self->segs[i].last_seq >= from) self->segs[i].last_seq += delta;
            if (self->fill.last_seq >= from) self->fill.last_seq += delta;
            if (self->sync.last_seq >= from) self->sync.last_seq += delta;
            if (self->last_pub >= from) self->last_pub += delta;
        }
        /* fall through */
    case FB_JOURNAL_STATE:
        if (r->next_seq > s->next_seq) s->next_seq = r->next_seq;
        s->anchored |= r->anchored;
        if (r->type == FB_JOURNAL_SEQ) break;
        /* fall through */
    case FB_JOURNAL_CONFIRM:
        if (r->confirmed_below > s->confirmed_below) s->confirmed_below = r->confirmed_below;
        break;
    }
    return NULL;
}

/* ------------------------------------------------------------- segments -- */

static void s_name(uint64_t index, char out[40])
{
    snprintf(out, 40, "seg-%016" PRIx64 ".journal", index);
}

/* Returns 1 and sets *index when name is a segment's. */
static int s_parse_name(const char *name, uint64_t *index)
{
    if (strlen(name) != 4 + 16 + 8 || strncmp(name, "seg-", 4) != 0 || strcmp(name + 20, ".journal") != 0)
        return 0;
    uint64_t v = 0;
    for (int i = 4; i < 20; i++) {
        char c = name[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return 0;
        v = v << 4 | (uint64_t)d;
    }
    *index = v;
    return 1;
}

static int s_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int s_add_seg(fb_journal_t *self, uint64_t index)
{
    if (self->nsegs == self->segs_cap) {
        size_t cap = self->segs_cap ? self->segs_cap * 2 : 16;
        s_seg_t *s = realloc(self->segs, cap * sizeof(*s));
        if (!s) return -1;
        self->segs = s;
        self->segs_cap = cap;
    }
    self->segs[self->nsegs++] = (s_seg_t){.index = index};
    return 0;
}

/* Reads all of fd (size bytes) into a new buffer; NULL on failure. */
static uint8_t *s_slurp(int fd, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t r = pread(fd, buf + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            free(buf);
            return NULL;
        }
        got += (size_t)r;
    }
    return buf;
}

/* Cuts segment name (fd) at its last good record, good bytes long, of
 * size: logged once, counted; a segment with nothing good is removed. */
static void s_cut(fb_journal_t *self, const char *name, int fd, uint64_t good, uint64_t size, const char *why)
{
    self->st.corrupt++;
    self->st.dropped_bytes += size - good;
    fb_warn("journal %s/%s: %s at byte %" PRIu64 ": %" PRIu64 " bytes dropped, the %s kept", self->dir, name,
            why, good, size - good, good ? "records before it" : "segment not");
    if (good == 0) {
        unlinkat(self->dirfd, name, 0);
        return;
    }
    if (ftruncate(fd, (off_t)good) != 0 || fdatasync(fd) != 0)
        fb_warn("journal %s/%s: cannot cut it: %s (read again at the next start)", self->dir, name,
                strerror(errno));
}

/* Reads segment index back through fn. Returns 0, or -1 with err set. */
static int s_read_segment(fb_journal_t *self, uint64_t index, fb_journal_fn fn, void *arg, char *err,
                          size_t err_size)
{
    char name[40];
    s_name(index, name);
    int fd = openat(self->dirfd, name, O_RDWR | O_CLOEXEC);
    struct stat sb;
    uint8_t *buf = NULL;
    if (fd < 0 || fstat(fd, &sb) != 0 || !(buf = s_slurp(fd, (size_t)sb.st_size))) {
        snprintf(err, err_size, "journal %s/%s: cannot read: %s", self->dir, name, strerror(errno));
        goto error;
    }
    if (s_add_seg(self, index) != 0) {
        snprintf(err, err_size, "out of memory");
        goto error;
    }
    uint64_t size = (uint64_t)sb.st_size, off = 0;
    const char *why = NULL;
    while (off < size) {
        fb_journal_rec_t r;
        size_t used;
        unsigned version = 0;
        int rc = fb_jrecord_decode(buf + off, size - off, off == 0, &r, &used, &why, &version);
        if (rc < 0) {
            snprintf(err, err_size, "journal %s/%s: a record at byte %" PRIu64 " has format version %u, this "
                     "node reads %d: run the fedbus-node that wrote it", self->dir, name, off, version,
                     FB_JOURNAL_VERSION);
            goto error;
        }
        if (rc == 0) break;
        if ((why = s_track(self, &r)) != NULL) break;
        if (r.type == FB_JOURNAL_PUBLISH) self->segs[self->nsegs - 1].last_seq = r.origin_seq;
        self->closed = r.type == FB_JOURNAL_SEQ && r.closed;
        if (fn(&r, arg) != 0) {
            snprintf(err, err_size, "out of memory reading the journal");
            goto error;
        }
        self->st.records++;
        off += used;
    }
    if (off < size) s_cut(self, name, fd, off, size, why);
    if (off == 0) {
        self->nsegs--; /* nothing good in it: removed (an empty file is a segment torn as it was made) */
    } else {
        self->segs[self->nsegs - 1].size = off;
        self->st.bytes += off;
    }
    free(buf);
    close(fd);
    return 0;
error:
    free(buf);
    if (fd >= 0) close(fd);
    return -1;
}

/* Makes segment index, its STATE record (the sequence as durable) synced,
 * and makes it the active one. Returns 0, or -1 with errno set (nothing
 * changed). */
static int s_start_segment(fb_journal_t *self, uint64_t index)
{
    char name[40];
    s_name(index, name);
    uint8_t rec[FB_JRECORD_HEAD + FB_JRECORD_STATE_LEN];
    fb_jrecord_encode(&(fb_journal_rec_t){.type = FB_JOURNAL_STATE, .next_seq = self->durable.next_seq,
                                          .confirmed_below = self->durable.confirmed_below,
                                          .anchored = self->durable.anchored},
                      rec);
    int fd = openat(self->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    if (pwrite(fd, rec, sizeof(rec), 0) != (ssize_t)sizeof(rec) || fdatasync(fd) != 0 || fsync(self->dirfd) != 0 ||
        s_add_seg(self, index) != 0) {
        int e = errno ? errno : EIO;
        close(fd);
        unlinkat(self->dirfd, name, 0);
        errno = e;
        return -1;
    }
    if (self->fd >= 0) close(self->fd);
    self->fd = fd;
    self->segs[self->nsegs - 1].size = sizeof(rec);
    self->st.bytes += sizeof(rec);
    return 0;
}

/* ------------------------------------------------------------- opening -- */

/* mkdir -p path, mode 0700. Returns 0 or -1 with errno set. */
static int s_mkdirs(const char *path)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p)) return errno = ENAMETOOLONG, -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0700) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    return mkdir(p, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Takes the directory's lock file. Returns 0, or -1 with err set. */
static int s_lock(fb_journal_t *self, char *err, size_t err_size)
{
    self->lockfd = openat(self->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (self->lockfd < 0) {
        snprintf(err, err_size, "state-dir %s: cannot open its lock file: %s", self->dir, strerror(errno));
        return -1;
    }
    if (flock(self->lockfd, LOCK_EX | LOCK_NB) != 0) {
        char pid[24] = "";
        ssize_t n = pread(self->lockfd, pid, sizeof(pid) - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        snprintf(err, err_size, "state-dir %s is in use by another fedbus-node%s%s%s", self->dir,
                 pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        return -1;
    }
    char pid[24];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(self->lockfd, 0) != 0 || pwrite(self->lockfd, pid, (size_t)n, 0) != n) {
        /* The pid is only for the message above. */
    }
    return 0;
}

/* The numbers of the segment files in the directory, sorted (caller frees
 * *out). Returns how many, or -1. */
static long s_list(fb_journal_t *self, uint64_t **out)
{
    int fd = dup(self->dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        return -1;
    }
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t index;
        if (!s_parse_name(e->d_name, &index)) continue;
        if (n == cap) {
            uint64_t *nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
            if (!nv) {
                free(v);
                closedir(d);
                return -1;
            }
            v = nv;
        }
        v[n++] = index;
    }
    closedir(d);
    if (n) qsort(v, n, sizeof(*v), s_cmp_u64);
    *out = v;
    return (long)n;
}

/* After an unclean stop of an anchored journal, origin_seqs up to
 * FB_JOURNAL_AHEAD above what it held may have been sent: the sequence
 * goes on above them (within the 2^63 - 1 a publish may carry). */
static void s_skip_unclean(fb_journal_t *self)
{
    const uint64_t top = (uint64_t)INT64_MAX;
    fb_journal_state_t *s = &self->state;
    if (!s->anchored || self->closed || s->next_seq > top) return;
    uint64_t next = top - s->next_seq < FB_JOURNAL_AHEAD ? top + 1 : s->next_seq + FB_JOURNAL_AHEAD;
    self->st.skipped = next - s->next_seq;
    fb_info("journal %s: not closed cleanly: origin_seqs %" PRIu64 " to %" PRIu64 " may have been sent without "
            "being journaled, so new publishes start at %" PRIu64, self->dir, s->next_seq, next - 1, next);
    s->next_seq = next;
}

fb_journal_t *fb_journal_open(const char *dir, size_t segment_bytes, fb_journal_fn fn, void *arg, char *err,
                              size_t err_size)
{
    fb_journal_t *self = calloc(1, sizeof(*self));
    uint64_t *list = NULL;
    if (!self) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    self->dirfd = self->lockfd = self->fd = -1;
    self->segment_bytes = segment_bytes ? segment_bytes : FB_JOURNAL_SEGMENT_BYTES;
    self->state.next_seq = 1;
    snprintf(self->dir, sizeof(self->dir), "%s", dir);
    if (s_mkdirs(dir) != 0 || (self->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, err_size, "state-dir %s: %s", dir, strerror(errno));
        goto error;
    }
    if (s_lock(self, err, err_size) != 0) goto error;
    long n = s_list(self, &list);
    if (n < 0) {
        snprintf(err, err_size, "state-dir %s: cannot list it: %s", dir, strerror(errno));
        goto error;
    }
    for (long i = 0; i < n; i++)
        if (s_read_segment(self, list[i], fn, arg, err, err_size) != 0) goto error;
    s_skip_unclean(self);
    self->durable = self->state; /* all of it read from disk */
    if (!(self->syncer = fb_syncer_new())) {
        snprintf(err, err_size, "cannot start the journal's writer thread: %s", strerror(errno));
        goto error;
    }
    if (s_start_segment(self, n ? list[n - 1] + 1 : 1) != 0) {
        snprintf(err, err_size, "state-dir %s: cannot start a segment: %s", dir, strerror(errno));
        goto error;
    }
    free(list);
    return self;
error:
    free(list);
    fb_journal_close(&self);
    return NULL;
}

/* Puts the record that says everything put before it is synced: the last
 * one, put by fb_journal_close(). Returns 0, or -1 when out of memory. */
static int s_put_closed(fb_journal_t *self)
{
    fb_journal_rec_t r = {.type = FB_JOURNAL_SEQ, .next_seq = self->state.next_seq,
                          .anchored = self->state.anchored, .closed = 1};
    if (s_put(self, &r) != 0) return errno = ENOMEM, -1;
    self->fill.need_fsync = 1;
    self->fill.state = self->state;
    return 0;
}

void fb_journal_close(fb_journal_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_journal_t *self = *self_p;
    if (self->syncer && self->fd >= 0 &&
        (fb_journal_sync(self) != 0 || s_put_closed(self) != 0 || fb_journal_sync(self) != 0))
        fb_warn("journal %s: the last records could not be written: %s", self->dir, strerror(errno));
    fb_syncer_destroy(&self->syncer);
    if (self->fd >= 0) close(self->fd);
    if (self->lockfd >= 0) close(self->lockfd); /* and with it the lock */
    if (self->dirfd >= 0) close(self->dirfd);
    free(self->segs);
    free(self->fill.buf);
    free(self->sync.buf);
    free(self);
    *self_p = NULL;
}

/* -------------------------------------------------------------- writing -- */

int fb_journal_put_publish(fb_journal_t *self, uint64_t origin_seq, int64_t created_at_us, const uint8_t *id,
                           const uint8_t *frame, size_t frame_len)
{
    fb_journal_rec_t r = {.type = FB_JOURNAL_PUBLISH, .origin_seq = origin_seq, .created_at_us = created_at_us,
                          .id = id, .frame = frame, .frame_len = frame_len};
    /* The outbox appends in origin_seq order; a publish that did not rise
     * would be cut when read back, and everything after it. */
    if (origin_seq <= self->last_pub || s_put(self, &r) != 0) return -1;
    s_track(self, &r);
    self->fill.need_fsync = 1;
    self->fill.publishes++;
    self->fill.last_seq = origin_seq;
    self->fill.state = self->state;
    return 0;
}

int fb_journal_put_confirm(fb_journal_t *self, uint64_t confirmed_below)
{
    fb_journal_rec_t r = {.type = FB_JOURNAL_CONFIRM, .confirmed_below = confirmed_below};
    if (s_put(self, &r) != 0) return -1;
    s_track(self, &r);
    self->fill.state = self->state;
    return 0;
}

int fb_journal_put_seq(fb_journal_t *self, uint64_t next_seq, uint64_t renumber_from, uint64_t renumber_to)
{
    fb_journal_rec_t r = {.type = FB_JOURNAL_SEQ, .next_seq = next_seq, .anchored = 1,
                          .renumber_from = renumber_from, .renumber_to = renumber_to};
    if (s_put(self, &r) != 0) return -1;
    s_track(self, &r);
    self->fill.need_fsync = 1;
    self->fill.state = self->state;
    return 0;
}

int fb_journal_sync_start(fb_journal_t *self, int lazy_too)
{
    if (fb_syncer_busy(self->syncer)) return 0;
    int fresh = !self->sync.len;
    if (fresh) {
        if (!self->fill.len || (!self->fill.need_fsync && !lazy_too)) return 0;
        /* The fill buffer goes to the syncer; its empty one takes records. */
        s_batch_t empty = {.buf = self->sync.buf, .cap = self->sync.cap};
        self->sync = self->fill;
        self->fill = empty;
    }
    fb_syncer_start(self->syncer, self->fd, self->sync.buf, self->sync.len, self->segs[self->nsegs - 1].size,
                    self->sync.need_fsync);
    return fresh ? 1 : 2;
}

int fb_journal_sync_collect(fb_journal_t *self, int wait)
{
    int err;
    int64_t us;
    if (!(wait ? fb_syncer_wait(self->syncer, &err, &us) : fb_syncer_poll(self->syncer, &err, &us))) return 0;
    s_batch_t *b = &self->sync;
    s_seg_t *seg = &self->segs[self->nsegs - 1];
    if (err) {
        /* What the kernel holds of a failed write or sync cannot be
         * trusted: cut it; the records are written again, first. */
        if (ftruncate(self->fd, (off_t)seg->size) != 0) {
            /* The next write goes to the same offset anyway. */
        }
        self->st.sync_errno = errno = err;
        return -1;
    }
    if (b->need_fsync) {
        self->st.syncs++;
        self->st.sync_us += (uint64_t)us;
        self->st.synced_publishes += b->publishes;
    }
    if (b->last_seq > seg->last_seq) seg->last_seq = b->last_seq;
    seg->size += b->len;
    self->st.bytes += b->len;
    self->st.sync_errno = 0;
    self->durable = b->state;
    *b = (s_batch_t){.buf = b->buf, .cap = b->cap};
    if (seg->size >= self->segment_bytes) {
        if (s_start_segment(self, seg->index + 1) == 0) {
            self->rotate_failed = 0;
        } else if (!self->rotate_failed++) {
            fb_warn("journal %s: cannot start a new segment (%s): the active one grows", self->dir,
                    strerror(errno));
        }
    }
    return 1;
}

int fb_journal_sync(fb_journal_t *self)
{
    for (;;) {
        if (fb_journal_sync_collect(self, 1) < 0) return -1;
        if (!fb_journal_sync_start(self, 1)) return 0;
    }
}

int fb_journal_sync_fd(const fb_journal_t *self)
{
    return fb_syncer_fd(self->syncer);
}

int fb_journal_pending(const fb_journal_t *self)
{
    return self->fill.len || self->sync.len;
}

int fb_journal_urgent(const fb_journal_t *self)
{
    return self->fill.need_fsync;
}

void fb_journal_release(fb_journal_t *self, uint64_t first_seq)
{
    size_t k = 0;
    while (k + 1 < self->nsegs && self->segs[k].last_seq < first_seq) {
        char name[40];
        s_name(self->segs[k].index, name);
        if (unlinkat(self->dirfd, name, 0) != 0 && errno != ENOENT) {
            fb_warn("journal %s/%s: cannot delete it: %s", self->dir, name, strerror(errno));
            break;
        }
        self->st.bytes -= self->segs[k].size;
        k++;
    }
    if (!k) return;
    memmove(self->segs, self->segs + k, (self->nsegs - k) * sizeof(*self->segs));
    self->nsegs -= k;
    if (fsync(self->dirfd) != 0) fb_warn("journal %s: cannot sync the directory: %s", self->dir, strerror(errno));
}

void fb_journal_state(const fb_journal_t *self, fb_journal_state_t *st)
{
    *st = self->state;
}

void fb_journal_durable(const fb_journal_t *self, fb_journal_state_t *st)
{
    *st = self->durable;
}

void fb_journal_stats(const fb_journal_t *self, fb_journal_stats_t *st)
{
    *st = self->st;
    st->segments = self->nsegs;
}
