/* fault_pg.c — a private PostgreSQL cluster for the fault suite: initdb, pg_ctl start/stop; a synchronous standby, promoted. */
#include "fault_pg.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>

/* One cluster: the primary (fp_start) or its standby (fp_standby_start). */
typedef struct {
    char data[160], log[160], opts[256];
    int port;
    int up;
    volatile pid_t postmaster;
} s_cluster_t;

static char s_bin[256], s_dir[128];
static s_cluster_t s_c[2];

/* The postmaster's pid, from the first line of postmaster.pid. */
static void s_read_postmaster(s_cluster_t *c)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/postmaster.pid", c->data);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f && fscanf(f, "%ld", &pid) == 1) c->postmaster = (pid_t)pid;
    if (f) fclose(f);
}

void fp_kill_now(void)
{
    for (int i = 0; i < 2; i++)
        if (s_c[i].postmaster > 0) kill(s_c[i].postmaster, SIGQUIT);
}

/* Runs argv to completion (as the postgres user when we are root: initdb and
 * postgres refuse root); returns its exit status, or -1. Never fails the test,
 * so it may run at exit. */
static int s_run(const char *const *argv)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (geteuid() == 0) {
            struct passwd *pw = getpwnam("postgres");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
        }
        /* The test's directory may be closed to postgres. */
        if (chdir("/") != 0) _exit(126);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int s_pg_ctl(s_cluster_t *c, const char *action, const char *mode)
{
    char ctl[300];
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", s_bin);
    if (mode) {
        const char *argv[] = {ctl, "-D", c->data, "-m", mode, "-w", "-t", "60", action, NULL};
        return s_run(argv);
    }
    if (strcmp(action, "start")) {
        const char *argv[] = {ctl, "-D", c->data, "-w", "-t", "60", action, NULL};
        return s_run(argv);
    }
    const char *argv[] = {ctl, "-D", c->data, "-o", c->opts, "-l", c->log, "-w", "-t", "60", action, NULL};
    return s_run(argv);
}

/* Where cluster c (0 the primary, 1 the standby) keeps its data and log,
 * and how it is started: on port, by its socket in s_dir only. */
static void s_cluster_init(int i, int port)
{
    s_cluster_t *c = &s_c[i];
    c->port = port;
    snprintf(c->data, sizeof(c->data), "%s/data%d", s_dir, i);
    snprintf(c->log, sizeof(c->log), "%s/postgresql%d.log", s_dir, i);
    snprintf(c->opts, sizeof(c->opts), "-p %d -k %s -c listen_addresses= -c fsync=on", port, s_dir);
}

static void s_at_exit(void)
{
    for (int i = 0; i < 2; i++) {
        if (s_c[i].up) s_pg_ctl(&s_c[i], "stop", "immediate");
        s_c[i].up = 0;
    }
    if (s_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s_dir);
        if (system(cmd) != 0) fprintf(stderr, "fault_pg: could not remove %s\n", s_dir);
    }
}

void fp_start(int port)
{
    glob_t g;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) != 0 || g.gl_pathc == 0)
        fail_msg("no /usr/lib/postgresql/*/bin/initdb: install PostgreSQL (ops/install-deps)");
    snprintf(s_bin, sizeof(s_bin), "%s", g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    *strrchr(s_bin, '/') = '\0';
    snprintf(s_dir, sizeof(s_dir), "/tmp/fedbus-fault-pg-XXXXXX");
    if (!mkdtemp(s_dir)) fail_msg("mkdtemp: %s", strerror(errno));
    atexit(s_at_exit);
    if (geteuid() == 0) {
        struct passwd *pw = getpwnam("postgres");
        if (!pw || chown(s_dir, pw->pw_uid, pw->pw_gid) != 0) fail_msg("cannot give %s to postgres", s_dir);
    }
    s_cluster_init(0, port);
    s_cluster_t *c = &s_c[0];
    char initdb[300];
    snprintf(initdb, sizeof(initdb), "%s/initdb", s_bin);
    const char *argv[] = {initdb, "-D", c->data, "-A", "trust", "-U", "postgres", "-N", NULL};
    if (s_run(argv) != 0) fail_msg("initdb %s failed", c->data);
    if (s_pg_ctl(c, "start", NULL) != 0) fail_msg("pg_ctl start failed (see %s)", c->log);
    c->up = 1;
    s_read_postmaster(c);
    char p[16];
    snprintf(p, sizeof(p), "%d", port);
    setenv("PGHOST", s_dir, 1);
    setenv("PGPORT", p, 1);
    setenv("PGUSER", "postgres", 1);
    setenv("PGDATABASE", "postgres", 1);
    unsetenv("PGPASSWORD");
}

void fp_stop(const char *mode)
{
    s_cluster_t *c = &s_c[0];
    if (s_pg_ctl(c, "stop", mode) != 0) fail_msg("pg_ctl stop -m %s failed (see %s)", mode, c->log);
    c->up = 0;
    c->postmaster = 0;
}

void fp_restart(void)
{
    s_cluster_t *c = &s_c[0];
    if (s_pg_ctl(c, "start", NULL) != 0) fail_msg("pg_ctl start failed (see %s)", c->log);
    c->up = 1;
    s_read_postmaster(c);
}

/* The first value sql gives on the cluster at port (its socket in s_dir),
 * into out; 0, or -1 when it cannot be asked. */
static int s_ask(int port, const char *sql, char *out, size_t size)
{
    char conninfo[300];
    snprintf(conninfo, sizeof(conninfo), "host=%s port=%d user=postgres dbname=postgres connect_timeout=5", s_dir,
             port);
    PGconn *conn = PQconnectdb(conninfo);
    int rc = -1;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *r = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || (st == PGRES_TUPLES_OK && PQntuples(r) > 0)) {
            snprintf(out, size, "%s", st == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : "");
            rc = 0;
        }
        PQclear(r);
    }
    PQfinish(conn);
    return rc;
}

void fp_standby_start(int port)
{
    s_cluster_t *p = &s_c[0], *c = &s_c[1];
    s_cluster_init(1, port);
    char bb[300], from[16];
    snprintf(bb, sizeof(bb), "%s/pg_basebackup", s_bin);
    snprintf(from, sizeof(from), "%d", p->port);
    /* -R: standby.signal, and primary_conninfo naming this standby, so that
     * the primary can count it as a synchronous one. */
    const char *argv[] = {bb, "-D", c->data, "-h", s_dir, "-p", from, "-U", "postgres", "-X", "stream", "-R", NULL};
    if (s_run(argv) != 0) fail_msg("pg_basebackup of %s failed", p->data);
    if (s_pg_ctl(c, "start", NULL) != 0) fail_msg("pg_ctl start of the standby failed (see %s)", c->log);
    c->up = 1;
    s_read_postmaster(c);
    /* Synchronous: a COMMIT returns once the standby has the WAL on disk,
     * so that what the broker acked survives the primary. Set after the
     * base backup, so that the standby, once promoted, waits for no one. */
    char v[64];
    if (s_ask(p->port, "ALTER SYSTEM SET synchronous_standby_names = '*'", v, sizeof(v)) != 0 ||
        s_ask(p->port, "SELECT pg_reload_conf()", v, sizeof(v)) != 0)
        fail_msg("cannot make the standby synchronous (see %s)", p->log);
    int sync = 0;
    for (int i = 0; i < 300 && !sync; i++) {
        sync = s_ask(p->port, "SELECT sync_state FROM pg_stat_replication", v, sizeof(v)) == 0 &&
               strcmp(v, "sync") == 0;
        if (!sync) usleep(100 * 1000);
    }
    if (!sync) fail_msg("the standby is not streaming synchronously after 30 s (see %s)", c->log);
    /* Every connection of the test and its processes follows the primary. */
    char hosts[300], ports[32];
    snprintf(hosts, sizeof(hosts), "%s,%s", s_dir, s_dir);
    snprintf(ports, sizeof(ports), "%d,%d", p->port, c->port);
    setenv("PGHOST", hosts, 1);
    setenv("PGPORT", ports, 1);
    setenv("PGTARGETSESSIONATTRS", "read-write", 1);
}

void fp_promote(void)
{
    s_cluster_t *c = &s_c[1];
    if (s_pg_ctl(c, "promote", NULL) != 0) fail_msg("pg_ctl promote failed (see %s)", c->log);
    char v[16] = "";
    if (s_ask(c->port, "SELECT pg_is_in_recovery()", v, sizeof(v)) != 0 || strcmp(v, "f") != 0)
        fail_msg("the promoted standby is still in recovery (see %s)", c->log);
}
