/* fb_cli_cursor.h — the cursor file of `fedbus tail --durable=NAME`: where it lives, read, written safely. */
#ifndef FB_CLI_CURSOR_H
#define FB_CLI_CURSOR_H

#include <stddef.h>
#include <stdint.h>

/* Sets path to the cursor file of durable (letters, digits, . _ -) in
 * state_dir ("" : $XDG_STATE_HOME/fedbus or ~/.local/state/fedbus), making
 * the directory; returns 0, or -1 after saying why on stderr. */
int fb_cli_cursor_path(const char *durable, const char *state_dir, char *path, size_t size);

/* Reads the cursor at path into *pos: returns 1, 0 when there is none yet,
 * or -1 after saying why (a file that is not a cursor is not overwritten). */
int fb_cli_cursor_load(const char *path, uint64_t *pos);

/* Writes pos to path (temporary file, fsync, rename). Returns 0 or -1. */
int fb_cli_cursor_save(const char *path, uint64_t pos);

#endif
