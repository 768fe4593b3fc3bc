/* floor: the fastest a tcp_table server can be on this machine, to measure the router
 * against. One thread, one epoll loop; every request line gets the same fixed reply and
 * no other work is done. The replies to all the lines one read brings are written at
 * once. Listens on 127.0.0.1.
 *
 * usage: floor PORT [REPLY]   REPLY without its LF, default "200 relay:[mx1.example.com]:25"
 * build: gcc -O2 -pthread -o floor floor.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) { fprintf(stderr, "usage: floor PORT [REPLY]\n"); return 2; }
  int port = atoi(argv[1]);
  char reply[4097];
  int rlen = snprintf(reply, sizeof reply, "%s\n", argc > 2 ? argv[2] : "200 relay:[mx1.example.com]:25");
  if (rlen <= 1 || rlen >= (int)sizeof reply) { fprintf(stderr, "floor: bad reply\n"); return 2; }

  struct rlimit rl; /* room for 1000 and more connections */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 4096)) { perror("floor: listen"); return 1; }

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[256];
  static char in[65536], out[65536 * 2];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        int c;
        while ((c = accept4(ls, 0, 0, SOCK_NONBLOCK)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
        continue;
      }
      ssize_t k = read(fd, in, sizeof in);
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (k <= 0) { close(fd); continue; }
      size_t o = 0;
      for (char *p = in, *end = in + k; (p = memchr(p, '\n', end - p)); p++) {
        if (o + rlen > sizeof out) { (void)!write(fd, out, o); o = 0; }
        memcpy(out + o, reply, rlen);
        o += rlen;
      }
      if (o) (void)!write(fd, out, o);
    }
  }
}
