/* firstanswer: time from start to first answer of a tcp_table server.
 *
 * Starts COMMAND, then connects to HOST:PORT and sends "get KEY" again and again (every
 * 0.2 ms until something listens) until a "200 " reply comes back; the time from the
 * fork to that reply is one sample. Then it stops the server (SIGTERM, then SIGKILL
 * after two seconds) and waits for it. RUNS samples are taken.
 *
 * Output, one line: runs= min_ms= median_ms= max_ms= failed=
 *
 * usage: firstanswer [-r RUNS] [-w TIMEOUT_S] HOST PORT KEY -- COMMAND [ARGS...]
 * build: gcc -O2 -pthread -o firstanswer firstanswer.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* One try: connect, ask, read one line. 1 for a 200 reply, 0 for anything else. */
static int ask(const struct sockaddr_in *a, const char *req, size_t len) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), ok = 0;
  if (fd < 0) return 0;
  struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (const struct sockaddr *)a, sizeof *a) == 0 && send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len) {
    char buf[4097];
    int got = 0;
    ssize_t k;
    while (got < 4096 && (k = recv(fd, buf + got, 4096 - got, 0)) > 0) {
      got += (int)k;
      if (memchr(buf, '\n', got)) break;
    }
    ok = got >= 4 && !memcmp(buf, "200 ", 4);
  }
  close(fd);
  return ok;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int runs = 5, opt;
  double timeout = 10;
  while ((opt = getopt(argc, argv, "+r:w:")) != -1) {
    if (opt == 'r') runs = atoi(optarg);
    else if (opt == 'w') timeout = atof(optarg);
    else goto usage;
  }
  if (argc - optind < 5 || strcmp(argv[optind + 3], "--") || runs < 1) {
  usage:
    fprintf(stderr, "usage: firstanswer [-r RUNS] [-w TIMEOUT_S] HOST PORT KEY -- COMMAND [ARGS...]\n");
    return 2;
  }
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
  if (inet_pton(AF_INET, argv[optind], &a.sin_addr) != 1) goto usage;
  char req[4200];
  int len = snprintf(req, sizeof req, "get %s\n", argv[optind + 2]);
  char **cmd = argv + optind + 4;

  double *ms = calloc(runs, sizeof *ms);
  int n = 0, failed = 0;
  for (int r = 0; r < runs; r++) {
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, 1); /* the stats table at exit is not ours to print */
      execvp(cmd[0], cmd);
      perror(cmd[0]);
      _exit(127);
    }
    if (pid < 0) { perror("fork"); return 1; }
    int ok = 0, status;
    while (now_ms() - t0 < timeout * 1e3) {
      if (ask(&a, req, (size_t)len)) { ok = 1; break; }
      if (waitpid(pid, &status, WNOHANG) == pid) { pid = -1; break; } /* it died */
      usleep(200);
    }
    double t = now_ms() - t0;
    if (ok) ms[n++] = t;
    else failed++;
    if (pid > 0) {
      kill(pid, SIGTERM);
      for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++) usleep(10000);
      if (waitpid(pid, &status, WNOHANG) == 0) { kill(pid, SIGKILL); waitpid(pid, &status, 0); }
    }
  }
  qsort(ms, n, sizeof *ms, cmpd);
  printf("runs=%d min_ms=%.1f median_ms=%.1f max_ms=%.1f failed=%d\n", runs, n ? ms[0] : 0,
         n ? ms[(n - 1) / 2] : 0, n ? ms[n - 1] : 0, failed);
  return failed ? 1 : 0;
}
