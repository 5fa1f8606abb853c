// Tessera's durable write end in C, as async calls on the libuv threadpool (like fs.fsync):
// - syncDropping makes a file's bytes durable and then tells the kernel that the range just written will not
//   be read soon (posix_fadvise DONTNEED), so its now-clean pages go back to the free list at once. A store's
//   writes are read back rarely soon after; without this every MiB written grows the page cache into memory
//   that has not been used yet, which on a virtual machine costs a fault in the host per page
//   (docs/benchmarks.md, "PUT: the page cache").
// - writeDirect writes a record through a descriptor opened for direct I/O (setDirect): the bytes go from
//   this thread's aligned staging buffer (in a huge page where the kernel has them) to the device, with no
//   page cache on the way (no copy into fresh pages, no delayed allocation, no writeback in the fsync), as
//   BlueStore writes.
// It owns no fd: the caller keeps the descriptor open until the promise settles. Every argument is checked
// here, never a crash.
#define _GNU_SOURCE // fdatasync, posix_fadvise and O_DIRECT, and the pthread types uv.h names under -std=c11
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "napi_args.h"
#include "napi_async.h"
#include "napi_errors.h"

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int data_only;  // fdatasync rather than fsync
  int64_t offset; // the range to drop from the cache; length 0: to the end of the file
  int64_t length;
  int error;      // errno of a failed sync, else 0 (the advice is advice: its failure is not one)
} sync_job_t;

static void execute_sync(napi_env env, void *data) {
  (void)env;
  sync_job_t *job = data;
  int result;
  do {
    result = job->data_only ? fdatasync(job->fd) : fsync(job->fd);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    job->error = errno;
    return;
  }
  // Only once the bytes are durable: the pages are clean then, and DONTNEED drops clean pages only.
  (void)posix_fadvise(job->fd, (off_t)job->offset, (off_t)job->length, POSIX_FADV_DONTNEED);
}

/** A sync that will never complete holds nothing but itself. */
static void release_sync(napi_env env, void *data) {
  (void)env;
  free(data);
}

static void complete_sync(napi_env env, napi_status status, void *data) {
  sync_job_t *job = data;
  settle_job(env, status, job->deferred, "sync", job->error, job->data_only ? "fdatasync" : "fsync", NULL);
  napi_delete_async_work(env, job->work);
  free(job);
}

/**
 * syncDropping(fd, dataOnly, offset, length) → Promise of undefined once fsync (fdatasync when dataOnly)
 * returned and the range [offset, offset + length) (length 0: to the end) was advised out of the page
 * cache; rejects with an errno error (code "EIO", syscall "fsync" or "fdatasync") when the sync failed.
 */
static napi_value sync_dropping(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 4) return throw_type(env, "Expected 4 arguments: fd, dataOnly, offset, length");
  int fd;
  if (!get_fd(env, argv[0], &fd)) return throw_range(env, "The fd must be an integer in [0, 2^31)");
  double number;
  bool data_only = false;
  if (!get_boolean(env, argv[1], &data_only)) return throw_type(env, "dataOnly must be a boolean");
  if (!get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &number)) return throw_range(env, "The offset must be a safe integer of 0 or more");
  int64_t offset = (int64_t)number;
  if (!get_integer(env, argv[3], 0, SAFE_INTEGER_MAX, &number)) return throw_range(env, "The length must be a safe integer of 0 or more");
  int64_t length = (int64_t)number;
  if ((double)offset + (double)length > SAFE_INTEGER_MAX) return throw_range(env, "The range must end before 2^53 - 1");

  sync_job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate a sync");
    return NULL;
  }
  *job = (sync_job_t){ .fd = fd, .data_only = data_only, .offset = offset, .length = length };
  return queue_job(env, "tessera.syncDropping", "sync", execute_sync, complete_sync, job, &job->work, &job->deferred, release_sync);
}

/**
 * Alignment of a direct write's memory, offset and length: 4 KiB satisfies every logical block size up to
 * a 4Kn disk's. The caller places records at multiples of it; the length is padded with zeros to it.
 */
#define DIRECT_ALIGN 4096
/** A record written directly is at most this long (pack records are ~1 MiB); more is refused, not staged. */
#define DIRECT_BYTES_MAX (64u << 20)
#define DIRECT_PIECES_MAX 4096

/**
 * Each threadpool thread's staging buffer, kept for the writes it stages up to STAGING_KEPT_MAX: its pages
 * are touched once, not per write (a buffer from malloc per write would be fresh mmap pages each time). A
 * larger write (a heal's or a node's batch) stages in a buffer of its own, unmapped after. So what stays is
 * at most the threadpool's size times 2 MiB.
 */
#define STAGING_KEPT_MAX (2u << 20)
/** Staging memory starts at multiples of this and is advised into transparent huge pages of this size. */
#define HUGE_PAGE_BYTES (2u << 20)
static _Thread_local unsigned char *staging; // STAGING_KEPT_MAX bytes once mapped
/** TESSERA_HUGE_PAGES=off, read once at load on the main thread: staging memory is not advised (A/B runs). */
static int huge_pages = 1;

/**
 * At least `bytes` of staging memory, mapped at a HUGE_PAGE_BYTES boundary and advised MADV_HUGEPAGE, so
 * that (where the kernel has transparent huge pages) a record of up to 2 MiB lies in one physically
 * contiguous page and reaches the disk as one segment. In 4 KiB pages a 1 MiB record spans 257 of them, a
 * segment each unless neighbours happen to be contiguous (more than the 254 a virtio disk takes in one
 * request here: then two requests), and the host handles each segment on its own: on this project's VMs a
 * direct 1 MiB write took 1.4-1.8 ms from 4 KiB pages against 0.55-0.75 ms from a huge page
 * (docs/benchmarks.md, "PUT: direct writes from huge pages"). Where there are none the advice is ignored and
 * the pages are 4 KiB ones, as before. NULL when out of memory.
 */
static unsigned char *staging_map(size_t bytes, size_t *mapped) {
  size_t want = (bytes + HUGE_PAGE_BYTES - 1) & ~(size_t)(HUGE_PAGE_BYTES - 1);
  size_t span = want + HUGE_PAGE_BYTES; // room to start at a boundary
  unsigned char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return NULL;
  uintptr_t start = ((uintptr_t)raw + HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(HUGE_PAGE_BYTES - 1);
  size_t head = start - (uintptr_t)raw;
  if (head > 0) (void)munmap(raw, head);
  if (span - head > want) (void)munmap((unsigned char *)start + want, span - head - want);
  if (huge_pages) (void)madvise((void *)start, want, MADV_HUGEPAGE); // before the first touch; advice only
  *mapped = want;
  return (unsigned char *)start;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int fd;
  int64_t position;
  size_t count;
  size_t total;
  napi_ref *refs;          // the pieces, held until the write completes
  const uint8_t **bases;
  size_t *lengths;
  int error;
} write_job_t;

static void write_staged(write_job_t *job, unsigned char *buffer, size_t padded);

static void execute_write(napi_env env, void *data) {
  (void)env;
  write_job_t *job = data;
  size_t padded = (job->total + DIRECT_ALIGN - 1) & ~(size_t)(DIRECT_ALIGN - 1);
  if (padded == 0) return;
  if (padded > STAGING_KEPT_MAX) {
    size_t mapped = 0;
    unsigned char *own = staging_map(padded, &mapped);
    if (!own) {
      job->error = ENOMEM;
      return;
    }
    write_staged(job, own, padded);
    (void)munmap(own, mapped);
    return;
  }
  if (!staging) {
    size_t mapped = 0;
    staging = staging_map(STAGING_KEPT_MAX, &mapped);
    if (!staging) {
      job->error = ENOMEM;
      return;
    }
  }
  write_staged(job, staging, padded);
}

/** Copies the job's pieces into `buffer`, zero-pads them to `padded` bytes and writes that at the job's position. */
static void write_staged(write_job_t *job, unsigned char *buffer, size_t padded) {
  size_t at = 0;
  for (size_t i = 0; i < job->count; i++) {
    memcpy(buffer + at, job->bases[i], job->lengths[i]);
    at += job->lengths[i];
  }
  memset(buffer + at, 0, padded - at);
  size_t done = 0;
  while (done < padded) {
    ssize_t n = pwrite(job->fd, buffer + done, padded - done, (off_t)(job->position + (int64_t)done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      job->error = errno;
      return;
    }
    if (n == 0) {
      job->error = EIO;
      return;
    }
    done += (size_t)n;
  }
}

static void free_write(napi_env env, write_job_t *job) {
  for (size_t i = 0; i < job->count; i++) {
    if (job->refs[i]) napi_delete_reference(env, job->refs[i]);
  }
  free(job->refs);
  free(job->bases);
  free(job->lengths);
  free(job);
}

static void release_write(napi_env env, void *data) {
  free_write(env, data);
}

static void complete_write(napi_env env, napi_status status, void *data) {
  write_job_t *job = data;
  napi_value value;
  napi_create_double(env, (double)job->total, &value);
  settle_job(env, status, job->deferred, "direct write", job->error, "pwrite", value);
  napi_delete_async_work(env, job->work);
  free_write(env, job);
}

/**
 * writeDirect(fd, pieces, position) → Promise of the pieces' byte count, once they are written one after
 * another at `position` (a multiple of 4096), padded with zeros to a multiple of 4096, through fd (opened
 * for direct I/O, or not: the write is correct either way). Rejects with an errno error (syscall "pwrite");
 * EINVAL there means the file system or device refused the direct write.
 */
static napi_value write_direct(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 3) return throw_type(env, "Expected 3 arguments: fd, pieces, position");
  int fd;
  if (!get_fd(env, argv[0], &fd)) return throw_range(env, "The fd must be an integer in [0, 2^31)");
  double number;
  bool is_array = false;
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return throw_type(env, "pieces must be an array of Uint8Arrays");
  uint32_t count = 0;
  napi_get_array_length(env, argv[1], &count);
  if (count > DIRECT_PIECES_MAX) return throw_range(env, "Too many pieces for one direct write");
  if (!get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &number) || ((int64_t)number % DIRECT_ALIGN) != 0) {
    return throw_range(env, "The position must be a safe integer multiple of 4096");
  }
  int64_t position = (int64_t)number;

  write_job_t *job = calloc(1, sizeof *job);
  if (job) {
    job->refs = calloc(count ? count : 1, sizeof *job->refs);
    job->bases = calloc(count ? count : 1, sizeof *job->bases);
    job->lengths = calloc(count ? count : 1, sizeof *job->lengths);
  }
  if (!job || !job->refs || !job->bases || !job->lengths) {
    if (job) free_write(env, job);
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate a direct write");
    return NULL;
  }
  job->fd = fd;
  job->position = position;
  for (uint32_t i = 0; i < count; i++) {
    napi_value piece;
    uint8_t *bytes = NULL;
    size_t length = 0;
    if (napi_get_element(env, argv[1], i, &piece) != napi_ok || !uint8_array_of(env, piece, &bytes, &length)) {
      free_write(env, job);
      return throw_type(env, "pieces must be an array of Uint8Arrays");
    }
    if (length > DIRECT_BYTES_MAX - job->total) {
      free_write(env, job);
      return throw_range(env, "A direct write is at most 64 MiB");
    }
    if (napi_create_reference(env, piece, 1, &job->refs[i]) != napi_ok) {
      free_write(env, job);
      napi_throw_error(env, "ERR_MEMORY", "Cannot hold a piece of a direct write");
      return NULL;
    }
    job->count = i + 1;
    job->bases[i] = bytes;
    job->lengths[i] = length;
    job->total += length;
  }
  if ((double)position + (double)job->total + DIRECT_ALIGN > SAFE_INTEGER_MAX) {
    free_write(env, job);
    return throw_range(env, "The write must end before 2^53 - 1");
  }
  return queue_job(env, "tessera.writeDirect", "direct write", execute_write, complete_write, job, &job->work, &job->deferred, release_write);
}

/**
 * setDirect(fd, on) → whether fd now writes with direct I/O (on) or through the page cache (off): fcntl's
 * O_DIRECT, which a file system without direct I/O (tmpfs on older kernels, some FUSE) refuses: false then.
 * Synchronous: fcntl of a flag touches no device.
 */
static napi_value set_direct(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 2) return throw_type(env, "Expected 2 arguments: fd, on");
  int fd;
  if (!get_fd(env, argv[0], &fd)) return throw_range(env, "The fd must be an integer in [0, 2^31)");
  bool on = false;
  if (!get_boolean(env, argv[1], &on)) return throw_type(env, "on must be a boolean");
  int flags = fcntl(fd, F_GETFL);
  bool done = flags >= 0 && fcntl(fd, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT)) == 0;
  if (done) {
    flags = fcntl(fd, F_GETFL);
    done = flags >= 0 && ((flags & O_DIRECT) != 0) == on;
  }
  napi_value result;
  napi_get_boolean(env, done, &result);
  return result;
}

NAPI_MODULE_INIT() {
  const char *huge = getenv("TESSERA_HUGE_PAGES");
  huge_pages = !(huge && strcmp(huge, "off") == 0);
  napi_value advised = NULL;
  napi_get_boolean(env, huge_pages != 0, &advised);
  napi_property_descriptor properties[] = {
    {"syncDropping", NULL, sync_dropping, NULL, NULL, NULL, napi_enumerable, NULL},
    {"writeDirect", NULL, write_direct, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setDirect", NULL, set_direct, NULL, NULL, NULL, napi_enumerable, NULL},
    {"hugePages", NULL, NULL, NULL, NULL, advised, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 4, properties);
  return exports;
}
