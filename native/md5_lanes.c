// MD5 of many independent streams at once, for the hashing thread (src/util/md5-lanes.ts): one 32-bit SIMD
// lane per stream, 16 in a zmm register (AVX-512) or 8 in a ymm (AVX2; 16 as two ymm), else one stream after
// another. A stream's state lives in a caller-held context (Uint8Array); it owns no format beyond MD5's
// (RFC 1321). Every argument is checked here, so a bad call throws, never crashes.
#define NAPI_VERSION 8
#include <node_api.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "napi_args.h"

#define LANES_MAX 16
#define BLOCK_BYTES 64
#define CONTEXT_MAGIC 0x4c35444du // "MD5L"

// A stream's context, copied in and out with memcpy (the caller's bytes need not be aligned).
typedef struct {
  uint32_t state[4];
  uint64_t length_bytes;
  uint8_t tail[BLOCK_BYTES];
  uint32_t tail_bytes;
  uint32_t magic;
} context_t;

#define CONTEXT_BYTES sizeof(context_t)

// One lane of a call: its state and the whole blocks it has left.
typedef struct {
  uint32_t state[4];
  const uint8_t *next;
  size_t blocks_left;
} lane_t;

// The sines of RFC 1321 section 3.4: K[i] = floor(abs(sin(i + 1)) * 2^32).
static const uint32_t K[64] = {
  0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
  0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
  0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
  0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
  0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
  0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
  0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
  0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};

// Which message word step i reads, and by how much it rotates, per round (RFC 1321 section 3.4).
#define WORD(i) ((i) < 16 ? (i) : (i) < 32 ? (5 * (i) + 1) % 16 : (i) < 48 ? (3 * (i) + 5) % 16 : (7 * (i)) % 16)
#define PICK(k, w, x, y, z) ((k) == 0 ? (w) : (k) == 1 ? (x) : (k) == 2 ? (y) : (z))
#define SHIFT(i) \
  ((i) < 16 ? PICK((i) % 4, 7, 12, 17, 22) : (i) < 32 ? PICK((i) % 4, 5, 9, 14, 20) : (i) < 48 ? PICK((i) % 4, 4, 11, 16, 23) : PICK((i) % 4, 6, 10, 15, 21))

// Each round's 16 steps, unrolled, with the roles of a, b, c, d rotating by one each step. STEP(i, a, b, c, d)
// is defined by each path before use.
#define STEPS16(base) \
  STEP(base + 0, a, b, c, d) STEP(base + 1, d, a, b, c) STEP(base + 2, c, d, a, b) STEP(base + 3, b, c, d, a) \
  STEP(base + 4, a, b, c, d) STEP(base + 5, d, a, b, c) STEP(base + 6, c, d, a, b) STEP(base + 7, b, c, d, a) \
  STEP(base + 8, a, b, c, d) STEP(base + 9, d, a, b, c) STEP(base + 10, c, d, a, b) STEP(base + 11, b, c, d, a) \
  STEP(base + 12, a, b, c, d) STEP(base + 13, d, a, b, c) STEP(base + 14, c, d, a, b) STEP(base + 15, b, c, d, a)

// ---- scalar: one stream, block after block ----

static inline uint32_t rotl32(uint32_t x, int n) {
  return (x << n) | (x >> (32 - n));
}

static inline uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void blocks_scalar(uint32_t state[4], const uint8_t *in, size_t blocks) {
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  for (; blocks > 0; blocks--, in += BLOCK_BYTES) {
    uint32_t m[16];
    for (int w = 0; w < 16; w++) m[w] = load_le32(in + 4 * w);
    const uint32_t a0 = a, b0 = b, c0 = c, d0 = d;
#define STEP(i, a, b, c, d) a = b + rotl32(a + ROUND_FN((i) / 16, b, c, d) + m[WORD(i)] + K[i], SHIFT(i));
#define ROUND_FN(r, b, c, d) ((r) == 0 ? ((d) ^ ((b) & ((c) ^ (d)))) : (r) == 1 ? ((c) ^ ((d) & ((b) ^ (c)))) : (r) == 2 ? ((b) ^ (c) ^ (d)) : ((c) ^ ((b) | ~(d))))
    STEPS16(0) STEPS16(16) STEPS16(32) STEPS16(48)
#undef STEP
#undef ROUND_FN
    a += a0;
    b += b0;
    c += c0;
    d += d0;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

// A kernel advances `width` lanes by `blocks` blocks: lane j's state is a[j], b[j], c[j], d[j], its bytes start
// at next[j] and move on by step[j] bytes a block (0 for a lane that is done: it rereads a zero block).
typedef void kernel_fn(uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d, const uint8_t *const *next, const uint64_t *step, size_t blocks);

#if defined(__x86_64__)

// ---- AVX-512: 16 lanes in the 32-bit elements of a zmm ----

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

// Message word w of 16 lanes: two gathers of 8, each through its lanes' 64-bit addresses.
AVX512 static inline __m512i gather16(__m512i low, __m512i high, int w) {
  const __m512i offset = _mm512_set1_epi64(4 * w);
  __m256i x = _mm512_i64gather_epi32(_mm512_add_epi64(low, offset), NULL, 1);
  __m256i y = _mm512_i64gather_epi32(_mm512_add_epi64(high, offset), NULL, 1);
  return _mm512_inserti64x4(_mm512_castsi256_si512(x), y, 1);
}

// F, G, H, I as one vpternlogd each: truth tables over (b, c, d).
#define TERNLOG(r) ((r) == 0 ? 0xca : (r) == 1 ? 0xe4 : (r) == 2 ? 0x96 : 0x39)

AVX512 static void kernel_avx512(uint32_t *a_, uint32_t *b_, uint32_t *c_, uint32_t *d_, const uint8_t *const *next, const uint64_t *step, size_t blocks) {
  __m512i a = _mm512_loadu_si512(a_), b = _mm512_loadu_si512(b_), c = _mm512_loadu_si512(c_), d = _mm512_loadu_si512(d_);
  __m512i low = _mm512_loadu_si512(next), high = _mm512_loadu_si512(next + 8);
  const __m512i step_low = _mm512_loadu_si512(step), step_high = _mm512_loadu_si512(step + 8);
  for (; blocks > 0; blocks--) {
    __m512i m[16];
    for (int w = 0; w < 16; w++) m[w] = gather16(low, high, w);
    const __m512i a0 = a, b0 = b, c0 = c, d0 = d;
#define STEP(i, a, b, c, d)                                                                              \
  a = _mm512_add_epi32(a, _mm512_add_epi32(m[WORD(i)], _mm512_set1_epi32((int)K[i])));                    \
  a = _mm512_add_epi32(a, _mm512_ternarylogic_epi32(b, c, d, TERNLOG((i) / 16)));                          \
  a = _mm512_add_epi32(b, _mm512_rol_epi32(a, SHIFT(i)));
    STEPS16(0) STEPS16(16) STEPS16(32) STEPS16(48)
#undef STEP
    a = _mm512_add_epi32(a, a0);
    b = _mm512_add_epi32(b, b0);
    c = _mm512_add_epi32(c, c0);
    d = _mm512_add_epi32(d, d0);
    low = _mm512_add_epi64(low, step_low);
    high = _mm512_add_epi64(high, step_high);
  }
  _mm512_storeu_si512(a_, a);
  _mm512_storeu_si512(b_, b);
  _mm512_storeu_si512(c_, c);
  _mm512_storeu_si512(d_, d);
}

// Up to 8 lanes in a ymm with AVX-512VL's ternlog and rotate: one gather of 8 per message word instead of two,
// for the calls that have 8 lanes or fewer (most of them on a server that is not saturated).
AVX512 static void kernel_avx512_8(uint32_t *a_, uint32_t *b_, uint32_t *c_, uint32_t *d_, const uint8_t *const *next, const uint64_t *step, size_t blocks) {
  __m256i a = _mm256_loadu_si256((const __m256i *)a_), b = _mm256_loadu_si256((const __m256i *)b_);
  __m256i c = _mm256_loadu_si256((const __m256i *)c_), d = _mm256_loadu_si256((const __m256i *)d_);
  __m512i address = _mm512_loadu_si512(next);
  const __m512i steps = _mm512_loadu_si512(step);
  for (; blocks > 0; blocks--) {
    __m256i m[16];
    for (int w = 0; w < 16; w++) m[w] = _mm512_i64gather_epi32(_mm512_add_epi64(address, _mm512_set1_epi64(4 * w)), NULL, 1);
    const __m256i a0 = a, b0 = b, c0 = c, d0 = d;
#define STEP(i, a, b, c, d)                                                                              \
  a = _mm256_add_epi32(a, _mm256_add_epi32(m[WORD(i)], _mm256_set1_epi32((int)K[i])));                    \
  a = _mm256_add_epi32(a, _mm256_ternarylogic_epi32(b, c, d, TERNLOG((i) / 16)));                          \
  a = _mm256_add_epi32(b, _mm256_rol_epi32(a, SHIFT(i)));
    STEPS16(0) STEPS16(16) STEPS16(32) STEPS16(48)
#undef STEP
    a = _mm256_add_epi32(a, a0);
    b = _mm256_add_epi32(b, b0);
    c = _mm256_add_epi32(c, c0);
    d = _mm256_add_epi32(d, d0);
    address = _mm512_add_epi64(address, steps);
  }
  _mm256_storeu_si256((__m256i *)a_, a);
  _mm256_storeu_si256((__m256i *)b_, b);
  _mm256_storeu_si256((__m256i *)c_, c);
  _mm256_storeu_si256((__m256i *)d_, d);
}

// Up to 4 lanes in an xmm, likewise: gathers of 4.
AVX512 static void kernel_avx512_4(uint32_t *a_, uint32_t *b_, uint32_t *c_, uint32_t *d_, const uint8_t *const *next, const uint64_t *step, size_t blocks) {
  __m128i a = _mm_loadu_si128((const __m128i *)a_), b = _mm_loadu_si128((const __m128i *)b_);
  __m128i c = _mm_loadu_si128((const __m128i *)c_), d = _mm_loadu_si128((const __m128i *)d_);
  __m256i address = _mm256_loadu_si256((const __m256i *)next);
  const __m256i steps = _mm256_loadu_si256((const __m256i *)step);
  for (; blocks > 0; blocks--) {
    __m128i m[16];
    for (int w = 0; w < 16; w++) m[w] = _mm256_i64gather_epi32(NULL, _mm256_add_epi64(address, _mm256_set1_epi64x(4 * w)), 1);
    const __m128i a0 = a, b0 = b, c0 = c, d0 = d;
#define STEP(i, a, b, c, d)                                                                              \
  a = _mm_add_epi32(a, _mm_add_epi32(m[WORD(i)], _mm_set1_epi32((int)K[i])));                             \
  a = _mm_add_epi32(a, _mm_ternarylogic_epi32(b, c, d, TERNLOG((i) / 16)));                                \
  a = _mm_add_epi32(b, _mm_rol_epi32(a, SHIFT(i)));
    STEPS16(0) STEPS16(16) STEPS16(32) STEPS16(48)
#undef STEP
    a = _mm_add_epi32(a, a0);
    b = _mm_add_epi32(b, b0);
    c = _mm_add_epi32(c, c0);
    d = _mm_add_epi32(d, d0);
    address = _mm256_add_epi64(address, steps);
  }
  _mm_storeu_si128((__m128i *)a_, a);
  _mm_storeu_si128((__m128i *)b_, b);
  _mm_storeu_si128((__m128i *)c_, c);
  _mm_storeu_si128((__m128i *)d_, d);
}

// ---- AVX2: 8 lanes in a ymm ----

#define AVX2 __attribute__((target("avx2")))

// Message words 0-15 of 8 lanes' next blocks, word w of lane j in element j of m[w]: two 32-byte loads per
// lane and two 8x8 transposes. Gathers did the same in 32 instructions a block, each slow on AMD's cores.
AVX2 static inline void transpose8(__m256i r0, __m256i r1, __m256i r2, __m256i r3, __m256i r4, __m256i r5, __m256i r6,
                                   __m256i r7, __m256i *out) {
  const __m256i t0 = _mm256_unpacklo_epi32(r0, r1), t1 = _mm256_unpackhi_epi32(r0, r1);
  const __m256i t2 = _mm256_unpacklo_epi32(r2, r3), t3 = _mm256_unpackhi_epi32(r2, r3);
  const __m256i t4 = _mm256_unpacklo_epi32(r4, r5), t5 = _mm256_unpackhi_epi32(r4, r5);
  const __m256i t6 = _mm256_unpacklo_epi32(r6, r7), t7 = _mm256_unpackhi_epi32(r6, r7);
  const __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  const __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  const __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  const __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  out[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  out[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  out[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  out[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  out[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  out[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  out[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  out[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

// The 32 bytes at `half` (0: words 0-7, 1: words 8-15) of each lane's block. Spelled out: a loop over an array of
// rows compiled to code 8-10 % slower at 16 lanes.
#define ROWS(p, half)                                                                                    \
  LOAD32(p[0], half), LOAD32(p[1], half), LOAD32(p[2], half), LOAD32(p[3], half), LOAD32(p[4], half),    \
    LOAD32(p[5], half), LOAD32(p[6], half), LOAD32(p[7], half)
#define LOAD32(p, half) _mm256_loadu_si256((const __m256i *)((p) + 32 * (half)))

AVX2 static inline void load_words8(const uint8_t *const *p, __m256i *m) {
  transpose8(ROWS(p, 0), m);
  transpose8(ROWS(p, 1), m + 8);
}

#define ROL8(x, n) _mm256_or_si256(_mm256_slli_epi32(x, n), _mm256_srli_epi32(x, 32 - (n)))
// F = d ^ (b & (c ^ d)), G = c ^ (d & (b ^ c)), H = b ^ c ^ d, I = c ^ (b | ~d)
#define FN8(r, b, c, d)                                                                                      \
  ((r) == 0   ? _mm256_xor_si256(d, _mm256_and_si256(b, _mm256_xor_si256(c, d)))                          \
   : (r) == 1 ? _mm256_xor_si256(c, _mm256_and_si256(d, _mm256_xor_si256(b, c)))                          \
   : (r) == 2 ? _mm256_xor_si256(_mm256_xor_si256(b, c), d)                                                \
              : _mm256_xor_si256(c, _mm256_or_si256(b, _mm256_xor_si256(d, ones))))

AVX2 static void kernel_avx2(uint32_t *a_, uint32_t *b_, uint32_t *c_, uint32_t *d_, const uint8_t *const *next, const uint64_t *step, size_t blocks) {
  __m256i a = _mm256_loadu_si256((const __m256i *)a_), b = _mm256_loadu_si256((const __m256i *)b_);
  __m256i c = _mm256_loadu_si256((const __m256i *)c_), d = _mm256_loadu_si256((const __m256i *)d_);
  const uint8_t *p[8];
  for (int j = 0; j < 8; j++) p[j] = next[j];
  const __m256i ones = _mm256_set1_epi32(-1);
  for (; blocks > 0; blocks--) {
    __m256i m[16];
    load_words8(p, m);
    for (int j = 0; j < 8; j++) p[j] += step[j];
    const __m256i a0 = a, b0 = b, c0 = c, d0 = d;
#define STEP(i, a, b, c, d)                                                                              \
  a = _mm256_add_epi32(a, _mm256_add_epi32(m[WORD(i)], _mm256_set1_epi32((int)K[i])));                    \
  a = _mm256_add_epi32(a, FN8((i) / 16, b, c, d));                                                         \
  a = _mm256_add_epi32(b, ROL8(a, SHIFT(i)));
    STEPS16(0) STEPS16(16) STEPS16(32) STEPS16(48)
#undef STEP
    a = _mm256_add_epi32(a, a0);
    b = _mm256_add_epi32(b, b0);
    c = _mm256_add_epi32(c, c0);
    d = _mm256_add_epi32(d, d0);
  }
  _mm256_storeu_si256((__m256i *)a_, a);
  _mm256_storeu_si256((__m256i *)b_, b);
  _mm256_storeu_si256((__m256i *)c_, c);
  _mm256_storeu_si256((__m256i *)d_, d);
}

// 16 lanes as two ymm of 8 whose steps interleave: one lane group's MD5 step waits on the one before it
// (about six cycles of latency each), so a lone group leaves most of the vector units idle; two independent
// groups fill them, and 9-16 live lanes take about the time 8 took, where they took two calls of 8 before.
AVX2 static void kernel_avx2_16(uint32_t *a_, uint32_t *b_, uint32_t *c_, uint32_t *d_, const uint8_t *const *next, const uint64_t *step, size_t blocks) {
  __m256i a = _mm256_loadu_si256((const __m256i *)a_), b = _mm256_loadu_si256((const __m256i *)b_);
  __m256i c = _mm256_loadu_si256((const __m256i *)c_), d = _mm256_loadu_si256((const __m256i *)d_);
  __m256i e = _mm256_loadu_si256((const __m256i *)(a_ + 8)), f = _mm256_loadu_si256((const __m256i *)(b_ + 8));
  __m256i g = _mm256_loadu_si256((const __m256i *)(c_ + 8)), h = _mm256_loadu_si256((const __m256i *)(d_ + 8));
  const uint8_t *p[16];
  for (int j = 0; j < 16; j++) p[j] = next[j];
  const __m256i ones = _mm256_set1_epi32(-1);
  for (; blocks > 0; blocks--) {
    __m256i m[16], n[16];
    load_words8(p, m);
    load_words8(p + 8, n);
    for (int j = 0; j < 16; j++) p[j] += step[j];
    const __m256i a0 = a, b0 = b, c0 = c, d0 = d, e0 = e, f0 = f, g0 = g, h0 = h;
#define STEP(i, a, b, c, d, e, f, g, h)                                                                  \
  {                                                                                                      \
    const __m256i k = _mm256_set1_epi32((int)K[i]);                                                      \
    a = _mm256_add_epi32(a, _mm256_add_epi32(m[WORD(i)], k));                                             \
    e = _mm256_add_epi32(e, _mm256_add_epi32(n[WORD(i)], k));                                             \
    a = _mm256_add_epi32(a, FN8((i) / 16, b, c, d));                                                     \
    e = _mm256_add_epi32(e, FN8((i) / 16, f, g, h));                                                     \
    a = _mm256_add_epi32(b, ROL8(a, SHIFT(i)));                                                          \
    e = _mm256_add_epi32(f, ROL8(e, SHIFT(i)));                                                          \
  }
#define STEPS16X2(base)                                                                                  \
  STEP(base + 0, a, b, c, d, e, f, g, h) STEP(base + 1, d, a, b, c, h, e, f, g)                          \
  STEP(base + 2, c, d, a, b, g, h, e, f) STEP(base + 3, b, c, d, a, f, g, h, e)                          \
  STEP(base + 4, a, b, c, d, e, f, g, h) STEP(base + 5, d, a, b, c, h, e, f, g)                          \
  STEP(base + 6, c, d, a, b, g, h, e, f) STEP(base + 7, b, c, d, a, f, g, h, e)                          \
  STEP(base + 8, a, b, c, d, e, f, g, h) STEP(base + 9, d, a, b, c, h, e, f, g)                          \
  STEP(base + 10, c, d, a, b, g, h, e, f) STEP(base + 11, b, c, d, a, f, g, h, e)                        \
  STEP(base + 12, a, b, c, d, e, f, g, h) STEP(base + 13, d, a, b, c, h, e, f, g)                        \
  STEP(base + 14, c, d, a, b, g, h, e, f) STEP(base + 15, b, c, d, a, f, g, h, e)
    STEPS16X2(0) STEPS16X2(16) STEPS16X2(32) STEPS16X2(48)
#undef STEPS16X2
#undef STEP
    a = _mm256_add_epi32(a, a0);
    b = _mm256_add_epi32(b, b0);
    c = _mm256_add_epi32(c, c0);
    d = _mm256_add_epi32(d, d0);
    e = _mm256_add_epi32(e, e0);
    f = _mm256_add_epi32(f, f0);
    g = _mm256_add_epi32(g, g0);
    h = _mm256_add_epi32(h, h0);
  }
  _mm256_storeu_si256((__m256i *)a_, a);
  _mm256_storeu_si256((__m256i *)b_, b);
  _mm256_storeu_si256((__m256i *)c_, c);
  _mm256_storeu_si256((__m256i *)d_, d);
  _mm256_storeu_si256((__m256i *)(a_ + 8), e);
  _mm256_storeu_si256((__m256i *)(b_ + 8), f);
  _mm256_storeu_si256((__m256i *)(c_ + 8), g);
  _mm256_storeu_si256((__m256i *)(d_ + 8), h);
}

#endif // __x86_64__

// What a lane that is done reads: the kernels keep every lane busy, and only live lanes' states are kept.
static const uint8_t zero_block[BLOCK_BYTES];

// ---- the paths, picked at load ----

// A path's kernels, narrowest first: a call's live lanes go to the narrowest that takes them all (fewer
// lanes, fewer gathers), or to the widest, which then takes as many as it can. No kernel: scalar.
#define KERNELS_MAX 3
typedef struct {
  const char *name;
  struct {
    int width;
    kernel_fn *kernel;
  } kernels[KERNELS_MAX];
} path_t;

static const path_t paths[] = {
#if defined(__x86_64__)
  {"avx512", {{4, kernel_avx512_4}, {8, kernel_avx512_8}, {16, kernel_avx512}}},
  {"avx2", {{8, kernel_avx2}, {16, kernel_avx2_16}}},
#endif
  {"scalar", {{0, NULL}}},
};
/**
 * Advances `count` lanes through `path`: in segments as long as the shortest live run among those the kernel
 * takes, so a lane whose run ends drops out (its slot rereads a zero block, the result thrown away) while the
 * others go on. A lone live lane finishes on the scalar path, which is as fast for one stream.
 */
static void drive_lanes(lane_t *lanes, int count, const path_t *path) {
  for (;;) {
    lane_t *live[LANES_MAX];
    int live_count = 0;
    for (int i = 0; i < count; i++) {
      if (lanes[i].blocks_left > 0) live[live_count++] = &lanes[i];
    }
    if (live_count == 0) return;
    if (live_count == 1 || path->kernels[0].kernel == NULL) {
      for (int i = 0; i < live_count; i++) {
        blocks_scalar(live[i]->state, live[i]->next, live[i]->blocks_left);
        live[i]->blocks_left = 0;
      }
      return;
    }
    int k = 0;
    while (k + 1 < KERNELS_MAX && path->kernels[k + 1].kernel && path->kernels[k].width < live_count) k++;
    int width = path->kernels[k].width;
    kernel_fn *kernel = path->kernels[k].kernel;
    int taken = live_count < width ? live_count : width; // never fewer than live_count: the widest kernel takes 16
    size_t segment = SIZE_MAX;
    for (int j = 0; j < taken; j++) {
      if (live[j]->blocks_left < segment) segment = live[j]->blocks_left;
    }
    uint32_t a[LANES_MAX], b[LANES_MAX], c[LANES_MAX], d[LANES_MAX];
    const uint8_t *next[LANES_MAX];
    uint64_t step[LANES_MAX];
    for (int j = 0; j < width; j++) {
      const lane_t *lane = j < taken ? live[j] : NULL;
      a[j] = lane ? lane->state[0] : 0;
      b[j] = lane ? lane->state[1] : 0;
      c[j] = lane ? lane->state[2] : 0;
      d[j] = lane ? lane->state[3] : 0;
      next[j] = lane ? lane->next : zero_block;
      step[j] = lane ? BLOCK_BYTES : 0;
    }
    kernel(a, b, c, d, next, step, segment);
    for (int j = 0; j < taken; j++) {
      live[j]->state[0] = a[j];
      live[j]->state[1] = b[j];
      live[j]->state[2] = c[j];
      live[j]->state[3] = d[j];
      live[j]->next += segment * BLOCK_BYTES;
      live[j]->blocks_left -= segment;
    }
  }
}

#define PATH_COUNT ((int)(sizeof(paths) / sizeof(paths[0])))

static int path_supported(const path_t *path) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (path->kernels[0].kernel == kernel_avx512_4) return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  if (path->kernels[0].kernel == kernel_avx2) return __builtin_cpu_supports("avx2");
#endif
  return path->kernels[0].kernel == NULL;
}

// ---- N-API ----

// A context's bytes, or 0 when they are not one this addon made (wrong size, magic or tail length).
static int read_context(const uint8_t *data, size_t length, context_t *context) {
  if (length != CONTEXT_BYTES) return 0;
  memcpy(context, data, CONTEXT_BYTES);
  return context->magic == CONTEXT_MAGIC && context->tail_bytes < BLOCK_BYTES;
}

static void reset_context(context_t *context) {
  memset(context, 0, CONTEXT_BYTES);
  context->state[0] = 0x67452301;
  context->state[1] = 0xefcdab89;
  context->state[2] = 0x98badcfe;
  context->state[3] = 0x10325476;
  context->magic = CONTEXT_MAGIC;
}

/** create() → a fresh context: a Buffer of CONTEXT_BYTES holding MD5's initial state. */
static napi_value create(napi_env env, napi_callback_info info) {
  (void)info;
  context_t context;
  reset_context(&context);
  void *data = NULL;
  napi_value result;
  if (napi_create_buffer_copy(env, CONTEXT_BYTES, &context, &data, &result) != napi_ok) return throw_range(env, "Cannot allocate an MD5 context");
  return result;
}

// The path a call asked for (a string naming a supported one), or the default one when it named none.
static const path_t *path_of(napi_env env, napi_value value, const path_t *fallback) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return NULL;
  if (type == napi_undefined) return fallback;
  char name[16];
  size_t length = 0;
  if (type != napi_string || napi_get_value_string_utf8(env, value, name, sizeof(name), &length) != napi_ok) {
    throw_type(env, "The path must be a string");
    return NULL;
  }
  for (int i = 0; i < PATH_COUNT; i++) {
    if (strcmp(paths[i].name, name) == 0 && path_supported(&paths[i])) return &paths[i];
  }
  throw_range(env, "The path must be one this CPU supports (see paths)");
  return NULL;
}

typedef struct {
  uint8_t *data;
  context_t context;
} held_context_t;

/**
 * update(contexts, inputs, path?) → undefined. contexts: an array of 1-16 distinct contexts from create();
 * inputs: an array as long, of Uint8Arrays; context i takes input i's bytes after those it has taken before.
 */
static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return throw_type(env, "Cannot read the arguments");
  if (argc < 2) return throw_type(env, "Expected the arguments contexts, inputs and an optional path");
  bool is_array = false;
  uint32_t count = 0, input_count = 0;
  if (napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array) return throw_type(env, "The contexts must be an array");
  if (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) return throw_type(env, "The inputs must be an array");
  napi_get_array_length(env, argv[0], &count);
  napi_get_array_length(env, argv[1], &input_count);
  if (count < 1 || count > LANES_MAX) return throw_range(env, "The contexts must number 1 to 16");
  if (input_count != count) return throw_range(env, "The inputs must be as many as the contexts");
  const path_t *fallback = NULL;
  napi_get_instance_data(env, (void **)&fallback);
  const path_t *path = path_of(env, argv[2], fallback); // napi_get_cb_info fills a missing one with undefined
  if (!path) return NULL;

  held_context_t held[LANES_MAX];
  const uint8_t *input[LANES_MAX];
  size_t input_length[LANES_MAX];
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    size_t length = 0;
    if (napi_get_element(env, argv[0], i, &element) != napi_ok || !uint8_array_of(env, element, &held[i].data, &length)) {
      return throw_type(env, "Each context must be a Uint8Array");
    }
    if (!read_context(held[i].data, length, &held[i].context)) return throw_range(env, "Each context must be one create() made");
    uint8_t *bytes = NULL;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok || !uint8_array_of(env, element, &bytes, &input_length[i])) {
      return throw_type(env, "Each input must be a Uint8Array");
    }
    input[i] = bytes;
  }
  // A context written while it is also read, or twice, would give a wrong digest silently.
  for (uint32_t i = 0; i < count; i++) {
    for (uint32_t j = 0; j < count; j++) {
      if (j != i && overlaps(held[i].data, CONTEXT_BYTES, held[j].data, CONTEXT_BYTES)) return throw_range(env, "The contexts must be distinct");
      if (overlaps(held[i].data, CONTEXT_BYTES, input[j], input_length[j])) return throw_range(env, "A context must not overlap an input");
    }
  }

  // A context's tail first becomes a whole block with the input's first bytes; the lanes take whole blocks
  // after it, and what is left of the input becomes the new tail.
  lane_t lanes[LANES_MAX];
  for (uint32_t i = 0; i < count; i++) {
    context_t *context = &held[i].context;
    const uint8_t *in = input[i];
    size_t left = input_length[i];
    context->length_bytes += left;
    if (context->tail_bytes > 0) {
      size_t taken = BLOCK_BYTES - context->tail_bytes < left ? BLOCK_BYTES - context->tail_bytes : left;
      memcpy(context->tail + context->tail_bytes, in, taken);
      context->tail_bytes += (uint32_t)taken;
      in += taken;
      left -= taken;
      if (context->tail_bytes == BLOCK_BYTES) {
        blocks_scalar(context->state, context->tail, 1);
        context->tail_bytes = 0;
      }
    }
    memcpy(lanes[i].state, context->state, sizeof(lanes[i].state));
    lanes[i].next = in;
    lanes[i].blocks_left = left / BLOCK_BYTES;
    size_t rest = left % BLOCK_BYTES;
    if (rest > 0) {
      memcpy(context->tail, in + left - rest, rest); // the tail is empty here: any bytes left filled it first
      context->tail_bytes = (uint32_t)rest;
    }
  }
  drive_lanes(lanes, (int)count, path);
  for (uint32_t i = 0; i < count; i++) {
    memcpy(held[i].context.state, lanes[i].state, sizeof(lanes[i].state));
    memcpy(held[i].data, &held[i].context, CONTEXT_BYTES);
  }
  return NULL;
}

/** digest(context) → the 16-byte MD5 of every byte the context took (the context is left as it was). */
static napi_value digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return throw_type(env, "Expected the argument context");
  uint8_t *data = NULL;
  size_t length = 0;
  context_t context;
  if (!uint8_array_of(env, argv[0], &data, &length)) return throw_type(env, "The context must be a Uint8Array");
  if (!read_context(data, length, &context)) return throw_range(env, "The context must be one create() made");
  // RFC 1321 section 3.1-3.2: a 1 bit, zeros to 56 bytes mod 64, then the length in bits, little-endian.
  uint8_t last[2 * BLOCK_BYTES] = {0};
  memcpy(last, context.tail, context.tail_bytes);
  last[context.tail_bytes] = 0x80;
  size_t blocks = context.tail_bytes < 56 ? 1 : 2;
  uint64_t length_bits = context.length_bytes * 8;
  for (int i = 0; i < 8; i++) last[blocks * BLOCK_BYTES - 8 + i] = (uint8_t)(length_bits >> (8 * i));
  blocks_scalar(context.state, last, blocks);
  uint8_t out[16];
  for (int i = 0; i < 16; i++) out[i] = (uint8_t)(context.state[i / 4] >> (8 * (i % 4)));
  void *copied = NULL;
  napi_value result;
  if (napi_create_buffer_copy(env, sizeof(out), out, &copied, &result) != napi_ok) return throw_range(env, "Cannot allocate a digest");
  return result;
}

static void unmap_shared(napi_env env, void *data, void *hint) {
  (void)env;
  munmap(data, (size_t)(uintptr_t)hint);
}

/**
 * mapShared(fd, bytes) → an ArrayBuffer over the first `bytes` bytes of the open file `fd`, mapped shared:
 * what one process writes there another that maps the same file reads, with no copy. The hashing service
 * reads the workers' batches this way (src/util/hash-service.ts). The file must already hold `bytes` bytes
 * (a shorter one would fault on the first access past its end); the caller may close `fd` after, and the
 * mapping goes when the ArrayBuffer is collected.
 */
static napi_value map_shared(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return throw_type(env, "Expected the arguments fd and bytes");
  int fd = -1;
  double bytes = 0;
  if (!get_fd(env, argv[0], &fd)) return throw_type(env, "The fd must be a file descriptor");
  if (!get_integer(env, argv[1], 1, 1024.0 * 1024 * 1024, &bytes)) return throw_range(env, "The bytes must be an integer from 1 to 1 GiB");
  struct stat st;
  char message[120];
  if (fstat(fd, &st) != 0) {
    snprintf(message, sizeof message, "Cannot stat the file to map: %s", strerror(errno));
    napi_throw_error(env, "ERR_SHARED_MAP", message);
    return NULL;
  }
  if (!S_ISREG(st.st_mode) || st.st_size < (off_t)bytes) return throw_range(env, "The file to map must be a regular file of at least `bytes` bytes");
  void *mapped = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) {
    snprintf(message, sizeof message, "Cannot map the file: %s", strerror(errno));
    napi_throw_error(env, "ERR_SHARED_MAP", message);
    return NULL;
  }
  napi_value result;
  if (napi_create_external_arraybuffer(env, mapped, (size_t)bytes, unmap_shared, (void *)(uintptr_t)bytes, &result) != napi_ok) {
    munmap(mapped, (size_t)bytes);
    napi_throw_error(env, "ERR_SHARED_MAP", "Cannot make an ArrayBuffer over the mapping");
    return NULL;
  }
  return result;
}

NAPI_MODULE_INIT() {
  const path_t *best = NULL;
  napi_value supported, name;
  napi_create_array(env, &supported);
  uint32_t index = 0;
  for (int i = 0; i < PATH_COUNT; i++) {
    if (!path_supported(&paths[i])) continue;
    if (!best) best = &paths[i];
    napi_create_string_utf8(env, paths[i].name, NAPI_AUTO_LENGTH, &name);
    napi_set_element(env, supported, index++, name);
  }
  napi_set_instance_data(env, (void *)best, NULL, NULL);
  napi_property_descriptor properties[] = {
    {"create", NULL, create, NULL, NULL, NULL, napi_enumerable, NULL},
    {"update", NULL, update, NULL, NULL, NULL, napi_enumerable, NULL},
    {"digest", NULL, digest, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mapShared", NULL, map_shared, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 4, properties);
  napi_set_named_property(env, exports, "paths", supported);
  napi_create_string_utf8(env, best->name, NAPI_AUTO_LENGTH, &name);
  napi_set_named_property(env, exports, "path", name);
  napi_value bytes;
  napi_create_uint32(env, (uint32_t)CONTEXT_BYTES, &bytes);
  napi_set_named_property(env, exports, "contextBytes", bytes);
  return exports;
}
