/* fb_cli_keys.c — `fedbus keygen`: a member's (or the broker's) key files, and their public text. */
#include "fb_cli.h"
#include "fb_keys.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const fb_cfg_key_t s_keygen_keys[] = {
    {"member", FB_CFG_STR, FB_CLI_STR(member), "", 0, 0,
     "the member id the keys are for (1-32 of [a-z0-9-]); the broker's own keys: broker"},
    {"out", FB_CFG_STR, FB_CLI_STR(out), ".", 0, 0,
     "directory to write ID.key (secret, mode 0600) and ID.pub (public) into; what is missing of it is made, mode 0700"},
    {"force", FB_CFG_BOOL, FB_CLI_INT(force), "false", 0, 0, "replace key files that exist (their keys are lost)"},
    {"show", FB_CFG_STR, FB_CLI_STR(show), "", 0, 0,
     "print the public text of this key file (.pub or .key) instead of making keys"},
    FB_CFG_END,
};

static const char s_keygen_help[] =
    "Writes a CURVE key pair (the encrypted link) and an Ed25519 key pair (signing) for\n"
    "one member, and prints the public text: send that (or ID.pub) to the federation's\n"
    "admin, who registers it with 'fedbus member add'. ID.key never leaves the member.\n"
    "The broker's keys are made the same way, with --member=broker.\n\n" FB_CLI_EXIT_HELP;

/* Prints the public text of the key file path; returns the exit status. */
static int s_show(const char *path)
{
    fb_keys_t k;
    char err[512], text[1024];
    if (fb_keys_read(path, &k, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus keygen: %s\n", err);
        return FB_CLI_EXIT_USAGE;
    }
    if (fb_keys_format_public(&k, text, sizeof(text)) < 0) {
        fprintf(stderr, "fedbus keygen: %s: cannot format its keys\n", path);
        return FB_CLI_EXIT_FAILED;
    }
    fputs(text, stdout);
    return FB_CLI_EXIT_OK;
}

/* Makes what is missing of the directory dir, each mode 0700 (it is to
 * hold a secret key), like mkdir -p; what exists is left as it is (a file
 * in the way is found by s_dir_writable()). Returns 0, or prints why not
 * and returns -1. */
static int s_make_dirs(const char *dir)
{
    char path[1024];
    int made = 0;
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        fprintf(stderr, "fedbus keygen: --out is longer than %zu bytes\n", sizeof(path) - 1);
        return -1;
    }
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(path, 0700) == 0) made = 1;
        else if (errno != EEXIST) {
            fprintf(stderr, "fedbus keygen: cannot make directory %s: %s\n", path, strerror(errno));
            return -1;
        }
        *p = c;
        if (!c) break;
    }
    if (made) fprintf(stderr, "fedbus keygen: made directory %s (mode 0700)\n", dir);
    return 0;
}

/* Checks that dir is a directory we may write into; returns 0 or prints why. */
static int s_dir_writable(const char *dir)
{
    struct stat st;
    const char *why = NULL;
    if (stat(dir, &st) != 0) why = strerror(errno);
    else if (!S_ISDIR(st.st_mode)) why = "not a directory";
    else if (access(dir, W_OK | X_OK) != 0) why = strerror(errno);
    if (!why) return 0;
    fprintf(stderr, "fedbus keygen: cannot write keys into %s: %s\n", dir, why);
    return -1;
}

int fb_cli_keygen(int argc, char **argv)
{
    fb_cli_opts_t o;
    int nargs;
    fb_cli_parse_help("keygen", s_keygen_keys, &o, argc, argv, &nargs, "--member=ID | --show FILE", s_keygen_help);
    if (nargs > 0) {
        fprintf(stderr, "fedbus keygen: unexpected argument '%s' (see fedbus keygen --help)\n", argv[1]);
        return FB_CLI_EXIT_USAGE;
    }
    if (o.show[0] && o.member[0]) {
        fprintf(stderr, "fedbus keygen: --show and --member do not go together\n");
        return FB_CLI_EXIT_USAGE;
    }
    if (o.show[0]) return s_show(o.show);
    if (!o.member[0]) {
        fprintf(stderr, "fedbus keygen: --member=ID is needed (or --show FILE; see fedbus keygen --help)\n");
        return FB_CLI_EXIT_USAGE;
    }
    fb_keys_t k;
    char err[512], sec[1200], pub[1200], text[1024];
    if (fb_keys_generate(o.member, &k, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus keygen: %s\n", err);
        return FB_CLI_EXIT_USAGE;
    }
    snprintf(sec, sizeof(sec), "%s/%s.key", o.out, o.member);
    snprintf(pub, sizeof(pub), "%s/%s.pub", o.out, o.member);
    if (s_make_dirs(o.out) != 0 || s_dir_writable(o.out) != 0) return FB_CLI_EXIT_FAILED;
    const char *paths[] = {sec, pub};
    for (int i = 0; i < 2 && !o.force; i++)
        if (access(paths[i], F_OK) == 0) {
            fprintf(stderr, "fedbus keygen: %s exists; refusing to overwrite keys (--force replaces them)\n",
                    paths[i]);
            return FB_CLI_EXIT_EXISTS;
        }
    if (fb_keys_write(&k, sec, pub, o.force, err, sizeof(err)) != 0) {
        fprintf(stderr, "fedbus keygen: %s\n", err);
        return strstr(err, " exists; ") ? FB_CLI_EXIT_EXISTS : FB_CLI_EXIT_FAILED;
    }
    if (fb_keys_format_public(&k, text, sizeof(text)) < 0) return FB_CLI_EXIT_FAILED;
    fputs(text, stdout);
    fprintf(stderr,
            "fedbus keygen: wrote %s (secret, mode 0600: it stays with %s) and %s (public: send it, or the text "
            "above, to the federation's admin)\n",
            sec, o.member, pub);
    return FB_CLI_EXIT_OK;
}
