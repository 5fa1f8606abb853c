// The error an addon's failed system call rejects with: Node's own shape for a failed fs call (code "EIO",
// errno -5, syscall "pread", message "EIO: i/o error, pread"), so callers map it as they map fs's. Needs
// uv.h, so only the addons that include it (and define _GNU_SOURCE for its pthread types) use this header.
#ifndef TESSERA_NAPI_ERRORS_H
#define TESSERA_NAPI_ERRORS_H
#include <node_api.h>
#include <stdio.h>
#include <uv.h>

static inline napi_value errno_error(napi_env env, int error, const char *syscall_name) {
  char message[160];
  int code_number = uv_translate_sys_error(error);
  const char *name = uv_err_name(code_number);
  snprintf(message, sizeof message, "%s: %s, %s", name, uv_strerror(code_number), syscall_name);
  napi_value code, text, result, errno_value, syscall;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &result);
  napi_create_int32(env, code_number, &errno_value);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &syscall);
  napi_set_named_property(env, result, "errno", errno_value);
  napi_set_named_property(env, result, "syscall", syscall);
  return result;
}

#endif
