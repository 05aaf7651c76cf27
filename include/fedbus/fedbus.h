/* fedbus.h — public umbrella header of libfedbus: version, errors, topics, client, keys.
 *
 * Every function that can fail returns an fb_err_t (FB_OK is 0) or NULL, and
 * fb_strerror() turns the code into a sentence. Codes are stable: never
 * renumbered, only appended. */
#ifndef FEDBUS_H
#define FEDBUS_H

#ifdef __cplusplus
extern "C" {
#endif

#define FEDBUS_VERSION_MAJOR 0
#define FEDBUS_VERSION_MINOR 1
#define FEDBUS_VERSION_PATCH 0
#define FEDBUS_SCHEMA_VERSION 1 /* Envelope.schema_version this build writes and reads */

#include "fedbus/fb_export.h"

typedef enum {
    FB_OK = 0,
    FB_ENOMEM = 1,     /* out of memory */
    FB_EINVAL = 2,     /* invalid argument or input */
    FB_EIO = 3,        /* file or socket I/O failed */
    FB_ESTORE = 4,     /* PostgreSQL failed */
    FB_ECONFLICT = 5,  /* unique key already taken */
    FB_ETIMEOUT = 6,   /* no answer in time */
    FB_EPROTO = 7,     /* peer broke the wire protocol */
    FB_EREJECTED = 8,  /* the broker rejected the message */
    FB_ENOTFOUND = 9,  /* no such thing */
    FB_ECONFIG = 10,   /* bad configuration */
    FB_EINTR = 11,     /* interrupted by a signal */
    FB_EFULL = 12,     /* no room left (a bound reached): retry later */
    FB_ELOST = 13,     /* history asked for was dropped by the broker's retention */
    FB_EVERIFY = 14,   /* a delivered message failed verification against its origin's seal */
} fb_err_t;

/* Returns a static, one-line description of err; never NULL. */
FB_EXPORT const char *fb_strerror(int err);

/* Returns the library version as "MAJOR.MINOR.PATCH". */
FB_EXPORT const char *fb_version(void);

#ifdef __cplusplus
}
#endif

#include "fedbus/fb_topic.h"
#include "fedbus/fb_client.h"
#include "fedbus/fb_client_keys.h"

#endif
