/* fb_seqmap.h — which partitions of fedbus_messages hold which global_seqs, so that a replay page reads only those.
 *
 * fedbus_messages is partitioned by message_id, but replay reads by
 * global_seq: without help, every page is planned and run over every
 * partition. The map keeps, for each partition, its range of ids and the
 * lowest and highest global_seq it held when the map was read (up to
 * `head`, the highest global_seq then stored anywhere). A window of
 * global_seqs up to `head` then lies in the partitions whose range of
 * global_seqs meets it, and fb_seqmap_bounds() turns those into a range of
 * message_id the page's query adds, which PostgreSQL prunes the other
 * partitions by. Rows stored after the map was read may lie in any
 * partition: a window past `head` gets no bounds, nor one that meets the
 * DEFAULT partition (rows move out of it into new partitions). Pure: the
 * store reads the rows (fb_store_read.c). */
#ifndef FB_SEQMAP_H
#define FB_SEQMAP_H

#include <stddef.h>
#include <stdint.h>

#define FB_SEQMAP_UUID 37 /* a uuid as text, with its NUL */

typedef struct {
    char lo[FB_SEQMAP_UUID], hi[FB_SEQMAP_UUID]; /* "" = MINVALUE / MAXVALUE */
    int is_default;
    int empty;                /* held no row */
    uint64_t min_seq, max_seq;
} fb_seqmap_part_t;

typedef struct {
    fb_seqmap_part_t *parts;
    size_t n;
    uint64_t head;  /* every row up to it is in the map */
    int64_t read_us; /* monotonic: when it was read; 0 = never */
} fb_seqmap_t;

/* Reads a partition bound as pg_get_expr() writes it ("FOR VALUES FROM
 * ('…') TO ('…')", MINVALUE, MAXVALUE, or "DEFAULT") into *p. Returns 0,
 * or -1 when it is none of these (the map is then not to be used). */
int fb_seqmap_parse_bound(const char *expr, fb_seqmap_part_t *p);

/* Writes into lo and hi (FB_SEQMAP_UUID bytes each; "" = no bound on that
 * side) the range of message_id that holds every row of global_seq in
 * [from, to) when m says so. Returns 1 then, 0 when the window cannot be
 * bounded (it reaches past m->head or meets the DEFAULT partition). */
int fb_seqmap_bounds(const fb_seqmap_t *m, uint64_t from, uint64_t to, char *lo, char *hi);

/* Frees m's partitions and empties it (accepts an empty map). */
void fb_seqmap_clear(fb_seqmap_t *m);

#endif
