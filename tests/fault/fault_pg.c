/* fault_pg.c — a private PostgreSQL cluster for the fault suite: initdb, pg_ctl start/stop. */
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

static char s_bin[256], s_dir[128], s_data[160], s_log[160], s_opts[256];
static int s_up;
static volatile pid_t s_postmaster;

/* The postmaster's pid, from the first line of postmaster.pid. */
static void s_read_postmaster(void)
{
    char path[200];
    snprintf(path, sizeof(path), "%s/postmaster.pid", s_data);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f && fscanf(f, "%ld", &pid) == 1) s_postmaster = (pid_t)pid;
    if (f) fclose(f);
}

void fp_kill_now(void)
{
    if (s_postmaster > 0) kill(s_postmaster, SIGQUIT);
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

static int s_pg_ctl(const char *action, const char *mode)
{
    char ctl[300];
    snprintf(ctl, sizeof(ctl), "%s/pg_ctl", s_bin);
    if (mode) {
        const char *argv[] = {ctl, "-D", s_data, "-m", mode, "-w", "-t", "60", action, NULL};
        return s_run(argv);
    }
    const char *argv[] = {ctl, "-D", s_data, "-o", s_opts, "-l", s_log, "-w", "-t", "60", action, NULL};
    return s_run(argv);
}

static void s_at_exit(void)
{
    if (s_up) s_pg_ctl("stop", "immediate");
    s_up = 0;
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
    snprintf(s_data, sizeof(s_data), "%s/data", s_dir);
    snprintf(s_log, sizeof(s_log), "%s/postgresql.log", s_dir);
    snprintf(s_opts, sizeof(s_opts), "-p %d -k %s -c listen_addresses= -c fsync=on", port, s_dir);
    char initdb[300];
    snprintf(initdb, sizeof(initdb), "%s/initdb", s_bin);
    const char *argv[] = {initdb, "-D", s_data, "-A", "trust", "-U", "postgres", "-N", NULL};
    if (s_run(argv) != 0) fail_msg("initdb %s failed", s_data);
    if (s_pg_ctl("start", NULL) != 0) fail_msg("pg_ctl start failed (see %s)", s_log);
    s_up = 1;
    s_read_postmaster();
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
    if (s_pg_ctl("stop", mode) != 0) fail_msg("pg_ctl stop -m %s failed (see %s)", mode, s_log);
    s_up = 0;
    s_postmaster = 0;
}

void fp_restart(void)
{
    if (s_pg_ctl("start", NULL) != 0) fail_msg("pg_ctl start failed (see %s)", s_log);
    s_up = 1;
    s_read_postmaster();
}
