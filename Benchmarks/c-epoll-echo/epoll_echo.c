/*
 * epoll_echo: the C reference line echo used by scripts/bench.sh ("the limit").
 *
 *     gcc -O2 -Wall -o .build/epoll_echo Benchmarks/c-epoll-echo/epoll_echo.c -lpthread
 *     epoll_echo [PORT [THREADS]]      PORT 0 (default) picks a free port;
 *                                      THREADS defaults to the number of online CPUs.
 *
 * Binds 127.0.0.1 and prints `listening on 127.0.0.1:PORT` (flushed) once every thread listens.
 * One thread per core, each with its own SO_REUSEPORT listening socket and level-triggered epoll
 * set (the kernel spreads connections over the threads), as NIOLineEcho runs one event loop per
 * core. Per connection: an input buffer; every complete line ("\n"-terminated) is written back
 * byte for byte, directly from the input buffer when nothing is queued; what the socket does
 * not take goes to an output buffer flushed on EPOLLOUT. Reading pauses while more than
 * OUT_HIGH bytes are queued. A trailing partial line at EOF is dropped; the connection closes
 * once its queued output is written. Lines longer than MAX_LINE close the connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_INITIAL (64 * 1024)
#define MAX_LINE (16 * 1024 * 1024)
#define OUT_HIGH (1024 * 1024)
#define MAX_EVENTS 256

typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

typedef struct {
    int fd;
    int eof;          /* peer sent EOF: close once out is drained */
    uint32_t events;  /* currently registered epoll events */
    buf_t in;         /* bytes read, not yet part of a complete line sent back */
    buf_t out;        /* echo bytes the socket has not taken yet */
} conn_t;

static int listen_fd_tag; /* its address marks the listening socket in epoll data */

static int buf_reserve(buf_t *b, size_t need) {
    if (b->cap >= need) return 0;
    size_t cap = b->cap ? b->cap : IN_INITIAL;
    while (cap < need) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

static void conn_close(int ep, conn_t *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.data);
    free(c->out.data);
    free(c);
}

static int conn_update(int ep, conn_t *c) {
    uint32_t ev = 0;
    if (!c->eof && c->out.len < OUT_HIGH) ev |= EPOLLIN;
    if (c->out.len > 0) ev |= EPOLLOUT;
    if (ev == c->events) return 0;
    struct epoll_event e = {.events = ev, .data.ptr = c};
    c->events = ev;
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
}

/* Write as much of out as the socket takes. -1 on a fatal error. */
static int flush_out(conn_t *c) {
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        off += (size_t)n;
    }
    if (off > 0) {
        memmove(c->out.data, c->out.data + off, c->out.len - off);
        c->out.len -= off;
    }
    return 0;
}

/* Echo the complete lines in in.data[0..n): straight from the input when nothing is queued. */
static int echo(conn_t *c, size_t n) {
    size_t off = 0;
    if (c->out.len == 0) {
        while (off < n) {
            ssize_t w = send(c->fd, c->in.data + off, n - off, MSG_NOSIGNAL);
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                return -1;
            }
            off += (size_t)w;
        }
    }
    if (off < n) {
        if (buf_reserve(&c->out, c->out.len + (n - off)) < 0) return -1;
        memcpy(c->out.data + c->out.len, c->in.data + off, n - off);
        c->out.len += n - off;
    }
    return 0;
}

/* Readable: read, echo complete lines, keep the partial tail. -1: close the connection. */
static int on_readable(conn_t *c) {
    for (int rounds = 0; rounds < 16; rounds++) {
        if (c->in.cap - c->in.len == 0) {
            if (c->in.cap >= MAX_LINE) return -1;
            if (buf_reserve(&c->in, c->in.cap * 2) < 0) return -1;
        }
        size_t space = c->in.cap - c->in.len;
        ssize_t n = recv(c->fd, c->in.data + c->in.len, space, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        if (n == 0) {
            c->eof = 1;
            return 0;
        }
        size_t scanned = c->in.len;
        c->in.len += (size_t)n;
        char *last = memrchr(c->in.data + scanned, '\n', (size_t)n);
        if (last) {
            size_t complete = (size_t)(last - c->in.data) + 1;
            if (echo(c, complete) < 0) return -1;
            memmove(c->in.data, c->in.data + complete, c->in.len - complete);
            c->in.len -= complete;
        }
        if ((size_t)n < space || c->out.len >= OUT_HIGH) return 0; /* drained (level-triggered) */
    }
    return 0;
}

static void on_accept(int ep, int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) perror("epoll_echo: accept4");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn_t *c = calloc(1, sizeof *c);
        if (!c || buf_reserve(&c->in, IN_INITIAL) < 0) {
            if (c) free(c->in.data);
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
            perror("epoll_echo: epoll_ctl");
            free(c->in.data);
            free(c);
            close(fd);
        }
    }
}

static void *worker(void *arg) {
    int lfd = (int)(intptr_t)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) { perror("epoll_echo: epoll_create1"); exit(1); }
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = &listen_fd_tag};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) < 0) { perror("epoll_echo: epoll_ctl"); exit(1); }
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_echo: epoll_wait");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listen_fd_tag) { on_accept(ep, lfd); continue; }
            conn_t *c = evs[i].data.ptr;
            uint32_t ev = evs[i].events;
            int bad = (ev & EPOLLERR) != 0;
            if (!bad && (ev & EPOLLOUT)) bad = flush_out(c) < 0;
            if (!bad && (ev & (EPOLLIN | EPOLLHUP)) && !c->eof && c->out.len < OUT_HIGH)
                bad = on_readable(c) < 0;
            if (bad || (c->eof && c->out.len == 0) || conn_update(ep, c) < 0) conn_close(ep, c);
        }
    }
    return NULL;
}

static int make_listener(int port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("epoll_echo: socket"); exit(1); }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("epoll_echo: bind"); exit(1); }
    if (listen(fd, 1024) < 0) { perror("epoll_echo: listen"); exit(1); }
    return fd;
}

int main(int argc, char **argv) {
    if (argc > 3) { fprintf(stderr, "usage: epoll_echo [PORT [THREADS]]\n"); return 2; }
    int port = argc > 1 ? atoi(argv[1]) : 0;
    long threads = argc > 2 ? atol(argv[2]) : sysconf(_SC_NPROCESSORS_ONLN);
    if (port < 0 || port > 65535 || threads < 1 || threads > 256) {
        fprintf(stderr, "usage: epoll_echo [PORT [THREADS]]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }

    int lfds[256];
    lfds[0] = make_listener(port);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    if (getsockname(lfds[0], (struct sockaddr *)&a, &al) < 0) { perror("epoll_echo: getsockname"); return 1; }
    port = ntohs(a.sin_port);
    for (long t = 1; t < threads; t++) lfds[t] = make_listener(port);

    pthread_t th[256];
    for (long t = 0; t < threads; t++) {
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)lfds[t]) != 0) {
            fprintf(stderr, "epoll_echo: pthread_create failed\n");
            return 1;
        }
    }
    printf("listening on 127.0.0.1:%d\n", port);
    fflush(stdout);
    for (long t = 0; t < threads; t++) pthread_join(th[t], NULL);
    return 0;
}
