/* it_harness.c — the harness itself: nodes keep their journal in the test's own directory, and the processes it
 * starts hold none of the test's descriptors (a flock the test lets go of is free, though they run on).
 * Ports 26300-26312. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static th_t s_t;

static int s_teardown(void **state)
{
    (void)state;
    th_cleanup(&s_t);
    return 0;
}

/* Waits up to 10 s for a line of path that holds needle; fails the test otherwise. */
static void s_wait_line(const char *path, const char *needle)
{
    for (int i = 0; i < 100; i++) {
        if (th_count_lines(path, needle) > 0) return;
        usleep(100 * 1000);
    }
    fail_msg("no line with '%s' in %s", needle, path);
}

static int s_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static void test_nodes_keep_their_journal_in_the_tests_own_state_dir_which_th_init_empties(void **state)
{
    (void)state;
    th_init(&s_t, "harness", 26300);
    assert_string_equal(s_t.dir, "it-harness");
    th_broker_start(&s_t, NULL);
    int n = th_node_start(&s_t, "kr-incheon", NULL);
    char dir[200];
    assert_string_equal(th_state_dir(&s_t, "kr-incheon", dir, sizeof(dir)), "it-harness/state/kr-incheon");
    s_wait_line(s_t.node_log[n], "outbox: journal it-harness/state/kr-incheon");
    /* On disk: a publish confirmed went through the journal there. */
    fb_publisher_t *pub = fb_publisher_new(s_t.node_submit[n]);
    const char *json = th_event_json("kr-incheon", "forum", "journaled");
    fb_ack_t ack;
    assert_int_equal(fb_publisher_send_json(pub, json, strlen(json), &ack, 15000), FB_OK);
    assert_int_equal(ack.status, FB_ACK_ACCEPTED);
    fb_publisher_destroy(&pub);
    assert_true(s_exists("it-harness/state/kr-incheon/lock"));
    assert_true(s_exists("it-harness/state/kr-incheon/seg-0000000000000001.journal"));
    th_cleanup(&s_t);
    /* The next th_init of the test starts it with nothing. */
    th_init(&s_t, "harness", 26300);
    assert_true(s_exists("it-harness"));
    assert_false(s_exists("it-harness/state"));
}

/* Returns 1 when a descriptor of process pid (0: the caller) names path. */
static int s_holds(pid_t pid, const char *path)
{
    char fds[64];
    snprintf(fds, sizeof(fds), pid ? "/proc/%ld/fd" : "/proc/self/fd", (long)pid);
    DIR *d = opendir(fds);
    assert_non_null(d);
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char link[PATH_MAX], target[PATH_MAX];
        snprintf(link, sizeof(link), "%s/%s", fds, e->d_name);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n <= 0) continue;
        target[n] = '\0';
        found = strcmp(target, path) == 0;
    }
    closedir(d);
    return found;
}

static void test_processes_it_starts_hold_no_descriptor_of_the_test_such_as_its_flock(void **state)
{
    (void)state;
    th_init(&s_t, "harness", 26300);
    char path[PATH_MAX];
    assert_non_null(realpath(s_t.dir, path));
    strncat(path, "/lock-of-the-caller", sizeof(path) - strlen(path) - 1);
    /* As flock(1) holds it: open across exec, locked. */
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    assert_true(s_holds(0, path));
    th_broker_start(&s_t, NULL);
    int n = th_node_start(&s_t, "kr-seoul", NULL);
    char cmd[PATH_MAX + 64], *out = NULL;
    snprintf(cmd, sizeof(cmd), "for f in /proc/$$/fd/*; do readlink \"$f\"; done; true");
    const char *sh[] = {"/bin/sh", "-c", cmd, NULL};
    assert_int_equal(th_run(sh, &out, 10), 0);
    if (strstr(out, path)) fail_msg("a command th_run() started holds %s:\n%s", path, out);
    free(out);
    if (s_holds(s_t.broker, path)) fail_msg("the broker holds %s", path);
    if (s_holds(s_t.nodes[n], path)) fail_msg("the node holds %s", path);
    /* The test lets go: the lock is free, though the broker and node run on. */
    close(fd);
    int again = open(path, O_RDWR);
    assert_true(again >= 0);
    if (flock(again, LOCK_EX | LOCK_NB) != 0) fail_msg("the lock is still held: %s", strerror(errno));
    close(again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_nodes_keep_their_journal_in_the_tests_own_state_dir_which_th_init_empties,
                                  s_teardown),
        cmocka_unit_test_teardown(test_processes_it_starts_hold_no_descriptor_of_the_test_such_as_its_flock,
                                  s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
