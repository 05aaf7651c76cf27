/* fb_cli_publish.c — `fedbus publish`: JSON messages from files, directories, stdin or the command line, through the node.
 *
 * All or nothing before sending: every source is read and every message
 * checked (JSON, fields, the envelope rules the node applies) first; one
 * mistake anywhere and nothing is sent, each bad message named with its
 * message_id. Then all are published at once — one message alone, several
 * as batches (one round trip for many) — and each gets its own verdict
 * line, in the order given, naming its message_id. Every message has that
 * id before it is sent — its own, the one --message-id gives, or a UUIDv7
 * chosen here —, so publishing the same input again stores nothing twice.
 *
 * Exit status: 0 when every message is stored (accepted or duplicate); 75
 * (EX_TEMPFAIL) when the only failures are transient refusals — the node's
 * outbox full, a store unavailable —, so a script may simply run it again
 * later; 1 for any other failure (a message not valid, a permanent reject,
 * a time-out, nothing answering at --node, a file that cannot be read, an
 * empty directory); 2 for bad usage (also --node naming something that is
 * not a node's submit socket). */
#include "fb_cli.h"
#include "fb_cli_input.h"
#include "fb_cli_probe.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"
#include "fb_time.h"
#include "fedbus.pb-c.h"
#include "fedbus/fedbus.h"

#include <jansson.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* publish's options: the shared ones, then its own. */
typedef struct {
    fb_cli_opts_t o;
    char topic[256];
    char message[65536];
} s_pub_opts_t;

#define S_PUB_STR(f) offsetof(s_pub_opts_t, f), sizeof(((s_pub_opts_t *)0)->f)

static const fb_cfg_key_t s_publish_keys[] = {
    {"node", FB_CFG_STR, FB_CLI_STR(node), "tcp://127.0.0.1:7711", 0, 0,
     "the node's submit endpoint (tcp://HOST:PORT; HOST:PORT means the same)"},
    {"timeout-ms", FB_CFG_INT, FB_CLI_INT(timeout_ms), "15000", 1, 3600000, "wait this long for each ack"},
    {"quiet", FB_CFG_BOOL, FB_CLI_INT(quiet), "false", 0, 0, "print rejects, time-outs and failures only"},
    {"message-id", FB_CFG_STR, FB_CLI_STR(message_id), "", 0, 0,
     "the message_id (a UUIDv7) of the one message published; give the id a time-out printed to publish it "
     "again: it is stored once"},
    {"message", FB_CFG_STR, S_PUB_STR(message), "", 0, 0, "the message itself, as JSON (also -m)"},
    {"topic", FB_CFG_STR, S_PUB_STR(topic), "", 0, 0, "the topic of an inline message (also -t, or TOPIC first)"},
    FB_CFG_END,
};

static const char s_publish_help[] =
    "Sources: a file holds one JSON object, an array of them, or objects one after another\n"
    "(JSON lines: what `fedbus replay --format=json` prints); a directory means its *.json;\n"
    "- means stdin. Inline: fedbus publish TOPIC '{...}', or -m '{...}' with TOPIC or -t TOPIC.\n"
    "\n"
    "All or nothing before sending: every message is checked first, and one that is not\n"
    "valid stops the whole publish (nothing sent). Then each message gets its own line,\n"
    "naming its message_id: accepted, duplicate, rejected or timeout (unsent when no node\n"
    "answers at --node: nothing was sent). Messages without a\n"
    "message_id get a UUIDv7 here; publishing the same files again stores nothing twice.\n"
    "\n"
    "Exit status: 0 all stored; 1 a message not valid or rejected, a time-out, no node\n"
    "answering, a file unreadable, nothing to publish; 2 bad usage or --node naming something\n"
    "that is not a node; 75 only transient refusals (outbox full): run it again later.\n";

/* The exit status when the only failures were transient refusals. */
#define S_EXIT_TRANSIENT 75

typedef struct {
    fb_publisher_t *pub;
    fb_cli_opts_t *o;
    int ok, rejected, failed, invalid;
    int transient; /* rejects that a later try may store (counted in rejected too) */
    int ingest;    /* a reject that only a broker's ingest gives: --node is the broker */
} s_pub_ctx_t;

/* Fields the node and the broker assign: dropped, so that what `fedbus
 * replay` printed can be published again (the message_id stays). */
static const char *const s_assigned[] = {"origin", "origin_seq", "global_seq", "stored_at_us", "prev_hash"};

/* Gives item its message_id (its own; else --message-id; else a new
 * UUIDv7) and checks it as the node will. Returns 0, or -1 with the reason
 * name and detail written. */
static int s_check(s_pub_ctx_t *c, fb_cli_item_t *x, const char **reason, char *detail, size_t size)
{
    uint8_t id[FB_UUID_LEN];
    *reason = "INVALID_FIELD";
    for (size_t i = 0; i < sizeof(s_assigned) / sizeof(s_assigned[0]); i++) json_object_del(x->obj, s_assigned[i]);
    json_t *own = json_object_get(x->obj, "message_id");
    if (own) {
        if (!json_is_string(own) || fb_uuid_parse(json_string_value(own), id) != 0) {
            snprintf(detail, size, "message_id: not a UUID");
            return -1;
        }
        fb_uuid_format(id, x->id);
        if (c->o->message_id[0] && strcmp(c->o->message_id, x->id) != 0) {
            snprintf(detail, size, "its message_id differs from --message-id=%s", c->o->message_id);
            return -1;
        }
    } else {
        if (c->o->message_id[0]) memcpy(x->id, c->o->message_id, sizeof(x->id)); /* formatted: 36 + NUL */
        else if (fb_uuid_v7(fb_time_now_us(), id) == 0) fb_uuid_format(id, x->id);
        if (!x->id[0] || json_object_set_new(x->obj, "message_id", json_string(x->id)) != 0) {
            snprintf(detail, size, "no message_id could be made (out of memory or randomness)");
            return -1;
        }
    }
    ProtobufCMessage *pm = NULL;
    if (fb_json_to_message(x->obj, &fedbus__envelope__descriptor, &pm, detail, size) != 0) {
        *reason = "INVALID_JSON";
        return -1;
    }
    /* The node stamps the origin (its member) and the times; the check
     * needs them, so they are filled the same way here. */
    Fedbus__Envelope *env = (Fedbus__Envelope *)pm;
    char origin[64] = "";
    const char *t = env->topic ? strchr(env->topic, '.') : NULL;
    if (t) snprintf(origin, sizeof(origin), "%.*s", (int)strcspn(t + 1, "."), t + 1);
    if (!env->origin || !*env->origin) env->origin = origin;
    if (env->schema_version == 0) env->schema_version = FEDBUS_SCHEMA_VERSION;
    if (env->created_at_us == 0) env->created_at_us = fb_time_now_us();
    fb_verdict_t v;
    int rc = fb_envelope_check(env, &v);
    if (env->origin == origin) env->origin = NULL;
    protobuf_c_message_free_unpacked(pm, NULL);
    if (rc != 0) {
        *reason = fb_reject_name(v.reason);
        snprintf(detail, size, "%s", v.detail);
    }
    return rc;
}

/* Checks every item; returns how many are not valid (each named on stdout
 * and stderr). */
static int s_check_all(s_pub_ctx_t *c, fb_cli_items_t *it)
{
    int bad = 0;
    for (size_t i = 0; i < it->n; i++) {
        const char *reason;
        char detail[256];
        if (s_check(c, &it->v[i], &reason, detail, sizeof(detail)) == 0) continue;
        bad++;
        printf("invalid %s: %s id=%s %s\n", reason, detail, it->v[i].id[0] ? it->v[i].id : "-", it->v[i].name);
        fprintf(stderr, "fedbus publish: %s: %s: %s\n", it->v[i].name, reason, detail);
    }
    if (bad)
        fprintf(stderr, "fedbus publish: %d of %zu messages not valid: nothing was sent (fix them and publish all "
                "again)\n", bad, it->n);
    return bad;
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
    } else if (ack->reason == FEDBUS__REJECT_REASON__REJECT_MISSING_FIELD && !strcmp(ack->detail, "origin is required")) {
        c->ingest++; /* a node fills origin in: only a broker asks for it */
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
static void s_publish_items(s_pub_ctx_t *c, const fb_cli_items_t *it)
{
    size_t n = it->n;
    fb_ack_t *acks = calloc(n, sizeof(*acks));
    int *rcs = calloc(n, sizeof(*rcs));
    char **texts = calloc(n, sizeof(*texts));
    size_t *lens = calloc(n, sizeof(*lens));
    int ok = acks && rcs && texts && lens;
    for (size_t i = 0; ok && i < n; i++) {
        texts[i] = json_dumps(it->v[i].obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        lens[i] = texts[i] ? strlen(texts[i]) : 0;
        ok = texts[i] != NULL;
    }
    if (!ok) {
        c->failed += (int)n;
        fprintf(stderr, "fedbus publish: out of memory\n");
    } else if (n == 1) {
        rcs[0] = fb_publisher_send_json(c->pub, texts[0], lens[0], &acks[0], (int)c->o->timeout_ms);
        s_report(c, it->v[0].name, it->v[0].id, rcs[0], &acks[0]);
    } else {
        fb_publisher_send_json_many(c->pub, (const char *const *)texts, lens, n, acks, rcs, (int)c->o->timeout_ms);
        for (size_t i = 0; i < n; i++) s_report(c, it->v[i].name, it->v[i].id, rcs[i], &acks[i]);
    }
    for (size_t i = 0; texts && i < n; i++) free(texts[i]);
    free(texts);
    free(lens);
    free(acks);
    free(rcs);
}

/* Turns -m VALUE and -t VALUE into --message=VALUE and --topic=VALUE
 * (strings kept in store, which must outlive argv's use); returns the new
 * argc. */
static int s_short_flags(int argc, char **argv, char store[][70000])
{
    int k = 0;
    for (int i = 1; i + 1 < argc && k < 2; i++) {
        const char *flag = !strcmp(argv[i], "-m") ? "--message=" : !strcmp(argv[i], "-t") ? "--topic=" : NULL;
        if (!flag) continue;
        snprintf(store[k], sizeof(store[k]), "%s%s", flag, argv[i + 1]);
        argv[i] = store[k++];
        memmove(argv + i + 1, argv + i + 2, (size_t)(argc - i - 2) * sizeof(*argv));
        argv[--argc] = NULL;
    }
    return argc;
}

/* Whether the arguments are TOPIC JSON (an inline message): two, the
 * first not a file, the second an object. */
static int s_inline_args(int nargs, char **argv)
{
    struct stat st;
    if (nargs != 2 || stat(argv[1], &st) == 0 || strchr(argv[1], '/')) return 0;
    const char *b = argv[2] + strspn(argv[2], " \t\r\n");
    return *b == '{';
}

/* Adds the inline message (body, with topic when given) to it; returns 0
 * or -1 after saying why. */
static int s_inline(fb_cli_items_t *it, const char *topic, const char *body)
{
    if (fb_cli_items_parse(it, "(inline)", body, strlen(body)) != 0) return -1;
    if (it->n != 1) {
        fprintf(stderr, "fedbus publish: an inline message is one JSON object; use - (stdin) for several\n");
        return -1;
    }
    json_t *own = json_object_get(it->v[0].obj, "topic");
    if (topic[0] && own && (!json_is_string(own) || strcmp(json_string_value(own), topic) != 0)) {
        fprintf(stderr, "fedbus publish: the message's topic differs from TOPIC '%s'\n", topic);
        return -1;
    }
    if (topic[0] && !own) json_object_set_new(it->v[0].obj, "topic", json_string(topic));
    return 0;
}

/* Reads what the arguments name into it; returns -1 (usage), or 0. */
static int s_gather(s_pub_opts_t *po, int nargs, char **argv, fb_cli_items_t *it)
{
    if (po->message[0] || s_inline_args(nargs, argv)) {
        if (!po->message[0] && nargs == 2) {
            snprintf(po->topic, sizeof(po->topic), "%s", argv[1]);
            snprintf(po->message, sizeof(po->message), "%s", argv[2]);
        } else if (nargs == 1 && !po->topic[0]) {
            snprintf(po->topic, sizeof(po->topic), "%s", argv[1]);
        } else if (nargs > 0) {
            fprintf(stderr, "fedbus publish: with -m, name at most the TOPIC (no files)\n");
            return -1;
        }
        if (s_inline(it, po->topic, po->message) != 0) it->failed++;
        return 0;
    }
    if (nargs == 0) {
        fprintf(stderr, "fedbus publish: name a file, a directory, - (stdin), or TOPIC '{...}' (see fedbus help "
                "publish)\n");
        return -1;
    }
    for (int i = 1; i <= nargs && !fb_cli_stop; i++) fb_cli_items_read(it, argv[i]);
    return 0;
}

/* Connects to --node after making sure a node answers there; returns the
 * publisher, or NULL with *status set after saying why. */
static fb_publisher_t *s_connect(fb_cli_opts_t *o, int *status)
{
    char ep[256], msg[600];
    if (fb_cli_endpoint_norm(o->node, ep, sizeof(ep)) != 0) {
        fprintf(stderr, "fedbus publish: --node: '%s' is too long\n", o->node);
        *status = 2;
        return NULL;
    }
    snprintf(o->node, sizeof(o->node), "%s", ep);
    if ((*status = fb_cli_check(FB_ROLE_NODE, o->node, 0, msg, sizeof(msg))) != 0) {
        fprintf(stderr, "fedbus publish: %s\n", msg);
        return NULL;
    }
    fb_publisher_t *pub = fb_publisher_new(o->node);
    if (!pub) {
        fprintf(stderr, "fedbus publish: cannot connect to %s (tcp://HOST:PORT, e.g. tcp://127.0.0.1:7711)\n", o->node);
        *status = 2;
    }
    return pub;
}

int fb_cli_publish(int argc, char **argv)
{
    static s_pub_opts_t po;
    static char store[2][70000];
    fb_cli_opts_t *o = &po.o;
    int nargs, status = 0;
    argc = s_short_flags(argc, argv, store);
    fb_cli_parse_help("publish", s_publish_keys, o, argc, argv, &nargs, "PATH... | TOPIC '{...}' | -m '{...}'",
                      s_publish_help);
    uint8_t given[FB_UUID_LEN];
    if (o->message_id[0]) {
        if (fb_uuid_parse(o->message_id, given) != 0) {
            fprintf(stderr, "fedbus publish: --message-id: '%s' is not a UUID\n", o->message_id);
            return 2;
        }
        fb_uuid_format(given, o->message_id); /* the form the node and the lines use */
    }
    fb_cli_items_t it = {0};
    s_pub_ctx_t c = {NULL, o, 0, 0, 0, 0, 0, 0};
    if (s_gather(&po, nargs, argv, &it) != 0) status = 2;
    else if (o->message_id[0] && it.n + (size_t)it.failed != 1) {
        fprintf(stderr, "fedbus publish: --message-id names one message; %zu given\n", it.n + (size_t)it.failed);
        status = 2;
    } else if (it.failed) {
        fprintf(stderr, "fedbus publish: %d source%s not read: nothing was sent\n", it.failed, it.failed > 1 ? "s" : "");
        status = 1;
    } else if ((c.invalid = s_check_all(&c, &it)) != 0) {
        status = 1;
    } else if ((c.pub = s_connect(o, &status)) == NULL) {
        for (size_t i = 0; i < it.n; i++) printf("unsent id=%s %s\n", it.v[i].id, it.v[i].name); /* for a retry */
    } else if (!fb_cli_stop) {
        s_publish_items(&c, &it);
    }
    fb_cli_items_free(&it);
    fb_publisher_destroy(&c.pub);
    if (status) return status;
    if (c.ingest) {
        fprintf(stderr, "fedbus publish: %s is a broker's ingest endpoint, not a node's submit socket (only a broker "
                "asks for origin): publish through your node, e.g. --node=tcp://127.0.0.1:7711\n", o->node);
        return 2;
    }
    if (!o->quiet || c.rejected || c.failed)
        fprintf(stderr, "fedbus publish: %d confirmed, %d rejected, %d failed\n", c.ok, c.rejected, c.failed);
    if (c.failed || c.rejected > c.transient) return 1;
    return c.transient ? S_EXIT_TRANSIENT : 0;
}
