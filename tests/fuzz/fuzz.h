/* fuzz.h — what the fuzz targets share: quiet logging, frames cut out of one input, checks, sockets.
 *
 * Every target is one file tests/fuzz/fuzz_<name>.c with LLVMFuzzerTestOneInput(),
 * built two ways: with libFuzzer (-DFEDBUS_FUZZ=ON, clang; ops/fuzz) and, in
 * every ordinary build, with fuzz_main.c, which feeds it each file of its
 * corpus once (ctest label fuzz-corpus). Targets that need several frames
 * cut the input at FZ_SPLIT; each frame may start with a one-byte channel. */
#ifndef FUZZ_H
#define FUZZ_H

#include "fb_log.h"
#include "fb_zmq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What separates the frames of one input (also in each target's dictionary). */
#define FZ_SPLIT "--frame--"
#define FZ_SPLIT_LEN (sizeof(FZ_SPLIT) - 1)

/* Most frames a target takes from one input: inputs stay cheap to run. */
#define FZ_FRAMES_MAX 64

/* Cuts the next frame off [*p, end): sets *f and *n and returns 1, or 0
 * when nothing is left (*p is then NULL). An input without a separator is
 * one frame; start with *p at the input. */
static inline int fz_next(const uint8_t **p, const uint8_t *end, const uint8_t **f, size_t *n)
{
    if (!*p) return 0;
    const uint8_t *s = *p;
    const uint8_t *cut = NULL;
    for (const uint8_t *q = s; (size_t)(end - q) >= FZ_SPLIT_LEN; q++)
        if (*q == FZ_SPLIT[0] && memcmp(q, FZ_SPLIT, FZ_SPLIT_LEN) == 0) {
            cut = q;
            break;
        }
    *f = s;
    *n = (size_t)((cut ? cut : end) - s);
    *p = cut ? cut + FZ_SPLIT_LEN : NULL; /* NULL: this was the last frame */
    return 1;
}

/* Every log line is formatted (the level is DEBUG, so that the lines peers'
 * bytes reach are run too) and written to /dev/null. */
static inline void fz_quiet(void)
{
    static FILE *null;
    if (!null) null = fopen("/dev/null", "w");
    fb_log_set_stream(null);
    fb_log_level_current = FB_LOG_DEBUG;
}

/* A property the code under test promised and broke: reported as a crash. */
#define FZ_CHECK(cond, what)                                                             \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, (what));          \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* zmq_send(), zmq_msg_send() and zmq_msg_recv() made again when a signal
 * interrupted them (EINTR): libFuzzer's alarm arrives at any moment, and
 * libzmq reads its commands, which a signal can interrupt, before it sends
 * or receives. */
static inline int fz_send(void *s, const void *buf, size_t n, int flags)
{
    int rc;
    do
        rc = zmq_send(s, buf, n, flags);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static inline int fz_msg_send(zmq_msg_t *m, void *s, int flags)
{
    int rc;
    do
        rc = zmq_msg_send(m, s, flags);
    while (rc < 0 && errno == EINTR);
    return rc;
}

static inline int fz_msg_recv(zmq_msg_t *m, void *s, int flags)
{
    int rc;
    do
        rc = zmq_msg_recv(m, s, flags);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* A socket of type on endpoint (bound when bind), as fedbus makes its own;
 * aborts when it cannot be made: a target without its sockets tests nothing. */
static inline void *fz_socket(int type, const char *endpoint, int bind)
{
    void *s = fb_zmq_open(&(fb_zmq_opts_t){.type = type, .endpoint = endpoint, .bind = bind,
                                           .sndhwm = 100000, .rcvhwm = 100000});
    if (!s) fprintf(stderr, "fuzz: socket on %s: %s\n", endpoint, zmq_strerror(errno));
    FZ_CHECK(s != NULL, "cannot make a socket");
    return s;
}

/* ZeroMQ frees a closed socket later, on its reaper thread, and each
 * socket holds a file descriptor until then. Targets that make sockets for
 * every input call this first: when more than FZ_FDS_HIGH descriptors are
 * open it waits (up to 10 s) until the reaper is down to FZ_FDS_LOW, so that
 * a fast run never meets the context's socket limit (fb_zmq: 8192). */
#define FZ_FDS_HIGH 1024
#define FZ_FDS_LOW 256

static inline int fz_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return 0;
    while (readdir(d)) n++;
    closedir(d);
    return n;
}

static inline void fz_pace_sockets(void)
{
    if (fz_open_fds() <= FZ_FDS_HIGH) return;
    for (int i = 0; i < 10000 && fz_open_fds() > FZ_FDS_LOW; i++) usleep(1000);
}

/* Receives and drops everything queued on sock; returns how many parts. */
static inline int fz_drop_all(void *sock)
{
    int n = 0;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (fz_msg_recv(&m, sock, ZMQ_DONTWAIT) >= 0) n++;
    zmq_msg_close(&m);
    return n;
}

/* Removes path and, when it is a directory, what it holds. */
static inline void fz_rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    DIR *d = S_ISDIR(st.st_mode) ? opendir(path) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char sub[1024];
        if (snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) < (int)sizeof(sub)) fz_rm_tree(sub);
    }
    if (d) closedir(d);
    remove(path);
}

static char fz_scratch_dir[256];

static inline void fz_scratch_rm(void)
{
    fz_rm_tree(fz_scratch_dir);
}

/* A scratch directory of this process, made once under $TMPDIR or
 * /dev/shm (memory: files are cheap to write and sync there), or /tmp, and
 * removed at exit. */
static inline const char *fz_scratch(void)
{
    char *dir = fz_scratch_dir;
    if (dir[0]) return dir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof(fz_scratch_dir), "%s/fedbus-fuzz-XXXXXX", base);
    FZ_CHECK(mkdtemp(dir) != NULL, "cannot make a scratch directory");
    atexit(fz_scratch_rm);
    return dir;
}

/* Writes data to the file path (made mode 0600, emptied first). */
static inline void fz_write_file(const char *path, const uint8_t *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FZ_CHECK(fd >= 0, "cannot write a scratch file");
    FZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size, "cannot write a scratch file");
    close(fd);
}

#endif
