/* fb_curve.h — the CURVE settings of a fedbus program, from its key files: a broker's server key, a client's pair and the broker's public key.
 *
 * The broker, the node, the CLI and the tests all take keys the same way:
 * `keys=FILE` names the program's secret key file (lib/fb_keys.h, made by
 * `fedbus keygen`), and a client's `broker-key` names the broker's public
 * key, as a public key file (FILE.pub) or as the 40 characters of its
 * Z85 text. What comes out is Z85 text, ready for fb_zmq_opts_t and
 * fb_endpoint_opts_t. */
#ifndef FB_CURVE_H
#define FB_CURVE_H

#include <stddef.h>

/* A Z85 key and its NUL. */
#define FB_CURVE_TEXT 41

typedef struct {
    int on;                          /* keys were given: CURVE; 0: plaintext */
    char member[33];                 /* the id in the key file */
    char public_key[FB_CURVE_TEXT];  /* this program's */
    char secret_key[FB_CURVE_TEXT];
    char server_key[FB_CURVE_TEXT];  /* the broker's public key (clients only) */
} fb_curve_t;

/* Fills *c for a server from its secret key file. keys_file empty or NULL:
 * c->on = 0 and 0 is returned. Under systemd, a credential of the file's
 * name ($CREDENTIALS_DIRECTORY/NAME, from the unit's LoadCredential=NAME:
 * PATH) is read in its place (the secret key file of the client below
 * too). Returns 0, or -1 with a one-line reason in err (file unreadable:
 * with the user the program runs as and what to do; not a secret key file,
 * readable by others...). */
int fb_curve_server(fb_curve_t *c, const char *keys_file, char *err, size_t err_size);

/* Fills *c for a client from its secret key file and the broker's public
 * key (a public key file, or 40 characters of Z85). Both empty or NULL:
 * c->on = 0 (plaintext) and 0 is returned; one without the other is an
 * error. Returns 0, or -1 with a one-line reason in err. */
int fb_curve_client(fb_curve_t *c, const char *keys_file, const char *broker_key, char *err, size_t err_size);

/* Forgets the secret key (zeroes it). */
void fb_curve_clear(fb_curve_t *c);

#endif
