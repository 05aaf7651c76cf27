/* it_verify.c — `fedbus verify` and `fedbus archive export` on the history of a real signing federation:
 * an untouched history and archive verify; a flipped envelope byte, a flipped signature byte, a line dropped
 * from the middle, a cut-short archive and an edited stored row are each reported; bad usage exits 2; replay
 * asked for proofs serves the seals that prove every envelope it delivers. */
#include "harness.h"

#include "fb_archive.h"
#include "fb_envelope.h"
#include "fb_keys.h"
#include "fb_seal.h"
#include "fb_wire.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>
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

static void test_a_directory_signed_by_the_broker_is_checked_with_its_key(void **state)
{
    (void)state;
    char pg[300], sign[300], dir[300], bk[300], wrong[300], tampered[300], *out = NULL;
    snprintf(pg, sizeof(pg), "--pg=%s", s_t.conninfo);
    snprintf(sign, sizeof(sign), "--sign=%s", s_t.broker_keys.file);
    const char *argv[] = {FEDBUS_CLI_BIN, "member", "export-directory", pg, sign, NULL};
    assert_int_equal(th_run(argv, &out, 30), 0);
    assert_non_null(strstr(out, "\"fedbus_signed_directory\": 1"));
    snprintf(dir, sizeof(dir), "%s/signed-directory.json", s_t.dir);
    s_write(dir, out);
    char *hub = strstr(out, "hub");
    assert_non_null(hub);
    hub[1] = 'x';
    snprintf(tampered, sizeof(tampered), "%s/tampered-directory.json", s_t.dir);
    s_write(tampered, out);
    free(out);
    char dirarg[320], tamparg[320];
    snprintf(dirarg, sizeof(dirarg), "--directory=%s", dir);
    snprintf(tamparg, sizeof(tamparg), "--directory=%s", tampered);
    snprintf(bk, sizeof(bk), "--directory-key=%s", s_t.broker_keys.pub_file);
    snprintf(wrong, sizeof(wrong), "--directory-key=%s", th_member(&s_t, "kr-seoul")->pub_file);
    assert_int_equal(s_verify(&out, dirarg, bk, s_file, NULL), 0);
    assert_non_null(strstr(out, "VERIFIED: 2 origins"));
    free(out);
    assert_int_equal(s_verify(NULL, tamparg, bk, s_file, NULL), 2);   /* signature does not verify */
    assert_int_equal(s_verify(NULL, dirarg, wrong, s_file, NULL), 2); /* not the broker's key */
    char plain[300], plainarg[320];
    snprintf(plain, sizeof(plain), "%s/plain-directory.json", s_t.dir);
    const char *exp[] = {FEDBUS_CLI_BIN, "member", "export-directory", pg, NULL};
    assert_int_equal(th_run(exp, &out, 30), 0);
    s_write(plain, out);
    free(out);
    snprintf(plainarg, sizeof(plainarg), "--directory=%s", plain);
    assert_int_equal(s_verify(NULL, plainarg, bk, s_file, NULL), 2); /* a key given, no signature */
    assert_int_equal(s_verify(NULL, plainarg, s_file, NULL), 0);
}

/* Whether envelope env (as delivered) is proven by one of ch's proofs,
 * signed by the public key of its origin (keys[0] kr-seoul, keys[1] kr-busan). */
static int s_proven(const Fedbus__ReplayChunk *ch, const ProtobufCBinaryData *env, const fb_keys_t *keys)
{
    fb_envelope_head_t h;
    assert_int_equal(fb_wire_envelope_scan(env->data, env->len, &h), 0);
    long olen = fb_seal_origin_len(env->data, env->len, h.global_seq, h.stored_at_us);
    assert_true(olen > 0);
    uint8_t hash[32];
    fb_seal_entry_hash(env->data, (size_t)olen, hash);
    const fb_keys_t *k = !strncmp((const char *)h.origin, "kr-seoul", h.origin_len) ? &keys[0] : &keys[1];
    for (size_t i = 0; i < ch->n_proofs; i++) {
        const Fedbus__SealProof *p = ch->proofs[i];
        const Fedbus__Seal *s = p->seal;
        if (strlen(s->origin) != h.origin_len || memcmp(s->origin, h.origin, h.origin_len) != 0) continue;
        uint8_t(*entries)[32] = calloc(p->n_entries + 1, 32);
        int found = 0;
        for (size_t e = 0; e < p->n_entries; e++) {
            assert_int_equal(p->entries[e].len, 32);
            memcpy(entries[e], p->entries[e].data, 32);
            found |= !memcmp(entries[e], hash, 32);
        }
        fb_seal_t seal = {0};
        snprintf(seal.origin, sizeof(seal.origin), "%s", s->origin);
        seal.first_seq = s->first_seq, seal.last_seq = s->last_seq, seal.signed_at_us = s->signed_at_us;
        assert_int_equal(s->root.len, 32);
        assert_int_equal(s->signature.len, 64);
        memcpy(seal.root, s->root.data, 32);
        memcpy(seal.key_id, s->key_id.data, 8);
        memcpy(seal.signature, s->signature.data, 64);
        uint8_t root[32];
        int ok = found && fb_seal_root((const uint8_t(*)[32])entries, p->n_entries, root) == 0 &&
                 !memcmp(root, seal.root, 32) && fb_seal_verify(&seal, k->sign_public) == 1;
        free(entries);
        if (ok) return 1;
    }
    return 0;
}

/* Replays everything (with proofs or not); returns how many envelopes came, and of them how many were proven
 * into *proven; *nproofs counts the proofs of all chunks. */
static int s_replay(int with_proofs, int *proven, size_t *nproofs)
{
    fb_keys_t keys[2];
    char err[512];
    assert_int_equal(fb_keys_read(th_member(&s_t, "kr-seoul")->pub_file, &keys[0], err, sizeof(err)), 0);
    assert_int_equal(fb_keys_read(th_member(&s_t, "kr-busan")->pub_file, &keys[1], err, sizeof(err)), 0);
    void *sock = th_socket(&s_t, ZMQ_DEALER, s_t.replay, "kr-seoul");
    Fedbus__ReplayRequest req = FEDBUS__REPLAY_REQUEST__INIT;
    req.request_id = 7;
    req.from_seq = 1;
    req.proofs = with_proofs;
    uint8_t buf[256];
    size_t len = fedbus__replay_request__pack(&req, buf);
    assert_int_equal(zmq_send(sock, buf, len, 0), (int)len);
    int n = 0, done = 0;
    *proven = 0, *nproofs = 0;
    while (!done) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        assert_int_equal(zmq_poll(&it, 1, 10000), 1);
        zmq_msg_t m;
        zmq_msg_init(&m);
        assert_true(zmq_msg_recv(&m, sock, 0) >= 0);
        Fedbus__ReplayChunk *ch = fedbus__replay_chunk__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        assert_non_null(ch);
        if (ch->error) fail_msg("replay: %d %s", ch->error, ch->detail);
        for (size_t i = 0; i < ch->n_envelopes; i++, n++) *proven += s_proven(ch, &ch->envelopes[i], keys);
        *nproofs += ch->n_proofs;
        done = ch->done;
        fedbus__replay_chunk__free_unpacked(ch, NULL);
    }
    zmq_close(sock);
    return n;
}

static void test_replay_serves_the_seals_that_prove_every_envelope_when_asked(void **state)
{
    (void)state;
    int proven;
    size_t nproofs;
    assert_int_equal(s_replay(1, &proven, &nproofs), 100);
    assert_int_equal(proven, 100);
    assert_true(nproofs >= 1);
    assert_int_equal(s_replay(0, &proven, &nproofs), 100);
    assert_int_equal(nproofs, 0); /* not asked: none */
    assert_int_equal(proven, 0);
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
        cmocka_unit_test(test_a_directory_signed_by_the_broker_is_checked_with_its_key),
        cmocka_unit_test(test_replay_serves_the_seals_that_prove_every_envelope_when_asked),
        cmocka_unit_test(test_an_edited_stored_row_is_reported_from_postgresql),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
