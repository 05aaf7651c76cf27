/* fb_cli_publish.c — `fedbus publish`: JSON messages from files, directories or stdin, through the node.
 *
 * Every file is read first, then all are published at once: one message
 * alone, several as batches (one round trip for many), each reported on
 * its own line in the order given. Every message has its message_id before
 * it is sent — its own, the one --message-id gives, or a UUIDv7 chosen
 * here — and every line names it, a time-out's too: publishing the same
 * message_id again (--message-id) stores the message once, whatever became
 * of the first try.
 *
 * Exit status: 0 when every message is stored (accepted or duplicate); 75
 * (EX_TEMPFAIL) when the only failures are transient refusals — the node's
 * outbox full, a store unavailable —, so a script may simply run it again
 * later; 1 for any other failure (a permanent reject, a time-out, a file
 * that cannot be read); 2 for bad usage. */
#include "fb_cli.h"
#include "fb_crypto.h"
#include "fb_time.h"
#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const fb_cfg_key_t s_publish_keys[] = {
    {"node", FB_CFG_STR, FB_CLI_STR(node), "tcp://127.0.0.1:7711", 0, 0, "the node's submit endpoint"},
    {"timeout-ms", FB_CFG_INT, FB_CLI_INT(timeout_ms), "15000", 1, 3600000, "wait this long for each ack"},
    {"quiet", FB_CFG_BOOL, FB_CLI_INT(quiet), "false", 0, 0, "print rejects, time-outs and failures only"},
    {"message-id", FB_CFG_STR, FB_CLI_STR(message_id), "", 0, 0,
     "the message_id (a UUID) of the one message published; give the id a time-out printed to publish it "
     "again: it is stored once"},
    FB_CFG_END,
};

/* The exit status when the only failures were transient refusals. */
#define S_EXIT_TRANSIENT 75

typedef struct {
    fb_publisher_t *pub;
    fb_cli_opts_t *o;
    int ok, rejected, failed;
    int transient; /* rejects that a later try may store (counted in rejected too) */
} s_pub_ctx_t;

/* Reads all of f into a new buffer (the caller frees it), its length in
 * *len. Returns NULL when reading fails, or memory runs out (*oom set):
 * nothing is left allocated then. */
static char *s_read_all(FILE *f, size_t *len, int *oom)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    *oom = !buf;
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            char *more = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!more) {
                free(buf);
                *oom = 1;
                return NULL;
            }
            buf = more;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The messages of one `fedbus publish`: every file read first, then all
 * published at once (as batches, in order). */
typedef struct {
    char **names, **texts;
    size_t *lens;
    char (*ids)[37]; /* each message's message_id; "" while unknown (not a JSON object) */
    size_t n, cap;
} s_items_t;

static void s_read_file(s_pub_ctx_t *c, s_items_t *it, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        c->failed++;
        fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
        return;
    }
    size_t len = 0;
    int oom = 0;
    char *text = s_read_all(f, &len, &oom);
    if (f != stdin) fclose(f);
    if (!text) {
        c->failed++;
        fprintf(stderr, "fedbus publish: %s: %s\n", path, oom ? "out of memory" : "cannot read");
        return;
    }
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 64;
        char **nn = realloc(it->names, cap * sizeof(*nn)), **tt = nn ? realloc(it->texts, cap * sizeof(*tt)) : NULL;
        if (nn) it->names = nn;
        if (tt) it->texts = tt;
        size_t *ll = tt ? realloc(it->lens, cap * sizeof(*ll)) : NULL;
        if (ll) it->lens = ll;
        char(*ii)[37] = ll ? realloc(it->ids, cap * sizeof(*ii)) : NULL;
        if (ii) it->ids = ii;
        if (!nn || !tt || !ll || !ii) goto oom;
        it->cap = cap;
    }
    if (!(it->names[it->n] = strdup(path))) goto oom;
    it->texts[it->n] = text;
    it->lens[it->n] = len;
    it->ids[it->n][0] = '\0';
    it->n++;
    return;
oom:
    c->failed++;
    fprintf(stderr, "fedbus publish: %s: out of memory\n", path);
    free(text);
}

static int s_json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static void s_read_path(s_pub_ctx_t *c, s_items_t *it, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        struct dirent **list;
        int n = scandir(path, &list, s_json_name, alphasort);
        if (n < 0) {
            c->failed++;
            fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            char full[4096];
            snprintf(full, sizeof(full), "%s/%s", path, list[i]->d_name);
            if (!fb_cli_stop) s_read_file(c, it, full);
            free(list[i]);
        }
        free(list);
        return;
    }
    s_read_file(c, it, path);
}

/* Gives message i its message_id before it is sent, and keeps it in
 * it->ids[i]: its own when it has one; else --message-id, or a new
 * UUIDv7, written into its text as the first member. A text that is not a
 * JSON object is left as it is, for the library to refuse. Returns 0, or
 * -1 after saying why (--message-id differs from the message's own, out of
 * memory). */
static int s_assign_id(s_pub_ctx_t *c, s_items_t *it, size_t i)
{
    json_t *doc = json_loadb(it->texts[i], it->lens[i], JSON_REJECT_DUPLICATES, NULL);
    uint8_t id[FB_UUID_LEN];
    int rc = 0;
    if (!json_is_object(doc)) goto done;
    json_t *own = json_object_get(doc, "message_id");
    if (own) {
        /* Its own: sent as it is; named here when it is a UUID (else the node refuses it). */
        if (json_is_string(own) && fb_uuid_parse(json_string_value(own), id) == 0) {
            fb_uuid_format(id, it->ids[i]);
            if (c->o->message_id[0] && strcmp(c->o->message_id, it->ids[i]) != 0) {
                fprintf(stderr, "fedbus publish: %s: its message_id %s differs from --message-id=%s\n",
                        it->names[i], it->ids[i], c->o->message_id);
                rc = -1;
            }
        }
        goto done;
    }
    if (c->o->message_id[0]) memcpy(it->ids[i], c->o->message_id, sizeof(it->ids[i])); /* formatted: 36 + NUL */
    else if (fb_uuid_v7(fb_time_now_us(), id) == 0) fb_uuid_format(id, it->ids[i]);
    else goto done; /* no randomness: the library tries, and says so */
    /* {"message_id":"<36>",  then the rest of the object after its '{' */
    const char *brace = memchr(it->texts[i], '{', it->lens[i]);
    size_t head = (size_t)(brace - it->texts[i]) + 1, len = it->lens[i] + 16 + 36 + 1;
    char *text = malloc(len + 1);
    if (!text) {
        fprintf(stderr, "fedbus publish: %s: out of memory\n", it->names[i]);
        rc = -1;
        goto done;
    }
    int n = snprintf(text, len + 1, "%.*s\"message_id\":\"%s\"%s", (int)head, it->texts[i], it->ids[i],
                     json_object_size(doc) ? "," : "");
    memcpy(text + n, it->texts[i] + head, it->lens[i] - head);
    free(it->texts[i]);
    it->texts[i] = text;
    it->lens[i] = (size_t)n + it->lens[i] - head;
done:
    json_decref(doc);
    return rc;
}

/* Counts a reject that a later try may turn into a store, and says on
 * stderr what to do about it. */
static void s_report_transient(s_pub_ctx_t *c, const char *name, const char *id, const fb_ack_t *ack)
{
    if (ack->reason == FEDBUS__REJECT_REASON__REJECT_OUTBOX_FULL) {
        c->transient++;
        fprintf(stderr, "fedbus publish: %s: not taken: the node's outbox is full (it holds what the broker has not "
                "confirmed yet, up to outbox-max publishes and outbox-max-bytes bytes); publish it again later with "
                "--message-id=%s\n", name, id);
    } else if (ack->reason == FEDBUS__REJECT_REASON__REJECT_STORE_UNAVAILABLE) {
        c->transient++;
        fprintf(stderr, "fedbus publish: %s: not taken for now (%s); publish it again later with --message-id=%s\n",
                name, ack->detail, id);
    }
}

/* Reports what became of one message (id: its message_id, "" when
 * unknown), as one line on stdout; a failure is told on stderr too. */
static void s_report(s_pub_ctx_t *c, const char *name, const char *id, int rc, const fb_ack_t *ack)
{
    if (!id[0]) id = ack->message_id[0] ? ack->message_id : "-";
    if (rc == FB_OK) {
        c->ok++;
        if (!c->o->quiet)
            printf("%s global_seq=%llu origin_seq=%llu id=%s %s\n",
                   ack->status == FB_ACK_DUPLICATE ? "duplicate" : "accepted",
                   (unsigned long long)ack->global_seq, (unsigned long long)ack->origin_seq, id, name);
    } else if (rc == FB_EREJECTED) {
        c->rejected++;
        printf("rejected %s: %s id=%s %s\n", ack->reason_name, ack->detail, id, name);
        s_report_transient(c, name, id, ack);
    } else if (rc == FB_ETIMEOUT) {
        c->failed++;
        printf("timeout id=%s %s\n", id, name);
        fprintf(stderr, "fedbus publish: %s: no answer within %lld ms; the node may still store it: publish it "
                "again with --message-id=%s (stored once, whatever became of this try)\n", name, c->o->timeout_ms, id);
    } else {
        c->failed++;
        printf("failed id=%s %s\n", id, name);
        fprintf(stderr, "fedbus publish: %s: %s%s%s\n", name, fb_strerror(rc), ack->detail[0] ? ": " : "",
                ack->detail);
    }
    fflush(stdout);
}

/* One message goes alone; several go as batches, one round trip for many. */
static void s_publish_items(s_pub_ctx_t *c, const s_items_t *it)
{
    if (it->n == 0) return;
    fb_ack_t *acks = calloc(it->n, sizeof(*acks));
    int *rcs = calloc(it->n, sizeof(*rcs));
    if (!acks || !rcs) {
        c->failed += (int)it->n;
        fprintf(stderr, "fedbus publish: out of memory\n");
    } else if (it->n == 1) {
        rcs[0] = fb_publisher_send_json(c->pub, it->texts[0], it->lens[0], &acks[0], (int)c->o->timeout_ms);
        s_report(c, it->names[0], it->ids[0], rcs[0], &acks[0]);
    } else {
        fb_publisher_send_json_many(c->pub, (const char *const *)it->texts, it->lens, it->n, acks, rcs,
                                    (int)c->o->timeout_ms);
        for (size_t i = 0; i < it->n; i++) s_report(c, it->names[i], it->ids[i], rcs[i], &acks[i]);
    }
    free(acks);
    free(rcs);
}

int fb_cli_publish(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs;
    fb_cli_parse("publish", s_publish_keys, &o, argc, argv, &nargs, "PATH...");
    if (nargs == 0) {
        fprintf(stderr, "fedbus publish: name at least one file, directory or - (see --help)\n");
        return 2;
    }
    uint8_t given[FB_UUID_LEN];
    if (o.message_id[0]) {
        if (fb_uuid_parse(o.message_id, given) != 0) {
            fprintf(stderr, "fedbus publish: --message-id: '%s' is not a UUID\n", o.message_id);
            return 2;
        }
        fb_uuid_format(given, o.message_id); /* the form the node and the lines use */
    }
    s_pub_ctx_t c = {fb_publisher_new(o.node), &o, 0, 0, 0, 0};
    if (!c.pub) {
        fprintf(stderr, "fedbus publish: cannot connect to %s\n", o.node);
        return 1;
    }
    s_items_t items = {0};
    int status = -1;
    for (int i = 1; i <= nargs && !fb_cli_stop; i++) s_read_path(&c, &items, argv[i]);
    if (o.message_id[0] && items.n + (size_t)c.failed != 1) {
        fprintf(stderr, "fedbus publish: --message-id names one message; %zu given\n", items.n + (size_t)c.failed);
        status = 2;
    }
    for (size_t i = 0; status < 0 && i < items.n; i++)
        if (s_assign_id(&c, &items, i) != 0) status = 2;
    if (status < 0 && !fb_cli_stop) s_publish_items(&c, &items);
    for (size_t i = 0; i < items.n; i++) {
        free(items.names[i]);
        free(items.texts[i]);
    }
    free(items.names);
    free(items.texts);
    free(items.lens);
    free(items.ids);
    if (status >= 0) {
        fb_publisher_destroy(&c.pub);
        return status;
    }
    fb_publisher_destroy(&c.pub);
    if (!o.quiet || c.rejected || c.failed)
        fprintf(stderr, "fedbus publish: %d confirmed, %d rejected, %d failed\n", c.ok, c.rejected, c.failed);
    if (c.failed || c.rejected > c.transient) return 1;
    return c.transient ? S_EXIT_TRANSIENT : 0;
}
