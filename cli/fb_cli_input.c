/* fb_cli_input.c — the messages `fedbus publish` is given: files, directories, stdin, inline; read and parsed whole.
 *
 * Everything is read and parsed before anything is sent, so that a
 * mistake anywhere stops the whole publish (fb_cli_publish.c). A source
 * holds one object, an array, or objects one after another — what
 * `fedbus replay --format=json` prints, so its output can be published
 * again. */
#include "fb_cli_input.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads all of f into a new buffer (the caller frees it), its length in
 * *len. Returns NULL when reading fails or memory runs out. */
static char *s_read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    for (;;) {
        if (n == cap) {
            char *more = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!more) {
                free(buf);
                return NULL;
            }
            buf = more;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* The line and column (in characters, both from 1) of byte pos of text. */
static void s_line_col(const char *text, size_t pos, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') {
            ++*line;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xc0) != 0x80) {
            ++*col;
        }
    }
}

/* Says where and why text does not parse: jansson stops after the token
 * it could not take (pos); a '}' or ']' right after a comma is reported at
 * the comma, where the mistake is. */
static void s_json_error(const char *name, const char *text, size_t len, size_t pos, const json_error_t *e)
{
    int line, col;
    if (pos > len) pos = len;
    size_t at = pos ? pos - 1 : 0;
    if (pos && pos <= len && (text[at] == '}' || text[at] == ']')) {
        size_t b = at;
        while (b > 0 && strchr(" \t\r\n", text[b - 1])) b--;
        if (b > 0 && text[b - 1] == ',') {
            s_line_col(text, b - 1, &line, &col);
            fprintf(stderr, "fedbus publish: %s: JSON line %d, column %d: a trailing comma before '%c'\n", name,
                    line, col, text[at]);
            return;
        }
    }
    s_line_col(text, at, &line, &col);
    fprintf(stderr, "fedbus publish: %s: JSON line %d, column %d: %s\n", name, line, col, e->text);
}

/* Adds obj (a reference is taken) as an item named name. Returns 0 or -1. */
static int s_add(fb_cli_items_t *it, const char *name, json_t *obj)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 64;
        fb_cli_item_t *v = realloc(it->v, cap * sizeof(*v));
        if (!v) return -1;
        it->v = v;
        it->cap = cap;
    }
    fb_cli_item_t *x = &it->v[it->n];
    if (!(x->name = strdup(name))) return -1;
    x->obj = json_incref(obj);
    x->id[0] = '\0';
    it->n++;
    return 0;
}

/* Adds one parsed value: an object, or an array of objects (each must be
 * one; nothing of the array is added otherwise). */
static int s_add_value(fb_cli_items_t *it, const char *name, json_t *v)
{
    char sub[640];
    if (json_is_object(v)) return s_add(it, name, v);
    if (!json_is_array(v)) {
        fprintf(stderr, "fedbus publish: %s: a message is a JSON object, not %s\n", name,
                json_is_string(v) ? "a string" : json_is_number(v) ? "a number" : "this");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(v); i++)
        if (!json_is_object(json_array_get(v, i))) {
            fprintf(stderr, "fedbus publish: %s[%zu]: an array item is a message, a JSON object\n", name, i);
            return -1;
        }
    if (json_array_size(v) == 0) {
        fprintf(stderr, "fedbus publish: %s: the array is empty: no message to publish\n", name);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        snprintf(sub, sizeof(sub), "%.600s[%zu]", name, i);
        if (s_add(it, sub, json_array_get(v, i)) != 0) return -1;
    }
    return 0;
}

int fb_cli_items_parse(fb_cli_items_t *it, const char *name, const char *text, size_t len)
{
    size_t off = 0, first = it->n;
    int values = 0;
    for (;;) {
        while (off < len && strchr(" \t\r\n", text[off])) off++;
        if (off == len) break;
        json_error_t e;
        json_t *v = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
        if (!v) {
            s_json_error(name, text, len, off + (size_t)e.position, &e);
            goto fail;
        }
        char sub[600];
        int line, col;
        s_line_col(text, off, &line, &col);
        /* A file of one value is named by the file; objects one after another by their line. */
        int alone = values == 0 && strspn(text + off + e.position, " \t\r\n") == len - off - (size_t)e.position;
        snprintf(sub, sizeof(sub), alone ? "%.580s" : "%.580s:%d", name, line);
        int rc = s_add_value(it, sub, v);
        json_decref(v);
        if (rc != 0) goto fail;
        values++;
        off += (size_t)e.position;
    }
    if (values == 0) {
        fprintf(stderr, "fedbus publish: %s: empty: no message to publish\n", name);
        goto fail;
    }
    return 0;
fail:
    while (it->n > first) {
        it->n--;
        free(it->v[it->n].name);
        json_decref(it->v[it->n].obj);
    }
    return -1;
}

static void s_read_file(fb_cli_items_t *it, const char *path)
{
    int in = strcmp(path, "-") == 0;
    FILE *f = in ? stdin : fopen(path, "rb");
    if (!f) {
        it->failed++;
        fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
        return;
    }
    size_t len = 0;
    char *text = s_read_all(f, &len);
    if (!in) fclose(f);
    if (!text) {
        it->failed++;
        fprintf(stderr, "fedbus publish: %s: cannot read (or out of memory)\n", path);
        return;
    }
    if (fb_cli_items_parse(it, path, text, len) != 0) it->failed++;
    free(text);
}

static int s_json_name(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

void fb_cli_items_read(fb_cli_items_t *it, const char *path)
{
    struct stat st;
    if (strcmp(path, "-") == 0 || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        s_read_file(it, path);
        return;
    }
    struct dirent **list;
    int n = scandir(path, &list, s_json_name, alphasort);
    if (n < 0) {
        it->failed++;
        fprintf(stderr, "fedbus publish: %s: %s\n", path, strerror(errno));
        return;
    }
    if (n == 0) {
        it->failed++;
        fprintf(stderr, "fedbus publish: warning: %s: no *.json files in this directory: nothing to publish\n",
                path);
    }
    for (int i = 0; i < n; i++) {
        char full[4096];
        snprintf(full, sizeof(full), "%s%s%s", path, path[strlen(path) - 1] == '/' ? "" : "/", list[i]->d_name);
        s_read_file(it, full);
        free(list[i]);
    }
    free(list);
}

void fb_cli_items_free(fb_cli_items_t *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].name);
        json_decref(it->v[i].obj);
    }
    free(it->v);
    memset(it, 0, sizeof(*it));
}
