/* it_readme.c — every command of README.md's "By hand" block, read from the README and run against a real broker and node. */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <fcntl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define S_BASE 27900
#define S_HTTP_PORT (S_BASE + 31)

extern char **environ;

static th_t s_t;

/* The README's ports and binary, as this test runs them: its own ports. */
static const char *const s_subst[][2] = {
    {"build/cli/fedbus", FEDBUS_CLI_BIN},
    {"127.0.0.1:7711", "127.0.0.1:27910"},
    {"127.0.0.1:8101", "127.0.0.1:27931"},
    {"127.0.0.1:7704", "127.0.0.1:27904"},
};

/* Replaces every from in s (malloc'd) by to; returns the new string. */
static char *s_replace(char *s, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to), n = 0;
    for (const char *p = s; (p = strstr(p, from)); p += fl) n++;
    char *out = malloc(strlen(s) + n * (tl > fl ? tl - fl : 0) + 1), *o = out;
    for (const char *p = s, *q; ; p = q + fl) {
        q = strstr(p, from);
        size_t k = q ? (size_t)(q - p) : strlen(p);
        memcpy(o, p, k);
        o += k;
        if (!q) break;
        memcpy(o, to, tl);
        o += tl;
    }
    *o = '\0';
    free(s);
    return out;
}

/* Reads the commands of the first ```sh block after "## By hand" (lines
 * joined at a trailing backslash; comments and blank lines left out) into
 * cmds; returns how many. */
static int s_commands(char **cmds, int max)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/README.md", FEDBUS_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096], cur[8192] = "";
    int in = 0, seen = 0, n = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!seen) {
            seen = strncmp(line, "## By hand", 10) == 0;
            continue;
        }
        if (!in) {
            if (strcmp(line, "```sh") == 0) in = 1;
            continue;
        }
        if (strcmp(line, "```") == 0) break;
        const char *l = line + strspn(line, " ");
        if (!cur[0] && (*l == '#' || *l == '\0')) continue;
        size_t len = strlen(l);
        int more = len && l[len - 1] == '\\';
        size_t have = strlen(cur), take = more ? len - 1 : len;
        assert_true(have + take < sizeof(cur));
        memcpy(cur + have, l, take);
        cur[have + take] = '\0';
        if (more) continue;
        assert_true(n < max);
        cmds[n] = strdup(cur);
        for (size_t k = 0; k < sizeof(s_subst) / sizeof(s_subst[0]); k++)
            cmds[n] = s_replace(cmds[n], s_subst[k][0], s_subst[k][1]);
        n++;
        cur[0] = '\0';
    }
    fclose(f);
    return n;
}

/* Runs cmd with sh in the source tree, its own process group, stdout and
 * stderr into files; a tail is stopped once it says it is subscribed (or
 * after 5 s). Returns the exit status (0 for a tail that subscribed). */
static int s_sh(const char *cmd, char *out, size_t out_size)
{
    char full[9000];
    snprintf(full, sizeof(full), "cd '%s' && %s", FEDBUS_SOURCE_DIR, cmd);
    const char *argv[] = {"/bin/sh", "-c", full, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "it-readme-out", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, "it-readme-err", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setpgroup(&at, 0);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    int tail = strstr(cmd, " tail ") != NULL, st = 0, subscribed = 0;
    for (int i = 0; i < 600; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid) break;
        if (tail && (subscribed = th_count_lines("it-readme-err", "subscribed to") > 0)) break;
        if (tail && i >= 100) break;
        usleep(50 * 1000);
        if (i == 599) fail_msg("%s: still running after 30 s", cmd);
    }
    if (tail) {
        kill(-pid, SIGTERM);
        waitpid(pid, &st, 0);
    }
    FILE *f = fopen("it-readme-out", "r");
    size_t n = f ? fread(out, 1, out_size - 1, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    if (tail) return subscribed ? 0 : 1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Fails unless the STATE column of status's table starts at the same place
 * in the header and in the line of member id (longer than 20 characters). */
static void s_check_columns(const char *out, const char *id)
{
    const char *head = strstr(out, "\nMEMBER "), *line = strstr(out, id);
    if (!head || !line) fail_msg("status printed no table with %s: '%.600s'", id, out);
    head++;
    size_t col = (size_t)(strstr(head, "STATE") - head);
    const char *st = line + col;
    if (strlen(line) < col || (strncmp(st, "up ", 3) && strncmp(st, "never ", 6) && strncmp(st, "down ", 5) &&
                               strncmp(st, "stale ", 6)))
        fail_msg("status: the STATE column of %s is not under STATE: '%.600s'", id, out);
}

/* Fails unless what cmd printed is what the README says of it. */
static void s_check_output(const char *cmd, const char *out)
{
    const char *want = NULL, *not = NULL, *dir = "seeds/messages/kr-incheon";
    if (strstr(cmd, "curl ") && strstr(cmd, "calendar.ics")) want = "BEGIN:VEVENT"; /* the forum published above */
    else if (strstr(cmd, "curl ") && strstr(cmd, "feed.json")) want = "\"items\":[{\"id\":";
    else if (strstr(cmd, "curl ")) want = "\"message_id\"";
    else if (strstr(cmd, "| ") && strstr(cmd, " publish ")) want = "duplicate global_seq=", not = "accepted";
    else if (strstr(cmd, " publish ") && strlen(cmd) > strlen(dir) && !strcmp(cmd + strlen(cmd) - strlen(dir), dir))
        want = "duplicate global_seq="; /* the directory holds the file published before it */
    else if (strstr(cmd, " publish ")) want = "accepted global_seq=";
    else if (strstr(cmd, " --count")) want = "\n";
    else if (strstr(cmd, " status")) s_check_columns(out, "intl-example-sciencepark"), want = "kr-incheon";
    else if (strstr(cmd, " member list")) want = "kr-incheon";
    else if (strstr(cmd, " verify")) want = "verified";
    if ((want && !strstr(out, want)) || (not && strstr(out, not)))
        fail_msg("README command: %s\nprinted '%.600s'; wanted '%s'%s%s", cmd, out, want ? want : "",
                 not ? ", and not " : "", not ? not : "");
}

static void test_every_by_hand_command_of_the_readme_runs(void **state)
{
    (void)state;
    th_init(&s_t, "readme", S_BASE);
    static const char *const broker_extra[] = {"--http-port=27904", NULL};
    th_broker_start(&s_t, broker_extra);
    char http[64];
    snprintf(http, sizeof(http), "--http-port=%d", S_HTTP_PORT);
    const char *extra[] = {http, NULL};
    th_node_spawn(&s_t, 0, "kr-incheon", NULL, NULL, extra);
    assert_string_equal(s_t.node_submit[0], "tcp://127.0.0.1:27910");
    setenv("FEDBUS_FEED", s_t.feed, 1);
    setenv("FEDBUS_REPLAY", s_t.replay, 1);
    /* The commands run in the source tree: every path they are given is
     * absolute, whatever the build directory. */
    setenv("FEDBUS_PG", s_t.conninfo, 1); /* member list */
    th_member(&s_t, "intl-example-sciencepark"); /* a long id: status's columns still line up */
    if (s_t.trust) {
        char keys[PATH_MAX];
        assert_non_null(realpath(th_member(&s_t, "th-probe")->file, keys));
        setenv("FEDBUS_KEYS", keys, 1);
        setenv("FEDBUS_BROKER_KEY", s_t.broker_keys.curve_public, 1);
    }
    char body[512];
    for (int i = 0; i < 100 && th_http(S_HTTP_PORT, "GET", "/v1/health", NULL, NULL, 0, body, sizeof(body)) != 200; i++)
        usleep(100 * 1000);
    char *cmds[64];
    int n = s_commands(cmds, 64);
    assert_true(n >= 14);
    static char out[1 << 16];
    for (int i = 0; i < n; i++) {
        int rc = s_sh(cmds[i], out, sizeof(out));
        if (rc != 0) {
            char err[2048] = "";
            FILE *f = fopen("it-readme-err", "r");
            if (f) {
                err[fread(err, 1, sizeof(err) - 1, f)] = '\0';
                fclose(f);
            }
            fail_msg("README command %d failed (exit %d): %s\nstdout: %.500s\nstderr: %s", i + 1, rc, cmds[i], out, err);
        }
        s_check_output(cmds[i], out);
        free(cmds[i]);
    }
    th_cleanup(&s_t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_by_hand_command_of_the_readme_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
