/* fb_reply.c — answers to ROUTER peers, sent without blocking. */
#include "fb_reply.h"

#include <errno.h>

int fb_reply_send(void *sock, const zmq_msg_t *ident, zmq_msg_t *body)
{
    zmq_msg_t id;
    zmq_msg_init(&id);
    zmq_msg_copy(&id, (zmq_msg_t *)ident); /* a reference, not a copy of the bytes */
    if (zmq_msg_send(&id, sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(&id);
        zmq_msg_close(body);
        errno = e;
        return -1;
    }
    if (zmq_msg_send(body, sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close(body);
        errno = e;
        return -1;
    }
    return 0;
}
