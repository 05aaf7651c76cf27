/* fb_cli_probe.h — what answers at an endpoint, found out in a second or two before the CLI relies on it. */
#ifndef FB_CLI_PROBE_H
#define FB_CLI_PROBE_H

#include "fb_curve.h"

#include <stddef.h>

/* What a probe found at a tcp:// endpoint. */
typedef enum {
    FB_PROBE_SKIPPED = 0, /* not tcp:// (ipc://, inproc://): not probed */
    FB_PROBE_REFUSED,     /* nothing listens (connection refused) */
    FB_PROBE_NO_ANSWER,   /* no connection, or no greeting, within the time given */
    FB_PROBE_UNRESOLVED,  /* the host name does not resolve */
    FB_PROBE_NOT_ZMTP,    /* something answers, but not ZeroMQ (an HTTP port?) */
    FB_PROBE_CURVE,       /* a ZeroMQ server asking for CURVE: a broker run with keys */
    FB_PROBE_ROUTER,      /* a plaintext ROUTER: a node's submit, a broker's ingest or replay */
    FB_PROBE_XPUB,        /* a plaintext XPUB or PUB: a broker's feed */
    FB_PROBE_OTHER,       /* a plaintext ZeroMQ socket of another type */
} fb_probe_t;

/* Writes endpoint into out (size bytes) as ZeroMQ takes it: "host:port"
 * becomes "tcp://host:port", a bare port "tcp://127.0.0.1:PORT"; anything
 * with "://" is kept. Returns 0, or -1 when it does not fit. */
int fb_cli_endpoint_norm(const char *endpoint, char *out, size_t size);

/* Connects to endpoint (tcp://HOST:PORT), reads its ZeroMQ greeting and,
 * when it speaks plaintext, its socket type, all within timeout_ms; then
 * closes. Returns what was found; errno-style detail (e.g. "connection
 * refused") goes into why (size bytes). */
fb_probe_t fb_cli_probe(const char *endpoint, int timeout_ms, char *why, size_t size);

/* Remembers c (copied; NULL forgets) as the keys the checks below make a
 * CURVE handshake with, when a command has keys and finds a CURVE server:
 * that tells a refused member and a wrong broker key from silence. */
void fb_cli_probe_keys(const fb_curve_t *c);

/* The endpoint a command needs. */
typedef enum {
    FB_ROLE_NODE,   /* publish: a node's submit socket (ROUTER) */
    FB_ROLE_FEED,   /* tail: a broker's feed (XPUB) */
    FB_ROLE_REPLAY, /* replay: a broker's replay endpoint (ROUTER) */
} fb_cli_role_t;

/* Probes endpoint for role within 2 s (have_keys: the command has CURVE
 * keys, so a CURVE server is what it expects; with the keys of
 * fb_cli_probe_keys(), a handshake is made with them, within 1 s more).
 * Returns 0 when it may be the right endpoint (or it is not tcp://); else
 * writes one line of advice (no newline) into msg and returns 1 when
 * nothing answers there, 2 when something else does, 3 when the keys do not
 * fit: a broker asks for keys the command lacks, refuses this member's key,
 * drops a handshake made with a broker key that is not its own, or the
 * server speaks plaintext to a command given keys. */
int fb_cli_check(fb_cli_role_t role, const char *endpoint, int have_keys, char *msg, size_t size);

#endif
