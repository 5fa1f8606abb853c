// The floor under a large GET that checks what it sends, in C (bench/large-get-floor.ts builds and runs it):
// a minimal HTTP/1.1 server, a thread per keep-alive connection with blocking sockets, that answers
// GET /NAME with the file DIR/NAME in one of three ways:
//   plain            the file's bytes as they are, with sendfile (nginx's way: no pass in user space);
//   verify           the file in Tessera's shard format (a 48-byte header whose bytes 16..23 hold the data
//                    length, then 64 KiB blocks each followed by its CRC32): pread of a run of whole blocks,
//                    each block's CRC32 checked (ISA-L, as native/shard_read.c does), then one writev of the
//                    blocks' data without their CRCs;
//   verify-sendfile  the same check, then the data sent from the page cache with sendfile, a call per block.
// It is a measuring stick, not a server: no limits, no timeouts, only the requests wrk sends. Benchmarks only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <isa-l/crc.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define HEADER_BYTES 48
#define BLOCK_BYTES 65536
#define CRC_BYTES 4
#define RUN_BLOCKS 16 // a run of 1 MiB of data per pread, as a 1 MiB stripe is read
#define STRIDE (BLOCK_BYTES + CRC_BYTES)

enum mode { PLAIN, VERIFY, VERIFY_SENDFILE };
static enum mode mode;
static const char *dir;

// Writes every byte of `iov`; `more` says the body follows (MSG_MORE: the header and the first data share a packet,
// as nginx's tcp_nopush has them).
static int write_all(int sock, struct iovec *iov, int count, int more) {
  while (count > 0) {
    struct msghdr message = {.msg_iov = iov, .msg_iovlen = (size_t)(count > IOV_MAX ? IOV_MAX : count)};
    ssize_t n = sendmsg(sock, &message, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    while (count > 0 && (size_t)n >= iov->iov_len) {
      n -= (ssize_t)iov->iov_len;
      iov++;
      count--;
    }
    if (count > 0) {
      iov->iov_base = (char *)iov->iov_base + n;
      iov->iov_len -= (size_t)n;
    }
  }
  return 0;
}

static int send_file_range(int sock, int fd, off_t offset, size_t length) {
  while (length > 0) {
    ssize_t n = sendfile(sock, fd, &offset, length);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return -1;
    }
    length -= (size_t)n;
  }
  return 0;
}

static uint32_t read_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int reply_status(int sock, const char *status) {
  char head[128];
  int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n", status);
  struct iovec iov = {head, (size_t)n};
  return write_all(sock, &iov, 1, 0);
}

// Answers one GET of `name`; -1 when the connection must close.
static int serve(int sock, const char *name, uint8_t *run) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return reply_status(sock, "404 Not Found");
  int result = -1;
  uint64_t data_bytes;
  if (mode == PLAIN) {
    off_t end = lseek(fd, 0, SEEK_END);
    if (end < 0) goto out;
    data_bytes = (uint64_t)end;
  } else {
    uint8_t header[HEADER_BYTES];
    if (pread(fd, header, HEADER_BYTES, 0) != HEADER_BYTES) goto out;
    memcpy(&data_bytes, header + 16, 8);
  }
  char head[128];
  int head_len = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n", (unsigned long long)data_bytes);
  if (mode == PLAIN) {
    struct iovec iov = {head, (size_t)head_len};
    result = write_all(sock, &iov, 1, 1) == 0 && send_file_range(sock, fd, 0, data_bytes) == 0 ? 0 : -1;
    goto out;
  }
  int head_sent = 0;
  for (uint64_t at = 0; at < data_bytes; at += (uint64_t)RUN_BLOCKS * BLOCK_BYTES) {
    uint64_t left = data_bytes - at;
    size_t data_len = left < (uint64_t)RUN_BLOCKS * BLOCK_BYTES ? (size_t)left : (size_t)RUN_BLOCKS * BLOCK_BYTES;
    size_t blocks = (data_len + BLOCK_BYTES - 1) / BLOCK_BYTES;
    size_t file_len = data_len + blocks * CRC_BYTES;
    off_t file_at = HEADER_BYTES + (off_t)(at / BLOCK_BYTES) * STRIDE;
    if (pread(fd, run, file_len, file_at) != (ssize_t)file_len) goto out;
    struct iovec iov[RUN_BLOCKS + 1];
    int count = 0;
    if (!head_sent) iov[count++] = (struct iovec){head, (size_t)head_len};
    for (size_t b = 0; b < blocks; b++) {
      size_t len = b + 1 < blocks ? BLOCK_BYTES : data_len - b * BLOCK_BYTES;
      uint8_t *block = run + b * STRIDE;
      if (crc32_gzip_refl(0, block, len) != read_le32(block + len)) {
        fprintf(stderr, "verified-get: block %zu of %s does not match its CRC32\n", b, name);
        goto out; // the header may be out already: cut the connection, as a server must
      }
      if (mode == VERIFY) iov[count++] = (struct iovec){block, len};
    }
    if (mode == VERIFY) {
      if (write_all(sock, iov, count, 0) != 0) goto out;
    } else {
      if (!head_sent && write_all(sock, iov, 1, 1) != 0) goto out;
      for (size_t b = 0; b < blocks; b++) {
        size_t len = b + 1 < blocks ? BLOCK_BYTES : data_len - b * BLOCK_BYTES;
        if (send_file_range(sock, fd, file_at + (off_t)(b * STRIDE), len) != 0) goto out;
      }
    }
    head_sent = 1;
  }
  if (!head_sent) { // an empty object: the header alone
    struct iovec iov = {head, (size_t)head_len};
    if (write_all(sock, &iov, 1, 0) != 0) goto out;
  }
  result = 0;
out:
  close(fd);
  return result;
}

static void *connection(void *arg) {
  int sock = (int)(intptr_t)arg;
  uint8_t *run = malloc((size_t)RUN_BLOCKS * STRIDE);
  char request[16384];
  size_t have = 0;
  while (run) {
    char *end;
    while ((end = memmem(request, have, "\r\n\r\n", 4)) == NULL) {
      if (have == sizeof request) goto done;
      ssize_t n = read(sock, request + have, sizeof request - have);
      if (n <= 0) goto done;
      have += (size_t)n;
    }
    size_t used = (size_t)(end - request) + 4;
    // "GET /a/b/NAME HTTP/1.1": the last path segment names the file; anything but [A-Za-z0-9._-] is refused.
    char name[256];
    size_t name_len = 0;
    int ok = have > 5 && memcmp(request, "GET /", 5) == 0;
    if (ok) {
      char *path_end = memchr(request + 4, ' ', used - 4);
      char *start = path_end;
      while (start && start > request + 4 && start[-1] != '/') start--;
      if (!path_end || path_end - start <= 0 || path_end - start >= (long)sizeof name || start[0] == '.') ok = 0;
      for (char *c = start; ok && c < path_end; c++) {
        if (!(('a' <= *c && *c <= 'z') || ('A' <= *c && *c <= 'Z') || ('0' <= *c && *c <= '9') || *c == '.' || *c == '_' || *c == '-')) ok = 0;
        else name[name_len++] = *c;
      }
    }
    name[name_len] = 0;
    if (!ok ? reply_status(sock, "400 Bad Request") != 0 : serve(sock, name, run) != 0) goto done;
    memmove(request, request + used, have - used);
    have -= used;
  }
done:
  free(run);
  close(sock);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "plain") && strcmp(argv[1], "verify") && strcmp(argv[1], "verify-sendfile"))) {
    fprintf(stderr, "usage: verified-get plain|verify|verify-sendfile DIR\n");
    return 2;
  }
  mode = !strcmp(argv[1], "plain") ? PLAIN : !strcmp(argv[1], "verify") ? VERIFY : VERIFY_SENDFILE;
  dir = argv[2];
  signal(SIGPIPE, SIG_IGN); // a client gone mid-body is that connection's end, not the server's (sendfile has no MSG_NOSIGNAL)
  int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t length = sizeof address;
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 128) != 0 ||
      getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
    perror("verified-get: listen");
    return 1;
  }
  printf("{\"url\":\"http://127.0.0.1:%d\"}\n", ntohs(address.sin_port));
  fflush(stdout);
  for (;;) {
    int sock = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (sock < 0) continue;
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t thread;
    if (pthread_create(&thread, NULL, connection, (void *)(intptr_t)sock) != 0) close(sock);
    else pthread_detach(thread);
  }
}
