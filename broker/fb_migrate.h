/* fb_migrate.h — the store's schema versions and their migration, with one-line SQL errors.
 *
 * Part of the store (with fb_store.c and fb_copy.c): libpq appears only in
 * these files. The store runs its own statements through fb_migrate_exec()
 * too, so that every error of the store reads the same. */
#ifndef FB_MIGRATE_H
#define FB_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

/* The session advisory lock a writing broker holds (one per database);
 * migrations take the transaction-level lock on the key after it. */
#define FB_MIGRATE_LOCK_KEY "7146590318425"

/* Applies the pending migrations to the database of conn in one
 * transaction, under the migration lock. Returns 0, or -1 with a one-line
 * reason in err (also when the database's version is newer than this
 * broker's); nothing is applied then. */
/* The schema version this broker migrates to: the number of migrations. */
int fb_migrate_latest(void);

int fb_migrate_run(PGconn *conn, char *err, size_t err_size);

/* Runs sql without parameters; returns 0 when its result has status want,
 * else -1 with "<start of sql>: <server's message>" in err. */
int fb_migrate_exec(PGconn *conn, const char *sql, ExecStatusType want, char *err, size_t err_size);

/* Writes "what: <message>" into err, one line: res's error, or conn's when
 * res is NULL. */
void fb_migrate_error(PGconn *conn, const char *what, const PGresult *res, char *err, size_t err_size);

#endif
