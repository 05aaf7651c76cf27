/* fb_members.h — the broker's live directory of the member registry: read from PostgreSQL, kept fresh by a thread of its own.
 *
 * At start the registry (fedbus_members, fedbus_member_keys) is read on a
 * PostgreSQL connection of the directory's own; then a thread keeps it
 * fresh: at once on every `NOTIFY fedbus_members` (which `fedbus member`
 * sends after each change) and every FB_MEMBERS_POLL_MS in any case, so
 * that a change made by hand in SQL counts too. Each read builds a new
 * directory (fb_memberdir) that replaces the one before; readers hold the
 * one they took (fb_members_get()), so a lookup never waits for
 * PostgreSQL.
 *
 * Two counters tell readers what changed, cheaply (one atomic load):
 * the version moves with every change of the directory; the generation
 * only when someone is cut off — a member active before is no more
 * (suspended, revoked, deleted), its CURVE key changed, or what it may
 * read changed — which is when
 * holders of open connections must look at them again.
 *
 * When PostgreSQL cannot be reached the directory last read stays in use
 * (never an empty one taken for "nobody changed"), the broker says so once
 * (WARN), and the thread reconnects every FB_MEMBERS_POLL_MS. Besides
 * fb_store.c, fb_migrate.c and fb_copy.c, the one file that uses libpq. */
#ifndef FB_MEMBERS_H
#define FB_MEMBERS_H

#include "fb_memberdir.h"

#include <stddef.h>
#include <stdint.h>

/* How often the registry is read again without a notification, ms. */
#define FB_MEMBERS_POLL_MS 2000

typedef struct fb_members fb_members_t;

/* What the directory can say about itself, for the statistics. */
typedef struct {
    size_t members, active;
    uint64_t version, generation;
    uint64_t reads;    /* registry reads that succeeded */
    uint64_t failures; /* reads or connections that failed */
    int stale;         /* the last read failed: the directory is older than FB_MEMBERS_POLL_MS */
} fb_members_info_t;

/* Reads the registry through conninfo (a libpq connection string) and
 * starts the thread that keeps it fresh. Returns the directory, or NULL
 * with a one-line reason in err when PostgreSQL cannot be read now.
 * conninfo NULL: no PostgreSQL and no thread; the directory is empty until
 * fb_members_set() gives it one (tests). */
fb_members_t *fb_members_new(const char *conninfo, char *err, size_t err_size);

/* Stops the thread, closes the connection, frees *self_p (accepts NULL;
 * sets *self_p to NULL). Directories taken with fb_members_get() stay
 * valid until released. */
void fb_members_destroy(fb_members_t **self_p);

/* The current directory, with a reference the caller drops with
 * fb_memberdir_release(). Never NULL. Any thread. */
fb_memberdir_t *fb_members_get(fb_members_t *self);

/* Replaces the directory with dir (sealed; its reference is taken),
 * moving the version and, when dir cuts someone off, the generation. Any
 * thread; the refreshing thread does exactly this. */
void fb_members_set(fb_members_t *self, fb_memberdir_t *dir);

/* The counters above. Any thread. */
uint64_t fb_members_version(const fb_members_t *self);
uint64_t fb_members_generation(const fb_members_t *self);

/* Fills *out. Any thread. */
void fb_members_info(fb_members_t *self, fb_members_info_t *out);

#endif
