/* fb_bench_keys.c — fedbus-bench-keys: key files for the members and the broker of a benchmark run, printed for registration. */
#include "fb_keys.h"

#include <stdio.h>
#include <string.h>

/* usage: fedbus-bench-keys DIR ID...: writes DIR/ID.key (0600) and
 * DIR/ID.pub for each ID and prints "ID CURVE_PUBLIC_Z85" per line, what
 * fedbus_members.curve_public takes. Exit 0, 1 on an error, 2 on usage. */
int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fedbus-bench-keys DIR ID...\n");
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        char secret[1024], pub[1024], err[512], z85[FB_CURVE_Z85_LEN + 1];
        fb_keys_t k;
        snprintf(secret, sizeof(secret), "%s/%s.key", argv[1], argv[i]);
        snprintf(pub, sizeof(pub), "%s/%s.pub", argv[1], argv[i]);
        if (fb_keys_generate(argv[i], &k, err, sizeof(err)) != 0 || fb_keys_write(&k, secret, pub, true, err, sizeof(err)) != 0) {
            fprintf(stderr, "fedbus-bench-keys: %s\n", err);
            return 1;
        }
        fb_keys_z85(k.curve_public, z85);
        memset(&k, 0, sizeof(k));
        printf("%s %s\n", argv[i], z85);
    }
    return 0;
}
