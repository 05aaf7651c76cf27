/* fb_syncer.c — the journal's writer thread: one job at a time, a mutex and a condition to hand it over, an eventfd to say it is done. */
#include "fb_syncer.h"

#include "fb_log.h"
#include "fb_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct fb_syncer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    int busy; /* the caller's: a job handed off and not collected */
    long delay_ms; /* the test hook's wait before every job; 0: none */
    /* Under mu. */
    int todo, done, stop;
    /* The job: set by the caller before todo, read by the thread until done. */
    int fd, sync;
    const uint8_t *buf;
    size_t len;
    uint64_t off;
    /* Its result: set by the thread before done. */
    int err;
    int64_t us;
};

/* Writes the job in full and syncs it; returns 0 or an errno. */
static int s_run(const struct fb_syncer *self)
{
    if (self->delay_ms) {
        struct timespec ts = {self->delay_ms / 1000, self->delay_ms % 1000 * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    const uint8_t *p = self->buf;
    size_t n = self->len;
    uint64_t off = self->off;
    while (n) {
        ssize_t w = pwrite(self->fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return w == 0 ? EIO : errno;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return self->sync && fdatasync(self->fd) != 0 ? errno : 0;
}

static void *s_main(void *arg)
{
    fb_syncer_t *self = arg;
    pthread_mutex_lock(&self->mu);
    for (;;) {
        while (!self->todo && !self->stop) pthread_cond_wait(&self->cv, &self->mu);
        if (!self->todo) break;
        self->todo = 0;
        pthread_mutex_unlock(&self->mu);
        int64_t t0 = fb_time_mono_us();
        int err = s_run(self);
        int64_t us = fb_time_mono_us() - t0;
        pthread_mutex_lock(&self->mu);
        self->err = err;
        self->us = us;
        self->done = 1;
        pthread_cond_broadcast(&self->cv);
        uint64_t one = 1;
        if (write(self->efd, &one, sizeof(one)) < 0) {
            /* The counter cannot overflow here; the caller polls done anyway. */
        }
    }
    pthread_mutex_unlock(&self->mu);
    return NULL;
}

fb_syncer_t *fb_syncer_new(void)
{
    fb_syncer_t *self = calloc(1, sizeof(*self));
    if (!self) return NULL;
#ifdef FEDBUS_TEST_HOOKS
    const char *hook = getenv("FEDBUS_TEST_SYNC_DELAY_MS");
    if (hook && (self->delay_ms = strtol(hook, NULL, 10)) > 0 && self->delay_ms <= 60000)
        fb_warn("journal: test hook FEDBUS_TEST_SYNC_DELAY_MS: every sync waits %ld ms first", self->delay_ms);
    else
        self->delay_ms = 0;
#endif
    self->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->efd < 0) goto error;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    int rc = pthread_create(&self->thread, NULL, s_main, self);
    if (rc != 0) {
        pthread_cond_destroy(&self->cv);
        pthread_mutex_destroy(&self->mu);
        errno = rc;
        goto error;
    }
    return self;
error:
    if (self->efd >= 0) close(self->efd);
    free(self);
    return NULL;
}

void fb_syncer_destroy(fb_syncer_t **self_p)
{
    if (!self_p || !*self_p) return;
    fb_syncer_t *self = *self_p;
    pthread_mutex_lock(&self->mu);
    self->stop = 1; /* a job handed off is still done first */
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pthread_join(self->thread, NULL);
    pthread_cond_destroy(&self->cv);
    pthread_mutex_destroy(&self->mu);
    close(self->efd);
    free(self);
    *self_p = NULL;
}

int fb_syncer_fd(const fb_syncer_t *self)
{
    return self->efd;
}

int fb_syncer_busy(const fb_syncer_t *self)
{
    return self->busy;
}

void fb_syncer_start(fb_syncer_t *self, int fd, const uint8_t *buf, size_t len, uint64_t off, int sync)
{
    pthread_mutex_lock(&self->mu);
    self->fd = fd;
    self->buf = buf;
    self->len = len;
    self->off = off;
    self->sync = sync;
    self->done = 0;
    self->todo = 1;
    self->busy = 1;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

/* Takes the finished job's result (under mu). */
static int s_collect(fb_syncer_t *self, int *err, int64_t *us)
{
    uint64_t n;
    if (read(self->efd, &n, sizeof(n)) < 0) {
        /* Already drained: nothing to do. */
    }
    *err = self->err;
    *us = self->us;
    self->done = 0;
    self->busy = 0;
    return 1;
}

int fb_syncer_poll(fb_syncer_t *self, int *err, int64_t *us)
{
    if (!self->busy) return 0;
    pthread_mutex_lock(&self->mu);
    int rc = self->done ? s_collect(self, err, us) : 0;
    pthread_mutex_unlock(&self->mu);
    return rc;
}

int fb_syncer_wait(fb_syncer_t *self, int *err, int64_t *us)
{
    if (!self->busy) return 0;
    pthread_mutex_lock(&self->mu);
    while (!self->done) pthread_cond_wait(&self->cv, &self->mu);
    int rc = s_collect(self, err, us);
    pthread_mutex_unlock(&self->mu);
    return rc;
}
