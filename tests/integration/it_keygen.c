/* it_keygen.c — writes DIR/ID.key and DIR/ID.pub (lib/fb_keys) for tests driven from the shell (it_foreign.sh). */
#include "harness_keys.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: it_keygen ID DIR\n");
        return 2;
    }
    char secret[512], pub[512], cpub[41], csec[41], spub[65], kid[17], err[512];
    snprintf(secret, sizeof(secret), "%s/%s.key", argv[2], argv[1]);
    snprintf(pub, sizeof(pub), "%s/%s.pub", argv[2], argv[1]);
    if (th_keys_generate(argv[1], secret, pub, cpub, csec, spub, kid, err, sizeof(err)) != 0) {
        fprintf(stderr, "it_keygen: %s\n", err);
        return 1;
    }
    printf("%s\n", cpub); /* the CURVE public key, Z85, to register */
    return 0;
}
