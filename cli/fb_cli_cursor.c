/* fb_cli_cursor.c — the cursor file of `fedbus tail --durable=NAME`: where it lives, read, written safely.
 *
 * The cursor (fb_subscriber_position()) is one global_seq and a newline in
 * STATE_DIR/NAME.cursor, written through a temporary file, fsync and
 * rename, so that a crash leaves the old cursor or the new one. */
#include "fb_cli_cursor.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes dir and its parents (mode 0700); returns 0 or -1. */
static int s_mkdirs(char *dir)
{
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            int rc = mkdir(dir, 0700);
            *p = '/';
            if (rc != 0 && errno != EEXIST) return -1;
        }
    return mkdir(dir, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Sets path to the cursor file of o->durable, making its directory;
 * returns 0, or -1 after saying why. */
int fb_cli_cursor_path(const char *durable, const char *state_dir, char *path, size_t size)
{
    char dir[600];
    const char *n = durable, *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int ok = n[0] && n[0] != '.';
    for (const char *c = n; *c; c++) ok &= isalnum((unsigned char)*c) || *c == '.' || *c == '_' || *c == '-';
    if (!ok) {
        fprintf(stderr, "fedbus tail: --durable: '%s' is not a name of letters, digits, '.', '_' and '-'\n", n);
        return -1;
    }
    if (state_dir[0]) snprintf(dir, sizeof(dir), "%s", state_dir);
    else if (xdg && xdg[0] == '/') snprintf(dir, sizeof(dir), "%s/fedbus", xdg);
    else if (home && home[0]) snprintf(dir, sizeof(dir), "%s/.local/state/fedbus", home);
    else snprintf(dir, sizeof(dir), ".");
    if (s_mkdirs(dir) != 0) {
        fprintf(stderr, "fedbus tail: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, size, "%s/%s.cursor", dir, n);
    return 0;
}

/* Reads the cursor at path into *pos: returns 1, 0 when there is none yet,
 * or -1 after saying why (a file that is not a cursor is not overwritten). */
int fb_cli_cursor_load(const char *path, uint64_t *pos)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "fedbus tail: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    unsigned long long v;
    char nl = 0;
    int n = fscanf(f, "%llu%c", &v, &nl);
    fclose(f);
    if (n != 2 || nl != '\n') {
        fprintf(stderr, "fedbus tail: %s is not a cursor (one global_seq and a newline); remove it to start afresh\n",
                path);
        return -1;
    }
    *pos = v;
    return 1;
}

/* Writes pos to path through a temporary file, fsync and rename, so that
 * a crash leaves the old cursor or the new one. Returns 0 or -1. */
int fb_cli_cursor_save(const char *path, uint64_t pos)
{
    char tmp[700], line[32];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int len = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)pos);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    if (close(fd) != 0 || !ok || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}
