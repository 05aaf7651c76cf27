/* fault_proxy.c — a TCP relay on 127.0.0.1 that the fault suite kills to cut a node's link.
 *
 * Usage: fault_proxy LISTEN_PORT TARGET_PORT. One process, one poll loop: each accepted
 * connection gets its own connection to 127.0.0.1:TARGET_PORT and bytes are copied both
 * ways. Killing the process (SIGKILL) closes every connection at once, as a cut cable or a
 * rebooted firewall would; starting it again lets the peers reconnect. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_PAIRS 64

/* fds[2k] is the accepted side, fds[2k+1] its upstream; -1 when free. */
static int s_fds[2 * S_PAIRS];

static int s_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "fault_proxy: cannot listen on %d: %s\n", port, strerror(errno));
        exit(1);
    }
    return fd;
}

static int s_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) return fd;
    if (fd >= 0) close(fd);
    return -1;
}

static void s_close_pair(int k)
{
    close(s_fds[2 * k]);
    close(s_fds[2 * k + 1]);
    s_fds[2 * k] = s_fds[2 * k + 1] = -1;
}

/* Accepts one connection and pairs it with a new upstream one (or drops it
 * when the target does not answer: the peer will reconnect). */
static void s_accept(int lfd, int target)
{
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return;
    int u = s_connect(target);
    for (int k = 0; k < S_PAIRS && u >= 0; k++)
        if (s_fds[2 * k] < 0) {
            s_fds[2 * k] = c;
            s_fds[2 * k + 1] = u;
            return;
        }
    close(c);
    if (u >= 0) close(u);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fault_proxy LISTEN_PORT TARGET_PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = s_listen(atoi(argv[1])), target = atoi(argv[2]);
    for (int i = 0; i < 2 * S_PAIRS; i++) s_fds[i] = -1;
    for (;;) {
        struct pollfd p[1 + 2 * S_PAIRS];
        int idx[1 + 2 * S_PAIRS], n = 1;
        p[0] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < 2 * S_PAIRS; i++)
            if (s_fds[i] >= 0) {
                p[n] = (struct pollfd){.fd = s_fds[i], .events = POLLIN};
                idx[n++] = i;
            }
        if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR) return 1;
        if (p[0].revents & POLLIN) s_accept(lfd, target);
        for (int j = 1; j < n; j++) {
            int i = idx[j];
            if (!p[j].revents || s_fds[i] < 0) continue;
            char buf[65536];
            ssize_t r = read(s_fds[i], buf, sizeof(buf));
            /* Blocking writes keep the relay simple; the peers are local. */
            ssize_t w = r > 0 ? write(s_fds[i ^ 1], buf, (size_t)r) : -1;
            if (r <= 0 || w != r) s_close_pair(i / 2);
        }
    }
}
