/* fb_bhttp.h — the broker's HTTP endpoint: /metrics, /healthz, /readyz, /api/status and the dashboard.
 *
 * Runs on libmicrohttpd's threads (fb_httpd), never on the broker's loop:
 * every answer is written from the newest immutable health snapshot
 * (fb_health_snap_get()), so a slow or hostile HTTP client cannot hold the
 * broker up. With a token file, /api/... and the dashboard ask for
 * "Authorization: Bearer TOKEN" or the session cookie a browser gets by
 * giving the token once (the login page's POST /dashboard/login, or
 * ?token= on a page); /metrics, /healthz and /readyz never do. */
#ifndef FB_BHTTP_H
#define FB_BHTTP_H

#include "fb_health.h"

typedef struct fb_bhttp fb_bhttp_t;

typedef struct {
    const char *bind_addr;  /* an IPv4 address */
    int port;               /* > 0 */
    const char *token_file; /* NULL or "": no token */
    fb_health_t *health;    /* borrowed; outlives the endpoint */
} fb_bhttp_opts_t;

/* Reads the token (a file not readable by others) and starts listening.
 * Returns the endpoint, or NULL after logging why. */
fb_bhttp_t *fb_bhttp_start(const fb_bhttp_opts_t *o);

/* Stops serving (waits for the requests in progress); accepts NULL, nulls *self_p. */
void fb_bhttp_stop(fb_bhttp_t **self_p);

#endif
