/* fuzz_journal.c — the node's journal as a restart finds it (torn, cut or damaged segments), read back into the outbox.
 *
 * Each input is up to 8 segment files (cut at FZ_SPLIT), written as
 * seg-0000000000000001.journal, ...02 and so on into a scratch state
 * directory, which fb_outbox_open() then reads as fedbus-node does at start:
 * records checked (fb_jrecord_decode), damaged tails cut, the unanswered
 * publishes held again. A segment that starts with 'X' has that byte
 * dropped and the CRC-32C of each of its records set right before it is
 * written, so that changed records reach the checks behind the checksum.
 * What must hold: the outbox opens, or says why in one line; what it holds
 * is in origin_seq order, below its next origin_seq; and a second opening
 * reads exactly what the first one kept. */
#include "fuzz.h"

#include "fb_crc32c.h"
#include "fb_jrecord.h"
#include "fb_outbox.h"

#include <dirent.h>
#include <sys/stat.h>

#define S_SEGMENTS 8

static void s_clear(const char *dir)
{
    DIR *d = opendir(dir);
    FZ_CHECK(d != NULL, "cannot list the scratch directory");
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

static uint32_t s_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Sets the checksum of every whole record of buf right. */
static void s_fix_crcs(uint8_t *buf, size_t len)
{
    size_t off = 0;
    while (len - off >= FB_JRECORD_HEAD) {
        uint8_t *r = buf + off;
        uint32_t body = s_get32(r + 8);
        if (body > len - off - FB_JRECORD_HEAD) break;
        uint32_t crc = fb_crc32c(fb_crc32c(0, r, 12), r + FB_JRECORD_HEAD, body);
        for (int i = 0; i < 4; i++) r[12 + i] = (uint8_t)(crc >> (8 * i));
        off += FB_JRECORD_HEAD + body;
    }
}

/* What an opened outbox holds: origin_seqs rising, below the next one.
 * Returns how many entries, and their origin_seqs summed into *sum. */
static size_t s_walk(fb_outbox_t *ob, uint64_t *sum)
{
    size_t n = 0;
    uint64_t last = 0;
    *sum = 0;
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    fb_outbox_entry_t *e;
    while ((e = fb_outbox_next(ob, FB_OUTBOX_ALL, &it))) {
        FZ_CHECK(e->origin_seq > last, "the outbox holds publishes out of origin_seq order");
        FZ_CHECK(e->origin_seq < fb_outbox_next_seq(ob), "the outbox holds a publish at or above its next origin_seq");
        last = e->origin_seq;
        *sum += e->origin_seq;
        n++;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[300];
    if (!dir[0]) {
        fz_quiet();
        snprintf(dir, sizeof(dir), "%s/state", fz_scratch());
        FZ_CHECK(mkdir(dir, 0700) == 0, "cannot make the state directory");
    }
    s_clear(dir);
    const uint8_t *p = data, *f;
    size_t n;
    for (int i = 0; i < S_SEGMENTS && fz_next(&p, data + size, &f, &n); i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/seg-%016x.journal", dir, (unsigned)(i + 1));
        if (n && f[0] == 'X') {
            uint8_t *copy = malloc(n);
            FZ_CHECK(copy != NULL, "out of memory");
            memcpy(copy, f + 1, n - 1);
            s_fix_crcs(copy, n - 1);
            fz_write_file(path, copy, n - 1);
            free(copy);
        } else {
            fz_write_file(path, f, n);
        }
    }
    char err[512] = "";
    fb_outbox_opts_t o = {.max_entries = 64, .dir = dir};
    fb_outbox_t *ob = fb_outbox_open(&o, err, sizeof(err));
    if (!ob) {
        FZ_CHECK(err[0] && memchr(err, 0, sizeof(err)) && !strchr(err, '\n'), "refused without a one-line reason");
        return 0;
    }
    uint64_t sum, sum2;
    size_t held = s_walk(ob, &sum);
    uint64_t next = fb_outbox_next_seq(ob);
    fb_outbox_destroy(&ob);
    /* What the first opening cut and kept is what the second one reads. */
    ob = fb_outbox_open(&o, err, sizeof(err));
    FZ_CHECK(ob != NULL, "a journal that opened once does not open again");
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    FZ_CHECK(s_walk(ob, &sum2) == held && sum2 == sum && fb_outbox_next_seq(ob) == next,
             "a second opening reads other publishes than the first kept");
    FZ_CHECK(j.corrupt_tails == 0, "a journal cut once is damaged again");
    fb_outbox_destroy(&ob);
    return 0;
}
