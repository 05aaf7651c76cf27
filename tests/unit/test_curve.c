/* test_curve.c — a program's secret key file: from systemd's credentials when the unit gives it, and a clear error when its user cannot read it. */
#include "fb_curve.h"
#include "fb_keys.h"

#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static char s_dir[64], s_key[128], s_creds[128];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof(s_dir), "/tmp/fb-test-curve-XXXXXX");
    if (!mkdtemp(s_dir)) return -1;
    snprintf(s_key, sizeof(s_key), "%s/broker.key", s_dir);
    snprintf(s_creds, sizeof(s_creds), "%s/creds", s_dir);
    char pub[160], err[256];
    fb_keys_t k;
    snprintf(pub, sizeof(pub), "%s/broker.pub", s_dir);
    if (fb_keys_generate("broker", &k, err, sizeof(err)) != 0) return -1;
    return fb_keys_write(&k, s_key, pub, false, err, sizeof(err));
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The unit's LoadCredential=broker.key:/etc/fedbus/broker.key: systemd
 * copies the root-owned file into $CREDENTIALS_DIRECTORY for the service's
 * user, and keys=/etc/fedbus/broker.key reads that copy. */
static void test_a_key_file_given_as_a_systemd_credential_is_read_from_credentials_directory(void **state)
{
    (void)state;
    char copy[160], cmd[600], err[512];
    assert_int_equal(mkdir(s_creds, 0700), 0);
    snprintf(copy, sizeof(copy), "%s/broker.key", s_creds);
    snprintf(cmd, sizeof(cmd), "cp %s %s && chmod 0400 %s", s_key, copy, copy);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", s_creds, 1), 0);
    fb_curve_t c;
    int rc = fb_curve_server(&c, "/nonexistent-fedbus/broker.key", err, sizeof(err));
    unsetenv("CREDENTIALS_DIRECTORY");
    if (rc != 0) fail_msg("%s", err);
    assert_true(c.on);
    assert_string_equal(c.member, "broker");
    /* Without the credential, the path itself. */
    assert_int_equal(fb_curve_server(&c, "/nonexistent-fedbus/broker.key", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent-fedbus/broker.key"));
}

/* A key file root made (0600) read by a service user: the error names the
 * file, the user and both fixes. Run as another user (nobody) when root. */
static void test_a_key_file_its_user_cannot_read_is_named_with_the_user_and_the_fix(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        if (geteuid() == 0) {
            const struct passwd *pw = getpwnam("nobody");
            if (!pw || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(3);
        } else if (chmod(s_key, 0) != 0) {
            _exit(3);
        }
        fb_curve_t c;
        char err[512];
        int rc = fb_curve_server(&c, s_key, err, sizeof(err));
        if (rc == 0) _exit(4);
        if (write(fds[1], err, strlen(err)) < 0) _exit(5);
        _exit(0);
    }
    close(fds[1]);
    char got[600] = {0};
    size_t n = 0;
    ssize_t r;
    while (n < sizeof(got) - 1 && (r = read(fds[0], got + n, sizeof(got) - 1 - n)) > 0) n += (size_t)r;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    chmod(s_key, 0600);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    const struct passwd *pw = getpwnam("nobody");
    char want[300];
    snprintf(want, sizeof(want), "%s: Permission denied: this program runs as user %s", s_key,
             geteuid() == 0 && pw ? "nobody" : getpwuid(geteuid())->pw_name);
    if (strncmp(got, want, strlen(want)) != 0) fail_msg("got '%s', want '%s...'", got, want);
    snprintf(want, sizeof(want), "LoadCredential=broker.key:%s", s_key);
    assert_non_null(strstr(got, want));
    assert_non_null(strstr(got, "chown "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_key_file_given_as_a_systemd_credential_is_read_from_credentials_directory),
        cmocka_unit_test(test_a_key_file_its_user_cannot_read_is_named_with_the_user_and_the_fix),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
