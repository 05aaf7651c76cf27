/* fb_journal.c — segment files of checksummed records: reading back, cutting damaged tails, group sync, rotation.
 *
 * The journal keeps, for every segment it has not deleted, its number, its
 * size and the highest origin_seq of a publish in it (0: none), so that
 * fb_journal_release() knows which segments hold nothing unanswered; and
 * the sequence as recorded (next_seq, confirmed_below, anchored), which
 * every new segment's STATE record repeats, so that deleting old segments
 * never loses it. */
#include "fb_journal.h"

#include "fb_crc32c.h"
#include "fb_log.h"

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

#define S_HEAD 16          /* record header bytes */
#define S_STATE_LEN 24     /* STATE body */
#define S_PUBLISH_FIXED 32 /* PUBLISH body before the frame */
#define S_CONFIRM_LEN 8
#define S_SEQ_LEN 32
#define S_ANCHORED 1u /* flags bit */

typedef struct {
    uint64_t index;    /* its number, in its name */
    uint64_t size;     /* bytes durable in it */
    uint64_t last_seq; /* highest origin_seq of a publish in it; 0: none */
} s_seg_t;

struct fb_journal {
    char dir[PATH_MAX];
    int dirfd, lockfd, fd; /* fd: the active segment, the last of segs */
    s_seg_t *segs;
    size_t nsegs, segs_cap;
    size_t segment_bytes;
    uint8_t *buf; /* records put and not yet written */
    size_t len, cap;
    int need_fsync;       /* the buffer holds a PUBLISH or SEQ record */
    int rotate_failed;    /* logged once until a rotation succeeds */
    uint64_t last_pub;    /* origin_seq of the newest publish; reading checks they rise */
    fb_journal_state_t state;
    fb_journal_stats_t st;
};

/* ------------------------------------------------------------ encoding -- */

static void s_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t s_get64(const uint8_t *p)
{
    return (uint64_t)s_get32(p) | (uint64_t)s_get32(p + 4) << 32;
}

/* Writes a record of type (body: head_len bytes of head, then tail_len of
 * tail) to out, which has S_HEAD + head_len + tail_len bytes. */
static void s_encode(uint8_t *out, int type, const uint8_t *head, size_t head_len, const uint8_t *tail,
                     size_t tail_len)
{
    memcpy(out, "FBJ", 3);
    out[3] = FB_JOURNAL_VERSION;
    out[4] = (uint8_t)type;
    out[5] = out[6] = out[7] = 0;
    s_put32(out + 8, (uint32_t)(head_len + tail_len));
    memcpy(out + S_HEAD, head, head_len);
    if (tail_len) memcpy(out + S_HEAD + head_len, tail, tail_len);
    uint32_t crc = fb_crc32c(0, out, 12);
    s_put32(out + 12, fb_crc32c(crc, out + S_HEAD, head_len + tail_len));
}

static void s_encode_state(uint8_t body[S_STATE_LEN], const fb_journal_state_t *s)
{
    s_put64(body, s->next_seq);
    s_put64(body + 8, s->confirmed_below);
    s_put32(body + 16, s->anchored ? S_ANCHORED : 0);
    s_put32(body + 20, 0);
}

/* Appends a record to the buffer; returns 0, or -1 when out of memory. */
static int s_put(fb_journal_t *self, int type, const uint8_t *head, size_t head_len, const uint8_t *tail,
                 size_t tail_len)
{
    size_t need = self->len + S_HEAD + head_len + tail_len;
    if (need > self->cap) {
        size_t cap = self->cap ? self->cap : 64 << 10;
        while (cap < need) cap *= 2;
        uint8_t *b = realloc(self->buf, cap);
        if (!b) return -1;
        self->buf = b;
        self->cap = cap;
    }
    s_encode(self->buf + self->len, type, head, head_len, tail, tail_len);
    self->len = need;
    return 0;
}

/* ------------------------------------------------------------ decoding -- */

/* Reads the record at p (avail bytes to the end of the file) into *r and
 * sets *used. Returns 1, 0 when it is damaged (*why says how), or -1 when
 * it is whole but of a newer format version. */
static int s_decode(const uint8_t *p, size_t avail, int first, fb_journal_rec_t *r, size_t *used, const char **why)
{
    if (avail < S_HEAD) return *why = "torn record header", 0;
    if (memcmp(p, "FBJ", 3) != 0) return *why = "bad record magic", 0;
    uint32_t len = s_get32(p + 8);
    if (len > FB_JOURNAL_BODY_MAX) return *why = "impossible record length", 0;
    if (avail - S_HEAD < len) return *why = "torn record", 0;
    if (fb_crc32c(fb_crc32c(0, p, 12), p + S_HEAD, len) != s_get32(p + 12)) return *why = "checksum mismatch", 0;
    if (p[3] != FB_JOURNAL_VERSION) return -1;
    const uint8_t *b = p + S_HEAD;
    memset(r, 0, sizeof(*r));
    r->type = (fb_journal_type_t)p[4];
    *used = S_HEAD + len;
    if ((r->type == FB_JOURNAL_STATE) != !!first)
        return *why = first ? "segment does not begin with its state" : "state record inside a segment", 0;
    switch (r->type) {
    case FB_JOURNAL_STATE:
        if (len != S_STATE_LEN) break;
        r->next_seq = s_get64(b);
        r->confirmed_below = s_get64(b + 8);
        r->anchored = (s_get32(b + 16) & S_ANCHORED) != 0;
        return 1;
    case FB_JOURNAL_PUBLISH:
        if (len <= S_PUBLISH_FIXED) break;
        r->origin_seq = s_get64(b);
        r->created_at_us = (int64_t)s_get64(b + 8);
        r->id = b + 16;
        r->frame = b + S_PUBLISH_FIXED;
        r->frame_len = len - S_PUBLISH_FIXED;
        return r->origin_seq ? 1 : (*why = "publish without origin_seq", 0);
    case FB_JOURNAL_CONFIRM:
        if (len != S_CONFIRM_LEN) break;
        r->confirmed_below = s_get64(b);
        return 1;
    case FB_JOURNAL_SEQ:
        if (len != S_SEQ_LEN) break;
        r->next_seq = s_get64(b);
        r->renumber_from = s_get64(b + 8);
        r->renumber_to = s_get64(b + 16);
        r->anchored = (s_get32(b + 24) & S_ANCHORED) != 0;
        if (r->renumber_from && r->renumber_to <= r->renumber_from) return *why = "renumbering downwards", 0;
        return 1;
    default:
        return *why = "unknown record type", 0;
    }
    return *why = "record length wrong for its type", 0;
}

/* ------------------------------------------------------------ tracking -- */

/* What a record, put or read back, does to the tracked state: the
 * sequence, and the last origin_seq of the active segment. Returns 0, or
 * -1 when a publish's origin_seq does not rise (only reading meets that). */
static int s_track(fb_journal_t *self, const fb_journal_rec_t *r)
{
    fb_journal_state_t *s = &self->state;
    switch (r->type) {
    case FB_JOURNAL_PUBLISH:
        if (r->origin_seq <= self->last_pub) return -1;
        self->last_pub = r->origin_seq;
        self->segs[self->nsegs - 1].last_seq = r->origin_seq;
        if (r->origin_seq >= s->next_seq) s->next_seq = r->origin_seq + 1;
        break;
    case FB_JOURNAL_SEQ:
        if (r->renumber_from) {
            /* Every publish from renumber_from on moves up alike. */
            uint64_t delta = r->renumber_to - r->renumber_from;
            for (size_t i = 0; i < self->nsegs; i++)
                if (self->segs[i].last_seq >= r->renumber_from) self->segs[i].last_seq += delta;
            if (self->last_pub >= r->renumber_from) self->last_pub += delta;
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
    return 0;
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
        int rc = s_decode(buf + off, size - off, off == 0, &r, &used, &why);
        if (rc < 0) {
            snprintf(err, err_size, "journal %s/%s: a record at byte %" PRIu64 " has format version %u, newer than "
                     "this node's (%d): run the newer fedbus-node", self->dir, name, off, buf[off + 3],
                     FB_JOURNAL_VERSION);
            goto error;
        }
        if (rc == 0) break;
        if (s_track(self, &r) != 0) {
            why = "publish out of origin_seq order";
            break;
        }
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

/* Makes segment index with its STATE record, durable, and makes it the
 * active one. Returns 0, or -1 with errno set (nothing changed). */
static int s_start_segment(fb_journal_t *self, uint64_t index)
{
    char name[40];
    s_name(index, name);
    uint8_t rec[S_HEAD + S_STATE_LEN], body[S_STATE_LEN];
    s_encode_state(body, &self->state);
    s_encode(rec, FB_JOURNAL_STATE, body, sizeof(body), NULL, 0);
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
    qsort(v, n, sizeof(*v), s_cmp_u64);
    *out = v;
    return (long)n;
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

void fb_journal_close(fb_journal_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_journal_t *self = *self_p;
    if (self->fd >= 0 && self->len && fb_journal_sync(self) != 0)
        fb_warn("journal %s: the last records could not be written: %s", self->dir, strerror(errno));
    if (self->fd >= 0) close(self->fd);
    if (self->lockfd >= 0) close(self->lockfd); /* and with it the lock */
    if (self->dirfd >= 0) close(self->dirfd);
    free(self->segs);
    free(self->buf);
    free(self);
    *self_p = NULL;
}

/* -------------------------------------------------------------- writing -- */

int fb_journal_put_publish(fb_journal_t *self, uint64_t origin_seq, int64_t created_at_us, const uint8_t *id,
                           const uint8_t *frame, size_t frame_len)
{
    uint8_t head[S_PUBLISH_FIXED];
    s_put64(head, origin_seq);
    s_put64(head + 8, (uint64_t)created_at_us);
    memcpy(head + 16, id, 16);
    if (s_put(self, FB_JOURNAL_PUBLISH, head, sizeof(head), frame, frame_len) != 0) return -1;
    fb_journal_rec_t r = {.type = FB_JOURNAL_PUBLISH, .origin_seq = origin_seq};
    if (s_track(self, &r) != 0) {
        /* The outbox appends in origin_seq order; a put that does not rise
         * would be cut when read back, and everything after it. */
        self->len -= S_HEAD + sizeof(head) + frame_len;
        return -1;
    }
    self->need_fsync = 1;
    return 0;
}

int fb_journal_put_confirm(fb_journal_t *self, uint64_t confirmed_below)
{
    uint8_t body[S_CONFIRM_LEN];
    s_put64(body, confirmed_below);
    if (s_put(self, FB_JOURNAL_CONFIRM, body, sizeof(body), NULL, 0) != 0) return -1;
    s_track(self, &(fb_journal_rec_t){.type = FB_JOURNAL_CONFIRM, .confirmed_below = confirmed_below});
    return 0;
}

int fb_journal_put_seq(fb_journal_t *self, uint64_t next_seq, uint64_t renumber_from, uint64_t renumber_to)
{
    uint8_t body[S_SEQ_LEN];
    s_put64(body, next_seq);
    s_put64(body + 8, renumber_from);
    s_put64(body + 16, renumber_to);
    s_put32(body + 24, S_ANCHORED);
    s_put32(body + 28, 0);
    if (s_put(self, FB_JOURNAL_SEQ, body, sizeof(body), NULL, 0) != 0) return -1;
    s_track(self, &(fb_journal_rec_t){.type = FB_JOURNAL_SEQ, .next_seq = next_seq, .anchored = 1,
                                      .renumber_from = renumber_from, .renumber_to = renumber_to});
    self->need_fsync = 1;
    return 0;
}

/* Writes n bytes at off in full; returns 0 or -1 with errno set. */
static int s_pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

int fb_journal_sync(fb_journal_t *self)
{
    if (!self->len) return 0;
    s_seg_t *seg = &self->segs[self->nsegs - 1];
    if (s_pwrite_all(self->fd, self->buf, self->len, seg->size) != 0 ||
        (self->need_fsync && fdatasync(self->fd) != 0)) {
        /* What the kernel holds of a failed write or sync cannot be
         * trusted: cut it, and write it all again next time. */
        int e = errno;
        if (ftruncate(self->fd, (off_t)seg->size) != 0) {
            /* The next write goes to the same offset anyway. */
        }
        self->st.sync_errno = errno = e;
        return -1;
    }
    seg->size += self->len;
    self->st.bytes += self->len;
    self->st.sync_errno = 0;
    self->len = 0;
    self->need_fsync = 0;
    if (seg->size >= self->segment_bytes) {
        if (s_start_segment(self, seg->index + 1) == 0) {
            self->rotate_failed = 0;
        } else if (!self->rotate_failed++) {
            fb_warn("journal %s: cannot start a new segment (%s): the active one grows", self->dir,
                    strerror(errno));
        }
    }
    return 0;
}

int fb_journal_pending(const fb_journal_t *self)
{
    return self->len != 0;
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

void fb_journal_stats(const fb_journal_t *self, fb_journal_stats_t *st)
{
    *st = self->st;
    st->segments = self->nsegs;
}
