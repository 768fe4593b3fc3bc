/* loadgen: closed-loop load for a Postfix tcp_table server, the way Postfix talks.
 *
 * CONNS persistent connections; each sends one "get KEY\n", waits for the one-line
 * reply, then sends the next, for SECONDS. Keys come from KEYFILE, one a line, handed
 * out in file order from one shared counter, so that no key repeats until the file is
 * used up.
 *
 * The connections are spread over THREADS threads (default 1, at most one per
 * connection). One thread is the lightest load on a small machine: it leaves the other
 * cores to the server, and measured against a thread-per-connection load generator (a thread per
 * connection) it drives the floor server as fast or faster, with a lower p99. A thread
 * with one connection uses blocking reads, the cheapest way to wait for one socket; a
 * thread with several waits on them with epoll. All connections
 * are opened before the clock starts. A connection the server closes or resets counts
 * as an error and is reopened.
 *
 * Output, one line (the fields of the usual tcp_table load generators):
 *   requests= seconds= rps= p50_us= p99_us= max_us= ok200= tmp400= no500= other= errors=
 *   conns= served_conns=
 * served_conns counts the connections that got at least one reply.
 *
 * With -n COUNT, it stops after COUNT requests (or SECONDS, whichever comes first): that
 * is how a cache gets filled with exactly COUNT domains.
 *
 * With -u (unique keys), a warning on standard error says when the keys ran out and
 * some were sent twice: a cache-miss run needs a key file longer than the run.
 *
 * With -m NAME, it talks Postfix's socketmap protocol instead: each request is the
 * netstring "LEN:NAME KEY,", each reply a netstring; OK counts as ok200, TEMP as tmp400,
 * NOTFOUND as no500, anything else (PERM included) as other.
 *
 * usage: loadgen [-u] [-n COUNT] [-t THREADS] [-m NAME] HOST PORT CONNS SECONDS KEYFILE
 * build: gcc -O2 -pthread -o loadgen loadgen.c */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXREPLY 4096 /* tcp_table: a reply is at most 4096 bytes with its LF */

static char **keys;
static size_t *keylen;
static long nkeys;
static atomic_long nextkey;
static atomic_int stop;
static atomic_int running; /* worker threads still at work */
static long limit;         /* -n: requests to send in all, 0 = no limit */
static struct sockaddr_in target;
static const char *mapname; /* -m: socketmap with this map name; NULL = tcp_table */
static size_t mapnamelen;

typedef struct {
  int fd;
  int waiting;     /* a request is out and its reply not yet complete */
  int got;         /* bytes of the reply read so far */
  long served;     /* replies received on this connection */
  uint64_t t0;     /* when the outstanding request was sent, ns */
  char buf[MAXREPLY + 1];
} conn_t;

typedef struct {
  pthread_t th;
  conn_t *conns;
  int n;
  int active; /* connections still sending (they stop when -n is reached) */
  long requests, c200, c400, c500, other, errors;
  uint32_t *lat; /* microseconds, one per reply */
  long nlat, caplat;
} worker_t;

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr *)&target, sizeof target) < 0) { close(fd); return -1; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void record(worker_t *w, uint64_t dt_ns) {
  if (w->nlat == w->caplat) {
    w->caplat = w->caplat ? w->caplat * 2 : 65536;
    w->lat = realloc(w->lat, w->caplat * sizeof *w->lat);
    if (!w->lat) { perror("realloc"); exit(1); }
  }
  uint64_t us = dt_ns / 1000;
  w->lat[w->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* Send the next key. Returns 0, 1 when -n requests have been sent already, or -1 when
 * the write failed. */
static int send_next(conn_t *c) {
  char req[4200];
  long i = atomic_fetch_add_explicit(&nextkey, 1, memory_order_relaxed);
  if (limit && i >= limit) { c->waiting = 0; return 1; }
  i %= nkeys;
  size_t len = keylen[i], n;
  if (mapname) { /* netstring "LEN:NAME KEY," */
    if (len > sizeof req - mapnamelen - 32) len = sizeof req - mapnamelen - 32;
    int h = snprintf(req, sizeof req, "%zu:%s ", mapnamelen + 1 + len, mapname);
    memcpy(req + h, keys[i], len);
    req[h + len] = ',';
    n = (size_t)h + len + 1;
  } else {
    if (len > sizeof req - 6) len = sizeof req - 6;
    memcpy(req, "get ", 4);
    memcpy(req + 4, keys[i], len);
    req[4 + len] = '\n';
    n = len + 5;
  }
  c->t0 = now_ns();
  c->waiting = 1;
  c->got = 0;
  ssize_t k = send(c->fd, req, n, MSG_NOSIGNAL);
  return k == (ssize_t)n ? 0 : -1;
}

/* Drop a broken connection, count the error, open a new one and send on it. */
static void redial(worker_t *w, conn_t *c, int ep) {
  w->errors++;
  if (ep >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, 0);
  close(c->fd);
  c->waiting = 0;
  c->got = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    c->fd = dial();
    if (c->fd >= 0) break;
    w->errors++;
    usleep(100000);
  }
  if (c->fd < 0) return;
  if (ep >= 0) {
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  } else {
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  int r = send_next(c);
  if (r < 0) w->errors++;
  if (r > 0) w->active--;
}

/* Bytes arrived on c (already appended to c->buf, c->got updated). Consume complete
 * replies; after each, send the next request. Returns -1 when the stream is broken, 1
 * when this connection has nothing more to send. */
/* The length of the complete reply at the start of c->buf: 0 when more bytes are needed,
 * -1 when the stream is broken. Counts the reply's kind. */
static int reply_end(worker_t *w, conn_t *c) {
  if (!mapname) {
    char *lf = memchr(c->buf, '\n', c->got);
    if (!lf) return c->got >= MAXREPLY ? -1 : 0; /* no LF within 4096 bytes: broken */
    if (!memcmp(c->buf, "200 ", 4)) w->c200++;
    else if (!memcmp(c->buf, "400 ", 4)) w->c400++;
    else if (!memcmp(c->buf, "500 ", 4)) w->c500++;
    else w->other++;
    return (int)(lf - c->buf) + 1;
  }
  char *colon = memchr(c->buf, ':', c->got);
  if (!colon) return c->got > 10 ? -1 : 0;
  long n = 0;
  for (char *d = c->buf; d < colon; d++) {
    if (*d < '0' || *d > '9') return -1;
    n = n * 10 + (*d - '0');
  }
  int h = (int)(colon - c->buf) + 1;
  if (colon == c->buf || h + n + 1 > MAXREPLY) return -1;
  if (c->got < h + n + 1) return 0;
  if (c->buf[h + n] != ',') return -1;
  const char *b = c->buf + h;
  if (n >= 3 && !memcmp(b, "OK ", 3)) w->c200++;
  else if (n >= 4 && !memcmp(b, "TEMP", 4)) w->c400++;
  else if (n >= 8 && !memcmp(b, "NOTFOUND", 8)) w->c500++;
  else w->other++;
  return h + (int)n + 1;
}

static int on_data(worker_t *w, conn_t *c, uint64_t t) {
  for (;;) {
    if (!c->waiting) return c->got ? -1 : 0; /* a reply nobody asked for */
    int used = reply_end(w, c);
    if (used <= 0) return used;
    record(w, t - c->t0);
    w->requests++;
    c->served++;
    memmove(c->buf, c->buf + used, c->got - used);
    c->got -= used;
    c->waiting = 0;
    if (c->got) return -1; /* more bytes than one reply: the server is out of step */
    if (atomic_load_explicit(&stop, memory_order_relaxed)) return 0;
    return send_next(c);
  }
}

static void *run_blocking(void *arg) { /* one connection: plain blocking reads */
  worker_t *w = arg;
  conn_t *c = &w->conns[0];
  struct timeval tv = {.tv_sec = 0, .tv_usec = 200000}; /* wake to see the stop flag */
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  w->active = 1;
  int r = send_next(c);
  if (r < 0) redial(w, c, -1);
  else if (r > 0) w->active = 0;
  while (!atomic_load_explicit(&stop, memory_order_relaxed) && c->fd >= 0 && w->active) {
    ssize_t k = recv(c->fd, c->buf + c->got, MAXREPLY - c->got, 0);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (k <= 0) { redial(w, c, -1); continue; }
    c->got += (int)k;
    r = on_data(w, c, now_ns());
    if (r < 0) redial(w, c, -1);
    else if (r > 0) w->active = 0;
  }
  atomic_fetch_sub(&running, 1);
  return 0;
}

static void *run_epoll(void *arg) { /* several connections: one epoll set */
  worker_t *w = arg;
  int ep = epoll_create1(0);
  for (int i = 0; i < w->n; i++) {
    conn_t *c = &w->conns[i];
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  }
  w->active = w->n;
  for (int i = 0; i < w->n; i++) {
    int r = send_next(&w->conns[i]);
    if (r < 0) redial(w, &w->conns[i], ep);
    else if (r > 0) w->active--;
  }
  struct epoll_event evs[256];
  while (!atomic_load_explicit(&stop, memory_order_relaxed) && w->active > 0) {
    int n = epoll_wait(ep, evs, 256, 100);
    uint64_t t = now_ns();
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      ssize_t k = recv(c->fd, c->buf + c->got, MAXREPLY - c->got, 0);
      if (k < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      int r = k <= 0 ? -1 : (c->got += (int)k, on_data(w, c, t));
      if (r < 0) redial(w, c, ep);
      else if (r > 0) w->active--;
    }
  }
  close(ep);
  atomic_fetch_sub(&running, 1);
  return 0;
}

static int cmpu(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void load_keys(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) { perror(path); exit(2); }
  long cap = 1024;
  keys = malloc(cap * sizeof *keys);
  keylen = malloc(cap * sizeof *keylen);
  char *line = 0;
  size_t lcap = 0;
  ssize_t len;
  while ((len = getline(&line, &lcap, f)) >= 0) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    if (!len) continue;
    if (nkeys == cap) {
      cap *= 2;
      keys = realloc(keys, cap * sizeof *keys);
      keylen = realloc(keylen, cap * sizeof *keylen);
    }
    keylen[nkeys] = (size_t)len;
    keys[nkeys++] = strdup(line);
  }
  free(line);
  fclose(f);
  if (!nkeys) { fprintf(stderr, "loadgen: no keys in %s\n", path); exit(2); }
}

static void usage(void) {
  fprintf(stderr, "usage: loadgen [-u] [-n COUNT] [-t THREADS] [-m NAME] HOST PORT CONNS SECONDS KEYFILE\n");
  exit(2);
}

int main(int argc, char **argv) {
  int threads = 0, unique = 0, opt;
  while ((opt = getopt(argc, argv, "un:t:m:")) != -1) {
    if (opt == 't') threads = atoi(optarg);
    else if (opt == 'm') { mapname = optarg; mapnamelen = strlen(optarg); }
    else if (opt == 'n') limit = atol(optarg);
    else if (opt == 'u') unique = 1;
    else usage();
  }
  if (argc - optind != 5) usage();
  const char *host = argv[optind];
  int port = atoi(argv[optind + 1]), nconns = atoi(argv[optind + 2]);
  double seconds = atof(argv[optind + 3]);
  if (nconns < 1 || seconds <= 0 || port < 1) usage();
  load_keys(argv[optind + 4]);

  target.sin_family = AF_INET;
  target.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &target.sin_addr) != 1) { fprintf(stderr, "loadgen: bad host %s\n", host); return 2; }

  struct rlimit rl; /* 1000 connections need more than the usual 1024 descriptors */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  if (threads < 1) threads = 1;
  if (threads > nconns) threads = nconns;

  conn_t *conns = calloc(nconns, sizeof *conns);
  worker_t *ws = calloc(threads, sizeof *ws);
  long errors0 = 0;
  for (int i = 0; i < nconns; i++) { /* open every connection before the clock starts */
    conns[i].fd = dial();
    for (int tries = 0; conns[i].fd < 0 && tries < 50; tries++) { errors0++; usleep(100000); conns[i].fd = dial(); }
    if (conns[i].fd < 0) { fprintf(stderr, "loadgen: connect %s:%d: %s\n", host, port, strerror(errno)); return 1; }
  }
  for (int t = 0, at = 0; t < threads; t++) { /* split the connections as evenly as possible */
    int n = nconns / threads + (t < nconns % threads);
    ws[t].conns = conns + at;
    ws[t].n = n;
    at += n;
  }

  atomic_store(&running, threads);
  uint64_t t0 = now_ns(), t1 = t0 + (uint64_t)(seconds * 1e9);
  for (int t = 0; t < threads; t++)
    pthread_create(&ws[t].th, 0, ws[t].n == 1 ? run_blocking : run_epoll, &ws[t]);
  for (uint64_t t = t0; t < t1 && atomic_load(&running) > 0; t = now_ns()) {
    uint64_t left = t1 - t;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = left < 10000000 ? (long)left : 10000000};
    nanosleep(&nap, 0);
  }
  atomic_store(&stop, 1);
  double elapsed = (now_ns() - t0) / 1e9;
  for (int t = 0; t < threads; t++) pthread_join(ws[t].th, 0);

  worker_t sum = {0};
  sum.errors = errors0;
  for (int t = 0; t < threads; t++) {
    sum.requests += ws[t].requests; sum.c200 += ws[t].c200; sum.c400 += ws[t].c400;
    sum.c500 += ws[t].c500; sum.other += ws[t].other; sum.errors += ws[t].errors;
    sum.nlat += ws[t].nlat;
  }
  uint32_t *all = malloc((sum.nlat + 1) * sizeof *all);
  long k = 0;
  for (int t = 0; t < threads; t++) {
    if (ws[t].nlat) memcpy(all + k, ws[t].lat, ws[t].nlat * sizeof *all);
    k += ws[t].nlat;
  }
  qsort(all, k, sizeof *all, cmpu);
  long served = 0;
  for (int i = 0; i < nconns; i++) served += conns[i].served > 0;
  long used = atomic_load(&nextkey);
  if (limit && used > limit) used = limit;
  if (unique && used > nkeys)
    fprintf(stderr, "loadgen: warning: %ld requests for %ld keys: keys were reused\n", used, nkeys);
  printf("requests=%ld seconds=%.2f rps=%.0f p50_us=%u p99_us=%u max_us=%u ok200=%ld tmp400=%ld "
         "no500=%ld other=%ld errors=%ld conns=%d served_conns=%ld\n",
         sum.requests, elapsed, sum.requests / elapsed, k ? all[(k - 1) / 2] : 0,
         k ? all[(k * 99 - 1) / 100] : 0, k ? all[k - 1] : 0, sum.c200, sum.c400, sum.c500,
         sum.other, sum.errors, nconns, served);
  return 0;
}
