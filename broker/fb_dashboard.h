/* fb_dashboard.h — the dashboard's assets (HTML, CSS, JS), compiled into the broker and served by path.
 *
 * The broker's HTTP endpoint (fb_bhttp) answers "/" and "/dashboard/..."
 * with the asset fb_dashboard_find() names; the page itself polls
 * /api/status. Nothing is read from disk or fetched from elsewhere. */
#ifndef FB_DASHBOARD_H
#define FB_DASHBOARD_H

#include <stddef.h>

/* One asset, static for the life of the process. */
typedef struct {
    const char *path;         /* "/", "/dashboard/index.html", ... */
    const char *content_type; /* e.g. "text/html; charset=utf-8" */
    const unsigned char *data;
    size_t len;
} fb_dashboard_asset_t;

/* Returns the asset served at path (without the query string), or NULL
 * when there is none. */
const fb_dashboard_asset_t *fb_dashboard_find(const char *path);

#endif
