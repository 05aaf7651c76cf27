/* test_daemon.c — a daemon's start-up: --help, refusals and their exit codes, the log, the stop flag. */
#include "fb_daemon.h"
#include "fb_log.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

typedef struct {
    char log_level[16];
    char member[64];
    int checked;
} s_cfg_t;

#define S_STR(f) offsetof(s_cfg_t, f), sizeof(((s_cfg_t *)0)->f)

static const fb_cfg_key_t s_keys[] = {
    {"log-level", FB_CFG_STR, S_STR(log_level), "info", 0, 0, "err, warn, info or debug"},
    {"member", FB_CFG_STR, S_STR(member), "", 0, 0, "member id"},
    FB_CFG_END,
};

/* Refuses a member "bad", names the log after the member otherwise. */
static int s_check(const void *cfg, char *component, size_t component_size, char *err, size_t err_size)
{
    s_cfg_t *c = (s_cfg_t *)cfg;
    c->checked = 1;
    if (strcmp(c->member, "bad") == 0) {
        snprintf(err, err_size, "member: '%s' is refused", c->member);
        return -1;
    }
    if (c->member[0]) snprintf(component, component_size, "test %s", c->member);
    return 0;
}

static const fb_daemon_t s_daemon = {
    .program = "fedbus-test",
    .usage = "usage: fedbus-test [--key=value ...]\n\nKeys:\n",
    .usage_tail = "The tail of the help.\n",
    .keys = s_keys,
    .log_level_offset = offsetof(s_cfg_t, log_level),
    .component = "tester",
    .check = s_check,
};

/* Runs fb_daemon_start on the given arguments with fd (1: stdout, 2:
 * stderr) going to a file, whose text comes back in out (caller frees). */
static int s_start(const char *const *args, int fd, char **out, s_cfg_t *cfg, volatile sig_atomic_t **stop)
{
    char *argv[8] = {"fedbus-test"};
    int argc = 1;
    for (; args && args[argc - 1]; argc++) argv[argc] = (char *)args[argc - 1];
    char path[] = "/tmp/fedbus-test-daemon-XXXXXX";
    int tmp = mkstemp(path);
    assert_true(tmp >= 0);
    fflush(fd == 1 ? stdout : stderr);
    int saved = dup(fd);
    dup2(tmp, fd);
    memset(cfg, 0, sizeof(*cfg));
    int rc = fb_daemon_start(&s_daemon, argc, argv, cfg, stop);
    if (fd == 2) fb_info("started");
    fflush(fd == 1 ? stdout : stderr);
    dup2(saved, fd);
    close(saved);
    off_t size = lseek(tmp, 0, SEEK_END);
    *out = calloc(1, (size_t)size + 1);
    assert_int_equal(pread(tmp, *out, (size_t)size, 0), size);
    close(tmp);
    unlink(path);
    return rc;
}

static int s_setup(void **state)
{
    (void)state;
    unsetenv("FEDBUS_LOG_LEVEL");
    unsetenv("FEDBUS_MEMBER");
    return 0;
}

static void test_help_prints_usage_keys_and_tail_and_exits_0(void **state)
{
    (void)state;
    s_cfg_t cfg;
    volatile sig_atomic_t *stop = NULL;
    char *out;
    const char *args[] = {"--help", NULL};
    assert_int_equal(s_start(args, 1, &out, &cfg, &stop), 0);
    assert_non_null(strstr(out, "usage: fedbus-test"));
    assert_non_null(strstr(out, "--log-level"));
    assert_non_null(strstr(out, "--member"));
    assert_true(strstr(out, "--member") < strstr(out, "The tail of the help."));
    assert_null(stop);
    free(out);
}

static void test_refusals_exit_2_with_the_reason_after_the_program_name(void **state)
{
    (void)state;
    struct {
        const char *args[3];
        const char *says;
    } cases[] = {
        {{"--bogus", NULL}, "fedbus-test: "},
        {{"stray", NULL}, "fedbus-test: unexpected argument (see --help)"},
        {{"--log-level=loud", NULL}, "fedbus-test: log-level: 'loud' is not err, warn, info or debug"},
        {{"--member=bad", NULL}, "fedbus-test: member: 'bad' is refused"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s_cfg_t cfg;
        volatile sig_atomic_t *stop = NULL;
        char *out;
        assert_int_equal(s_start(cases[i].args, 2, &out, &cfg, &stop), 2);
        if (!strstr(out, cases[i].says)) fail_msg("%s: stderr '%s' lacks '%s'", cases[i].args[0], out, cases[i].says);
        assert_null(stop);
        free(out);
    }
}

static void test_good_flags_run_with_the_checked_config_and_its_log_component(void **state)
{
    (void)state;
    s_cfg_t cfg;
    volatile sig_atomic_t *stop = NULL;
    char *out;
    const char *args[] = {"--member=kr-busan", "--log-level=debug", NULL};
    assert_int_equal(s_start(args, 2, &out, &cfg, &stop), FB_DAEMON_RUN);
    assert_string_equal(cfg.member, "kr-busan");
    assert_int_equal(cfg.checked, 1);
    assert_int_equal(fb_log_level_current, FB_LOG_DEBUG);
    assert_non_null(strstr(out, "INFO test kr-busan: started"));
    free(out);
    const char *plain[] = {"--log-level=warn", NULL};
    assert_int_equal(s_start(plain, 2, &out, &cfg, &stop), FB_DAEMON_RUN);
    assert_int_equal(fb_log_level_current, FB_LOG_WARN);
    fb_log_init("tester", FB_LOG_INFO);
    free(out);
}

static void test_sigterm_and_sigint_set_the_stop_flag_and_sigpipe_is_ignored(void **state)
{
    (void)state;
    s_cfg_t cfg;
    volatile sig_atomic_t *stop = NULL;
    char *out;
    assert_int_equal(s_start(NULL, 2, &out, &cfg, &stop), FB_DAEMON_RUN);
    free(out);
    assert_non_null(stop);
    assert_int_equal(*stop, 0);
    raise(SIGPIPE); /* would end the test were it not ignored */
    assert_int_equal(*stop, 0);
    raise(SIGTERM);
    assert_int_equal(*stop, 1);
    *stop = 0;
    raise(SIGINT);
    assert_int_equal(*stop, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_help_prints_usage_keys_and_tail_and_exits_0, s_setup),
        cmocka_unit_test_setup(test_refusals_exit_2_with_the_reason_after_the_program_name, s_setup),
        cmocka_unit_test_setup(test_good_flags_run_with_the_checked_config_and_its_log_component, s_setup),
        cmocka_unit_test_setup(test_sigterm_and_sigint_set_the_stop_flag_and_sigpipe_is_ignored, s_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
