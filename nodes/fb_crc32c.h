/* fb_crc32c.h — CRC-32C (Castagnoli), the checksum of the node's journal records.
 *
 * The polynomial of iSCSI, ext4 and SCTP (reflected 0x82F63B78), chosen over
 * zlib's CRC-32 for its better error detection on short records; computed
 * with the SSE4.2 crc32 instruction where the CPU has it (chosen at run
 * time), else in software, eight bytes a step (about 1-2 GB/s). */
#ifndef FB_CRC32C_H
#define FB_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Returns the CRC-32C of len bytes at data continued from crc (0 to start):
 * fb_crc32c(fb_crc32c(0, a, n), b, m) is the CRC of a then b. Thread-safe. */
uint32_t fb_crc32c(uint32_t crc, const void *data, size_t len);

/* The same, always in software: what fb_crc32c() falls back to, and what
 * the tests hold the instruction's results against. */
uint32_t fb_crc32c_sw(uint32_t crc, const void *data, size_t len);

/* Which fb_crc32c() computes: "sse4.2" or "software" (a static string). */
const char *fb_crc32c_impl(void);

#endif
