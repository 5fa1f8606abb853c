// Tessera's verified shard read in C: one async call preads a run of whole checksum blocks (src/blocks/
// shard-format.ts: each block's data, then its CRC32 little-endian) into the caller's buffer and checks every
// CRC while the bytes are still in the CPU's cache, on the libuv threadpool like fs.read. It owns no fd: the
// caller keeps the descriptor open until the promise settles. Every argument is checked here, never a crash.
// readCached is the same read and check done at once on the calling thread, but only from the page cache
// (preadv2 with RWF_NOWAIT): it never waits for the disk, and answers null when the bytes are not all there.
#define _GNU_SOURCE // pread, preadv2, and the pthread types uv.h names under -std=c11
#define NAPI_VERSION 8
#include <errno.h>
#include <isa-l/crc.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <uv.h>

#include "napi_args.h"
#include "napi_async.h"
#include "napi_errors.h"

#define CRC_BYTES 4

typedef struct {
  uint8_t *data;
  size_t length;
} bytes_t;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref buffer_ref; // keeps the caller's buffer alive while the threadpool writes into it
  int fd;
  uint8_t *data;
  size_t length;
  int64_t position;
  size_t block_bytes;
  int error;          // errno of a failed pread, else 0
  size_t bytes_read;  // < length: the file ended first (nothing verified)
  int64_t bad_block;  // the first block whose CRC does not match, or -1
} read_job_t;

// A Uint8Array's bytes (napi_args.h) as one bytes_t; 0 when the value is not one.
static int get_bytes(napi_env env, napi_value value, bytes_t *bytes) {
  uint8_t *data;
  size_t length;
  if (!uint8_array_of(env, value, &data, &length)) return 0;
  bytes->data = data;
  bytes->length = length;
  return 1;
}

static uint32_t read_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// The index of the first block of `data` whose CRC32 (zlib's: ISA-L's reflected gzip CRC, seed 0) does not
// match, or -1. The caller has checked the layout: whole blocks of block_bytes + 4, the last one shorter.
static int64_t first_bad_block(const uint8_t *data, size_t length, size_t block_bytes) {
  size_t offset = 0;
  for (int64_t block = 0; offset < length; block++) {
    size_t left = length - offset - CRC_BYTES;
    size_t data_bytes = left < block_bytes ? left : block_bytes;
    if (crc32_gzip_refl(0, data + offset, data_bytes) != read_le32(data + offset + data_bytes)) return block;
    offset += data_bytes + CRC_BYTES;
  }
  return -1;
}

// A run of `length` bytes holds whole blocks of block_bytes + 4 and a last one of 1..block_bytes data bytes
// and its CRC: anything else would make the blocks' CRCs sit somewhere the format does not put them.
static int layout_fits(size_t length, size_t block_bytes) {
  if (length <= CRC_BYTES) return 0;
  size_t stride = block_bytes + CRC_BYTES;
  size_t last = length % stride;
  return last == 0 || last > CRC_BYTES;
}

static void execute_read(napi_env env, void *data) {
  (void)env;
  read_job_t *job = data;
  size_t done = 0;
  while (done < job->length) {
    ssize_t n = pread(job->fd, job->data + done, job->length - done, (off_t)(job->position + (int64_t)done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      job->error = errno;
      return;
    }
    if (n == 0) break; // end of file: a short shard, which the caller counts as corrupt
    done += (size_t)n;
  }
  job->bytes_read = done;
  if (done == job->length) job->bad_block = first_bad_block(job->data, job->length, job->block_bytes);
}

/** A read's hold on its buffer (the caller's, kept alive until the read ends), and the read itself. */
static void release_read(napi_env env, void *data) {
  read_job_t *job = data;
  napi_delete_reference(env, job->buffer_ref);
  free(job);
}

static void complete_read(napi_env env, napi_status status, void *data) {
  read_job_t *job = data;
  napi_value value;
  napi_create_double(env, job->bad_block >= 0 ? -1.0 - (double)job->bad_block : (double)job->bytes_read, &value);
  settle_job(env, status, job->deferred, "shard read", job->error, "pread", value);
  napi_delete_async_work(env, job->work);
  release_read(env, job);
}

/** The arguments readVerified and readCached share: fd, buffer, position, length, blockBytes. 0 once it has thrown. */
typedef struct {
  int fd;
  napi_value buffer_value; // held by readVerified while the threadpool writes into it
  bytes_t buffer;
  int64_t position;
  size_t length;
  size_t block_bytes;
} read_args_t;

static int get_read_args(napi_env env, napi_callback_info info, read_args_t *args) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) { throw_type(env, "Cannot read the arguments"); return 0; }
  if (argc != 5) { throw_type(env, "Expected 5 arguments: fd, buffer, position, length, blockBytes"); return 0; }
  if (!get_fd(env, argv[0], &args->fd)) { throw_range(env, "The fd must be an integer in [0, 2^31)"); return 0; }
  double number;
  if (!get_bytes(env, argv[1], &args->buffer)) { throw_type(env, "The buffer must be a Uint8Array"); return 0; }
  args->buffer_value = argv[1];
  if (!get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &number)) { throw_range(env, "The position must be a safe integer of 0 or more"); return 0; }
  args->position = (int64_t)number;
  if (!get_integer(env, argv[3], 1, SAFE_INTEGER_MAX, &number)) { throw_range(env, "The length must be a safe integer of 1 or more"); return 0; }
  if (number > (double)args->buffer.length) { throw_range(env, "The length must not exceed the buffer's"); return 0; }
  args->length = (size_t)number;
  if ((double)args->position + (double)args->length > SAFE_INTEGER_MAX) { throw_range(env, "The read must end before 2^53 - 1"); return 0; }
  if (!get_integer(env, argv[4], 1, 2147483647.0, &number)) { throw_range(env, "The block size must be an integer in [1, 2^31)"); return 0; }
  args->block_bytes = (size_t)number;
  if (!layout_fits(args->length, args->block_bytes)) { throw_range(env, "The length must be whole checksum blocks, the last with 1 or more data bytes"); return 0; }
  return 1;
}

/**
 * readVerified(fd, buffer, position, length, blockBytes) → Promise of `length` when every block was read and
 * its CRC matched, of the bytes read (fewer) when the file ended first, or of -1 - k when block k of the run
 * (0-based) failed its CRC; rejects with an errno error ("EIO", syscall "pread") when pread failed.
 */
static napi_value read_verified(napi_env env, napi_callback_info info) {
  read_args_t args;
  if (!get_read_args(env, info, &args)) return NULL;
  read_job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate a shard read");
    return NULL;
  }
  *job = (read_job_t){ .fd = args.fd, .data = args.buffer.data, .length = args.length, .position = args.position, .block_bytes = args.block_bytes, .bad_block = -1 };
  if (napi_create_reference(env, args.buffer_value, 1, &job->buffer_ref) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "Cannot hold the buffer");
    return NULL;
  }
  return queue_job(env, "tessera.shardRead", "shard read", execute_read, complete_read, job, &job->work, &job->deferred, release_read);
}

/**
 * readCached(fd, buffer, position, length, blockBytes) → `length` when every byte came from the page cache and
 * every block's CRC matched, -1 - k when block k failed its CRC, or null when the read would have waited for
 * the disk (or fell short, or failed, or the kernel lacks RWF_NOWAIT): the caller then reads with readVerified,
 * which reports any real error. Runs on the calling thread: a copy from memory and the CRC, never a disk wait.
 */
static napi_value read_cached(napi_env env, napi_callback_info info) {
  read_args_t args;
  if (!get_read_args(env, info, &args)) return NULL;
  struct iovec into = { .iov_base = args.buffer.data, .iov_len = args.length };
  ssize_t n;
  do n = preadv2(args.fd, &into, 1, (off_t)args.position, RWF_NOWAIT);
  while (n < 0 && errno == EINTR);
  napi_value value;
  if (n < 0 || (size_t)n != args.length) {
    napi_get_null(env, &value);
    return value;
  }
  int64_t bad = first_bad_block(args.buffer.data, args.length, args.block_bytes);
  napi_create_double(env, bad >= 0 ? -1.0 - (double)bad : (double)args.length, &value);
  return value;
}

/**
 * firstBadBlock(bytes, blockBytes) → the index of the first block of `bytes` (laid out as a read run) whose CRC
 * does not match, or -1: the check readVerified makes, synchronous, so the loader can compare it with JS.
 */
static napi_value first_bad_block_sync(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 2) return throw_type(env, "Expected 2 arguments: bytes, blockBytes");
  bytes_t bytes;
  if (!get_bytes(env, argv[0], &bytes)) return throw_type(env, "The bytes must be a Uint8Array");
  double number;
  if (!get_integer(env, argv[1], 1, 2147483647.0, &number)) return throw_range(env, "The block size must be an integer in [1, 2^31)");
  size_t block_bytes = (size_t)number;
  if (!layout_fits(bytes.length, block_bytes)) return throw_range(env, "The length must be whole checksum blocks, the last with 1 or more data bytes");
  napi_value result;
  napi_create_double(env, (double)first_bad_block(bytes.data, bytes.length, block_bytes), &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
    {"readVerified", NULL, read_verified, NULL, NULL, NULL, napi_enumerable, NULL},
    {"readCached", NULL, read_cached, NULL, NULL, NULL, napi_enumerable, NULL},
    {"firstBadBlock", NULL, first_bad_block_sync, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 3, properties);
  return exports;
}
