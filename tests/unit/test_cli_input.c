/* test_cli_input.c — the CLI's reading of messages (objects, arrays, JSON lines, errors at the mistake), its endpoint forms and times. */
#include "fb_cli_input.h"
#include "fb_cli_print.h"
#include "fb_cli_probe.h"
#include "fb_time.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

volatile sig_atomic_t fb_cli_stop; /* fb_cli.c's, which this test does not link */

/* Parses text; returns the items' count (or -1) and the first stderr line in err. */
static int s_parse(const char *text, fb_cli_items_t *it, char *err, size_t size)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    int rc = fb_cli_items_parse(it, "f.json", text, strlen(text));
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(tmp);
    err[0] = '\0';
    if (!fgets(err, (int)size, tmp)) err[0] = '\0';
    err[strcspn(err, "\n")] = '\0';
    fclose(tmp);
    return rc == 0 ? (int)it->n : -1;
}

static void test_objects_arrays_and_json_lines_become_named_items(void **state)
{
    (void)state;
    fb_cli_items_t it = {0};
    char err[512];
    assert_int_equal(s_parse("{\"a\":1}\n", &it, err, sizeof(err)), 1);
    assert_string_equal(it.v[0].name, "f.json");
    fb_cli_items_free(&it);
    assert_int_equal(s_parse("[{\"a\":1},{\"a\":2}]", &it, err, sizeof(err)), 2);
    assert_string_equal(it.v[1].name, "f.json[1]");
    fb_cli_items_free(&it);
    assert_int_equal(s_parse("{\"a\":1}\n\n{\"a\":2}\n", &it, err, sizeof(err)), 2);
    assert_string_equal(it.v[1].name, "f.json:3");
    fb_cli_items_free(&it);
}

static void test_json_errors_point_at_the_line_and_column_of_the_mistake(void **state)
{
    (void)state;
    fb_cli_items_t it = {0};
    char err[512];
    assert_int_equal(s_parse("{\n  \"a\": 1,\n  \"b\": 2,\n}\n", &it, err, sizeof(err)), -1);
    assert_string_equal(err, "fedbus publish: f.json: JSON line 3, column 9: a trailing comma before '}'");
    assert_int_equal(s_parse("[{\"a\":1},\n{\"a\":2},\n]", &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JSON line 2, column 8: a trailing comma before ']'"));
    assert_int_equal(s_parse("{\"a\":1}\n{\"a\" 2}\n", &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JSON line 2, column"));
    assert_int_equal(it.n, 0); /* nothing of a source that does not parse is kept */
    assert_int_equal(s_parse("  \n", &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(s_parse("[{\"a\":1}, 42]", &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "f.json[1]: an array item is a message"));
    assert_int_equal(s_parse("\"text\"", &it, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "'[' or '{' expected")); /* a message is an object (or an array of them) */
    fb_cli_items_free(&it);
}

static void test_endpoints_host_port_and_bare_port_mean_tcp(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(fb_cli_endpoint_norm("127.0.0.1:7711", out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://127.0.0.1:7711");
    assert_int_equal(fb_cli_endpoint_norm("7711", out, sizeof(out)), 0);
    assert_string_equal(out, "tcp://127.0.0.1:7711");
    assert_int_equal(fb_cli_endpoint_norm("ipc:///tmp/x", out, sizeof(out)), 0);
    assert_string_equal(out, "ipc:///tmp/x");
    char why[128];
    assert_int_equal(fb_cli_probe("ipc:///tmp/x", 100, why, sizeof(why)), FB_PROBE_SKIPPED);
    assert_int_equal(fb_cli_probe("tcp://no-such-host.invalid:1", 500, why, sizeof(why)), FB_PROBE_UNRESOLVED);
}

static void test_times_take_rfc3339_dates_days_and_ages(void **state)
{
    (void)state;
    int64_t us, now = fb_time_now_us();
    assert_int_equal(fb_cli_time_parse("2026-03-01T00:00:00+09:00", &us), 0);
    assert_true(us == 1772290800LL * 1000000);
    assert_int_equal(fb_cli_time_parse("1h", &us), 0);
    assert_true(llabs((long long)(now - 3600LL * 1000000 - us)) < 5000000);
    assert_int_equal(fb_cli_time_parse("2d", &us), 0);
    assert_true(llabs((long long)(now - 2 * 86400LL * 1000000 - us)) < 5000000);
    assert_int_equal(fb_cli_time_parse("today", &us), 0);
    assert_true(us <= now && now - us < 86400LL * 1000000 + 3600LL * 1000000);
    int64_t y;
    assert_int_equal(fb_cli_time_parse("yesterday", &y), 0);
    assert_true(y < us);
    assert_int_equal(fb_cli_time_parse("2026-03-01", &us), 0);
    assert_int_equal(fb_cli_time_parse("last tuesday", &us), -1);
    assert_int_equal(fb_cli_time_parse("5x", &us), -1);
    assert_int_equal(fb_cli_time_parse("2026-13", &us), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_objects_arrays_and_json_lines_become_named_items),
        cmocka_unit_test(test_json_errors_point_at_the_line_and_column_of_the_mistake),
        cmocka_unit_test(test_endpoints_host_port_and_bare_port_mean_tcp),
        cmocka_unit_test(test_times_take_rfc3339_dates_days_and_ages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
