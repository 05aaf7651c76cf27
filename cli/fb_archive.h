/* fb_archive.h — a self-contained archive of stored history: JSON lines written and read back.
 *
 * The format (docs/archive.md): one JSON object per line,
 *
 *   {"fedbus_archive": 1, "generated_at": T, "range": {...}, "directory": DIR}
 *   {"seal": {"origin", "first_seq", "last_seq", "root", "key_id",
 *             "signed_at_us", "signature", "entries", "seqs", "head_seq"}}  ...
 *   {"envelope": B64, "global_seq": N}                                       ...
 *   {"unstored": {"envelope": B64, "reason": R, "original_global_seq": N}}   ...
 *   {"end": {"seals": S, "envelopes": E, "unstored": U, "ids_from_ms": M}}
 *
 * An unstored line is an envelope linked into its chain but not stored
 * (fedbus_unstored; N is 0 unless R is "DUPLICATE"); archives written
 * before there were any have neither those lines nor the end's "unstored".
 * M: ids dated before it were dropped by retention (fb_history_set_ids_from).
 *
 * DIR is the member directory as `fedbus member export-directory` prints
 * it; bytes are standard base64 (RFC 4648, with padding), key_id hex; an
 * envelope is fedbus_messages.envelope exactly as stored. */
#ifndef FB_ARCHIVE_H
#define FB_ARCHIVE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "fb_history.h"

#define FB_ARCHIVE_VERSION 1

/* The line writers; each returns 0, or -1 when out of memory or out fails.
 * range: the export's filter (origin, since, until; NULL = none). */
int fb_archive_put_header(FILE *out, const json_t *directory, const char *origin, const char *since,
                          const char *until);
int fb_archive_put_seal(FILE *out, const fb_history_seal_t *s);
int fb_archive_put_envelope(FILE *out, const uint8_t *env, size_t len, uint64_t global_seq);
int fb_archive_put_unstored(FILE *out, const fb_history_unstored_t *u);
int fb_archive_put_end(FILE *out, size_t seals, size_t envelopes, size_t unstored, int64_t ids_from_ms);

/* Reads an archive from in into h: the header's directory (when
 * own_directory; else h has one already), every seal, envelope and
 * unstored envelope. What is wrong inside it — a line that is not one of the above,
 * an envelope whose global_seq is not its bytes', an end line whose counts
 * are not what was read, no end line — is reported through fn as a
 * FB_HISTORY_FAIL line "archive line N: why" and counted in *problems.
 * Returns 0, or -1 (with the reason in err) when in cannot be read or does
 * not start with an archive header holding a valid directory. */
int fb_archive_read(FILE *in, fb_history_t *h, int own_directory, fb_history_report_fn fn, void *arg, size_t *problems, char *err,
                    size_t err_size);

/* Base64 (RFC 4648, padded): encode writes 4*ceil(len/3) characters and a
 * NUL to out; decode returns the byte count written to out (room for
 * 3*strlen/4), or -1 when text is not base64. */
void fb_archive_b64(const uint8_t *data, size_t len, char *out);
long fb_archive_unb64(const char *text, uint8_t *out);

#endif
