// ISA-L's own erasure-coding throughput, for comparison with the codec Tessera ships (bench/codec.ts).
// Benchmark only: the product never links ISA-L. Build: cc -O2 isal-bench.c -lisal
// Usage: isal-bench K M CHUNK_BYTES STRIPES RUNS  -> one JSON line of GB/s per run (data bytes / s).
#include <isa-l/erasure_code.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SHARDS 32

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Rebuilds data shards 0 and 1 from shards 2..k+1, building the decode tables on every call as a
// store that meets a new erasure pattern would (the same work ronomon does per call).
static void rebuild2(int k, int m, int len, unsigned char *encode_matrix, unsigned char **shards, unsigned char **out) {
  unsigned char b[MAX_SHARDS * MAX_SHARDS], inv[MAX_SHARDS * MAX_SHARDS], c[2 * MAX_SHARDS];
  unsigned char tables[32 * MAX_SHARDS * 2];
  unsigned char *sources[MAX_SHARDS];
  for (int r = 0; r < k; r++) {
    memcpy(&b[r * k], &encode_matrix[(r + 2) * k], k);  // survivors: shards 2..k+1
    sources[r] = shards[r + 2];
  }
  if (gf_invert_matrix(b, inv, k) < 0) {
    fprintf(stderr, "singular decode matrix\n");
    exit(1);
  }
  memcpy(c, &inv[0], k);       // row of lost shard 0
  memcpy(c + k, &inv[k], k);   // row of lost shard 1
  ec_init_tables(k, 2, c, tables);
  ec_encode_data(len, k, 2, tables, sources, out);
  (void)m;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: %s K M CHUNK_BYTES STRIPES RUNS\n", argv[0]);
    return 2;
  }
  int k = atoi(argv[1]), m = atoi(argv[2]), len = atoi(argv[3]), stripes = atoi(argv[4]), runs = atoi(argv[5]);
  if (k < 1 || m < 2 || k + m > MAX_SHARDS || len <= 0) return 2;
  unsigned char *shards[MAX_SHARDS], *out[2];
  for (int i = 0; i < k + m; i++) {
    shards[i] = aligned_alloc(64, len);
    for (int j = 0; j < len; j++) shards[i][j] = (unsigned char)rand();
  }
  for (int i = 0; i < 2; i++) out[i] = aligned_alloc(64, len);
  unsigned char *matrix = malloc((k + m) * k);
  unsigned char *tables = malloc(32 * k * m);
  gf_gen_cauchy1_matrix(matrix, k + m, k);
  ec_init_tables(k, m, &matrix[k * k], tables);
  double data_gb = (double)k * len * stripes / 1e9;
  printf("{\"k\":%d,\"m\":%d,\"chunkBytes\":%d,\"encode\":[", k, m, len);
  for (int r = 0; r < runs; r++) {
    double t = now_s();
    for (int s = 0; s < stripes; s++) ec_encode_data(len, k, m, tables, shards, &shards[k]);
    printf("%s%.3f", r ? "," : "", data_gb / (now_s() - t));
  }
  printf("],\"rebuild2\":[");
  for (int r = 0; r < runs; r++) {
    double t = now_s();
    for (int s = 0; s < stripes; s++) rebuild2(k, m, len, matrix, shards, out);
    printf("%s%.3f", r ? "," : "", data_gb / (now_s() - t));
  }
  printf("]}\n");
  if (memcmp(out[0], shards[0], len) != 0 || memcmp(out[1], shards[1], len) != 0) {
    fprintf(stderr, "rebuild produced wrong bytes\n");
    return 1;
  }
  return 0;
}
