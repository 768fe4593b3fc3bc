/* mxdns: a wildcard MX responder on 127.0.0.1, used only to fill the router's cache with
 * 100 000 domains that have real MX answers. Every MX question, for any name, gets one
 * answer "10 mxN.example.com" (N = 1..3, from a hash of the name) with a TTL of one
 * hour; every other question gets an empty NOERROR answer.
 *
 * dnsmasq cannot do this at speed: it compares each query with every --mx-host line in
 * turn, and with 100 000 lines answers about 300 queries a second (the fill would take
 * six minutes). dnsmasq still answers every query of the load table.
 *
 * On SIGUSR1 it prints "queries=N" (questions answered so far) on standard error: the
 * benchmark uses it to check that a second pass over the same domains is all cache hits.
 *
 * usage: mxdns PORT
 * build: gcc -O2 -pthread -o mxdns mxdns.c */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static volatile sig_atomic_t report;
static void on_usr1(int sig) { (void)sig; report = 1; }

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: mxdns PORT\n"); return 2; }
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1; /* no SA_RESTART: recvfrom returns EINTR and we report */
  sigaction(SIGUSR1, &sa, 0);
  unsigned long answered = 0;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[1]));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&a, sizeof a)) { perror("mxdns: bind"); return 1; }
  unsigned char q[512], r[600];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
    if (report) { report = 0; fprintf(stderr, "queries=%lu\n", answered); }
    if (n < 0 && errno == EINTR) continue;
    if (n < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1) continue; /* one question */
    size_t i = 12;
    uint32_t h = 2166136261u; /* FNV-1a of the name, to spread the three hosts */
    while (i < (size_t)n && q[i]) {
      if (q[i] & 0xc0) goto next; /* no compression in a question */
      for (size_t j = i + 1; j <= i + q[i] && j < (size_t)n; j++) h = (h ^ (q[j] | 0x20)) * 16777619u;
      i += q[i] + 1;
    }
    if (i + 5 > (size_t)n) continue;
    size_t qend = i + 5; /* root label, type, class */
    int mx = q[i + 1] == 0 && q[i + 2] == 15;
    memcpy(r, q, qend);
    r[2] = 0x84 | (q[2] & 0x01); /* response, authoritative, copy RD */
    r[3] = 0x00;                 /* NOERROR */
    r[6] = 0; r[7] = mx;         /* answers */
    r[8] = r[9] = r[10] = r[11] = 0;
    size_t o = qend;
    if (mx) {
      static const unsigned char rr[] = {
        0xc0, 0x0c, 0x00, 0x0f, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, /* name, MX, IN, TTL 3600 */
        0x00, 0x13, 0x00, 0x0a,                                     /* rdlength 19, pref 10 */
        3, 'm', 'x', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0};
      memcpy(r + o, rr, sizeof rr);
      r[o + 17] = (unsigned char)('1' + h % 3);
      o += sizeof rr;
    }
    sendto(s, r, o, 0, (struct sockaddr *)&from, fl);
    answered++;
  next:;
  }
}
