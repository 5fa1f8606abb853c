// Tessera's verified shard read in C: one async call preads a run of whole checksum blocks (src/blocks/
// shard-format.ts: each block's data, then its CRC32 little-endian) into the caller's buffer and checks every
// CRC while the bytes are still in the CPU's cache, on the libuv threadpool like fs.read. It owns no fd: the
// caller keeps the descriptor open until the promise settles. Every argument is checked here, never a crash.
#define _GNU_SOURCE // pread, and the pthread types uv.h names under -std=c11
#define NAPI_VERSION 8
#include <errno.h>
#include <isa-l/crc.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/**
 * readVerified(fd, buffer, position, length, blockBytes) → Promise of `length` when every block was read and
 * its CRC matched, of the bytes read (fewer) when the file ended first, or of -1 - k when block k of the run
 * (0-based) failed its CRC; rejects with an errno error ("EIO", syscall "pread") when pread failed.
 */
static napi_value read_verified(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 5) return throw_type(env, "Expected 5 arguments: fd, buffer, position, length, blockBytes");
  int fd;
  if (!get_fd(env, argv[0], &fd)) return throw_range(env, "The fd must be an integer in [0, 2^31)");
  double number;
  bytes_t buffer;
  if (!get_bytes(env, argv[1], &buffer)) return throw_type(env, "The buffer must be a Uint8Array");
  if (!get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &number)) return throw_range(env, "The position must be a safe integer of 0 or more");
  int64_t position = (int64_t)number;
  if (!get_integer(env, argv[3], 1, SAFE_INTEGER_MAX, &number)) return throw_range(env, "The length must be a safe integer of 1 or more");
  if (number > (double)buffer.length) return throw_range(env, "The length must not exceed the buffer's");
  size_t length = (size_t)number;
  if ((double)position + (double)length > SAFE_INTEGER_MAX) return throw_range(env, "The read must end before 2^53 - 1");
  if (!get_integer(env, argv[4], 1, 2147483647.0, &number)) return throw_range(env, "The block size must be an integer in [1, 2^31)");
  size_t block_bytes = (size_t)number;
  if (!layout_fits(length, block_bytes)) return throw_range(env, "The length must be whole checksum blocks, the last with 1 or more data bytes");

  read_job_t *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate a shard read");
    return NULL;
  }
  *job = (read_job_t){ .fd = fd, .data = buffer.data, .length = length, .position = position, .block_bytes = block_bytes, .bad_block = -1 };
  if (napi_create_reference(env, argv[1], 1, &job->buffer_ref) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, "Cannot hold the buffer");
    return NULL;
  }
  return queue_job(env, "tessera.shardRead", "shard read", execute_read, complete_read, job, &job->work, &job->deferred, release_read);
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
    {"firstBadBlock", NULL, first_bad_block_sync, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 2, properties);
  return exports;
}
