/* fault_pg.h — a private PostgreSQL cluster that a fault test may stop and start.
 *
 * The cluster of pg_virtualenv is shared by every test running at the same time, so it must
 * never be stopped; a test that stops PostgreSQL makes its own with initdb and pg_ctl in a
 * temporary directory, on a port of its own, and points the PG* environment at it (the
 * harness and every process it starts then use it). */
#ifndef FAULT_PG_H
#define FAULT_PG_H

/* Creates and starts a cluster in a temporary directory, reached only by its
 * Unix socket there under port (no TCP); sets PGHOST, PGPORT, PGUSER and PGDATABASE
 * for this process and its children. The cluster is stopped and removed at
 * exit, also when the test fails. Fails the test when PostgreSQL's programs
 * are missing. */
void fp_start(int port);

/* Stops the cluster, and its standby, at once (SIGQUIT to the
 * postmasters, no waiting): async-signal-safe, for a test's watchdog. */
void fp_kill_now(void);

/* Stops the cluster in mode ("fast" or "immediate") and waits until it is down. */
void fp_stop(const char *mode);

/* Starts the stopped cluster again and waits until it accepts connections. */
void fp_restart(void);

/* Makes a streaming standby of the cluster (pg_basebackup) on port of its
 * own, started and synchronous (synchronous_standby_names on the primary:
 * a COMMIT returns once the standby has it on disk), and points PGHOST and
 * PGPORT at both with PGTARGETSESSIONATTRS=read-write: every connection
 * made after this goes to whichever is the primary. fp_stop() and
 * fp_kill_now() still stop the first one. Fails the test when the standby
 * does not stream synchronously within 30 s. */
void fp_standby_start(int port);

/* Promotes the standby to primary and waits until it takes writes. */
void fp_promote(void);

#endif
