// Tessera's durable write end in C: one async call (on the libuv threadpool, like fs.fsync) that makes a
// file's bytes durable and then tells the kernel that the range just written will not be read soon
// (posix_fadvise DONTNEED), so its now-clean pages go back to the free list at once. A store's writes are
// read back rarely soon after; without this every MiB written grows the page cache into memory that has not
// been used yet, which on a virtual machine costs a fault in the host per page (docs/benchmarks.md, "PUT: the
// page cache"). It owns no fd: the caller keeps the descriptor open until the promise settles. Every
// argument is checked here, never a crash.
#define _GNU_SOURCE // fdatasync and posix_fadvise, and the pthread types uv.h names under -std=c11
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
  napi_value value;
  if (status != napi_ok) {
    reject_not_run(env, job->deferred, "sync");
  } else if (job->error != 0) {
    napi_reject_deferred(env, job->deferred, errno_error(env, job->error, job->data_only ? "fdatasync" : "fsync"));
  } else {
    napi_get_undefined(env, &value);
    napi_resolve_deferred(env, job->deferred, value);
  }
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
  double number;
  if (!get_integer(env, argv[0], 0, 2147483647.0, &number)) return throw_range(env, "The fd must be an integer in [0, 2^31)");
  int fd = (int)number;
  napi_valuetype type;
  bool data_only = false;
  if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_boolean || napi_get_value_bool(env, argv[1], &data_only) != napi_ok) {
    return throw_type(env, "dataOnly must be a boolean");
  }
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

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
    {"syncDropping", NULL, sync_dropping, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 1, properties);
  return exports;
}
