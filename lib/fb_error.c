/* fb_error.c — fedbus error codes as sentences. */
#include "fedbus/fedbus.h"

static const char *const s_messages[] = {
    [FB_OK] = "success",
    [FB_ENOMEM] = "out of memory",
    [FB_EINVAL] = "invalid argument or input",
    [FB_EIO] = "input/output error",
    [FB_ESTORE] = "PostgreSQL error",
    [FB_ECONFLICT] = "already exists with other content",
    [FB_ETIMEOUT] = "timed out",
    [FB_EPROTO] = "protocol error",
    [FB_EREJECTED] = "rejected by the broker",
    [FB_ENOTFOUND] = "not found",
    [FB_ECONFIG] = "configuration error",
    [FB_EINTR] = "interrupted",
    [FB_EFULL] = "full",
    [FB_ELOST] = "beyond the broker's retention: dropped",
    [FB_EVERIFY] = "failed verification: not what its origin signed",
};

const char *fb_strerror(int err)
{
    if (err < 0 || (size_t)err >= sizeof(s_messages) / sizeof(s_messages[0]) ||
        s_messages[err] == NULL)
        return "unknown error";
    return s_messages[err];
}

const char *fb_version(void)
{
    return FEDBUS_VERSION_STRING;
}
