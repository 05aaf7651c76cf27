/* fb_status.h — a health snapshot written out: the /api/status JSON document, the Prometheus text, readiness.
 *
 * Pure functions of an immutable snapshot (fb_health.h), so that the HTTP
 * thread does the writing and the broker's loop never does. The JSON is the
 * document docs/status.schema.json describes; `fedbus status --json` prints
 * it unchanged. */
#ifndef FB_STATUS_H
#define FB_STATUS_H

#include "fb_health.h"

#include <stddef.h>

/* Returns the /api/status document for s (malloc'd, NUL-terminated; its
 * length in *len), or NULL when out of memory. version is the broker's. */
char *fb_status_json(const fb_health_snap_t *s, const char *version, size_t *len);

/* Returns the /metrics text (Prometheus text format 0.0.4) for s (malloc'd;
 * its length in *len), or NULL when out of memory. */
char *fb_status_metrics(const fb_health_snap_t *s, const char *version, size_t *len);

/* Returns 1 when the broker is ready (PostgreSQL reachable and the schema
 * current); else 0 with a one-line reason in why (size bytes). */
int fb_status_ready(const fb_health_snap_t *s, char *why, size_t size);

/* Writes unix_us as RFC 3339 UTC with milliseconds ("2026-12-02T14:02:00.123Z")
 * into out (>= 32 bytes); returns out. */
char *fb_status_time(int64_t unix_us, char *out, size_t size);

#endif
