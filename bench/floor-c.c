// The C floor (bench compare --servers floor-c): a one-thread epoll answerer of the ZooKeeper
// wire protocol, in C, so what it costs per op is close to what the kernel alone costs to read
// a request and write its reply on this machine (bench/floor-server.ts is the same in Node).
// Just enough for the load generator: connect, create, exists, getData, setData, ping,
// closeSession, and the ruok/srvr four-letter words; one write per request; no durability,
// sessions, watches or ACLs. Not a server for anything else: a bad frame closes the socket.
//
//   cc -O2 -o floor-c bench/floor-c.c && ./floor-c PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define NBUCKETS 65536
typedef struct node { char *path; int plen; char *data; int dlen; int version; int64_t mzxid; struct node *next; } node;
static node *table[NBUCKETS];
static int64_t zxid = 0;
static uint32_t hash(const char *s, int n) { uint32_t h = 2166136261u; for (int i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u; return h; }
static node *lookup(const char *p, int n, int make) {
  uint32_t b = hash(p, n) & (NBUCKETS - 1);
  for (node *x = table[b]; x; x = x->next) if (x->plen == n && memcmp(x->path, p, n) == 0) return x;
  if (!make) return NULL;
  node *x = calloc(1, sizeof *x); x->path = malloc(n); memcpy(x->path, p, n); x->plen = n; x->next = table[b]; table[b] = x; return x;
}
typedef struct conn { int fd; int connected; char *in; int inlen, incap; } conn;
static uint32_t rd32(const char *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }
static void wr32(char *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void wr64(char *p, int64_t v) { wr32(p, (uint32_t)((uint64_t)v >> 32)); wr32(p + 4, (uint32_t)v); }
static char out[2 << 20];
static int stat_into(char *p, node *x) { memset(p, 0, 68); wr64(p, x->mzxid); wr64(p + 8, x->mzxid); wr32(p + 32, x->version); wr32(p + 52, x->dlen); wr64(p + 60, x->mzxid); return 68; }
static int hdr(char *p, int xid, int err) { wr32(p + 4, xid); wr64(p + 8, zxid); wr32(p + 16, err); return 20; }
static int answer(conn *c, const char *b, int len) {
  if (!c->connected) { c->connected = 1; memset(out, 0, 41); wr32(out, 37); wr32(out + 8, 30000); wr64(out + 12, 0x1234); wr32(out + 20, 16); return 41; }
  int xid = rd32(b), type = rd32(b + 4); const char *p = b + 8; int at = hdr(out, xid, 0);
  int plen = (type == 11 || type == -11) ? 0 : (int)rd32(p); const char *path = p + 4; p += 4 + plen;
  node *x;
  switch (type) {
  case 4: x = lookup(path, plen, 0); if (!x) { hdr(out, xid, -101); break; } wr32(out + at, x->dlen); memcpy(out + at + 4, x->data, x->dlen); at += 4 + x->dlen; at += stat_into(out + at, x); break;
  case 5: { x = lookup(path, plen, 0); int dl = rd32(p); if (!x) { hdr(out, xid, -101); break; } if (dl > x->dlen) x->data = realloc(x->data, dl); memcpy(x->data, p + 4, dl); x->dlen = dl; x->version++; x->mzxid = ++zxid; hdr(out, xid, 0); at += stat_into(out + at, x); break; }
  case 3: x = lookup(path, plen, 0); if (!x) { hdr(out, xid, -101); break; } at += stat_into(out + at, x); break;
  case 1: case 15: { x = lookup(path, plen, 0); if (x) { hdr(out, xid, -110); break; } x = lookup(path, plen, 1); int dl = rd32(p); x->data = malloc(dl > 0 ? dl : 1); x->dlen = dl > 0 ? dl : 0; if (dl > 0) memcpy(x->data, p + 4, dl); x->mzxid = ++zxid; hdr(out, xid, 0);
    wr32(out + at, plen); memcpy(out + at + 4, path, plen); at += 4 + plen; if (type == 15) at += stat_into(out + at, x); break; }
  case 11: break;
  case -11: return -1;
  default: hdr(out, xid, -6);
  }
  wr32(out, at - 4); return at;
}
int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 2181;
  lookup("/", 1, 1)->data = malloc(1);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1; setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 1024)) { perror("listen"); return 1; }
  int ep = epoll_create1(0); struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }; epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[256]; char rbuf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) { int fd; while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) { setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); conn *k = calloc(1, sizeof *k); k->fd = fd; struct epoll_event e = { .events = EPOLLIN, .data.ptr = k }; epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e); } continue; }
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      if (r <= 0) { if (r < 0 && errno == EAGAIN) continue; close(c->fd); free(c->in); free(c); continue; }
      if (c->inlen + r > c->incap) { c->incap = (c->inlen + r) * 2; c->in = realloc(c->in, c->incap); }
      memcpy(c->in + c->inlen, rbuf, r); c->inlen += r;
      int at = 0, closeit = 0;
      if (!c->connected && c->inlen >= 4 && (memcmp(c->in, "ruok", 4) == 0 || memcmp(c->in, "srvr", 4) == 0)) {
        const char *word = c->in[0] == 'r' ? "imok" : "Zookeeper version: C floor answerer (bench/floor-c.c)\nMode: standalone\n";
        if (write(c->fd, word, strlen(word)) < 0) { /* closing anyway */ }
        close(c->fd); free(c->in); free(c); continue;
      }
      while (c->inlen - at >= 4) {
        int len = rd32(c->in + at); if (len < 0 || len > (1 << 20)) { closeit = 1; break; }
        if (c->inlen - at - 4 < len) break;
        int w = answer(c, c->in + at + 4, len); at += 4 + len;
        if (w < 0) { closeit = 1; break; }
        if (write(c->fd, out, w) != w) { closeit = 1; break; }
      }
      memmove(c->in, c->in + at, c->inlen - at); c->inlen -= at;
      if (closeit) { close(c->fd); free(c->in); free(c); }
    }
  }
}
