/* fb_dashboard.c — looks up the dashboard's compiled-in files by URL path. */
#include "fb_dashboard.h"

#include <string.h>

/* s_files[]: every file of web/dashboard as "/dashboard/NAME", generated at
 * build time by web/embed.cmake into the build tree. */
#include "fb_dashboard_files.inc"

#define S_NFILES (sizeof(s_files) / sizeof(s_files[0]))
#define S_INDEX "/dashboard/index.html"

/* The paths that mean the page itself: the broker's root is the dashboard. */
static const char *const s_index_paths[] = {"/", "/dashboard", "/dashboard/"};
#define S_NINDEX (sizeof(s_index_paths) / sizeof(s_index_paths[0]))

const fb_asset_t *fb_dashboard_find(const char *path)
{
    if (!path) return NULL;
    for (size_t i = 0; i < S_NINDEX; i++) {
        if (strcmp(path, s_index_paths[i]) == 0) {
            path = S_INDEX;
            break;
        }
    }
    for (size_t i = 0; i < S_NFILES; i++) {
        if (strcmp(path, s_files[i].path) == 0) return &s_files[i].asset;
    }
    return NULL;
}

const char *fb_dashboard_path(size_t i)
{
    if (i < S_NINDEX) return s_index_paths[i];
    i -= S_NINDEX;
    return i < S_NFILES ? s_files[i].path : NULL;
}
