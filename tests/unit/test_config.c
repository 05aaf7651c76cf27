/* test_config.c — one key table, four sources (default < file < environment < flags), and every refusal. */
#include "fb_config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

typedef struct {
    char name[16];
    long long port;
    int verbose;
    char log_level[8];
    char path[64];
} s_cfg_t;

#define S_STR(f) offsetof(s_cfg_t, f), sizeof(((s_cfg_t *)0)->f)

static const fb_cfg_key_t s_keys[] = {
    {"name", FB_CFG_STR, S_STR(name), "fedbus", 0, 0, "instance name"},
    {"port", FB_CFG_INT, offsetof(s_cfg_t, port), 0, "7701", 1, 65535, "TCP port"},
    {"verbose", FB_CFG_BOOL, offsetof(s_cfg_t, verbose), 0, "false", 0, 0, "log more"},
    {"log-level", FB_CFG_STR, S_STR(log_level), "info", 0, 0, "err, warn, info or debug"},
    {"path", FB_CFG_STR, S_STR(path), NULL, 0, 0, "output file"},
    FB_CFG_END,
};

static const char *const s_env[] = {"FEDBUS_NAME", "FEDBUS_PORT", "FEDBUS_VERBOSE", "FEDBUS_LOG_LEVEL",
                                    "FEDBUS_PATH"};

/* The temp file of the running test, removed by s_teardown. */
static char s_ini_path[64];

static void s_clear_env(void)
{
    for (size_t i = 0; i < sizeof(s_env) / sizeof(s_env[0]); i++) unsetenv(s_env[i]);
}

static int s_setup(void **state)
{
    (void)state;
    s_clear_env();
    s_ini_path[0] = '\0';
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    s_clear_env();
    if (s_ini_path[0]) unlink(s_ini_path);
    s_ini_path[0] = '\0';
    return 0;
}

/* Writes text to a new temp file; returns its path (valid until teardown). */
static const char *s_write_ini(const char *text)
{
    snprintf(s_ini_path, sizeof(s_ini_path), "/tmp/fedbus-test-config-XXXXXX");
    int fd = mkstemp(s_ini_path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    return s_ini_path;
}

/* Runs fb_config_load over argv (NULL-terminated, argv[0] is the program). */
static int s_load(s_cfg_t *cfg, char **argv, int *nargs, char *err, size_t err_size)
{
    int argc = 0;
    while (argv[argc]) argc++;
    memset(cfg, 0x5A, sizeof(*cfg));
    err[0] = '\0';
    return fb_config_load(s_keys, cfg, argc, argv, nargs, err, err_size);
}

/* Asserts loading argv fails with an error containing each of the given words. */
static void s_assert_fails(char **argv, const char *word1, const char *word2)
{
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    int rc = s_load(&cfg, argv, &nargs, err, sizeof(err));
    if (rc != -1) fail_msg("expected -1, got %d", rc);
    if (word1 && !strstr(err, word1)) fail_msg("error '%s' does not name '%s'", err, word1);
    if (word2 && !strstr(err, word2)) fail_msg("error '%s' does not name '%s'", err, word2);
}

static void test_defaults_fill_every_key(void **state)
{
    (void)state;
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", NULL};
    assert_int_equal(s_load(&cfg, argv, &nargs, err, sizeof(err)), 0);
    assert_int_equal(nargs, 0);
    assert_string_equal(cfg.name, "fedbus");
    assert_int_equal(cfg.port, 7701);
    assert_int_equal(cfg.verbose, 0);
    assert_string_equal(cfg.log_level, "info");
    assert_string_equal(cfg.path, ""); /* NULL default = empty */
}

static void test_ini_file_sets_keys_in_any_section(void **state)
{
    (void)state;
    const char *path = s_write_ini("; fedbus test config\n"
                                   "name = from-file\n"
                                   "[broker]\n"
                                   "port = 8000\n"
                                   "# another comment\n"
                                   "[node]\n"
                                   "verbose = yes\n"
                                   "log-level = debug\n");
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", opt, NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_string_equal(cfg.name, "from-file");
    assert_int_equal(cfg.port, 8000);
    assert_int_equal(cfg.verbose, 1);
    assert_string_equal(cfg.log_level, "debug");
    assert_string_equal(cfg.path, ""); /* untouched keys keep their default */
    assert_int_equal(nargs, 0);
}

static void test_config_file_may_follow_as_a_separate_argument(void **state)
{
    (void)state;
    const char *path = s_write_ini("port = 8001\n");
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", "--config", (char *)path, "left", NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.port, 8001);
    assert_int_equal(nargs, 1); /* the file name is not a positional argument */
    assert_string_equal(argv[1], "left");
}

static void test_environment_overrides_the_file(void **state)
{
    (void)state;
    const char *path = s_write_ini("port = 8000\nname = from-file\nlog-level = warn\n");
    setenv("FEDBUS_PORT", "9000", 1);
    setenv("FEDBUS_LOG_LEVEL", "debug", 1); /* '-' becomes '_' */
    setenv("FEDBUS_VERBOSE", "on", 1);
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", opt, NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.port, 9000);
    assert_string_equal(cfg.log_level, "debug");
    assert_int_equal(cfg.verbose, 1);
    assert_string_equal(cfg.name, "from-file"); /* not in the environment */
}

/* What a daemon logs at start: which FEDBUS_ variables set keys. */
static void test_the_variables_that_set_keys_are_named(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(fb_config_from_env(s_keys, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    setenv("FEDBUS_LOG_LEVEL", "debug", 1);
    setenv("FEDBUS_NAME", "x", 1);
    setenv("FEDBUS_UNKNOWN", "y", 1); /* no key of that name: not one of them */
    assert_int_equal(fb_config_from_env(s_keys, out, sizeof(out)), 2);
    unsetenv("FEDBUS_UNKNOWN");
    assert_string_equal(out, "FEDBUS_NAME, FEDBUS_LOG_LEVEL"); /* in the keys' order */
    /* cut to the buffer, never past it; still counted */
    char small[16];
    memset(small, 'x', sizeof(small));
    assert_int_equal(fb_config_from_env(s_keys, small, 14), 2);
    assert_string_equal(small, "FEDBUS_NAME");
    assert_int_equal(small[15], 'x');
}

static void test_command_line_overrides_the_environment(void **state)
{
    (void)state;
    setenv("FEDBUS_PORT", "9000", 1);
    setenv("FEDBUS_NAME", "from-env", 1);
    setenv("FEDBUS_PATH", "/env/path", 1);
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", "--port=9100", "--name", "from-cli", NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.port, 9100);
    assert_string_equal(cfg.name, "from-cli");
    assert_string_equal(cfg.path, "/env/path");
    assert_int_equal(nargs, 0);
}

static void test_command_line_overrides_the_file(void **state)
{
    (void)state;
    const char *path = s_write_ini("port = 8000\n");
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    /* The flag comes before --config on the line and still wins. */
    char *argv[] = {"prog", "--port", "8200", opt, NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.port, 8200);
}

static void test_bool_accepts_the_usual_spellings(void **state)
{
    (void)state;
    const char *yes[] = {"1", "true", "TRUE", "yes", "Yes", "on", "ON"};
    const char *no[] = {"0", "false", "False", "no", "NO", "off", "Off"};
    s_cfg_t cfg;
    char err[256];
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        cfg.verbose = 0;
        assert_int_equal(fb_config_set(s_keys, &cfg, "verbose", yes[i], err, sizeof(err)), 0);
        if (cfg.verbose != 1) fail_msg("'%s' is not true", yes[i]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        cfg.verbose = 1;
        assert_int_equal(fb_config_set(s_keys, &cfg, "verbose", no[i], err, sizeof(err)), 0);
        if (cfg.verbose != 0) fail_msg("'%s' is not false", no[i]);
    }
    err[0] = '\0';
    assert_int_equal(fb_config_set(s_keys, &cfg, "verbose", "maybe", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "verbose"));
    assert_non_null(strstr(err, "maybe"));
    assert_int_equal(fb_config_set(s_keys, &cfg, "verbose", "", err, sizeof(err)), -1);
}

static void test_bare_bool_flag_means_true_and_takes_no_value(void **state)
{
    (void)state;
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog", "--verbose", "file.json", NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.verbose, 1);
    assert_int_equal(nargs, 1);
    assert_string_equal(argv[1], "file.json");
    char *argv2[] = {"prog", "--verbose=off", NULL};
    if (s_load(&cfg, argv2, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(cfg.verbose, 0);
}

static void test_integer_bounds_are_enforced(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--port=0", NULL}, "port", "outside");
    s_assert_fails((char *[]){"prog", "--port=65536", NULL}, "port", "1..65535");
    s_assert_fails((char *[]){"prog", "--port", "-5", NULL}, "port", "outside");
    s_cfg_t cfg;
    char err[256];
    int nargs;
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "--port=1", NULL}, &nargs, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 1);
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "--port=65535", NULL}, &nargs, err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 65535);
}

static void test_integer_must_be_all_digits(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--port=12x", NULL}, "port", "not an integer");
    s_assert_fails((char *[]){"prog", "--port=", NULL}, "port", "not an integer");
    s_assert_fails((char *[]){"prog", "--port=0x10", NULL}, "port", "not an integer");
    s_assert_fails((char *[]){"prog", "--port=99999999999999999999", NULL}, "port", "not an integer");
}

static void test_bad_value_in_the_environment_is_an_error(void **state)
{
    (void)state;
    setenv("FEDBUS_PORT", "many", 1);
    s_assert_fails((char *[]){"prog", NULL}, "port", "many");
}

static void test_unknown_key_in_the_file_is_named(void **state)
{
    (void)state;
    const char *path = s_write_ini("[broker]\nport = 8000\nprot = 8001\n");
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_assert_fails((char *[]){"prog", opt, NULL}, "prot", "unknown key");
}

static void test_bad_value_in_the_file_is_named(void **state)
{
    (void)state;
    const char *path = s_write_ini("port = 70000\n");
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_assert_fails((char *[]){"prog", opt, NULL}, "port", "70000");
}

static void test_line_without_a_value_in_the_file_is_an_error(void **state)
{
    (void)state;
    const char *path = s_write_ini("port = 8000\njust some words\n");
    char opt[128];
    snprintf(opt, sizeof(opt), "--config=%s", path);
    s_assert_fails((char *[]){"prog", opt, NULL}, path, ":2:");
}

static void test_unknown_option_is_an_error(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--prot=8000", NULL}, "--prot", "unknown option");
    s_assert_fails((char *[]){"prog", "--prot", NULL}, "--prot", "unknown option");
}

static void test_a_mistyped_option_names_the_nearest_key(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--pot=8000", NULL}, "unknown option --pot: did you mean --port?", NULL);
    s_assert_fails((char *[]){"prog", "--nam", "x", NULL}, "did you mean --name?", NULL);
    s_cfg_t cfg;
    char err[256];
    int nargs;
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "--xyzzy=1", NULL}, &nargs, err, sizeof(err)), -1);
    assert_null(strstr(err, "did you mean"));
}

static void test_option_that_only_starts_like_config_is_unknown(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--configure=yes", NULL}, "--configure", "unknown option");
    s_assert_fails((char *[]){"prog", "--config-dir", "/etc", NULL}, "--config-dir", "unknown option");
}

static void test_option_without_its_value_is_an_error(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--port", NULL}, "--port", "needs a value");
    s_assert_fails((char *[]){"prog", "--name", NULL}, "--name", "needs a value");
}

static void test_string_longer_than_its_field_is_an_error(void **state)
{
    (void)state;
    /* name is char[16]: 15 bytes fit, 16 do not. */
    s_cfg_t cfg;
    char err[256];
    int nargs;
    char *ok[] = {"prog", "--name=123456789012345", NULL};
    assert_int_equal(s_load(&cfg, ok, &nargs, err, sizeof(err)), 0);
    assert_string_equal(cfg.name, "123456789012345");
    s_assert_fails((char *[]){"prog", "--name=1234567890123456", NULL}, "name", "15 bytes");
    setenv("FEDBUS_LOG_LEVEL", "verbose-debug", 1);
    s_assert_fails((char *[]){"prog", NULL}, "log-level", "7 bytes");
}

static void test_help_returns_one(void **state)
{
    (void)state;
    s_cfg_t cfg;
    char err[256];
    int nargs;
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "--help", NULL}, &nargs, err, sizeof(err)), 1);
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "-h", NULL}, &nargs, err, sizeof(err)), 1);
    assert_int_equal(s_load(&cfg, (char *[]){"prog", "run", "--port=8000", "--help", NULL}, &nargs, err,
                            sizeof(err)),
                     1);
}

static void test_positional_arguments_come_back_in_order(void **state)
{
    (void)state;
    s_cfg_t cfg;
    char err[256];
    int nargs = -1;
    char *argv[] = {"prog",       "publish", "--port=8000", "a.json", "--name", "n1",
                    "b.json",     "-",       "--verbose",   "--",     "--not-an-option",
                    "c.json",     NULL};
    if (s_load(&cfg, argv, &nargs, err, sizeof(err)) != 0) fail_msg("%s", err);
    assert_int_equal(nargs, 6);
    assert_string_equal(argv[0], "prog");
    assert_string_equal(argv[1], "publish");
    assert_string_equal(argv[2], "a.json");
    assert_string_equal(argv[3], "b.json");
    assert_string_equal(argv[4], "-");
    assert_string_equal(argv[5], "--not-an-option");
    assert_string_equal(argv[6], "c.json");
    assert_int_equal(cfg.port, 8000);
    assert_string_equal(cfg.name, "n1");
    assert_int_equal(cfg.verbose, 1);
}

static void test_missing_config_file_is_an_error(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--config=/nonexistent/fedbus-test.ini", NULL},
                   "/nonexistent/fedbus-test.ini", "cannot read");
}

static void test_config_flag_without_a_value_is_an_error(void **state)
{
    (void)state;
    s_assert_fails((char *[]){"prog", "--config", NULL}, "--config", "file name");
}

static void test_set_refuses_an_unknown_key(void **state)
{
    (void)state;
    s_cfg_t cfg;
    char err[256] = "";
    assert_int_equal(fb_config_set(s_keys, &cfg, "colour", "blue", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "colour"));
    assert_int_equal(fb_config_set(s_keys, &cfg, "port", "1234", err, sizeof(err)), 0);
    assert_int_equal(cfg.port, 1234);
    /* A prefix of a key is not the key. */
    assert_int_equal(fb_config_set(s_keys, &cfg, "por", "1", err, sizeof(err)), -1);
}

static void test_invalid_default_in_the_table_is_reported(void **state)
{
    (void)state;
    static const fb_cfg_key_t bad[] = {
        {"port", FB_CFG_INT, offsetof(s_cfg_t, port), 0, "0", 1, 10, "TCP port"},
        FB_CFG_END,
    };
    s_cfg_t cfg;
    char err[256] = "";
    int nargs;
    char *argv[] = {"prog", NULL};
    assert_int_equal(fb_config_load(bad, &cfg, 1, argv, &nargs, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "port"));
}

static void test_help_lists_every_key_with_its_type_and_default(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    fb_config_help(s_keys, f);
    long size = ftell(f);
    assert_true(size > 0);
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    const char *want[] = {"--name=TEXT", "instance name (default: fedbus)", "--port=N",
                          "TCP port (default: 7701)", "--verbose=BOOL", "--log-level=TEXT",
                          "--path=TEXT", "--config=FILE", "--help", "FEDBUS_"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i])) fail_msg("help lacks '%s':\n%s", want[i], text);
    /* A key without a default shows none. */
    assert_null(strstr(text, "output file (default"));
    free(text);
}

static void test_durations_are_a_number_and_a_unit(void **state)
{
    (void)state;
    long long ms = -1;
    assert_int_equal(fb_config_duration("30d", &ms), 0);
    assert_int_equal(ms, 30 * 86400000LL);
    assert_int_equal(fb_config_duration("12h", &ms), 0);
    assert_int_equal(ms, 12 * 3600000LL);
    assert_int_equal(fb_config_duration("90m", &ms), 0);
    assert_int_equal(ms, 90 * 60000LL);
    assert_int_equal(fb_config_duration("45s", &ms), 0);
    assert_int_equal(ms, 45000);
    assert_int_equal(fb_config_duration("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(fb_config_duration("0", &ms), 0);
    assert_int_equal(ms, 0);
    const char *bad[] = {"", "30", "d", "30x", "30 d", "-1d", "1.5h", "30dd", "99999999999999999999d", "9223372036854775807d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (fb_config_duration(bad[i], &ms) == 0) fail_msg("'%s' was taken as %lld ms", bad[i], ms);
}

typedef struct {
    long long period;
} s_dur_cfg_t;

static void test_a_duration_key_says_what_is_wrong_in_one_line(void **state)
{
    (void)state;
    const fb_cfg_key_t keys[] = {
        {"retention-period", FB_CFG_DURATION, offsetof(s_dur_cfg_t, period), 0, "1d", 1000, 366 * 86400000LL, "width"},
        FB_CFG_END,
    };
    s_dur_cfg_t c;
    char err[160];
    assert_int_equal(fb_config_set(keys, &c, "retention-period", "2h", err, sizeof(err)), 0);
    assert_int_equal(c.period, 2 * 3600000LL);
    assert_int_equal(fb_config_set(keys, &c, "retention-period", "500ms", err, sizeof(err)), -1);
    assert_string_equal(err, "retention-period: 500ms is outside 1s..366d");
    assert_int_equal(fb_config_set(keys, &c, "retention-period", "1 day", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "not a duration"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define S_T(fn) cmocka_unit_test_setup_teardown(fn, s_setup, s_teardown)
        S_T(test_defaults_fill_every_key),
        S_T(test_ini_file_sets_keys_in_any_section),
        S_T(test_config_file_may_follow_as_a_separate_argument),
        S_T(test_environment_overrides_the_file),
        S_T(test_the_variables_that_set_keys_are_named),
        S_T(test_command_line_overrides_the_environment),
        S_T(test_command_line_overrides_the_file),
        S_T(test_bool_accepts_the_usual_spellings),
        S_T(test_bare_bool_flag_means_true_and_takes_no_value),
        S_T(test_integer_bounds_are_enforced),
        S_T(test_integer_must_be_all_digits),
        S_T(test_bad_value_in_the_environment_is_an_error),
        S_T(test_unknown_key_in_the_file_is_named),
        S_T(test_bad_value_in_the_file_is_named),
        S_T(test_line_without_a_value_in_the_file_is_an_error),
        S_T(test_unknown_option_is_an_error),
        S_T(test_a_mistyped_option_names_the_nearest_key),
        S_T(test_option_that_only_starts_like_config_is_unknown),
        S_T(test_option_without_its_value_is_an_error),
        S_T(test_string_longer_than_its_field_is_an_error),
        S_T(test_help_returns_one),
        S_T(test_positional_arguments_come_back_in_order),
        S_T(test_missing_config_file_is_an_error),
        S_T(test_config_flag_without_a_value_is_an_error),
        S_T(test_set_refuses_an_unknown_key),
        S_T(test_invalid_default_in_the_table_is_reported),
        S_T(test_help_lists_every_key_with_its_type_and_default),
#undef S_T
        cmocka_unit_test(test_durations_are_a_number_and_a_unit),
        cmocka_unit_test(test_a_duration_key_says_what_is_wrong_in_one_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
