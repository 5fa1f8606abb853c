// A promise-returning call that runs on the libuv threadpool, as our async addons make them: the job is
// created, its promise made and the work queued in one place, and a job that never ran is rejected alike.
// `what` names the job in the errors ("sync" → "Cannot create the sync", "The sync did not run"). Its
// errno errors come from napi_errors.h, so an addon that includes this one needs uv.h as that one does.
#ifndef TESSERA_NAPI_ASYNC_H
#define TESSERA_NAPI_ASYNC_H
#include <node_api.h>
#include <stdio.h>

#include "napi_errors.h"

/** Rejects `deferred` with a plain Error whose message is `text`. */
static inline void reject_with_message(napi_env env, napi_deferred deferred, const char *text) {
  napi_value message, error;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, NULL, message, &error);
  napi_reject_deferred(env, deferred, error);
}

/** For a complete callback whose work did not run (status is not napi_ok): "The WHAT did not run". */
static inline void reject_not_run(napi_env env, napi_deferred deferred, const char *what) {
  char text[96];
  snprintf(text, sizeof text, "The %s did not run", what);
  reject_with_message(env, deferred, text);
}

/**
 * Settles a job's promise in its complete callback: rejected "The WHAT did not run" when `status` is not
 * napi_ok, with the errno error of `syscall_name` when `error` is set, else resolved with `value` (NULL:
 * undefined). The caller then deletes the work and frees the job.
 */
static inline void settle_job(napi_env env, napi_status status, napi_deferred deferred, const char *what, int error, const char *syscall_name,
                              napi_value value) {
  if (status != napi_ok) {
    reject_not_run(env, deferred, what);
  } else if (error != 0) {
    napi_reject_deferred(env, deferred, errno_error(env, error, syscall_name));
  } else {
    if (!value) napi_get_undefined(env, &value);
    napi_resolve_deferred(env, deferred, value);
  }
}

/** What a job holds beside itself (a buffer reference, say) and the job, let go when it will never complete. */
typedef void release_job_fn(napi_env env, void *job);

/**
 * Queues `execute` and then `complete` for `job` on the threadpool, with *work and *deferred set for them, and
 * returns the job's promise. Should the work not be created, `release` frees the job and this throws
 * ("Cannot create the WHAT") and returns NULL; should it not be queued, the promise is rejected ("Cannot queue
 * the WHAT"), the work deleted and the job released.
 */
static inline napi_value queue_job(napi_env env, const char *name, const char *what, napi_async_execute_callback execute,
                                   napi_async_complete_callback complete, void *job, napi_async_work *work, napi_deferred *deferred,
                                   release_job_fn *release) {
  char text[96];
  napi_value promise, resource_name;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_async_work(env, NULL, resource_name, execute, complete, job, work) != napi_ok) {
    release(env, job);
    snprintf(text, sizeof text, "Cannot create the %s", what);
    napi_throw_error(env, NULL, text);
    return NULL;
  }
  napi_create_promise(env, deferred, &promise);
  if (napi_queue_async_work(env, *work) != napi_ok) {
    snprintf(text, sizeof text, "Cannot queue the %s", what);
    reject_with_message(env, *deferred, text);
    napi_delete_async_work(env, *work);
    release(env, job);
  }
  return promise;
}

#endif
