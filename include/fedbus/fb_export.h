/* fb_export.h — FB_EXPORT, the mark of a function the shared libfedbus exports.
 *
 * libfedbus.so is built with hidden visibility: only what its public
 * headers mark FB_EXPORT is part of its ABI; everything else in it stays
 * private to the library, free to change between releases. */
#ifndef FB_EXPORT_H
#define FB_EXPORT_H

#if defined(__GNUC__)
#define FB_EXPORT __attribute__((visibility("default")))
#else
#define FB_EXPORT
#endif

#endif
