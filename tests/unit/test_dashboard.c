/* test_dashboard.c — the dashboard's compiled-in files: found by their paths, typed, the same bytes as web/dashboard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_dashboard.h"

static void test_root_and_dashboard_folder_serve_the_index(void **state)
{
    const fb_asset_t *index = fb_dashboard_find("/dashboard/index.html");
    assert_non_null(index);
    assert_string_equal(index->content_type, "text/html; charset=utf-8");
    assert_true(index->len > 100);
    assert_int_equal(strncmp(index->data, "<!doctype html>", 15), 0);
    assert_int_equal(index->data[index->len], '\0');
    assert_ptr_equal(fb_dashboard_find("/"), index);
    assert_ptr_equal(fb_dashboard_find("/dashboard"), index);
    assert_ptr_equal(fb_dashboard_find("/dashboard/"), index);
}

static void test_script_and_style_have_their_content_types(void **state)
{
    const fb_asset_t *js = fb_dashboard_find("/dashboard/app.js");
    const fb_asset_t *css = fb_dashboard_find("/dashboard/style.css");
    assert_non_null(js);
    assert_non_null(css);
    assert_string_equal(js->content_type, "text/javascript; charset=utf-8");
    assert_string_equal(css->content_type, "text/css; charset=utf-8");
    assert_non_null(strstr(js->data, "/api/status"));
}

static void test_other_paths_find_nothing(void **state)
{
    static const char *const paths[] = {
        "", "/index.html", "/dashboard/nope.js", "/dashboard/../CMakeLists.txt", "/DASHBOARD/app.js",
        "/dashboard/app.js/", "/dashboard/app.js?x=1", "/dashboard//app.js", "dashboard/app.js", "//",
        "/api/status", "/metrics",
    };
    assert_null(fb_dashboard_find(NULL));
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (fb_dashboard_find(paths[i])) fail_msg("\"%s\" was found", paths[i]);
    }
}

/* Reads a whole file into *len bytes (malloc'd), or NULL. */
static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
            *len = fread(buf, 1, (size_t)n, f);
        }
    }
    fclose(f);
    return buf;
}

static void test_every_listed_path_is_found_and_matches_its_source_file(void **state)
{
    size_t n = 0, files = 0;
    const char *path;
    while ((path = fb_dashboard_path(n)) != NULL) {
        const fb_asset_t *a = fb_dashboard_find(path);
        if (!a) fail_msg("listed path \"%s\" is not found", path);
        n++;
        if (strncmp(path, "/dashboard/", 11) != 0 || path[11] == '\0') continue;
        char file[4096];
        snprintf(file, sizeof(file), "%s/web/dashboard/%s", FEDBUS_SOURCE_DIR, path + 11);
        size_t len = 0;
        char *src = s_slurp(file, &len);
        if (!src) fail_msg("cannot read %s", file);
        assert_int_equal(a->len, len);
        assert_memory_equal(a->data, src, len);
        free(src);
        files++;
    }
    assert_true(files >= 3); /* index.html, app.js, style.css */
    assert_int_equal(n, files + 3);
    assert_null(fb_dashboard_path(n + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root_and_dashboard_folder_serve_the_index),
        cmocka_unit_test(test_script_and_style_have_their_content_types),
        cmocka_unit_test(test_other_paths_find_nothing),
        cmocka_unit_test(test_every_listed_path_is_found_and_matches_its_source_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
