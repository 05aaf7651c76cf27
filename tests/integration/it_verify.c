/* it_verify.c — `fedbus verify` and `fedbus archive export` on the history of a real signing federation:
 * an untouched history and archive verify; a flipped envelope byte, a flipped signature byte, a line dropped
 * from the middle, a cut-short archive and an edited stored row are each reported; bad usage exits 2. */
#include "harness.h"

#include "fb_archive.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static th_t s_t;
static char *s_archive; /* the untouched export */
static char s_file[256];

static void s_publish(int node, const char *origin, int n)
{
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[node]);
    assert_non_null(pub);
    for (int i = 0; i < n; i++) {
        char title[32];
        snprintf(title, sizeof(title), "signed %03d", i);
        const char *json = th_event_json(origin, "forum", title);
        fb_ack_t ack;
        assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
        if (ack.status != FB_ACK_ACCEPTED) fail_msg("publish %d: %s %s", i, ack.reason_name, ack.detail);
    }
    fb_publisher_destroy(&pub);
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Runs fedbus verify with args (NULL-terminated); returns its status, its stdout in *out (caller frees). */
static int s_verify(char **out, ...)
{
    const char *argv[16] = {FEDBUS_CLI_BIN, "verify"};
    int n = 2;
    va_list ap;
    va_start(ap, out);
    for (const char *a; n < 15 && (a = va_arg(ap, const char *));) argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    char *buf = NULL;
    int rc = th_run(argv, &buf, 60);
    if (out) *out = buf;
    else free(buf);
    return rc;
}

/* The archive with line k (0-based) handed to edit (which may blank it), written to path. */
static void s_edited(int k, void (*edit)(char *line, char *out), const char *path)
{
    char *copy = strdup(s_archive), *save = NULL, *res = calloc(1, strlen(s_archive) * 2 + 64);
    int i = 0;
    for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save), i++) {
        char *o = res + strlen(res);
        if (i == k) edit(l, o);
        else strcpy(o, l);
        if (*o) strcat(o, "\n");
    }
    s_write(path, res);
    free(copy);
    free(res);
}

/* The index of the n-th line (0-based) that starts with prefix. */
static int s_line_of(const char *prefix, int n)
{
    int i = 0;
    for (const char *p = s_archive; *p; i++) {
        if (!strncmp(p, prefix, strlen(prefix)) && n-- == 0) return i;
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    fail_msg("no line %d starting with %s", n, prefix);
    return -1;
}

/* Decodes the base64 string after "key":" in line, lets flip change it, writes the line again to out. */
static void s_flip_b64(const char *line, const char *key, void (*flip)(uint8_t *b, long len), char *out)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\"%s\":\"", key);
    const char *s = strstr(line, pat);
    assert_non_null(s);
    s += strlen(pat);
    const char *e = strchr(s, '"');
    char *text = strndup(s, (size_t)(e - s));
    uint8_t *b = malloc(strlen(text));
    long len = fb_archive_unb64(text, b);
    assert_true(len > 0);
    flip(b, len);
    char *again = malloc((size_t)len * 2 + 8);
    fb_archive_b64(b, (size_t)len, again);
    sprintf(out, "%.*s%s%s", (int)(s - line), line, again, e);
    free(text);
    free(b);
    free(again);
}

/* One digit of the title "signed NNN" in the envelope bytes. */
static void s_flip_title(uint8_t *b, long len)
{
    for (long i = 0; i + 10 <= len; i++)
        if (!memcmp(b + i, "signed ", 7)) {
            b[i + 9] ^= 0x01;
            return;
        }
    fail_msg("no title in the envelope");
}

static void s_flip_first(uint8_t *b, long len)
{
    (void)len;
    b[0] ^= 0x01;
}

static void s_envelope_edit(char *line, char *out)
{
    s_flip_b64(line, "envelope", s_flip_title, out);
}

static void s_signature_edit(char *line, char *out)
{
    s_flip_b64(line, "signature", s_flip_first, out);
}

static void s_drop(char *line, char *out)
{
    (void)line;
    out[0] = '\0';
}

static int s_setup(void **state)
{
    (void)state;
    th_init(&s_t, "verify", 27200);
    const char *extra[] = {"--signatures=required", NULL};
    th_broker_start(&s_t, extra);
    int a = th_node_start(&s_t, "kr-seoul", NULL), b = th_node_start(&s_t, "kr-busan", NULL);
    s_publish(a, "kr-seoul", 60);
    s_publish(b, "kr-busan", 40);
    const char *argv[] = {FEDBUS_CLI_BIN, "archive", "export", NULL, NULL};
    char pg[300];
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    argv[3] = pg;
    assert_int_equal(th_run(argv, &s_archive, 60), 0);
    snprintf(s_file, sizeof(s_file), "%s/history.jsonl", s_t.dir);
    s_write(s_file, s_archive);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    free(s_archive);
    th_cleanup(&s_t);
    return 0;
}

static void test_an_untouched_history_and_its_archive_verify(void **state)
{
    (void)state;
    char pg[300], *out;
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    assert_int_equal(s_verify(&out, pg, NULL), 0);
    if (!strstr(out, "VERIFIED: 2 origins")) fail_msg("verify --pg said: %s", out);
    assert_non_null(strstr(out, "100 envelopes; 0 unsealed; 0 problems"));
    free(out);
    assert_int_equal(s_verify(&out, s_file, NULL), 0);
    if (!strstr(out, "VERIFIED: 2 origins")) fail_msg("verify FILE said: %s", out);
    assert_non_null(strstr(out, "100 envelopes; 0 unsealed"));
    free(out);
    assert_int_equal(s_verify(&out, pg, "--origin=kr-busan", "--since=1h", NULL), 0);
    assert_non_null(strstr(out, "VERIFIED: 1 origins"));
    assert_non_null(strstr(out, "40 envelopes"));
    free(out);
}

static void test_a_flipped_byte_in_an_archived_envelope_is_reported(void **state)
{
    (void)state;
    char path[300], *out;
    snprintf(path, sizeof(path), "%s/flip-envelope.jsonl", s_t.dir);
    s_edited(s_line_of("{\"envelope\"", 30), s_envelope_edit, path);
    assert_int_equal(s_verify(&out, path, NULL), 1);
    if (!strstr(out, "FAIL kr-") || !strstr(out, "its bytes are not the envelope seal"))
        fail_msg("verify said: %s", out);
    assert_non_null(strstr(out, "message_id 0")); /* a UUIDv7 of this year */
    assert_non_null(strstr(out, "FAILED:"));
    free(out);
}

static void test_a_flipped_byte_in_a_seal_signature_is_reported(void **state)
{
    (void)state;
    char path[300], *out;
    snprintf(path, sizeof(path), "%s/flip-signature.jsonl", s_t.dir);
    s_edited(s_line_of("{\"seal\"", 2), s_signature_edit, path);
    assert_int_equal(s_verify(&out, path, NULL), 1);
    if (!strstr(out, "its signature does not verify with key")) fail_msg("verify said: %s", out);
    assert_non_null(strstr(out, "covered only by a seal that fails"));
    free(out);
}

static void test_a_line_dropped_from_the_middle_is_reported(void **state)
{
    (void)state;
    char path[300], *out;
    snprintf(path, sizeof(path), "%s/dropped.jsonl", s_t.dir);
    s_edited(s_line_of("{\"envelope\"", 50), s_drop, path);
    assert_int_equal(s_verify(&out, path, NULL), 1);
    if (!strstr(out, "and linked into the chain, but not in the archive")) fail_msg("verify said: %s", out);
    assert_non_null(strstr(out, "lines are missing or were added"));
    free(out);
}

static void test_an_archive_cut_short_is_reported(void **state)
{
    (void)state;
    char path[300], *out;
    snprintf(path, sizeof(path), "%s/cut.jsonl", s_t.dir);
    s_edited(s_line_of("{\"end\"", 0), s_drop, path);
    assert_int_equal(s_verify(&out, path, NULL), 1);
    if (!strstr(out, "no end line: the archive is cut short")) fail_msg("verify said: %s", out);
    free(out);
}

static void test_bad_usage_and_unreadable_input_exit_2(void **state)
{
    (void)state;
    char path[300], pg[300];
    snprintf(path, sizeof(path), "%s/not-an-archive.jsonl", s_t.dir);
    s_write(path, "{\"hello\": 1}\n");
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    assert_int_equal(s_verify(NULL, path, NULL), 2);
    assert_int_equal(s_verify(NULL, "/nonexistent/archive.jsonl", NULL), 2);
    assert_int_equal(s_verify(NULL, s_file, pg, NULL), 2);
    assert_int_equal(s_verify(NULL, pg, "--since=yesterday-ish", NULL), 2);
    assert_int_equal(s_verify(NULL, pg, "--origin=Not_An_Id", NULL), 2);
    assert_int_equal(s_verify(NULL, "--pg=host=/nonexistent dbname=none", NULL), 2);
    assert_int_equal(s_verify(NULL, "--directory=/nonexistent.json", s_file, NULL), 2);
    const char *arch[] = {FEDBUS_CLI_BIN, "archive", "import", NULL};
    assert_int_equal(th_run(arch, NULL, 30), 2);
}

/* Last: it edits the database. */
static void test_an_edited_stored_row_is_reported_from_postgresql(void **state)
{
    (void)state;
    char pg[300], *out;
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    th_sql_exec(&s_t, "UPDATE fedbus_messages SET envelope = overlay(envelope placing"
                      " convert_to('signed 999', 'UTF8') from position(convert_to('signed 007', 'UTF8') in envelope))"
                      " WHERE origin = 'kr-seoul' AND position(convert_to('signed 007', 'UTF8') in envelope) > 0");
    assert_int_equal(s_verify(&out, pg, NULL), 1);
    if (!strstr(out, "FAIL kr-seoul seq") || !strstr(out, "its bytes are not the envelope seal"))
        fail_msg("verify said: %s", out);
    free(out);
    th_sql_exec(&s_t, "DELETE FROM fedbus_messages WHERE origin = 'kr-busan' AND origin_seq = 20");
    assert_int_equal(s_verify(&out, pg, "--origin=kr-busan", NULL), 1);
    if (!strstr(out, "FAIL kr-busan seq 20 message_id -: sealed") || !strstr(out, "but not stored"))
        fail_msg("verify said: %s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_untouched_history_and_its_archive_verify),
        cmocka_unit_test(test_a_flipped_byte_in_an_archived_envelope_is_reported),
        cmocka_unit_test(test_a_flipped_byte_in_a_seal_signature_is_reported),
        cmocka_unit_test(test_a_line_dropped_from_the_middle_is_reported),
        cmocka_unit_test(test_an_archive_cut_short_is_reported),
        cmocka_unit_test(test_bad_usage_and_unreadable_input_exit_2),
        cmocka_unit_test(test_an_edited_stored_row_is_reported_from_postgresql),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
