/* test_client_keys.c — fb_client_keys: a member's key files read into a client's CURVE options, bad ones refused with a reason. */
#include "fb_keys.h"
#include "fedbus/fedbus.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static char s_dir[64];
static char s_key[128], s_pub[128], s_broker_key[128], s_broker_pub[128];
static fb_keys_t s_member, s_broker;

static int s_setup(void **state)
{
    (void)state;
    char err[256];
    snprintf(s_dir, sizeof(s_dir), "/tmp/fb-test-client-keys-XXXXXX");
    if (!mkdtemp(s_dir)) return -1;
    snprintf(s_key, sizeof(s_key), "%s/intl-lyon.key", s_dir);
    snprintf(s_pub, sizeof(s_pub), "%s/intl-lyon.pub", s_dir);
    snprintf(s_broker_key, sizeof(s_broker_key), "%s/broker.key", s_dir);
    snprintf(s_broker_pub, sizeof(s_broker_pub), "%s/broker.pub", s_dir);
    if (fb_keys_generate("intl-lyon", &s_member, err, sizeof(err)) != 0 ||
        fb_keys_write(&s_member, s_key, s_pub, true, err, sizeof(err)) != 0 ||
        fb_keys_generate("broker", &s_broker, err, sizeof(err)) != 0 ||
        fb_keys_write(&s_broker, s_broker_key, s_broker_pub, true, err, sizeof(err)) != 0)
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    unlink(s_key);
    unlink(s_pub);
    unlink(s_broker_key);
    unlink(s_broker_pub);
    rmdir(s_dir);
    return 0;
}

/* The Z85 text of a raw CURVE key, for comparing. */
static const char *s_z85(const uint8_t *raw)
{
    static char text[FB_CURVE_Z85_LEN + 1];
    fb_keys_z85(raw, text);
    return text;
}

static void test_secret_file_and_broker_pub_give_the_three_z85_keys(void **state)
{
    (void)state;
    fb_client_keys_t k;
    char err[256] = "";
    assert_int_equal(fb_client_keys_load(&k, s_key, s_broker_pub, err, sizeof(err)), FB_OK);
    assert_string_equal(k.member, "intl-lyon");
    assert_string_equal(k.public_key, s_z85(s_member.curve_public));
    assert_string_equal(k.secret_key, s_z85(s_member.curve_secret));
    assert_string_equal(k.server_key, s_z85(s_broker.curve_public));

    fb_endpoint_opts_t o = {.endpoint = "tcp://127.0.0.1:7702"};
    fb_client_keys_apply(&k, &o);
    assert_ptr_equal(o.curve_serverkey, k.server_key);
    assert_ptr_equal(o.curve_publickey, k.public_key);
    assert_ptr_equal(o.curve_secretkey, k.secret_key);
    assert_string_equal(o.endpoint, "tcp://127.0.0.1:7702");

    fb_client_keys_clear(&k);
    assert_string_equal(k.secret_key, "");
    assert_string_equal(k.member, "");
    fb_client_keys_clear(NULL);
    fb_client_keys_apply(NULL, &o);
    fb_client_keys_apply(&k, NULL);
}

static void test_broker_key_as_z85_text_is_taken(void **state)
{
    (void)state;
    fb_client_keys_t k;
    char err[256] = "", z85[FB_CURVE_Z85_LEN + 1];
    fb_keys_z85(s_broker.curve_public, z85);
    assert_int_equal(fb_client_keys_load(&k, s_key, z85, err, sizeof(err)), FB_OK);
    assert_string_equal(k.server_key, z85);
}

static void test_missing_argument_is_einval_with_reason(void **state)
{
    (void)state;
    fb_client_keys_t k;
    char err[256] = "";
    assert_int_equal(fb_client_keys_load(NULL, s_key, s_broker_pub, err, sizeof(err)), FB_EINVAL);
    assert_int_equal(fb_client_keys_load(&k, NULL, s_broker_pub, err, sizeof(err)), FB_EINVAL);
    assert_non_null(strstr(err, "keys file missing"));
    assert_int_equal(fb_client_keys_load(&k, s_key, "", err, sizeof(err)), FB_EINVAL);
    assert_non_null(strstr(err, "broker key missing"));
    /* No room for a reason: still refused, nothing written. */
    assert_int_equal(fb_client_keys_load(&k, "", s_broker_pub, NULL, 0), FB_EINVAL);
}

static void test_unreadable_or_wrong_files_are_econfig_and_zero_the_keys(void **state)
{
    (void)state;
    fb_client_keys_t k;
    char err[512] = "";
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/nobody.key", s_dir);

    memset(&k, 'x', sizeof(k));
    assert_int_equal(fb_client_keys_load(&k, missing, s_broker_pub, err, sizeof(err)), FB_ECONFIG);
    assert_non_null(strstr(err, "nobody.key"));
    assert_string_equal(k.secret_key, "");
    assert_string_equal(k.server_key, "");

    /* The public file where the secret one belongs. */
    assert_int_equal(fb_client_keys_load(&k, s_pub, s_broker_pub, err, sizeof(err)), FB_ECONFIG);
    assert_non_null(strstr(err, "holds no secret key"));

    /* A broker key that is neither Z85 nor a file. */
    assert_int_equal(fb_client_keys_load(&k, s_key, "not-a-key", err, sizeof(err)), FB_ECONFIG);
    assert_non_null(strstr(err, "broker-key"));

    /* A secret file others may read. */
    assert_int_equal(chmod(s_key, 0644), 0);
    int rc = fb_client_keys_load(&k, s_key, s_broker_pub, err, sizeof(err));
    assert_int_equal(chmod(s_key, 0600), 0);
    assert_int_equal(rc, FB_ECONFIG);
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n'));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_secret_file_and_broker_pub_give_the_three_z85_keys),
        cmocka_unit_test(test_broker_key_as_z85_text_is_taken),
        cmocka_unit_test(test_missing_argument_is_einval_with_reason),
        cmocka_unit_test(test_unreadable_or_wrong_files_are_econfig_and_zero_the_keys),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
