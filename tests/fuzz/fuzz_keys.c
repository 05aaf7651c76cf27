/* fuzz_keys.c — a key file (a member's or the broker's, secret or public) as fb_keys_read() reads it.
 *
 * The input is written to a scratch file of mode 0600 and read. A file that
 * reads must give a public file (fb_keys_format_public(): what a member
 * sends the federation's admin) that reads back as the same member and the
 * same public keys. */
#include "fuzz.h"

#include "fb_keys.h"
#include "fedbus/fb_topic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[300], pub_path[300];
    if (!path[0]) {
        fz_quiet();
        snprintf(path, sizeof(path), "%s/member.key", fz_scratch());
        snprintf(pub_path, sizeof(pub_path), "%s/member.pub", fz_scratch());
    }
    fz_write_file(path, data, size);
    fb_keys_t k, again;
    char err[512] = "";
    if (fb_keys_read(path, &k, err, sizeof(err)) != 0) {
        FZ_CHECK(err[0] != '\0' && memchr(err, 0, sizeof(err)), "refused without a reason");
        return 0;
    }
    FZ_CHECK(fb_segment_valid(k.member, strlen(k.member)), "a key file read with a member id that is not one");
    char text[2048];
    int n = fb_keys_format_public(&k, text, sizeof(text));
    FZ_CHECK(n > 0, "a key file read has no public form");
    fz_write_file(pub_path, (const uint8_t *)text, (size_t)n);
    if (fb_keys_read(pub_path, &again, err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz: %s\n", err);
        FZ_CHECK(0, "the public file of a key file read does not read back");
    }
    FZ_CHECK(!again.has_secret && strcmp(again.member, k.member) == 0 &&
                 memcmp(again.curve_public, k.curve_public, sizeof(k.curve_public)) == 0 &&
                 memcmp(again.sign_public, k.sign_public, sizeof(k.sign_public)) == 0 &&
                 memcmp(again.sign_key_id, k.sign_key_id, sizeof(k.sign_key_id)) == 0 &&
                 again.created_us == k.created_us,
             "the public file of a key file reads back as other keys");
    return 0;
}
