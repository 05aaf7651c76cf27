/* fb_seqmap.c — which partitions of fedbus_messages hold which global_seqs, so that a replay page reads only those. */
#include "fb_seqmap.h"

#include <stdlib.h>
#include <string.h>

/* Reads one side of a bound at *s ("MINVALUE", "MAXVALUE" or "'uuid'")
 * into out ("" for the first two); returns where it ends, or NULL. */
static const char *s_side(const char *s, char *out)
{
    if (strncmp(s, "MINVALUE", 8) == 0 || strncmp(s, "MAXVALUE", 8) == 0) {
        out[0] = '\0';
        return s + 8;
    }
    if (s[0] != '\'' || strlen(s) < FB_SEQMAP_UUID + 1 || s[FB_SEQMAP_UUID] != '\'') return NULL;
    memcpy(out, s + 1, FB_SEQMAP_UUID - 1);
    out[FB_SEQMAP_UUID - 1] = '\0';
    for (int i = 0; i < FB_SEQMAP_UUID - 1; i++)
        if (!strchr("0123456789abcdef-", out[i])) return NULL;
    return s + FB_SEQMAP_UUID + 1;
}

int fb_seqmap_parse_bound(const char *expr, fb_seqmap_part_t *p)
{
    p->lo[0] = p->hi[0] = '\0';
    p->is_default = strcmp(expr, "DEFAULT") == 0;
    if (p->is_default) return 0;
    static const char from[] = "FOR VALUES FROM (", to[] = ") TO (";
    if (strncmp(expr, from, sizeof(from) - 1) != 0) return -1;
    const char *s = s_side(expr + sizeof(from) - 1, p->lo);
    if (!s || strncmp(s, to, sizeof(to) - 1) != 0) return -1;
    s = s_side(s + sizeof(to) - 1, p->hi);
    return s && strcmp(s, ")") == 0 ? 0 : -1;
}

int fb_seqmap_bounds(const fb_seqmap_t *m, uint64_t from, uint64_t to, char *lo, char *hi)
{
    int any = 0, open_lo = 0, open_hi = 0;
    lo[0] = hi[0] = '\0';
    if (!m->read_us || to == 0 || to - 1 > m->head) return 0;
    for (size_t i = 0; i < m->n; i++) {
        const fb_seqmap_part_t *p = &m->parts[i];
        if (p->empty || p->max_seq < from || p->min_seq >= to) continue;
        if (p->is_default) return 0;
        /* uuids as text compare as the uuids do (lowercase hex, fixed dashes) */
        if (!p->lo[0]) open_lo = 1;
        else if (!any || (lo[0] && strcmp(p->lo, lo) < 0)) memcpy(lo, p->lo, FB_SEQMAP_UUID);
        if (!p->hi[0]) open_hi = 1;
        else if (!any || (hi[0] && strcmp(p->hi, hi) > 0)) memcpy(hi, p->hi, FB_SEQMAP_UUID);
        any = 1;
    }
    if (!any) return 0; /* nothing there as the map was read: the page finds out */
    if (open_lo) lo[0] = '\0';
    if (open_hi) hi[0] = '\0';
    return 1;
}

void fb_seqmap_clear(fb_seqmap_t *m)
{
    free(m->parts);
    memset(m, 0, sizeof(*m));
}
