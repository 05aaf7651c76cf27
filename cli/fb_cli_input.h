/* fb_cli_input.h — the messages `fedbus publish` is given: files, directories, stdin, inline; read and parsed whole. */
#ifndef FB_CLI_INPUT_H
#define FB_CLI_INPUT_H

#include <jansson.h>
#include <stddef.h>

/* One message to publish. */
typedef struct {
    char *name;   /* where it came from: "FILE", "FILE[2]" (array item), "-:3" (line 3 of stdin) */
    json_t *obj;  /* the message object (owned) */
    char id[37];  /* its message_id once known, else "" */
} fb_cli_item_t;

typedef struct {
    fb_cli_item_t *v;
    size_t n, cap;
    int failed; /* sources that could not be read or parsed (each said on stderr) */
} fb_cli_items_t;

/* Reads path — a file, a directory (its *.json, in name order) or "-"
 * (stdin) — and adds its messages to it: a file holds one JSON object, an
 * array of them, or objects one after another (JSON lines). A JSON error
 * is told on stderr at its line and column (a trailing comma at the comma),
 * and counts in it->failed, as does an empty directory or input. */
void fb_cli_items_read(fb_cli_items_t *it, const char *path);

/* Adds the messages of text (len bytes) under name, as fb_cli_items_read()
 * does for a file's contents. Returns 0, or -1 after saying why on stderr. */
int fb_cli_items_parse(fb_cli_items_t *it, const char *name, const char *text, size_t len);

/* Frees every item and the arrays; it is empty after. */
void fb_cli_items_free(fb_cli_items_t *it);

#endif
