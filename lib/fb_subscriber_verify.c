/* fb_subscriber_verify.c — how a subscriber verifies what it delivers: on or off, pinned keys, another replay for seals, what it failed and looked up. */
#include "fb_subscriber_int.h"

#include "fb_wire.h"
#include "fb_zmq.h"
#include "fedbus/fedbus.h"

#include <stdlib.h>

/* Subscribes to the feed's seal frames (docs/protocol.md, "Feed", seal
 * frames) while they are of use: a verifying subscriber that delivers live
 * messages from the feed (with a replay endpoint too, what count frames
 * vouch for) and can check seals (keys from its replay,
 * fb_subscriber_verify_via()'s, or pinned). Returns FB_OK or FB_EIO. */
int fb_subscriber_seals_subscribe(fb_subscriber_t *self)
{
    int want = !self->verify_off && (self->replay || self->verify_replay || self->pinned);
    if (want == self->seals_sub) return FB_OK;
    const char mark = FB_WIRE_FEED_SEAL_MARK;
    if (zmq_setsockopt(self->sock, want ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, &mark, 1) != 0) return FB_EIO;
    self->seals_sub = want;
    return FB_OK;
}

int fb_subscriber_set_verify(fb_subscriber_t *self, fb_verify_mode_t mode)
{
    if (mode != FB_VERIFY_ON && mode != FB_VERIFY_OFF) return FB_EINVAL;
    self->verify_off = mode == FB_VERIFY_OFF;
    return fb_subscriber_seals_subscribe(self);
}

int fb_subscriber_pin_keys(fb_subscriber_t *self, const fb_signing_key_t *keys, size_t nkeys)
{
    if (!keys && nkeys) return FB_EINVAL;
    int rc = fb_subverify_pin(self->sv, keys, nkeys);
    if (rc != FB_OK) return rc;
    self->pinned = 1;
    return fb_subscriber_seals_subscribe(self);
}

uint64_t fb_subscriber_seal_lookups(const fb_subscriber_t *self, uint64_t *feed_seals, uint64_t *feed_bad)
{
    fb_subverify_stats_t st = {0};
    if (self) fb_subverify_get_stats(self->sv, &st);
    if (feed_seals) *feed_seals = st.feed_seals;
    if (feed_bad) *feed_bad = st.feed_bad;
    return st.lookups;
}

int fb_subscriber_verify_via(fb_subscriber_t *self, const fb_endpoint_opts_t *replay)
{
    if (!replay || self->replay || self->verify_replay || fb_endpoint_check(replay) != 0) return FB_EINVAL;
    if (!(self->verify_replay = fb_endpoint_dup(replay))) return FB_ENOMEM;
    fb_subverify_set_replay(self->sv, self->verify_replay);
    return fb_subscriber_seals_subscribe(self);
}

uint64_t fb_subscriber_failed(const fb_subscriber_t *self)
{
    return self ? self->failed : 0;
}
