/* fb_dashboard.h — the admin dashboard's files (web/dashboard), compiled into the broker, found by URL path.
 *
 * The build turns every file of web/dashboard into a constant array
 * (web/embed.cmake), so the broker serves the page without reading the disk
 * and without anything to install beside the program. The HTTP server asks
 * fb_dashboard_find() for a request's path and answers 404 on NULL; the
 * assets are read-only and live as long as the program, so they can be sent
 * without copying and from any thread. */
#ifndef FB_DASHBOARD_H
#define FB_DASHBOARD_H

#include <stddef.h>

/* One file to send: its bytes (followed by a NUL that len leaves out) and
 * its Content-Type header's value. */
typedef struct {
    const char *data;
    size_t len;
    const char *content_type;
} fb_asset_t;

/* The asset for path (the request's path without the query string): "/",
 * "/dashboard" and "/dashboard/" are index.html, "/dashboard/NAME" is the
 * file NAME; exact, case-sensitive matches only. Returns a pointer to static
 * storage (never to be freed), or NULL for any other path and for NULL. */
const fb_asset_t *fb_dashboard_find(const char *path);

/* The i-th path fb_dashboard_find() answers (i from 0; a static string), or
 * NULL when i is past the last: for a server whose routes are exact paths. */
const char *fb_dashboard_path(size_t i);

#endif
