// Tessera's chunk cipher in C: AES-256-GCM over whole runs of chunks through the system libcrypto (EVP),
// for src/util/gcm-chunks.ts. It owns no format decisions beyond src/objects/chunk-cipher.ts's (nonce =
// part number, 4 bytes BE, then chunk index, 8 bytes BE; each chunk's ciphertext then its 16-byte tag) and
// never allocates output: callers pass it. Every argument is checked here, so a bad call throws, never crashes.
#define _GNU_SOURCE // dladdr
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi_args.h"

#define KEY_BYTES 32
#define TAG_BYTES 16
#define NONCE_BYTES 12
// An opened run's pieces: a lease of stored bytes is a few dozen at most (one per checksum block).
#define PIECES_MAX 4096

typedef struct {
  const uint8_t *data;
  size_t length;
} bytes_t;

typedef struct {
  bytes_t key;
  uint32_t part_number;
  uint64_t first_index;
  size_t chunk_bytes;
  bytes_t input; // the whole input, or the first of `pieces` when the input is an array
  // open only: the input as pieces read in order (one, `input` itself, when given one Uint8Array)
  bytes_t *pieces;
  size_t piece_count;
  uint8_t *out;
  size_t out_length;
} run_args_t;

// A Uint8Array's bytes (napi_args.h) as one bytes_t; 0 when the value is not one.
static int get_bytes(napi_env env, napi_value value, bytes_t *bytes) {
  uint8_t *data;
  size_t length;
  if (!uint8_array_of(env, value, &data, &length)) return 0;
  bytes->data = data;
  bytes->length = length;
  return 1;
}

/**
 * The elements of an array input, fetched before any argument's bytes are looked at: fetching an element can
 * run JavaScript (a getter), which could detach or shrink a buffer already looked at. `*elements` is
 * malloc'd (the caller frees it); 0 after a throw.
 */
static int fetch_elements(napi_env env, napi_value value, napi_value **elements, uint32_t *count) {
  if (napi_get_array_length(env, value, count) != napi_ok) {
    throw_type(env, "The input must be a Uint8Array or an array of them");
    return 0;
  }
  if (*count > PIECES_MAX) {
    throw_range(env, "The input has more than 4096 pieces");
    return 0;
  }
  *elements = malloc(sizeof(napi_value) * (*count > 0 ? *count : 1));
  if (!*elements) {
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate the list of pieces");
    return 0;
  }
  for (uint32_t i = 0; i < *count; i++) {
    if (napi_get_element(env, value, i, &(*elements)[i]) != napi_ok) {
      bool pending = false;
      if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) throw_type(env, "Cannot read a piece of the input");
      return 0;
    }
  }
  return 1;
}

/** The fetched elements as bytes into `args->pieces` (malloc'd), `args->input.length` their total; 0 after a throw. */
static int get_pieces(napi_env env, napi_value *elements, uint32_t count, run_args_t *args) {
  args->pieces = malloc(sizeof(bytes_t) * (count > 0 ? count : 1));
  if (!args->pieces) {
    napi_throw_error(env, "ERR_MEMORY", "Cannot allocate the list of pieces");
    return 0;
  }
  args->piece_count = count;
  args->input.data = NULL;
  args->input.length = 0;
  for (uint32_t i = 0; i < count; i++) {
    if (!get_bytes(env, elements[i], &args->pieces[i])) {
      throw_type(env, "Every piece of the input must be a Uint8Array");
      return 0;
    }
    args->input.length += args->pieces[i].length;
  }
  return 1;
}

/** parse_args once no more JavaScript can run: `elements` are an array input's, fetched already (or NULL). */
static napi_value parse_checked(napi_env env, napi_value *argv, napi_value *elements, uint32_t element_count, run_args_t *args, int pieces_allowed) {
  if (!get_bytes(env, argv[0], &args->key)) return throw_type(env, "The key must be a Uint8Array");
  if (args->key.length != KEY_BYTES) return throw_range(env, "The key must be 32 bytes");
  double number;
  if (!get_integer(env, argv[1], 0, 4294967295.0, &number)) return throw_range(env, "The part number must be an integer in [0, 2^32)");
  args->part_number = (uint32_t)number;
  if (!get_integer(env, argv[2], 0, SAFE_INTEGER_MAX, &number)) return throw_range(env, "The first chunk index must be a safe integer of 0 or more");
  args->first_index = (uint64_t)number;
  // EVP takes int lengths, so a chunk and its tag must fit one.
  if (!get_integer(env, argv[3], 1, (double)(INT32_MAX - TAG_BYTES), &number)) return throw_range(env, "The chunk size must be an integer in [1, 2^31 - 17]");
  args->chunk_bytes = (size_t)number;
  if (elements) {
    if (!get_pieces(env, elements, element_count, args)) return NULL;
  } else {
    if (!get_bytes(env, argv[4], &args->input)) return throw_type(env, pieces_allowed ? "The input must be a Uint8Array or an array of them" : "The input must be a Uint8Array");
    args->pieces = &args->input;
    args->piece_count = 1;
  }
  bytes_t out;
  if (!get_bytes(env, argv[5], &out)) return throw_type(env, "The output must be a Uint8Array");
  args->out = (uint8_t *)out.data;
  args->out_length = out.length;
  if (overlaps(out.data, out.length, args->key.data, args->key.length)) return throw_range(env, "The output must not overlap the input or the key");
  for (size_t i = 0; i < args->piece_count; i++) {
    if (overlaps(out.data, out.length, args->pieces[i].data, args->pieces[i].length)) return throw_range(env, "The output must not overlap the input or the key");
  }
  napi_value ok;
  napi_get_boolean(env, true, &ok);
  return ok;
}

// (key, partNumber, firstIndex, chunkBytes, input, out): checks each and fills `args`; NULL after a throw.
// `pieces_allowed`: the input may be an array of Uint8Arrays (open); the caller frees `args->pieces` then.
static napi_value parse_args(napi_env env, napi_callback_info info, run_args_t *args, int pieces_allowed) {
  args->pieces = NULL;
  args->piece_count = 0;
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc != 6) return throw_type(env, "Expected 6 arguments: key, partNumber, firstIndex, chunkBytes, input, out");
  bool is_array = false;
  if (pieces_allowed && napi_is_array(env, argv[4], &is_array) == napi_ok && is_array) {
    napi_value *elements = NULL;
    uint32_t count = 0;
    napi_value result = fetch_elements(env, argv[4], &elements, &count) ? parse_checked(env, argv, elements, count, args, 1) : NULL;
    free(elements);
    return result;
  }
  return parse_checked(env, argv, NULL, 0, args, pieces_allowed);
}

static void nonce_of(uint32_t part_number, uint64_t index, uint8_t nonce[NONCE_BYTES]) {
  for (int i = 0; i < 4; i++) nonce[i] = (uint8_t)(part_number >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) nonce[4 + i] = (uint8_t)(index >> (56 - 8 * i));
}

static napi_value number_of(napi_env env, double value) {
  napi_value result;
  napi_create_double(env, value, &result);
  return result;
}

static napi_value throw_openssl(napi_env env, EVP_CIPHER_CTX *ctx, const char *message) {
  EVP_CIPHER_CTX_free(ctx);
  napi_throw_error(env, "ERR_OPENSSL", message);
  return NULL;
}

// The cipher fetched once per load: an implicit fetch per init would search the provider store each call.
static EVP_CIPHER *gcm_cipher(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

/** seal(key, partNumber, firstIndex, chunkBytes, plain, out) → sealed bytes written to out. */
static napi_value seal(napi_env env, napi_callback_info info) {
  run_args_t args;
  if (!parse_args(env, info, &args, 0)) return NULL;
  size_t chunks = (args.input.length + args.chunk_bytes - 1) / args.chunk_bytes;
  size_t sealed_length = args.input.length + chunks * TAG_BYTES;
  if (args.out_length < sealed_length) return throw_range(env, "The output is shorter than the sealed run");
  if ((double)args.first_index + (double)chunks > SAFE_INTEGER_MAX) return throw_range(env, "The run's chunk indexes pass 2^53 - 1");
  if (chunks == 0) return number_of(env, 0);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return throw_openssl(env, NULL, "Cannot allocate a cipher context");
  if (EVP_EncryptInit_ex(ctx, gcm_cipher(env), NULL, args.key.data, NULL) != 1) return throw_openssl(env, ctx, "Cannot set the AES-256-GCM key");
  const uint8_t *in = args.input.data;
  uint8_t *out = args.out;
  size_t left = args.input.length;
  for (size_t i = 0; i < chunks; i++) {
    uint8_t nonce[NONCE_BYTES];
    nonce_of(args.part_number, args.first_index + i, nonce);
    int length = (int)(left < args.chunk_bytes ? left : args.chunk_bytes);
    int written = 0, final_written = 0;
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || EVP_EncryptUpdate(ctx, out, &written, in, length) != 1 ||
        EVP_EncryptFinal_ex(ctx, out + written, &final_written) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_BYTES, out + length) != 1) {
      return throw_openssl(env, ctx, "Cannot seal a chunk with AES-256-GCM");
    }
    in += length;
    out += length + TAG_BYTES;
    left -= (size_t)length;
  }
  EVP_CIPHER_CTX_free(ctx); // cleanses the key schedule
  return number_of(env, (double)sealed_length);
}

/** A read position in a run's pieces, which are consecutive bytes of the run. */
typedef struct {
  const bytes_t *pieces;
  size_t at;     // the piece read next
  size_t offset; // within it
} cursor_t;

/** The next up to `want` bytes at `cursor` that lie in one piece: their start in `*data`, their count returned. */
static size_t next_span(cursor_t *cursor, size_t want, const uint8_t **data) {
  while (cursor->offset == cursor->pieces[cursor->at].length) {
    cursor->at++;
    cursor->offset = 0;
  }
  const bytes_t *piece = &cursor->pieces[cursor->at];
  size_t n = piece->length - cursor->offset;
  if (n > want) n = want;
  *data = piece->data + cursor->offset;
  cursor->offset += n;
  return n;
}

/** Decrypts the next `length` bytes at `cursor` into `out`, one EVP update per piece they span; 0 on failure. */
static int decrypt_from(EVP_CIPHER_CTX *ctx, cursor_t *cursor, size_t length, uint8_t *out) {
  while (length > 0) {
    const uint8_t *in;
    size_t n = next_span(cursor, length, &in);
    int written = 0;
    // GCM is a stream mode: every update writes exactly its input's length.
    if (EVP_DecryptUpdate(ctx, out, &written, in, (int)n) != 1 || (size_t)written != n) return 0;
    out += n;
    length -= n;
  }
  return 1;
}

/** Copies the next `length` bytes at `cursor` into `to` (a tag that may straddle two pieces). */
static void copy_from(cursor_t *cursor, size_t length, uint8_t *to) {
  while (length > 0) {
    const uint8_t *from;
    size_t n = next_span(cursor, length, &from);
    memcpy(to, from, n);
    to += n;
    length -= n;
  }
}

static napi_value open_done(run_args_t *args, EVP_CIPHER_CTX *ctx, napi_value result) {
  if (ctx) EVP_CIPHER_CTX_free(ctx);
  if (args->pieces != &args->input) free(args->pieces);
  return result;
}

/**
 * open(key, partNumber, firstIndex, chunkBytes, sealed, out) → plaintext bytes written to out, or -1 - k when
 * chunk k of the run (0-based) fails its tag: chunks before it are in out, and its own bytes are zeroed.
 * `sealed` is one Uint8Array, or an array of them holding the run's bytes in order: a chunk may straddle
 * pieces (a reader's buffers), and is opened from them without being gathered first.
 */
static napi_value open_run(napi_env env, napi_callback_info info) {
  run_args_t args;
  if (!parse_args(env, info, &args, 1)) return open_done(&args, NULL, NULL);
  size_t sealed_chunk_bytes = args.chunk_bytes + TAG_BYTES;
  size_t chunks = (args.input.length + sealed_chunk_bytes - 1) / sealed_chunk_bytes;
  // A last chunk too short for a tag (corrupt, below) opens to nothing; the chunks before it still need room.
  size_t last_length = chunks == 0 ? 0 : args.input.length - (chunks - 1) * sealed_chunk_bytes;
  size_t plain_length = chunks == 0 ? 0 : (chunks - 1) * args.chunk_bytes + (last_length > TAG_BYTES ? last_length - TAG_BYTES : 0);
  if (args.out_length < plain_length) return open_done(&args, NULL, throw_range(env, "The output is shorter than the opened run"));
  if ((double)args.first_index + (double)chunks > SAFE_INTEGER_MAX) return open_done(&args, NULL, throw_range(env, "The run's chunk indexes pass 2^53 - 1"));
  if (chunks == 0) return open_done(&args, NULL, number_of(env, 0));
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return open_done(&args, NULL, throw_openssl(env, NULL, "Cannot allocate a cipher context"));
  if (EVP_DecryptInit_ex(ctx, gcm_cipher(env), NULL, args.key.data, NULL) != 1) return open_done(&args, NULL, throw_openssl(env, ctx, "Cannot set the AES-256-GCM key"));
  cursor_t cursor = {args.pieces, 0, 0};
  uint8_t *out = args.out;
  size_t left = args.input.length;
  for (size_t i = 0; i < chunks; i++) {
    size_t sealed_length = left < sealed_chunk_bytes ? left : sealed_chunk_bytes;
    // A chunk too short to hold a tag and a byte is corrupt like one whose tag fails.
    if (sealed_length <= TAG_BYTES) return open_done(&args, ctx, number_of(env, -1.0 - (double)i));
    size_t length = sealed_length - TAG_BYTES;
    uint8_t nonce[NONCE_BYTES];
    nonce_of(args.part_number, args.first_index + i, nonce);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, nonce) != 1 || !decrypt_from(ctx, &cursor, length, out)) {
      OPENSSL_cleanse(out, length);
      return open_done(&args, NULL, throw_openssl(env, ctx, "Cannot open a chunk with AES-256-GCM"));
    }
    // The expected tag may be set any time before the final call; it may straddle two pieces.
    uint8_t tag[TAG_BYTES];
    copy_from(&cursor, TAG_BYTES, tag);
    int final_written = 0;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_BYTES, tag) != 1) {
      OPENSSL_cleanse(out, length);
      return open_done(&args, NULL, throw_openssl(env, ctx, "Cannot open a chunk with AES-256-GCM"));
    }
    if (EVP_DecryptFinal_ex(ctx, out + length, &final_written) != 1) {
      OPENSSL_cleanse(out, length); // never leave an unauthenticated chunk's plaintext behind
      return open_done(&args, ctx, number_of(env, -1.0 - (double)i));
    }
    out += length;
    left -= sealed_length;
  }
  return open_done(&args, ctx, number_of(env, (double)plain_length));
}

static void free_cipher(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_CIPHER_free(data);
}

NAPI_MODULE_INIT() {
  EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
  if (!cipher) {
    napi_throw_error(env, "ERR_OPENSSL", "Cannot fetch AES-256-GCM from libcrypto");
    return NULL;
  }
  if (napi_set_instance_data(env, cipher, free_cipher, NULL) != napi_ok) {
    EVP_CIPHER_free(cipher);
    return NULL;
  }
  napi_property_descriptor properties[] = {
    {"seal", NULL, seal, NULL, NULL, NULL, napi_enumerable, NULL},
    {"open", NULL, open_run, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_value version;
  napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &version);
  napi_define_properties(env, exports, 2, properties);
  napi_set_named_property(env, exports, "openssl", version);
  // Where EVP really resolved: Node exports its bundled OpenSSL's symbols, which win over the system
  // libcrypto's unless the addon is loaded with RTLD_DEEPBIND (util/gcm-chunks.ts checks this).
  Dl_info where;
  if (dladdr((void *)&EVP_EncryptUpdate, &where) && where.dli_fname) {
    napi_value library;
    napi_create_string_utf8(env, where.dli_fname, NAPI_AUTO_LENGTH, &library);
    napi_set_named_property(env, exports, "libcrypto", library);
  }
  return exports;
}
