/* fb_curve.c — key files read into the Z85 keys a CURVE server or client socket is made with. */
#include "fb_curve.h"

#include "fb_keys.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(FB_CURVE_TEXT == FB_CURVE_Z85_LEN + 1, "a Z85 key and its NUL");

/* The file systemd gave the program for keys_file under its name
 * (LoadCredential=NAME:PATH, NAME the last part of keys_file), written into
 * buf (size bytes), or keys_file itself when there is none. */
static const char *s_credential(const char *keys_file, char *buf, size_t size)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY"), *slash = strrchr(keys_file, '/');
    const char *name = slash ? slash + 1 : keys_file;
    if (!dir || !*dir || !*name) return keys_file;
    if (snprintf(buf, size, "%s/%s", dir, name) >= (int)size || access(buf, F_OK) != 0) return keys_file;
    return buf;
}

/* Says, into err, that path cannot be read by the user the program runs
 * as, and what to do about it. */
static void s_unreadable(const char *path, int e, char *err, size_t err_size)
{
    const struct passwd *pw = getpwuid(geteuid());
    const char *slash = strrchr(path, '/');
    char user[64];
    snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "?");
    snprintf(err, err_size,
             "%s: %s: this program runs as user %s (uid %u), who cannot read it; make the file that user's "
             "(chown %s %s; mode 0600 stays), or under systemd give it to the unit with LoadCredential=%s:%s "
             "(docs/install.md)",
             path, strerror(e), user, (unsigned)geteuid(), user, path, slash ? slash + 1 : path, path);
}

/* Reads the secret key file (or systemd's credential of that name) into
 * c's own pair; returns 0 or -1 with err. */
static int s_secret(fb_curve_t *c, const char *keys_file, char *err, size_t err_size)
{
    fb_keys_t k;
    char cred[1024];
    keys_file = s_credential(keys_file, cred, sizeof(cred));
    if (access(keys_file, R_OK) != 0 && errno == EACCES) { /* said here: fopen's errno is not kept */
        s_unreadable(keys_file, errno, err, err_size);
        return -1;
    }
    if (fb_keys_read(keys_file, &k, err, err_size) != 0) return -1;
    if (!k.has_secret) {
        snprintf(err, err_size, "%s holds no secret key: give the secret key file, not the .pub", keys_file);
        return -1;
    }
    snprintf(c->member, sizeof(c->member), "%s", k.member);
    fb_keys_z85(k.curve_public, c->public_key);
    fb_keys_z85(k.curve_secret, c->secret_key);
    memset(&k, 0, sizeof(k));
    c->on = 1;
    return 0;
}

int fb_curve_server(fb_curve_t *c, const char *keys_file, char *err, size_t err_size)
{
    memset(c, 0, sizeof(*c));
    if (!keys_file || !*keys_file) return 0;
    return s_secret(c, keys_file, err, err_size);
}

int fb_curve_client(fb_curve_t *c, const char *keys_file, const char *broker_key, char *err, size_t err_size)
{
    memset(c, 0, sizeof(*c));
    int have_keys = keys_file && *keys_file, have_broker = broker_key && *broker_key;
    if (!have_keys && !have_broker) return 0;
    if (!have_keys || !have_broker) {
        snprintf(err, err_size, "%s is set but not %s: CURVE needs both", have_keys ? "keys" : "broker-key",
                 have_keys ? "broker-key" : "keys");
        return -1;
    }
    uint8_t key[FB_CURVE_RAW_LEN];
    if (fb_keys_z85_parse(broker_key, key) == 0) {
        fb_keys_z85(key, c->server_key);
    } else {
        /* Not a key's text: the broker's public key file. */
        fb_keys_t pub;
        char why[400];
        if (fb_keys_read(broker_key, &pub, why, sizeof(why)) != 0) {
            snprintf(err, err_size, "broker-key: neither 40 characters of Z85 nor a key file (%s)", why);
            return -1;
        }
        fb_keys_z85(pub.curve_public, c->server_key);
        memset(&pub, 0, sizeof(pub));
    }
    if (s_secret(c, keys_file, err, err_size) != 0) {
        memset(c, 0, sizeof(*c));
        return -1;
    }
    return 0;
}

void fb_curve_clear(fb_curve_t *c)
{
    memset(c->secret_key, 0, sizeof(c->secret_key));
}
