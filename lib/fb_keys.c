/* fb_keys.c — key files: generated, written 0600, read back and checked. */
#include "fb_keys.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "fb_time.h"
#include "fedbus/fb_topic.h"

void fb_keys_z85(const uint8_t key[FB_CURVE_RAW_LEN], char out[FB_CURVE_Z85_LEN + 1])
{
    zmq_z85_encode(out, key, FB_CURVE_RAW_LEN);
}

int fb_keys_z85_parse(const char *text, uint8_t key[FB_CURVE_RAW_LEN])
{
    if (!text || strlen(text) != FB_CURVE_Z85_LEN) return -1;
    return zmq_z85_decode(key, text) ? 0 : -1;
}

void fb_keys_b64(const uint8_t key[FB_ED25519_KEY_LEN], char out[FB_ED25519_B64_LEN + 1])
{
    EVP_EncodeBlock((unsigned char *)out, key, FB_ED25519_KEY_LEN);
}

int fb_keys_b64_parse(const char *text, uint8_t key[FB_ED25519_KEY_LEN])
{
    /* 32 bytes are 43 characters and one '=' of padding; EVP_DecodeBlock
     * counts the padding as a zero byte, so it returns 33. */
    unsigned char buf[36];
    if (!text || strlen(text) != FB_ED25519_B64_LEN || text[43] != '=' || text[42] == '=') return -1;
    if (EVP_DecodeBlock(buf, (const unsigned char *)text, FB_ED25519_B64_LEN) != 33) return -1;
    memcpy(key, buf, FB_ED25519_KEY_LEN);
    return 0;
}

void fb_keys_id(const uint8_t pub[FB_ED25519_KEY_LEN], uint8_t id[FB_KEY_ID_LEN])
{
    uint8_t h[FB_SHA256_LEN] = {0};
    fb_sha256(pub, FB_ED25519_KEY_LEN, h);
    memcpy(id, h, FB_KEY_ID_LEN);
}

void fb_keys_id_hex(const uint8_t id[FB_KEY_ID_LEN], char out[FB_KEY_ID_HEX_LEN + 1])
{
    for (int i = 0; i < FB_KEY_ID_LEN; i++) snprintf(out + 2 * i, 3, "%02x", id[i]);
}

int fb_keys_id_parse(const char *text, uint8_t id[FB_KEY_ID_LEN])
{
    if (!text || strlen(text) != FB_KEY_ID_HEX_LEN) return -1;
    for (int i = 0; i < FB_KEY_ID_LEN; i++) {
        unsigned v;
        char two[3] = {text[2 * i], text[2 * i + 1], 0};
        if (!strchr("0123456789abcdefABCDEF", two[0]) || !strchr("0123456789abcdefABCDEF", two[1]) ||
            sscanf(two, "%2x", &v) != 1)
            return -1;
        id[i] = (uint8_t)v;
    }
    return 0;
}

int fb_keys_generate(const char *member, fb_keys_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    if (!member || !fb_segment_valid(member, strlen(member))) {
        snprintf(err, err_size, "member id '%s' is not 1-32 of [a-z0-9-]", member ? member : "");
        return -1;
    }
    char pub[FB_CURVE_Z85_LEN + 1], sec[FB_CURVE_Z85_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0 || fb_keys_z85_parse(pub, out->curve_public) ||
        fb_keys_z85_parse(sec, out->curve_secret)) {
        snprintf(err, err_size, "cannot make a CURVE key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    if (fb_ed25519_keypair(out->sign_public, out->sign_secret) != 0) {
        snprintf(err, err_size, "cannot make an Ed25519 key pair (OpenSSL)");
        return -1;
    }
    snprintf(out->member, sizeof(out->member), "%s", member);
    fb_keys_id(out->sign_public, out->sign_key_id);
    out->created_us = fb_time_now_us() / 1000000 * 1000000;
    out->has_secret = true;
    return 0;
}

int fb_keys_format_public(const fb_keys_t *k, char *buf, size_t size)
{
    char curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1], id[FB_KEY_ID_HEX_LEN + 1], at[48];
    fb_keys_z85(k->curve_public, curve);
    fb_keys_b64(k->sign_public, sign);
    fb_keys_id_hex(k->sign_key_id, id);
    fb_time_format(k->created_us, 0, at, sizeof(at));
    int n = snprintf(buf, size,
                     "# fedbus public keys of member %s\n"
                     "member = %s\n"
                     "curve-public = %s\n"
                     "sign-public = %s\n"
                     "sign-key-id = %s\n"
                     "created = %s\n",
                     k->member, k->member, curve, sign, id, at);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

static int s_format_secret(const fb_keys_t *k, char *buf, size_t size)
{
    char pub[1024], curve[FB_CURVE_Z85_LEN + 1], sign[FB_ED25519_B64_LEN + 1];
    if (fb_keys_format_public(k, pub, sizeof(pub)) < 0) return -1;
    fb_keys_z85(k->curve_secret, curve);
    fb_keys_b64(k->sign_secret, sign);
    /* The public file's text, its first line replaced by a warning. */
    const char *body = strchr(pub, '\n') + 1;
    int n = snprintf(buf, size,
                     "# fedbus SECRET keys of member %s: keep this file to yourself (mode 0600).\n"
                     "# Send the admin the public file (fedbus keygen --show) instead.\n"
                     "%scurve-secret = %s\nsign-secret = %s\n",
                     k->member, body, curve, sign);
    return n < 0 || (size_t)n >= size ? -1 : n;
}

/* Writes text to path through a temporary file and rename(), so that a
 * crash leaves the old file or the new one, never half of one. */
static int s_write_file(const char *path, const char *text, mode_t mode, bool overwrite, char *err,
                        size_t err_size)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, err_size, "%s: path too long", path);
        return -1;
    }
    if (!overwrite && access(path, F_OK) == 0) {
        snprintf(err, err_size, "%s exists; refusing to overwrite keys (--force replaces them)", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    size_t len = strlen(text);
    int ok = fchmod(fd, mode) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok && !overwrite && access(path, F_OK) == 0) {
        unlink(tmp);
        snprintf(err, err_size, "%s exists; refusing to overwrite keys (--force replaces them)", path);
        return -1;
    }
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(ok ? errno : saved));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int fb_keys_write(const fb_keys_t *k, const char *secret_path, const char *public_path, bool overwrite,
                  char *err, size_t err_size)
{
    char text[2048];
    if (!k->has_secret || s_format_secret(k, text, sizeof(text)) < 0) {
        snprintf(err, err_size, "no secret keys to write");
        return -1;
    }
    if (s_write_file(secret_path, text, 0600, overwrite, err, err_size) != 0) return -1;
    if (!public_path) return 0;
    if (fb_keys_format_public(k, text, sizeof(text)) < 0 ||
        s_write_file(public_path, text, 0644, overwrite, err, err_size) != 0) {
        unlink(secret_path);
        return -1;
    }
    return 0;
}

typedef struct {
    fb_keys_t *k;
    unsigned seen; /* bit per key below */
    char bad[160];
} s_read_t;

enum { S_MEMBER = 1, S_CURVE_PUB = 2, S_CURVE_SEC = 4, S_SIGN_PUB = 8, S_SIGN_SEC = 16, S_KEY_ID = 32,
       S_CREATED = 64 };

static int s_handler(void *user, const char *section, const char *name, const char *value)
{
    (void)section;
    s_read_t *r = user;
    fb_keys_t *k = r->k;
    int bad = 0, bit = 0;
    if (strcmp(name, "member") == 0) {
        bit = S_MEMBER;
        bad = !fb_segment_valid(value, strlen(value)) ||
              snprintf(k->member, sizeof(k->member), "%s", value) >= (int)sizeof(k->member);
    } else if (strcmp(name, "curve-public") == 0) {
        bit = S_CURVE_PUB, bad = fb_keys_z85_parse(value, k->curve_public);
    } else if (strcmp(name, "curve-secret") == 0) {
        bit = S_CURVE_SEC, bad = fb_keys_z85_parse(value, k->curve_secret);
    } else if (strcmp(name, "sign-public") == 0) {
        bit = S_SIGN_PUB, bad = fb_keys_b64_parse(value, k->sign_public);
    } else if (strcmp(name, "sign-secret") == 0) {
        bit = S_SIGN_SEC, bad = fb_keys_b64_parse(value, k->sign_secret);
    } else if (strcmp(name, "sign-key-id") == 0) {
        bit = S_KEY_ID, bad = fb_keys_id_parse(value, k->sign_key_id);
    } else if (strcmp(name, "created") == 0) {
        int off;
        bit = S_CREATED, bad = fb_time_parse(value, &k->created_us, &off);
    } else {
        if (!*r->bad) snprintf(r->bad, sizeof(r->bad), "unknown key '%.40s'", name);
        return 1;
    }
    if (bad && !*r->bad) snprintf(r->bad, sizeof(r->bad), "%s is not valid", name);
    if ((r->seen & (unsigned)bit) && !*r->bad) snprintf(r->bad, sizeof(r->bad), "%s is given twice", name);
    r->seen |= (unsigned)bit;
    return 1;
}

static int s_check(const char *path, s_read_t *r, char *err, size_t err_size)
{
    fb_keys_t *k = r->k;
    static const struct { unsigned bit; const char *name; } need[] = {
        {S_MEMBER, "member"}, {S_CURVE_PUB, "curve-public"}, {S_SIGN_PUB, "sign-public"}};
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        if (!(r->seen & need[i].bit)) {
            snprintf(err, err_size, "%s: %s is missing", path, need[i].name);
            return -1;
        }
    uint8_t id[FB_KEY_ID_LEN];
    fb_keys_id(k->sign_public, id);
    if ((r->seen & S_KEY_ID) && memcmp(id, k->sign_key_id, FB_KEY_ID_LEN) != 0) {
        snprintf(err, err_size, "%s: sign-key-id does not belong to sign-public", path);
        return -1;
    }
    memcpy(k->sign_key_id, id, FB_KEY_ID_LEN);
    unsigned secrets = r->seen & (S_CURVE_SEC | S_SIGN_SEC);
    if (secrets && secrets != (S_CURVE_SEC | S_SIGN_SEC)) {
        snprintf(err, err_size, "%s: %s is missing", path, (secrets & S_CURVE_SEC) ? "sign-secret" : "curve-secret");
        return -1;
    }
    k->has_secret = secrets != 0;
    if (!k->has_secret) return 0;
    char z_sec[FB_CURVE_Z85_LEN + 1], z_pub[FB_CURVE_Z85_LEN + 1];
    uint8_t pub[FB_CURVE_RAW_LEN], spub[FB_ED25519_KEY_LEN];
    fb_keys_z85(k->curve_secret, z_sec);
    if (zmq_curve_public(z_pub, z_sec) != 0 || fb_keys_z85_parse(z_pub, pub) != 0 ||
        memcmp(pub, k->curve_public, FB_CURVE_RAW_LEN) != 0) {
        snprintf(err, err_size, "%s: curve-public is not the key of curve-secret", path);
        return -1;
    }
    if (fb_ed25519_public(k->sign_secret, spub) != 0 || memcmp(spub, k->sign_public, FB_ED25519_KEY_LEN) != 0) {
        snprintf(err, err_size, "%s: sign-public is not the key of sign-secret", path);
        return -1;
    }
    return 0;
}

int fb_keys_read(const char *path, fb_keys_t *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    s_read_t r = {.k = out};
    int rc = ini_parse_file(f, s_handler, &r);
    struct stat st;
    int st_ok = fstat(fileno(f), &st) == 0;
    fclose(f);
    if (rc != 0) {
        snprintf(err, err_size, "%s: line %d is not 'key = value'", path, rc);
        return -1;
    }
    if (*r.bad) {
        snprintf(err, err_size, "%s: %s", path, r.bad);
        return -1;
    }
    if (s_check(path, &r, err, err_size) != 0) return -1;
    if (out->has_secret && (!st_ok || (st.st_mode & 077))) {
        snprintf(err, err_size, "%s: a secret key file must not be readable by others (mode %03o; chmod 600 it)",
                 path, st_ok ? (unsigned)(st.st_mode & 0777) : 0u);
        memset(out, 0, sizeof(*out));
        return -1;
    }
    return 0;
}
