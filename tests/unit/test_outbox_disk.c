/* test_outbox_disk.c — the node's outbox on disk: sending ahead of the sync, answers held for it, reopening, torn and corrupt journals, rotation, renumbering, bounds. */
#include "fb_crc32c.h"
#include "fb_journal.h"
#include "fb_jrecord.h"
#include "fb_log.h"
#include "fb_outbox.h"
#include "fb_wire.h"

#include "fedbus/fedbus.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

/* ------------------------------------------------------------ helpers -- */

static char s_dir[64];

static void s_rmdir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fedbus-test-outbox-XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    s_rmdir(s_dir);
    return 0;
}

/* The segment files of s_dir, sorted; returns how many (at most max). */
static int s_segments(char names[][300], int max)
{
    DIR *d = opendir(s_dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "seg-", 4) == 0 && n < max && strlen(e->d_name) < 200)
            snprintf(names[n++], 300, "%s/%.200s", s_dir, e->d_name);
    closedir(d);
    qsort(names, (size_t)n, 300, (int (*)(const void *, const void *))strcmp);
    return n;
}

static off_t s_size(const char *path)
{
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return sb.st_size;
}

static fb_outbox_t *s_open_seg(size_t max, size_t max_bytes, size_t seg_bytes)
{
    char err[512] = "";
    fb_outbox_t *ob = fb_outbox_open(&(fb_outbox_opts_t){.max_entries = max, .max_bytes = max_bytes,
                                                         .dir = s_dir, .segment_bytes = seg_bytes},
                                     err, sizeof(err));
    if (!ob) fail_msg("open: %s", err);
    return ob;
}

static fb_outbox_t *s_open(void)
{
    return s_open_seg(1000, 0, 0);
}

static void s_id(uint64_t k, uint8_t id[FB_UUID_LEN])
{
    memset(id, 0x5A, FB_UUID_LEN);
    memcpy(id, &k, sizeof(k));
}

/* Publish k's frame as a node makes it: an envelope (a field holding k,
 * and k bytes of filler), origin_seq stamped last. */
static uint8_t *s_frame(uint64_t k, uint64_t seq, size_t *len)
{
    uint8_t env[600], stamp[FB_ORIGIN_STAMP_MAX], filler[300];
    size_t fill = k % 300;
    memset(filler, (int)('a' + k % 26), fill);
    size_t n = fb_wire_put_unknown_field(k, env);
    n += fb_wire_put_unknown_payload(filler, fill, env + n);
    size_t sl = fb_wire_stamp_origin(&(fb_wire_origin_stamp_t){.origin_seq = seq}, stamp);
    uint8_t *f = fb_wire_publish_wrap(env, n, stamp, sl, len);
    assert_non_null(f);
    return f;
}

/* Appends publish k with the next origin_seq; returns what append returned. */
static int s_append(fb_outbox_t *ob, uint64_t k)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    size_t len;
    uint64_t seq = fb_outbox_next_seq(ob);
    uint8_t *frame = s_frame(k, seq, &len);
    fb_outbox_add_t add = {.id = id, .origin_seq = seq, .created_at_us = 1000 * (int64_t)k, .frame = frame,
                           .frame_len = len};
    int rc = fb_outbox_append(ob, &add);
    if (rc != FB_OK) free(frame);
    return rc;
}

/* Checks that e is publish k under origin_seq seq, frame and all. */
static void s_check_entry(const fb_outbox_entry_t *e, uint64_t k, uint64_t seq)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    size_t len;
    uint8_t *frame = s_frame(k, seq, &len);
    assert_int_equal(e->origin_seq, seq);
    assert_memory_equal(e->id, id, FB_UUID_LEN);
    assert_int_equal(e->created_at_us, 1000 * (int64_t)k);
    assert_int_equal(e->frame_len, len);
    assert_memory_equal(e->frame, frame, len);
    /* The envelope as located once (at append, read back, renumbered) is
     * where reading the frame finds it. */
    const uint8_t *env, *at;
    size_t env_len, at_len;
    assert_int_equal(fb_wire_publish_view(e->frame, e->frame_len, &env, &env_len), 0);
    assert_ptr_equal((at = fb_outbox_envelope(e, &at_len)), env);
    assert_int_equal(at_len, env_len);
    free(frame);
}

static size_t s_count(fb_outbox_t *ob, fb_outbox_range_t range)
{
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    size_t n = 0;
    while (fb_outbox_next(ob, range, &it)) n++;
    return n;
}

static void s_answer(fb_outbox_t *ob, uint64_t k)
{
    uint8_t id[FB_UUID_LEN];
    s_id(k, id);
    assert_non_null(fb_outbox_answer_id(ob, id));
}

/* Bytes of the record a clean close writes last (a SEQ record). */
#define S_CLOSED_LEN (FB_JRECORD_HEAD + FB_JRECORD_SEQ_LEN)

/* Cuts the record a clean close wrote last off path: the journal then
 * ends as after a crash that followed its last sync. */
static void s_strip_closed(const char *path)
{
    off_t size = s_size(path);
    uint8_t head[FB_JRECORD_HEAD];
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, head, sizeof(head), size - S_CLOSED_LEN), (ssize_t)sizeof(head));
    close(fd);
    assert_int_equal(head[4], FB_JOURNAL_SEQ);
    assert_int_equal(truncate(path, size - S_CLOSED_LEN), 0);
}

/* -------------------------------------------------------------- tests -- */

static void test_crc32c_is_the_castagnoli_checksum(void **state)
{
    (void)state;
    assert_int_equal(fb_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(fb_crc32c(fb_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    assert_int_equal(fb_crc32c(0, "", 0), 0);
}

static void test_appends_are_sent_only_after_the_group_sync(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 0);
    assert_int_equal(s_count(ob, FB_OUTBOX_ALL), 3);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3);
    assert_int_equal(s_append(ob, 4), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3);
    fb_outbox_destroy(&ob);
    assert_null(ob);
}

/* Waits up to 5 s for the journal's writer to say a write is done. */
static int s_wait_fd(fb_outbox_t *ob, int timeout_ms)
{
    struct pollfd p = {.fd = fb_outbox_sync_fd(ob), .events = POLLIN};
    assert_true(p.fd >= 0);
    return poll(&p, 1, timeout_ms);
}

static void test_a_write_handed_to_the_writer_is_sendable_once_collected(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 2; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync_start(ob), FB_OK);
    assert_int_equal(s_append(ob, 3), FB_OK); /* after the hand-off: in the next write */
    assert_int_equal(s_wait_fd(ob, 5000), 1);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 0); /* done, not yet collected */
    assert_int_equal(fb_outbox_sync_collect(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 2);
    assert_int_equal(s_wait_fd(ob, 0), 0); /* collected: quiet again */
    assert_int_equal(fb_outbox_sync_start(ob), FB_OK);
    assert_int_equal(s_wait_fd(ob, 5000), 1);
    assert_int_equal(fb_outbox_sync_collect(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3);
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.syncs, 2);
    assert_int_equal(j.synced, 3);
    fb_outbox_destroy(&ob);
}

static void test_a_write_in_flight_does_not_make_renumbered_publishes_sendable(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync_start(ob), FB_OK); /* under the old numbers */
    fb_outbox_raise_seq(ob, 51);                        /* the first Welcome, meanwhile */
    assert_int_equal(s_wait_fd(ob, 5000), 1);
    assert_int_equal(fb_outbox_sync_collect(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 0); /* the renumbering is not durable yet */
    assert_int_equal(fb_outbox_sync_start(ob), FB_OK);
    assert_int_equal(s_wait_fd(ob, 5000), 1);
    assert_int_equal(fb_outbox_sync_collect(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3);
    fb_outbox_destroy(&ob);
    ob = s_open();
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (uint64_t k = 1; k <= 3; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_ALL, &it), k, 50 + k);
    fb_outbox_destroy(&ob);
}

/* An outbox whose journal durably records a Welcome (the sequence at 1). */
static fb_outbox_t *s_open_anchored(size_t max)
{
    fb_outbox_t *ob = s_open_seg(max, 0, 0);
    fb_outbox_raise_seq(ob, 1);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    return ob;
}

static void test_once_welcomed_appends_are_sendable_before_their_sync_up_to_the_journals_bound(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open_anchored(FB_JOURNAL_AHEAD + 100);
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3); /* no sync yet */
    assert_false(fb_outbox_durable(ob, fb_outbox_find_seq(ob, 1)));
    /* Never FB_JOURNAL_AHEAD or more above what is durable (origin_seq 1 on). */
    for (uint64_t k = 4; k <= FB_JOURNAL_AHEAD + 10; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), FB_JOURNAL_AHEAD);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), FB_JOURNAL_AHEAD + 10);
    assert_true(fb_outbox_durable(ob, fb_outbox_find_seq(ob, FB_JOURNAL_AHEAD + 10)));
    fb_outbox_destroy(&ob);
}

static void test_an_answer_before_the_sync_is_held_until_it_and_the_entry_kept(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open_anchored(100);
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync_start(ob), FB_OK);
    assert_int_equal(s_append(ob, 4), FB_OK); /* in the next write */
    /* The broker answers 1 and 4 before the writes are done. */
    for (uint64_t k = 1; k <= 4; k += 3) {
        uint8_t id[FB_UUID_LEN];
        s_id(k, id);
        fb_outbox_entry_t *e = fb_outbox_answer_id(ob, id);
        assert_non_null(e);
        assert_false(fb_outbox_durable(ob, e));
        char ack[16];
        snprintf(ack, sizeof(ack), "ack %llu", (unsigned long long)k);
        assert_int_equal(fb_outbox_hold_answer(ob, e, (const uint8_t *)ack, strlen(ack) + 1), 0);
    }
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_depth(ob), 4); /* nothing leaves before it is durable */
    assert_null(fb_outbox_next_released(ob));
    assert_int_equal(s_wait_fd(ob, 5000), 1);
    assert_int_equal(fb_outbox_sync_collect(ob), FB_OK);
    /* 1..3 durable: 1's answer is given back; 4's waits for its write. */
    fb_outbox_entry_t *e = fb_outbox_next_released(ob);
    assert_non_null(e);
    assert_int_equal(e->origin_seq, 1);
    assert_string_equal((const char *)e->held, "ack 1");
    fb_outbox_drop_answer(e);
    assert_null(fb_outbox_next_released(ob));
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_first_seq(ob), 2);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    e = fb_outbox_next_released(ob);
    assert_non_null(e);
    assert_string_equal((const char *)e->held, "ack 4");
    fb_outbox_drop_answer(e);
    assert_null(fb_outbox_next_released(ob));
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.held, 2);
    fb_outbox_destroy(&ob); /* 4 still held in the ring: freed */
}

/* A frame slot frees on the broker's answers, not on the sync: the first
 * unanswered origin_seq moves past answers that wait for their sync, while
 * the first held (what has left the outbox) does not. */
static void test_the_first_unanswered_moves_on_answers_before_their_sync(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open_anchored(100);
    for (uint64_t k = 1; k <= 4; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), 1);
    s_answer(ob, 1);
    s_answer(ob, 3);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), 2);
    s_answer(ob, 2);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), 4);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_first_seq(ob), 1); /* none is durable yet */
    s_answer(ob, 4);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), fb_outbox_next_seq(ob));
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_first_seq(ob), 5);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), 5);
    assert_int_equal(s_append(ob, 5), FB_OK);
    assert_int_equal(fb_outbox_first_unanswered_seq(ob), 5);
    fb_outbox_destroy(&ob);
}

static void test_a_journal_not_closed_cleanly_numbers_above_what_it_may_have_sent(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open_anchored(100);
    assert_int_equal(s_append(ob, 1), FB_OK);
    fb_outbox_destroy(&ob);
    /* Closed cleanly: everything sent was journaled, the sequence goes on. */
    ob = s_open();
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.skipped, 0);
    assert_int_equal(fb_outbox_next_seq(ob), 2);
    assert_int_equal(s_append(ob, 2), FB_OK);
    fb_outbox_destroy(&ob);
    char names[4][300];
    assert_int_equal(s_segments(names, 4), 2);
    s_strip_closed(names[1]); /* as if it had crashed after its last sync */
    ob = s_open();
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.skipped, FB_JOURNAL_AHEAD);
    assert_int_equal(fb_outbox_depth(ob), 2);
    assert_int_equal(fb_outbox_next_seq(ob), 3 + FB_JOURNAL_AHEAD);
    /* All it holds is sendable at once, and so is what it takes next. */
    assert_int_equal(s_append(ob, 3), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 3);
    fb_outbox_destroy(&ob);
    /* A clean stop after it goes on from there. */
    ob = s_open();
    assert_int_equal(fb_outbox_next_seq(ob), 4 + FB_JOURNAL_AHEAD);
    fb_outbox_destroy(&ob);
}

static void test_reopen_holds_the_unanswered_again_in_order(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 100; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    for (uint64_t k = 1; k <= 40; k++) s_answer(ob, k);
    s_answer(ob, 45); /* behind unanswered ones: sent again after a restart */
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_destroy(&ob);

    ob = s_open();
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_true(j.on_disk);
    assert_int_equal(j.replayed, 60);
    assert_int_equal(j.corrupt_tails, 0);
    assert_int_equal(fb_outbox_depth(ob), 60);
    assert_int_equal(fb_outbox_first_seq(ob), 41);
    assert_int_equal(fb_outbox_next_seq(ob), 101);
    /* Read back means durable: all of it to be sent, in order, unchanged. */
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 60);
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (uint64_t k = 41; k <= 100; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_UNSENT, &it), k, k);
    uint8_t id[FB_UUID_LEN];
    s_id(77, id);
    assert_int_equal(fb_outbox_find(ob, id)->origin_seq, 77);
    assert_int_equal(s_append(ob, 101), FB_OK);
    assert_int_equal(fb_outbox_find_seq(ob, 101)->origin_seq, 101);
    fb_outbox_destroy(&ob);
}

static void test_the_sequence_goes_on_above_the_journal_when_all_is_answered(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 10; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    for (uint64_t k = 1; k <= 10; k++) s_answer(ob, k);
    fb_outbox_trim(ob);
    fb_outbox_destroy(&ob);
    ob = s_open();
    assert_int_equal(fb_outbox_depth(ob), 0);
    assert_int_equal(fb_outbox_next_seq(ob), 11);
    /* A Welcome's raise is journaled too, and a lower one changes nothing. */
    fb_outbox_raise_seq(ob, 500);
    fb_outbox_raise_seq(ob, 20);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_destroy(&ob);
    ob = s_open();
    assert_int_equal(fb_outbox_next_seq(ob), 500);
    fb_outbox_destroy(&ob);
}

static void test_publishes_taken_before_the_first_welcome_are_renumbered_above_the_broker(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_destroy(&ob);
    /* A restart before any Welcome: still numbered from 1. */
    ob = s_open();
    assert_int_equal(fb_outbox_first_seq(ob), 1);
    /* The broker had stored up to 50 (the state-dir is new, the member is not). */
    fb_outbox_raise_seq(ob, 51);
    assert_int_equal(fb_outbox_next_seq(ob), 54);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 0); /* not before the new numbers are durable */
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (uint64_t k = 1; k <= 3; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_UNSENT, &it), k, 50 + k);
    assert_int_equal(s_append(ob, 4), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_destroy(&ob);
    ob = s_open();
    assert_int_equal(fb_outbox_depth(ob), 4);
    it = (fb_outbox_iter_t)FB_OUTBOX_ITER_INIT;
    for (uint64_t k = 1; k <= 4; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_UNSENT, &it), k, 50 + k);
    /* Once welcomed, never again: a later Welcome only raises what comes next. */
    fb_outbox_raise_seq(ob, 100);
    assert_int_equal(fb_outbox_first_seq(ob), 51);
    assert_int_equal(fb_outbox_next_seq(ob), 100);
    fb_outbox_destroy(&ob);
}

/* Writes publishes 1..n into a fresh journal in s_dir, publish n synced
 * last, as a node that crashed then would; returns the path of its segment
 * and where its last record begins. */
static off_t s_write_n(uint64_t n, char path[300])
{
    s_rmdir(s_dir);
    fb_outbox_t *ob = s_open();
    for (uint64_t k = 1; k < n; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    char names[4][300];
    assert_int_equal(s_segments(names, 4), 1);
    off_t last = s_size(names[0]);
    assert_int_equal(s_append(ob, n), FB_OK);
    fb_outbox_destroy(&ob);
    s_strip_closed(names[0]);
    snprintf(path, 300, "%s", names[0]);
    return last;
}

static void test_a_tail_torn_at_any_byte_loses_only_the_torn_record(void **state)
{
    (void)state;
    char path[300];
    off_t last = s_write_n(5, path), size = s_size(path);
    for (off_t cut = last; cut < size; cut++) {
        s_write_n(5, path);
        assert_int_equal(truncate(path, cut), 0);
        fb_outbox_t *ob = s_open();
        fb_outbox_journal_t j;
        fb_outbox_journal(ob, &j);
        assert_int_equal(fb_outbox_depth(ob), 4);
        assert_int_equal(j.corrupt_tails, cut == last ? 0 : 1);
        assert_int_equal(j.dropped_bytes, cut - last);
        assert_int_equal(s_size(path), last); /* cut at the last good record */
        assert_int_equal(fb_outbox_next_seq(ob), 5);
        fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
        for (uint64_t k = 1; k <= 4; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_ALL, &it), k, k);
        fb_outbox_destroy(&ob);
        /* Cut once: the next start finds it whole. */
        ob = s_open();
        fb_outbox_journal(ob, &j);
        assert_int_equal(j.corrupt_tails, 0);
        assert_int_equal(fb_outbox_depth(ob), 4);
        fb_outbox_destroy(&ob);
    }
}

static void test_any_flipped_byte_of_the_last_record_is_detected(void **state)
{
    (void)state;
    char path[300];
    off_t last = s_write_n(5, path), size = s_size(path);
    for (off_t at = last; at < size; at++) {
        s_write_n(5, path);
        int fd = open(path, O_RDWR);
        uint8_t b;
        assert_int_equal(pread(fd, &b, 1, at), 1);
        b ^= (uint8_t)(1u << (at % 8));
        assert_int_equal(pwrite(fd, &b, 1, at), 1);
        close(fd);
        fb_outbox_t *ob = s_open();
        fb_outbox_journal_t j;
        fb_outbox_journal(ob, &j);
        assert_int_equal(fb_outbox_depth(ob), 4);
        assert_int_equal(j.corrupt_tails, 1);
        fb_outbox_destroy(&ob);
    }
}

static void test_random_damage_never_crashes_and_keeps_only_records_written(void **state)
{
    (void)state;
    srand(12);
    int level = fb_log_level_current;
    fb_log_level_current = FB_LOG_ERR; /* one warning per damaged journal: 300 of them */
    for (int round = 0; round < 300; round++) {
        s_rmdir(s_dir);
        fb_outbox_t *ob = s_open_seg(1000, 0, 600);
        for (uint64_t k = 1; k <= 30; k++) {
            assert_int_equal(s_append(ob, k), FB_OK);
            if (k % 4 == 0) assert_int_equal(fb_outbox_sync(ob), FB_OK);
        }
        fb_outbox_destroy(&ob);
        char names[64][300];
        int n = s_segments(names, 64);
        assert_true(n > 1);
        const char *victim = names[rand() % n];
        off_t size = s_size(victim);
        int fd = open(victim, O_RDWR);
        switch (rand() % 4) {
        case 0: /* bytes overwritten here and there */
            for (int i = 1 + rand() % 8; i > 0 && size > 0; i--) {
                uint8_t b = (uint8_t)rand();
                assert_int_equal(pwrite(fd, &b, 1, rand() % size), 1);
            }
            break;
        case 1: /* cut anywhere */
            assert_int_equal(ftruncate(fd, size ? rand() % size : 0), 0);
            break;
        case 2: /* garbage after the end */
            for (int i = rand() % 200; i >= 0; i--) {
                uint8_t b = (uint8_t)rand();
                assert_int_equal(pwrite(fd, &b, 1, size + i), 1);
            }
            break;
        default: /* all of it garbage, with a record's magic in front */
            for (off_t i = 0; i < size; i++) {
                uint8_t b = i < 4 ? (uint8_t)"FBJ\1"[i] : (uint8_t)rand();
                assert_int_equal(pwrite(fd, &b, 1, i), 1);
            }
        }
        close(fd);
        ob = s_open_seg(1000, 0, 600);
        /* What is held is publishes as written, in order; the sequence
         * never goes back below what was held. */
        fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
        fb_outbox_entry_t *e;
        uint64_t prev = 0;
        while ((e = fb_outbox_next(ob, FB_OUTBOX_ALL, &it))) {
            assert_true(e->origin_seq > prev && e->origin_seq <= 30);
            s_check_entry(e, e->origin_seq, e->origin_seq);
            prev = e->origin_seq;
        }
        assert_true(fb_outbox_next_seq(ob) > prev);
        assert_int_equal(s_append(ob, 99), FB_OK);
        assert_int_equal(fb_outbox_sync(ob), FB_OK);
        fb_outbox_destroy(&ob);
    }
    fb_log_level_current = level;
}

static void test_segments_rotate_and_go_once_all_they_hold_is_answered(void **state)
{
    (void)state;
    char names[256][300];
    fb_outbox_t *ob = s_open_seg(1000, 0, 1024);
    for (uint64_t k = 1; k <= 100; k++) {
        assert_int_equal(s_append(ob, k), FB_OK);
        if (k % 5 == 0) assert_int_equal(fb_outbox_sync(ob), FB_OK);
    }
    int before = s_segments(names, 256);
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_true(before > 5);
    assert_int_equal(j.segments, (size_t)before);
    for (uint64_t k = 1; k <= 50; k++) s_answer(ob, k);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    int half = s_segments(names, 256);
    assert_true(half < before && half > 1);
    for (uint64_t k = 51; k <= 100; k++) s_answer(ob, k);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    /* Only the segment being written stays. */
    assert_int_equal(s_segments(names, 256), 1);
    fb_outbox_destroy(&ob);
    ob = s_open_seg(1000, 0, 1024);
    assert_int_equal(fb_outbox_depth(ob), 0);
    assert_int_equal(fb_outbox_next_seq(ob), 101);
    fb_outbox_destroy(&ob);
}

static void test_a_second_outbox_on_the_same_directory_is_refused(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open();
    char err[512] = "";
    fb_outbox_t *two = fb_outbox_open(&(fb_outbox_opts_t){.max_entries = 10, .dir = s_dir}, err, sizeof(err));
    assert_null(two);
    assert_non_null(strstr(err, "in use by another fedbus-node"));
    fb_outbox_destroy(&ob);
    two = fb_outbox_open(&(fb_outbox_opts_t){.max_entries = 10, .dir = s_dir}, err, sizeof(err));
    assert_non_null(two);
    fb_outbox_destroy(&two);
}

static void test_full_by_entries_or_by_bytes_says_which(void **state)
{
    (void)state;
    fb_outbox_t *ob = s_open_seg(3, 0, 0);
    for (uint64_t k = 1; k <= 3; k++) assert_int_equal(s_append(ob, k), FB_OK);
    assert_int_equal(fb_outbox_full(ob), FB_OUTBOX_FULL_ENTRIES);
    assert_int_equal(s_append(ob, 4), FB_EFULL);
    fb_outbox_destroy(&ob);
    s_rmdir(s_dir);
    ob = s_open_seg(100, 200, 0);
    size_t bytes = 0;
    uint64_t k = 1;
    while (!fb_outbox_full(ob)) {
        assert_int_equal(s_append(ob, k++), FB_OK);
        assert_true(fb_outbox_bytes(ob) > bytes);
        bytes = fb_outbox_bytes(ob);
    }
    assert_int_equal(fb_outbox_full(ob), FB_OUTBOX_FULL_BYTES);
    assert_int_equal(s_append(ob, k), FB_EFULL);
    assert_true(bytes >= 200);
    /* Room again when the oldest is answered, durable and let go of. */
    s_answer(ob, 1);
    fb_outbox_trim(ob);
    assert_int_equal(fb_outbox_bytes(ob), bytes); /* not durable yet: held */
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_trim(ob);
    assert_true(fb_outbox_bytes(ob) < bytes);
    fb_outbox_destroy(&ob);
    /* A journal that holds more than max_entries is held whole. */
    ob = s_open_seg(2, 0, 0);
    assert_true(fb_outbox_depth(ob) > 2);
    assert_int_equal(fb_outbox_full(ob), FB_OUTBOX_FULL_ENTRIES);
    fb_outbox_destroy(&ob);
}

static void test_a_failed_write_is_cut_back_and_written_again_later(void **state)
{
    (void)state;
    signal(SIGXFSZ, SIG_IGN);
    fb_outbox_t *ob = s_open();
    assert_int_equal(s_append(ob, 1), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    char names[4][300];
    assert_int_equal(s_segments(names, 4), 1);
    struct rlimit was, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
    small = was;
    small.rlim_cur = (rlim_t)s_size(names[0]) + 10; /* no room for the next record */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
    assert_int_equal(s_append(ob, 2), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_EIO);
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_int_not_equal(j.sync_errno, 0);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 1); /* 2 is not durable: not sent */
    assert_int_equal(s_append(ob, 3), FB_EIO);          /* nor is anything new taken */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    assert_int_equal(s_count(ob, FB_OUTBOX_UNSENT), 2);
    assert_int_equal(s_append(ob, 3), FB_OK);
    assert_int_equal(fb_outbox_sync(ob), FB_OK);
    fb_outbox_destroy(&ob);
    ob = s_open();
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.corrupt_tails, 0);
    assert_int_equal(fb_outbox_depth(ob), 3);
    fb_outbox_destroy(&ob);
}

static void test_a_record_of_a_newer_format_refuses_to_open(void **state)
{
    (void)state;
    char path[300];
    off_t last = s_write_n(2, path);
    /* Version 2 with a good checksum: written by a newer node, not to be cut. */
    int fd = open(path, O_RDWR);
    uint8_t head[16];
    assert_int_equal(pread(fd, head, 16, last), 16);
    off_t size = s_size(path);
    uint8_t *body = malloc((size_t)(size - last - 16));
    assert_int_equal(pread(fd, body, (size_t)(size - last - 16), last + 16), size - last - 16);
    head[3] = 2;
    uint32_t crc = fb_crc32c(fb_crc32c(0, head, 12), body, (size_t)(size - last - 16));
    for (int i = 0; i < 4; i++) head[12 + i] = (uint8_t)(crc >> (8 * i));
    assert_int_equal(pwrite(fd, head, 16, last), 16);
    close(fd);
    free(body);
    char err[512] = "";
    assert_null(fb_outbox_open(&(fb_outbox_opts_t){.max_entries = 10, .dir = s_dir}, err, sizeof(err)));
    assert_non_null(strstr(err, "format version 2"));
    assert_int_equal(s_size(path), size); /* left as it was */
}

/* Writes records as the journal's first segment, each checksummed as the
 * node writes it: what a restart reads is then only as damaged as the
 * records themselves say. */
static void s_write_records(const fb_journal_rec_t *recs, size_t n)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/seg-0000000000000001.journal", s_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *buf = malloc(fb_jrecord_size(&recs[i]));
        size_t len = fb_jrecord_encode(&recs[i], buf);
        assert_int_equal(write(fd, buf, len), (ssize_t)len);
        free(buf);
    }
    close(fd);
}

/* Opens s_dir and checks that it holds publishes 1 to n, origin_seq 1 to
 * n, next n + 1, with one damaged tail cut. */
static void s_assert_cut_after(uint64_t n)
{
    int level = fb_log_level_current;
    fb_log_level_current = FB_LOG_ERR; /* the cut's warning */
    fb_outbox_t *ob = s_open();
    fb_log_level_current = level;
    fb_outbox_journal_t j;
    fb_outbox_journal(ob, &j);
    assert_int_equal(j.corrupt_tails, 1);
    assert_int_equal(s_count(ob, FB_OUTBOX_ALL), n);
    fb_outbox_iter_t it = FB_OUTBOX_ITER_INIT;
    for (uint64_t k = 1; k <= n; k++) s_check_entry(fb_outbox_next(ob, FB_OUTBOX_ALL, &it), k, k);
    assert_int_equal(fb_outbox_next_seq(ob), n + 1);
    fb_outbox_destroy(&ob);
}

/* A renumbering record whose publishes would land at or above its own
 * next origin_seq (a node never writes one): the records before it are
 * kept, it and what follows are cut. Else new publishes would be numbered
 * below those held, out of order. */
static void test_a_renumbering_past_the_next_origin_seq_is_damage(void **state)
{
    (void)state;
    uint8_t ids[3][FB_UUID_LEN];
    size_t lens[3];
    uint8_t *frames[3];
    fb_journal_rec_t recs[5] = {{.type = FB_JOURNAL_STATE, .next_seq = 1}};
    for (uint64_t k = 1; k <= 3; k++) {
        s_id(k, ids[k - 1]);
        frames[k - 1] = s_frame(k, k, &lens[k - 1]);
        recs[k] = (fb_journal_rec_t){.type = FB_JOURNAL_PUBLISH, .origin_seq = k, .created_at_us = 1000 * (int64_t)k,
                                     .id = ids[k - 1], .frame = frames[k - 1], .frame_len = lens[k - 1]};
    }
    recs[4] = (fb_journal_rec_t){.type = FB_JOURNAL_SEQ, .next_seq = 8, .renumber_from = 1, .renumber_to = 1310,
                                 .anchored = 1};
    s_write_records(recs, 5);
    s_assert_cut_after(3);
    for (int k = 0; k < 3; k++) free(frames[k]);
}

/* Sequence numbers stop at 2^63 (the broker stores none above 2^63-1): a
 * record beyond is damage, not a sequence to go on from (the next
 * origin_seq after 2^64-1 would be 0). */
static void test_a_sequence_number_beyond_2_63_is_damage(void **state)
{
    (void)state;
    uint8_t id[FB_UUID_LEN], id2[FB_UUID_LEN];
    size_t len, len2;
    s_id(1, id);
    s_id(2, id2);
    uint8_t *frame = s_frame(1, 1, &len), *frame2 = s_frame(2, UINT64_MAX, &len2);
    fb_journal_rec_t recs[3] = {
        {.type = FB_JOURNAL_STATE, .next_seq = 1},
        {.type = FB_JOURNAL_PUBLISH, .origin_seq = 1, .created_at_us = 1000, .id = id, .frame = frame, .frame_len = len},
        {.type = FB_JOURNAL_PUBLISH, .origin_seq = UINT64_MAX, .created_at_us = 2000, .id = id2, .frame = frame2,
         .frame_len = len2},
    };
    s_write_records(recs, 3);
    s_assert_cut_after(1);
    free(frame);
    free(frame2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_is_the_castagnoli_checksum),
        cmocka_unit_test_setup_teardown(test_appends_are_sent_only_after_the_group_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_write_handed_to_the_writer_is_sendable_once_collected, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_a_write_in_flight_does_not_make_renumbered_publishes_sendable, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(
            test_once_welcomed_appends_are_sendable_before_their_sync_up_to_the_journals_bound, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_an_answer_before_the_sync_is_held_until_it_and_the_entry_kept, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_the_first_unanswered_moves_on_answers_before_their_sync, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_a_journal_not_closed_cleanly_numbers_above_what_it_may_have_sent,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_reopen_holds_the_unanswered_again_in_order, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_the_sequence_goes_on_above_the_journal_when_all_is_answered, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_publishes_taken_before_the_first_welcome_are_renumbered_above_the_broker,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_tail_torn_at_any_byte_loses_only_the_torn_record, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_any_flipped_byte_of_the_last_record_is_detected, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_random_damage_never_crashes_and_keeps_only_records_written, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_segments_rotate_and_go_once_all_they_hold_is_answered, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_a_second_outbox_on_the_same_directory_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_full_by_entries_or_by_bytes_says_which, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_failed_write_is_cut_back_and_written_again_later, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_record_of_a_newer_format_refuses_to_open, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_renumbering_past_the_next_origin_seq_is_damage, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_a_sequence_number_beyond_2_63_is_damage, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
