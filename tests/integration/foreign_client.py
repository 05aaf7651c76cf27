#!/usr/bin/python3
"""A fedbus client written from docs/protocol.md and proto/fedbus.proto alone.

A small client library (DirectPublisher, FeedSubscriber, replay()) and a test
program that drives it against a running fedbus-broker:

  * Hello -> Welcome for origin intl-pyclient;
  * SUB to the feed on cfp.intl-pyclient before publishing;
  * publishes an Event, a CallForProposals and a ResearcherUpdate (Korean and
    English text) straight to the broker's ingest as its own sequencer
    (UUIDv7 ids, origin_seq = Welcome.last_origin_seq + 1, +1 each) and
    matches the ACCEPTED acks by message_id;
  * resends the CFP's bytes -> DUPLICATE with the same global_seq;
  * publishes outside its namespace -> REJECTED, REJECT_NAMESPACE;
  * reads its CFP from the feed (one frame: topic, NUL, stored envelope = published bytes
    plus the broker's suffix);
  * replays event.intl-pyclient from the first acked global_seq and gets
    exactly its event;
  * sends three envelopes in one PublishBatch frame (the middle one outside
    the topic grammar) -> one AckBatch frame: ACCEPTED, REJECTED BAD_TOPIC
    naming its id, ACCEPTED, in order, with consecutive global_seqs; resends
    the frame -> DUPLICATE, REJECTED, DUPLICATE with the same global_seqs; an
    empty PublishBatch -> one plain Ack, REJECTED MALFORMED, no message_id.

The bindings are generated at test time:
    protoc --python_out=DIR -I proto fedbus.proto
and DIR is passed as --pb-dir. With --keys and --broker-key every socket
speaks CURVE, as a broker run with keys asks. Exit status 0 on success; otherwise 1 and one
line "FAIL: reason" on stderr.
"""

import argparse
import os
import signal
import sys
import time
import uuid

import zmq

pb = None  # fedbus_pb2, imported in main() from --pb-dir


class ProtocolError(Exception):
    pass


# ------------------------------------------------------------- helpers --

def uuid7():
    """16 bytes of a UUIDv7: 48-bit Unix milliseconds, then random."""
    b = bytearray((time.time_ns() // 10**6).to_bytes(6, "big") + os.urandom(10))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    return bytes(b)


def now_us():
    return time.time_ns() // 1000


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def stored_suffix(global_seq, stored_at_us):
    """The bytes the broker appends to a publisher's envelope (protocol.md,
    'The stored envelope')."""
    return b"\x38" + varint(global_seq) + b"\x48" + varint(stored_at_us)


def idstr(message_id):
    return str(uuid.UUID(bytes=message_id)) if len(message_id) == 16 else message_id.hex()


def ts(unix_us, offset_min=540):
    return pb.Timestamp(unix_us=unix_us, utc_offset_min=offset_min)


def read_keys(path):
    """The keys of a key file made by `fedbus keygen`: lines 'name = value', '#' comments."""
    pairs = (line.split("=", 1) for line in open(path) if "=" in line and not line.lstrip().startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


CURVE = None  # (broker's public key, own public key, own secret key), Z85 bytes; None: plaintext


def socket(ctx, kind, endpoint, timeout_ms):
    s = ctx.socket(kind)
    if CURVE:  # docs/protocol.md, "Keys and identity": set before connecting
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = CURVE
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.RCVTIMEO, timeout_ms)
    s.setsockopt(zmq.SNDTIMEO, timeout_ms)
    s.connect(endpoint)
    return s


def recv_until(sock, deadline):
    """One message (list of frames) or None at the deadline."""
    left = int((deadline - time.monotonic()) * 1000)
    if left <= 0 or not sock.poll(left, zmq.POLLIN):
        return None
    return sock.recv_multipart()


# ----------------------------------------------------------- publisher --

class DirectPublisher:
    """Publishes straight to the broker's ingest (DEALER), acting as the
    sequencer of its origin, as protocol.md 'Publishing' describes."""

    def __init__(self, ctx, endpoint, origin, timeout_ms=3000):
        self.origin = origin
        self.timeout_ms = timeout_ms
        self.sock = socket(ctx, zmq.DEALER, endpoint, timeout_ms)
        self.next_seq = None
        self.welcome = None
        self.inflight = {}  # message_id -> (origin_seq, env_bytes)
        self.stray = []     # acks that matched nothing in flight

    def _send(self, nm):
        self.sock.send(nm.SerializeToString())

    def _recv(self, deadline):
        frames = recv_until(self.sock, deadline)
        if frames is None:
            return None
        if len(frames) != 1:
            raise ProtocolError("ingest answered %d frames, expected 1" % len(frames))
        bm = pb.BrokerMessage()
        bm.ParseFromString(frames[0])
        return bm

    def hello(self, version="fedbus-foreign-py/0.1"):
        self._send(pb.NodeMessage(hello=pb.Hello(origin=self.origin, version=version)))
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            bm = self._recv(deadline)
            if bm is None:
                raise ProtocolError("no Welcome within %d ms" % self.timeout_ms)
            if bm.WhichOneof("body") == "welcome":
                self.welcome = bm.welcome
                self.next_seq = bm.welcome.last_origin_seq + 1
                return bm.welcome
            self.stray.append(bm.ack)

    def envelope(self, topic, **payload):
        """A fresh Envelope with the next origin_seq; payload is one of
        event=..., cfp=..., researcher=...."""
        env = pb.Envelope(message_id=uuid7(), origin=self.origin, topic=topic,
                          created_at_us=now_us(), schema_version=1,
                          origin_seq=self.next_seq, **payload)
        self.next_seq += 1
        return env

    def publish(self, env):
        """Serialize once, keep the bytes, send. Returns (message_id, bytes)."""
        body = env.SerializeToString()
        self.inflight[env.message_id] = (env.origin_seq, body)
        self.send_bytes(body)
        return env.message_id, body

    def send_bytes(self, body):
        self._send(pb.NodeMessage(publish=pb.Publish(envelope=body)))

    def publish_batch(self, bodies):
        """Sends serialized envelopes as one PublishBatch frame and returns
        the answer: the AckBatch's acks (acks[i] answers bodies[i]), or the
        single Ack of a frame refused whole. Welcomes and other acks that
        arrive first are set aside."""
        self._send(pb.NodeMessage(publish_batch=pb.PublishBatch(envelopes=bodies)))
        deadline = time.monotonic() + self.timeout_ms / 1000
        while True:
            bm = self._recv(deadline)
            if bm is None:
                raise ProtocolError("no answer to a batch frame within %d ms" % self.timeout_ms)
            kind = bm.WhichOneof("body")
            if kind == "ack_batch":
                return list(bm.ack_batch.acks)
            if kind == "ack" and not bm.ack.message_id:
                return bm.ack
            if kind == "ack":
                self.stray.append(bm.ack)

    def wait_acks(self, message_ids, timeout_s=None):
        """Acks for the given ids, matched by message_id (not by order)."""
        want = set(message_ids)
        got = {}
        deadline = time.monotonic() + (timeout_s or self.timeout_ms / 1000)
        while want - set(got):
            bm = self._recv(deadline)
            if bm is None:
                missing = ", ".join(idstr(m) for m in want - set(got))
                raise ProtocolError("no ack within the timeout for " + missing)
            if bm.WhichOneof("body") != "ack":
                continue  # a late Welcome
            ack = bm.ack
            if ack.message_id in want and ack.message_id not in got:
                got[ack.message_id] = ack
                self.inflight.pop(ack.message_id, None)
            else:
                self.stray.append(ack)
        return got

    def close(self):
        self.sock.close(0)


# ---------------------------------------------------------- subscriber --

class FeedSubscriber:
    """SUB on the broker's XPUB feed: one frame, topic + NUL + stored envelope."""

    def __init__(self, ctx, endpoint, prefixes, timeout_ms=3000):
        self.sock = socket(ctx, zmq.SUB, endpoint, timeout_ms)
        for p in prefixes:
            self.sock.setsockopt(zmq.SUBSCRIBE, p.encode())

    def recv(self, timeout_s):
        """(topic_bytes, stored_bytes, Envelope) or None at the timeout."""
        frames = recv_until(self.sock, time.monotonic() + timeout_s)
        if frames is None:
            return None
        if len(frames) != 1:
            raise ProtocolError("feed message of %d frames, expected 1" % len(frames))
        topic, sep, stored = frames[0].partition(b"\0")
        if not sep:
            raise ProtocolError("feed message without the NUL after its topic")
        env = pb.Envelope()
        env.ParseFromString(stored)
        return topic, stored, env

    def close(self):
        self.sock.close(0)


# -------------------------------------------------------------- replay --

def replay(ctx, endpoint, request_id, from_seq, prefixes, limit=0, timeout_s=5):
    """Send one ReplayRequest, read chunks until done. Returns the chunks."""
    sock = socket(ctx, zmq.DEALER, endpoint, int(timeout_s * 1000))
    try:
        sock.send(pb.ReplayRequest(request_id=request_id, from_seq=from_seq,
                                   prefixes=prefixes, limit=limit).SerializeToString())
        deadline = time.monotonic() + timeout_s
        chunks = []
        while True:
            frames = recv_until(sock, deadline)
            if frames is None:
                raise ProtocolError("replay %d: no done chunk within %ss" % (request_id, timeout_s))
            if len(frames) != 1:
                raise ProtocolError("replay answered %d frames, expected 1" % len(frames))
            ch = pb.ReplayChunk()
            ch.ParseFromString(frames[0])
            if ch.request_id != request_id:
                raise ProtocolError("replay chunk for request %d, expected %d"
                                    % (ch.request_id, request_id))
            if ch.error:
                raise ProtocolError("replay error %s: %s"
                                    % (pb.RejectReason.Name(ch.error), ch.detail))
            chunks.append(ch)
            if ch.done:
                return chunks
    finally:
        sock.close(0)


# ---------------------------------------------------------------- test --

def name_status(s):
    return pb.AckStatus.Name(s) if s in pb.AckStatus.values() else str(s)


def name_reason(r):
    return pb.RejectReason.Name(r) if r in pb.RejectReason.values() else str(r)


def describe(ack):
    return "%s gs=%d os=%d %s %r" % (name_status(ack.status), ack.global_seq, ack.origin_seq,
                                     name_reason(ack.reason), ack.detail)


def run(args):
    ctx = zmq.Context()
    try:
        return _run(ctx, args)
    finally:
        ctx.destroy(linger=0)


def _run(ctx, args):
    origin = args.origin
    tmo = args.timeout_ms

    # -- subscribe first: the feed only sends what matches a subscription
    #    that already reached the broker (slow joiner).
    cfp_topic = "cfp.%s.bio.health" % origin
    feed = FeedSubscriber(ctx, args.feed, ["cfp." + origin], tmo)
    time.sleep(args.sub_wait)

    # -- Hello -> Welcome
    pubr = DirectPublisher(ctx, args.ingest, origin, tmo)
    w = pubr.hello()
    assert w.origin == origin, "Welcome.origin %r, expected %r" % (w.origin, origin)
    assert w.max_frame >= 1024, "Welcome.max_frame %d below the documented minimum 1024" % w.max_frame
    print("welcome: origin=%s last_origin_seq=%d head_global_seq=%d max_frame=%d"
          % (w.origin, w.last_origin_seq, w.head_global_seq, w.max_frame))
    first_seq = w.last_origin_seq + 1

    # -- three publishes, Korean + English
    t0 = 1789776000000000  # 2026-09-19T09:00:00+09:00
    ev = pubr.envelope("event.%s.forum" % origin)
    ev.event.kind = pb.EVENT_KIND_FORUM
    ev.event.title.ko = "국제 과학기술 협력 포럼 2026"
    ev.event.title.en = "International S&T cooperation forum 2026"
    ev.event.summary.ko = "지역 과학기술 거점과 해외 연구기관이 공동 연구를 논의한다."
    ev.event.summary.en = "Regional S&T hubs and foreign institutes discuss joint research."
    ev.event.starts_at.CopyFrom(ts(t0))
    ev.event.ends_at.CopyFrom(ts(t0 + 3 * 3600 * 10**6))
    ev.event.timezone = "Asia/Seoul"
    ev.event.venue.name.ko = "대덕 국제회의장"
    ev.event.venue.name.en = "Daedeok international conference hall"
    ev.event.venue.city = "Daejeon"
    ev.event.venue.country = "KR"
    ev.event.fields.extend(["ai", "bio"])
    ev.event.capacity = 120

    cfp = pubr.envelope(cfp_topic)
    cfp.cfp.title.ko = "2026 국제 공동연구 바이오·헬스 과제 공모"
    cfp.cfp.title.en = "2026 call: international joint research in bio and health"
    cfp.cfp.programme.ko = "국제 협력 연구 프로그램"
    cfp.cfp.programme.en = "International cooperation research programme"
    cfp.cfp.budget.amount = 300000000
    cfp.cfp.budget.currency = "KRW"
    cfp.cfp.opens_at.CopyFrom(ts(t0))
    cfp.cfp.closes_at.CopyFrom(ts(t0 + 30 * 86400 * 10**6))
    cfp.cfp.fields.extend(["bio", "health"])
    cfp.cfp.contact.name = "국제협력팀 (International team)"
    cfp.cfp.contact.email = "intl@example.org"
    cfp.cfp.awards = 4

    res = pubr.envelope("researcher.%s.award" % origin)
    res.researcher.researcher_id = "0000-0002-1825-0097"
    res.researcher.name.ko = "김하늘 박사"
    res.researcher.name.en = "Dr. Haneul Kim"
    res.researcher.affiliation = "Partner institute (해외 협력기관)"
    res.researcher.kind = pb.RESEARCHER_UPDATE_KIND_AWARD
    res.researcher.detail.ko = "국제 공동연구 우수상을 받았다."
    res.researcher.detail.en = "Received the international joint research award."
    res.researcher.occurred_at.CopyFrom(ts(t0 - 86400 * 10**6))
    res.researcher.fields.append("bio")

    envs = [ev, cfp, res]
    assert [e.origin_seq for e in envs] == [first_seq, first_seq + 1, first_seq + 2], \
        "origin_seq not last_origin_seq+1, +1 each: %r" % [e.origin_seq for e in envs]
    sent = {}
    for e in envs:  # in origin_seq order
        mid, body = pubr.publish(e)
        sent[mid] = (e, body)
    acks = pubr.wait_acks(list(sent))
    for mid, (e, _) in sent.items():
        a = acks[mid]
        print("ack %-44s %s id=%s" % (e.topic, describe(a), idstr(mid)))
        assert a.status == pb.ACK_STATUS_ACCEPTED, \
            "publish of %s not ACCEPTED: %s" % (e.topic, describe(a))
        assert a.global_seq > 0, "ACCEPTED ack for %s without global_seq" % e.topic
        assert a.origin_seq == e.origin_seq, \
            "ack origin_seq %d != published %d" % (a.origin_seq, e.origin_seq)
        assert a.reason == pb.REJECT_NONE and a.detail == "", \
            "ACCEPTED ack with reason/detail: %s" % describe(a)
    gs = [acks[e.message_id].global_seq for e in envs]
    assert len(set(gs)) == 3, "three publishes share global_seqs %r" % gs
    assert gs == sorted(gs), "global_seq not in arrival order: %r" % gs
    assert gs[0] > w.head_global_seq, \
        "new global_seq %d not above the Welcome's head %d" % (gs[0], w.head_global_seq)

    # -- resend the CFP's exact bytes -> DUPLICATE, same global_seq
    cfp_body = sent[cfp.message_id][1]
    pubr.inflight[cfp.message_id] = (cfp.origin_seq, cfp_body)
    pubr.send_bytes(cfp_body)
    d = pubr.wait_acks([cfp.message_id])[cfp.message_id]
    print("resend %-41s %s" % (cfp.topic, describe(d)))
    assert d.status == pb.ACK_STATUS_DUPLICATE, "resend of the CFP not DUPLICATE: %s" % describe(d)
    assert d.global_seq == acks[cfp.message_id].global_seq, \
        "DUPLICATE global_seq %d != original %d" % (d.global_seq, acks[cfp.message_id].global_seq)
    assert d.origin_seq == cfp.origin_seq, "DUPLICATE origin_seq %d != %d" % (d.origin_seq, cfp.origin_seq)
    assert d.reason == pb.REJECT_NONE, "DUPLICATE with reason %s" % name_reason(d.reason)
    assert d.detail == "stored before", "DUPLICATE detail %r, doc says 'stored before'" % d.detail

    # -- a publish outside its namespace -> REJECTED NAMESPACE
    bad = pb.Envelope(message_id=uuid7(), origin=origin, topic="event.kr-busan.forum",
                      created_at_us=now_us(), schema_version=1, origin_seq=pubr.next_seq)
    bad.event.CopyFrom(ev.event)
    bad_body = bad.SerializeToString()
    pubr.send_bytes(bad_body)
    # Only this publish is in flight: an ack with its id, or (protocol.md is
    # contradictory here, see the report) one without an id, answers it.
    deadline = time.monotonic() + tmo / 1000
    r = None
    while r is None:
        bm = pubr._recv(deadline)
        assert bm is not None, "no ack within %d ms for the out-of-namespace publish" % tmo
        if bm.WhichOneof("body") == "ack" and bm.ack.message_id in (bad.message_id, b""):
            r = bm.ack
    print("bad %-44s %s id=%s" % (bad.topic, describe(r), idstr(r.message_id) if r.message_id else "(empty)"))
    assert r.status == pb.ACK_STATUS_REJECTED, "out-of-namespace publish not REJECTED: %s" % describe(r)
    assert r.reason == pb.REJECT_NAMESPACE, \
        "out-of-namespace publish rejected %s, doc says REJECT_NAMESPACE" % name_reason(r.reason)
    assert r.global_seq == 0 and r.origin_seq == 0, "REJECTED ack with seqs: %s" % describe(r)
    assert r.detail, "REJECTED ack without a detail line"
    assert r.message_id == bad.message_id, \
        "REJECTED NAMESPACE ack has message_id %r; protocol.md 'Acks' says a decoded envelope's " \
        "reject carries its message_id" % (idstr(r.message_id) if r.message_id else "(empty)")
    assert not pubr.stray, "acks that matched nothing: %s" % "; ".join(describe(a) for a in pubr.stray)

    # -- the CFP on the feed
    got = feed.recv(args.feed_timeout)
    assert got is not None, "no CFP on the feed within %ss (subscribed to cfp.%s)" % (args.feed_timeout, origin)
    topic, stored, fenv = got
    print("feed %s gs=%d stored_at_us=%d title.ko=%s" % (topic.decode(), fenv.global_seq,
                                                         fenv.stored_at_us, fenv.cfp.title.ko))
    assert topic == cfp_topic.encode(), "feed topic frame %r != %r" % (topic, cfp_topic)
    assert fenv.message_id == cfp.message_id, "feed envelope is %s, not the CFP" % idstr(fenv.message_id)
    assert fenv.global_seq == acks[cfp.message_id].global_seq, \
        "feed global_seq %d != ack %d" % (fenv.global_seq, acks[cfp.message_id].global_seq)
    assert fenv.stored_at_us > 0, "feed envelope without stored_at_us"
    assert abs(fenv.stored_at_us - now_us()) < 60 * 10**6, "stored_at_us %d not near now" % fenv.stored_at_us
    assert fenv.cfp == cfp.cfp and fenv.topic == cfp.topic and fenv.origin_seq == cfp.origin_seq, \
        "feed envelope differs from the published CFP"
    assert stored == cfp_body + stored_suffix(fenv.global_seq, fenv.stored_at_us), \
        "stored envelope is not the published bytes + 0x38 varint(global_seq) 0x48 varint(stored_at_us)"
    # DUPLICATEs and rejects are never sent on the feed.
    extra = feed.recv(0.3)
    assert extra is None, "unexpected second feed message %r gs=%d" % (extra[0], extra[2].global_seq)

    # -- replay the event from the first acked global_seq
    req_id = int.from_bytes(os.urandom(4), "big") | 1
    chunks = replay(ctx, args.replay, req_id, min(gs), ["event." + origin], timeout_s=tmo / 1000)
    raws = [raw for ch in chunks for raw in ch.envelopes]
    print("replay from %d prefix event.%s: %d chunk(s) %s, %d envelope(s), head_seq=%d"
          % (min(gs), origin, len(chunks), [(len(c.envelopes), c.done) for c in chunks],
             len(raws), chunks[-1].head_seq))
    assert chunks[-1].done, "replay ended without done"
    assert all(not c.done for c in chunks[:-1]), "replay chunk with done before the last"
    assert len(raws) == 1, "replay returned %d envelopes, expected exactly the event" % len(raws)
    renv = pb.Envelope()
    renv.ParseFromString(raws[0])
    assert renv.message_id == ev.message_id, "replayed envelope %s is not the event" % idstr(renv.message_id)
    assert renv.global_seq == acks[ev.message_id].global_seq, \
        "replayed global_seq %d != ack %d" % (renv.global_seq, acks[ev.message_id].global_seq)
    assert renv.stored_at_us > 0, "replayed envelope without stored_at_us"
    assert raws[0] == sent[ev.message_id][1] + stored_suffix(renv.global_seq, renv.stored_at_us), \
        "replayed bytes are not the published bytes + the broker's suffix"
    assert renv.event.title.ko == ev.event.title.ko, "Korean title changed on the way"
    assert chunks[-1].head_seq >= max(gs), "replay head_seq %d below our last global_seq %d" \
        % (chunks[-1].head_seq, max(gs))
    # Documented chunking: a page of fewer than 256 rows ends the replay with
    # an extra, empty done chunk.
    assert len(chunks) == 2 and len(chunks[0].envelopes) == 1 and not chunks[1].envelopes, \
        "replay chunks %r, doc says [1 envelope, not done] then [empty, done]" \
        % [(len(c.envelopes), c.done) for c in chunks]

    # -- the Welcome now reports our sequence
    pubr2 = DirectPublisher(ctx, args.ingest, origin, tmo)
    w2 = pubr2.hello()
    assert w2.last_origin_seq == res.origin_seq, \
        "second Welcome last_origin_seq %d, expected %d" % (w2.last_origin_seq, res.origin_seq)
    assert w2.head_global_seq >= max(gs), "second Welcome head %d < %d" % (w2.head_global_seq, max(gs))
    pubr2.close()

    # -- three envelopes in one PublishBatch frame, the middle one refused
    bodies, ids = [], []
    for k, category in enumerate(["seminar", "semi_nar", "seminar"]):  # '_' is outside the grammar
        e = pubr.envelope("event.%s.%s" % (origin, category))
        e.event.kind = pb.EVENT_KIND_SEMINAR
        e.event.title.en = "Batch seminar %d" % k
        e.event.starts_at.CopyFrom(ts(t0 + k * 86400 * 10**6))
        bodies.append(e.SerializeToString())
        ids.append(e.message_id)
    acks = pubr.publish_batch(bodies)
    assert isinstance(acks, list), "batch frame refused whole: %s" % describe(acks)
    print("batch of 3: %s" % "; ".join(describe(a) for a in acks))
    assert len(acks) == 3, "AckBatch holds %d acks for 3 envelopes" % len(acks)
    assert [a.status for a in acks] == [pb.ACK_STATUS_ACCEPTED, pb.ACK_STATUS_REJECTED, pb.ACK_STATUS_ACCEPTED], \
        "batch acks %s, expected ACCEPTED, REJECTED, ACCEPTED" % [name_status(a.status) for a in acks]
    assert [a.message_id for a in acks] == ids, "AckBatch acks not in the batch's order"
    assert acks[1].reason == pb.REJECT_BAD_TOPIC and acks[1].global_seq == 0, \
        "middle envelope: %s, expected REJECTED BAD_TOPIC" % describe(acks[1])
    assert acks[2].global_seq == acks[0].global_seq + 1, \
        "batch global_seqs %d, %d not consecutive" % (acks[0].global_seq, acks[2].global_seq)
    again = pubr.publish_batch(bodies)
    assert isinstance(again, list) and len(again) == 3, "resent batch not answered by an AckBatch of 3"
    print("batch resent: %s" % "; ".join(describe(a) for a in again))
    for a, b in ((again[0], acks[0]), (again[2], acks[2])):
        assert a.status == pb.ACK_STATUS_DUPLICATE and a.global_seq == b.global_seq, \
            "resent envelope: %s, expected DUPLICATE gs=%d" % (describe(a), b.global_seq)
    assert again[1].status == pb.ACK_STATUS_REJECTED and again[1].reason == pb.REJECT_BAD_TOPIC, \
        "resent bad envelope: %s" % describe(again[1])
    empty = pubr.publish_batch([])
    assert not isinstance(empty, list), "an empty batch was answered by an AckBatch"
    print("empty batch: %s" % describe(empty))
    assert empty.status == pb.ACK_STATUS_REJECTED and empty.reason == pb.REJECT_MALFORMED, \
        "empty batch: %s, expected REJECTED MALFORMED" % describe(empty)
    assert not pubr.stray, "acks that matched nothing: %s" % "; ".join(describe(a) for a in pubr.stray)

    pubr.close()
    feed.close()
    print("OK: foreign client passed (global_seq %s)" % gs)
    return 0


def probe(args):
    """Exit 0 when the broker's replay socket answers (used to wait for it)."""
    ctx = zmq.Context()
    try:
        replay(ctx, args.replay, 7, 2**62, [], limit=1, timeout_s=args.timeout_ms / 1000)
        return 0
    except ProtocolError as e:
        print("probe: %s" % e, file=sys.stderr)
        return 1
    finally:
        ctx.destroy(linger=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pb-dir", required=True, help="directory holding the generated fedbus_pb2.py")
    ap.add_argument("--ingest", default="tcp://127.0.0.1:7701")
    ap.add_argument("--feed", default="tcp://127.0.0.1:7702")
    ap.add_argument("--replay", default="tcp://127.0.0.1:7703")
    ap.add_argument("--origin", default="intl-pyclient")
    ap.add_argument("--timeout-ms", type=int, default=3000, help="per-socket wait")
    ap.add_argument("--sub-wait", type=float, default=0.5, help="seconds for the subscription to reach the broker")
    ap.add_argument("--feed-timeout", type=float, default=3.0)
    ap.add_argument("--total", type=int, default=18, help="hard limit on the whole run, seconds")
    ap.add_argument("--probe", action="store_true", help="only check that the broker's replay answers")
    ap.add_argument("--keys", help="this member's secret key file: CURVE (with --broker-key)")
    ap.add_argument("--broker-key", help="the broker's public key file")
    args = ap.parse_args()

    global CURVE
    if args.keys:
        own, broker = read_keys(args.keys), read_keys(args.broker_key)
        CURVE = (broker["curve-public"].encode(), own["curve-public"].encode(), own["curve-secret"].encode())

    global pb
    sys.path.insert(0, args.pb_dir)
    import fedbus_pb2
    pb = fedbus_pb2

    def on_alarm(signum, frame):
        raise ProtocolError("whole run exceeded %d s" % args.total)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.total)
    try:
        rc = probe(args) if args.probe else run(args)
    except AssertionError as e:
        print("FAIL: %s" % (str(e).replace("\n", " ") or "assertion failed"), file=sys.stderr)
        rc = 1
    except (ProtocolError, zmq.ZMQError) as e:
        print("FAIL: %s: %s" % (type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        rc = 1
    except Exception as e:  # noqa: BLE001 - one line, whatever it is
        print("FAIL: unexpected %s: %s" % (type(e).__name__, str(e).replace("\n", " ")), file=sys.stderr)
        rc = 1
    signal.alarm(0)
    sys.exit(rc)


if __name__ == "__main__":
    main()
