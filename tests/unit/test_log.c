/* test_log.c — log lines: one per event, to the stream set, level checked first. */
#include "fb_log.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void test_lines_go_to_the_stream_set_one_line_each(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    fb_log_init("tester", FB_LOG_INFO);
    fb_log_set_stream(f);
    fb_info("first %d", 1);
    fb_debug("not written at info");
    fb_warn("two\nlines");
    fb_log_set_stream(NULL);
    char buf[512] = "";
    rewind(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "INFO tester: first 1\n"));
    assert_null(strstr(buf, "not written"));
    assert_non_null(strstr(buf, "WARN tester: two lines\n")); /* a newline in a line is a space */
    int lines = 0;
    for (char *p = buf; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_go_to_the_stream_set_one_line_each),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
