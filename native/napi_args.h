// The argument checks every Tessera addon makes before it touches a byte: Node-style TypeError and
// RangeError throws, a Uint8Array's bytes (no other view, so no bytes of another width), integer numbers in
// a range, booleans, file descriptors, and whether two byte ranges overlap. Static inline, so an addon that uses fewer is not warned.
#ifndef TESSERA_NAPI_ARGS_H
#define TESSERA_NAPI_ARGS_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

#define SAFE_INTEGER_MAX 9007199254740991.0

static inline napi_value throw_type(napi_env env, const char *message) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  return NULL;
}

static inline napi_value throw_range(napi_env env, const char *message) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  return NULL;
}

// A Uint8Array (Buffer included) and its bytes; 0 when the value is not one. A detached buffer has no data
// and no length.
static inline int uint8_array_of(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray) return 0;
  napi_typedarray_type type;
  void *bytes = NULL;
  size_t count = 0;
  if (napi_get_typedarray_info(env, value, &type, &count, &bytes, NULL, NULL) != napi_ok || type != napi_uint8_array) return 0;
  *data = bytes;
  *length = bytes ? count : 0;
  return 1;
}

// An integer number in [min, max]; 0 when it is not one.
static inline int get_integer(napi_env env, napi_value value, double min, double max, double *result) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) return 0;
  double number;
  if (napi_get_value_double(env, value, &number) != napi_ok) return 0;
  if (!(number >= min && number <= max) || number != (double)(int64_t)number) return 0;
  *result = number;
  return 1;
}

// A boolean (no other value taken as one); 0 when it is not one.
static inline int get_boolean(napi_env env, napi_value value, bool *result) {
  napi_valuetype type;
  return napi_typeof(env, value, &type) == napi_ok && type == napi_boolean && napi_get_value_bool(env, value, result) == napi_ok;
}

// A file descriptor: an integer in [0, 2^31); 0 when it is not one.
static inline int get_fd(napi_env env, napi_value value, int *fd) {
  double number;
  if (!get_integer(env, value, 0, 2147483647.0, &number)) return 0;
  *fd = (int)number;
  return 1;
}

static inline int overlaps(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length) {
  if (a_length == 0 || b_length == 0) return 0;
  uintptr_t a0 = (uintptr_t)a, b0 = (uintptr_t)b;
  return a0 < b0 + b_length && b0 < a0 + a_length;
}

#endif
