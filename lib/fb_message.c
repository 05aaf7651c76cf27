/* fb_message.c — a delivered message: its header read in place, its payload decoded on demand.
 *
 * The subscriber and the replay hand out fb_message_t filled here from the
 * stored envelope's bytes. Only the top-level fields are read up front; a
 * subscriber that routes by topic or counts messages never pays for the
 * payload's decode, which the first fb_message_json(), _title() or _kind()
 * makes into the same arena. */
#include "fb_client_int.h"
#include "fb_crypto.h"
#include "fb_envelope.h"
#include "fb_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a delivered message's priv_ points to: its bytes, and their full
 * decode once something asked for the payload. Lives in the arena. */
typedef struct {
    const uint8_t *raw;
    size_t len;
    fb_arena_t *arena;
    Fedbus__Envelope *env;
    int tried;
    int verified;     /* FB_MSG_* */
    const char *why;  /* in the arena; NULL: "" */
    fb_envelope_head_t head; /* as fb_message_fill() scanned it: the verifier reads it again */
} s_lazy_t;

static char *s_arena_str(fb_arena_t *arena, const uint8_t *p, size_t n)
{
    char *s = fb_arena_alloc(arena, n + 1);
    if (!s) return NULL;
    if (n) memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int fb_message_fill(fb_arena_t *arena, fb_message_t *msg, const void *raw, size_t len)
{
    fb_envelope_head_t h;
    if (fb_wire_envelope_scan(raw, len, &h) != 0) return -1;
    s_lazy_t *lz = fb_arena_alloc(arena, sizeof(*lz));
    char *topic = s_arena_str(arena, h.topic, h.topic_len);
    char *origin = s_arena_str(arena, h.origin, h.origin_len);
    if (!lz || !topic || !origin) return -1;
    *lz = (s_lazy_t){raw, len, arena, NULL, 0, FB_MSG_NOT_CHECKED, NULL, h};
    memset(msg, 0, sizeof(*msg));
    msg->topic = topic;
    msg->origin = origin;
    if (h.message_id_len == FB_UUID_LEN) fb_uuid_format(h.message_id, msg->message_id);
    msg->global_seq = h.global_seq;
    msg->origin_seq = h.origin_seq;
    msg->created_at_us = h.created_at_us;
    msg->stored_at_us = h.stored_at_us;
    msg->raw = raw;
    msg->raw_len = len;
    msg->priv_ = lz;
    return 0;
}

void fb_message_set_verified(fb_message_t *msg, int status, const char *why)
{
    s_lazy_t *lz = msg->priv_;
    if (!lz) return;
    lz->verified = status;
    lz->why = why && *why ? s_arena_str(lz->arena, (const uint8_t *)why, strlen(why)) : NULL;
}

const fb_envelope_head_t *fb_message_head(const fb_message_t *msg)
{
    const s_lazy_t *lz = msg ? msg->priv_ : NULL;
    return lz && lz->raw == msg->raw && lz->len == msg->raw_len ? &lz->head : NULL;
}

int fb_message_verified(const fb_message_t *msg)
{
    const s_lazy_t *lz = msg ? msg->priv_ : NULL;
    return lz ? lz->verified : FB_MSG_NOT_CHECKED;
}

const char *fb_message_verify_detail(const fb_message_t *msg)
{
    const s_lazy_t *lz = msg ? msg->priv_ : NULL;
    return lz && lz->why ? lz->why : "";
}

int fb_message_match(const fb_message_t *msg, const char *const *patterns, int npatterns)
{
    if (npatterns == 0) return 1;
    size_t len = strlen(msg->topic);
    for (int i = 0; i < npatterns; i++)
        if (fb_pattern_match(patterns[i], msg->topic, len)) return 1;
    return 0;
}

/* The message's full decode, made on first use; NULL when it does not decode. */
static const Fedbus__Envelope *s_message_env(const fb_message_t *msg)
{
    s_lazy_t *lz = msg ? msg->priv_ : NULL;
    if (!lz) return NULL;
    if (!lz->tried) {
        lz->tried = 1;
        lz->env = fb_envelope_unpack_in(lz->arena, lz->raw, lz->len);
    }
    return lz->env;
}

char *fb_message_json(const fb_message_t *msg)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    if (!env) return NULL;
    json_t *j = fb_json_from_message(&env->base);
    if (!j) return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

static const char *s_text(const Fedbus__Text *t, const char *lang)
{
    if (!t) return "";
    const char *ko = t->ko ? t->ko : "", *en = t->en ? t->en : "";
    if (lang && strcmp(lang, "en") == 0) return *en ? en : ko;
    return *ko ? ko : en;
}

/* A member-state change's headline, "kr-busan: up -> stale", made in
 * the message's arena (freed with it). */
static const char *s_state_title(const fb_message_t *msg, const Fedbus__MemberState *st)
{
    s_lazy_t *lz = msg->priv_;
    const char *m = st->member ? st->member : "", *from = st->from_state ? st->from_state : "",
               *to = st->to_state ? st->to_state : "";
    if (!*m) return "";
    size_t n = strlen(m) + strlen(from) + strlen(to) + 10; /* ": ", " -> ", two "?" at most, NUL */
    char *t = fb_arena_alloc(lz->arena, n);
    if (!t) return "";
    snprintf(t, n, "%s: %s -> %s", m, *from ? from : "?", *to ? to : "?");
    return t;
}

const char *fb_message_title(const fb_message_t *msg, const char *lang)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    if (!env) return "";
    switch (env->payload_case) {
    case FEDBUS__ENVELOPE__PAYLOAD_EVENT:
        return s_text(env->event->title, lang);
    case FEDBUS__ENVELOPE__PAYLOAD_CFP:
        return s_text(env->cfp->title, lang);
    case FEDBUS__ENVELOPE__PAYLOAD_RESEARCHER:
        return s_text(env->researcher->name, lang);
    case FEDBUS__ENVELOPE__PAYLOAD_MEMBER_STATE:
        return s_state_title(msg, env->member_state);
    default:
        return "";
    }
}

const char *fb_message_kind(const fb_message_t *msg)
{
    const Fedbus__Envelope *env = s_message_env(msg);
    const char *k = env ? fb_envelope_kind(env) : NULL;
    return k ? k : "";
}
