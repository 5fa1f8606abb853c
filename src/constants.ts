// Every limit of the system, named with its unit. Code reads limits from here, never from literals.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

// S3 API limits (AWS documented values).
export const objectKeyBytesMax = 1024;
export const objectSizeBytesMax = 5 * 1024 * GiB; // 5 TiB, a single object
export const putObjectBytesMax = 5 * GiB; // a single PUT or UploadPart
export const partSizeBytesMin = 5 * MiB; // every part but the last
export const partNumberMax = 10_000;
export const deleteObjectsKeysMax = 1000;
export const deleteObjectsInFlightMax = 16; // keys of one DeleteObjects deleted concurrently
export const listKeysMax = 1000;
export const listBucketsMax = 10_000; // ListBuckets' max-buckets ceiling and default page, as AWS documents
export const userMetadataBytesMax = 2 * KiB;
export const presignExpiresSecondsMax = 7 * 24 * 3600;
export const clockSkewMsMax = 15 * 60 * 1000;

// HTTP limits of our own.
export const requestHeaderBytesMax = 16 * KiB; // Node's default, and the 8 KiB AWS header limit fits inside
export const postFormBytesMax = 20 * KiB; // a browser POST's fields and part headers, without the file (AWS's limit)
export const xmlBodyBytesMax = 2 * MiB; // DeleteObjects with 1,000 long keys fits
export const requestTimeoutMs = 10 * 60 * 1000;
export const headersTimeoutMs = 60 * 1000;
// Unread body an early answer (an error before the handler read the body) still reads and discards to keep
// the connection; a longer or unknown rest is cut off by closing the connection after the answer. As large
// as what a closing connection lingers for: draining on the kept connection is the path that always works
// for a client that writes its whole body before reading (boto3), where a lingering close could stop
// reading when the answer went out before the body arrived (seen with two workers: EPIPE, not the answer).
export const refusedBodyDrainBytesMax = 16 * MiB;
// What a connection closed that way still reads and drops, so the client is not reset before it reads the answer:
// clients such as Python's http.client (boto3) send the whole body before reading, and a reset throws the
// answer away. 1 s was too short for a loaded machine or a slow link (an 8 MiB UploadPart lost its error).
export const refusedBodyLingerBytesMax = 16 * MiB;
export const refusedBodyLingerMs = 10_000;
// Longer than clients' idle timeouts (SDKs, CLIs), so a client never reuses a connection the server is closing.
export const keepAliveTimeoutMs = 65 * 1000;

// Storage.
export const inlineObjectBytesMax = 32 * KiB; // objects at or below this size live in the metadata row
// Unreferenced shards untouched this long are crash leftovers: longer than requestTimeoutMs, so no live
// request's write can look this old (and this process's writes are tracked besides; objects/gc.ts).
export const orphanGraceMs = 15 * 60 * 1000;
// Crash leftovers go in the sweeps at start and at start + grace; the periodic one only finds rare
// leftovers (deletes of aborted writes that failed), so it runs seldom: each walks every shard file.
export const orphanSweepIntervalMs = 6 * 60 * 60 * 1000;
// The rebalance's default throttle (--rebalance-rate, --rebalance-bandwidth): a background share of a drive's
// bandwidth, so client traffic keeps most of it while data moves after a layout change.
/**
 * A rebalance settles an epoch only after one full walk that began this long after it first saw the epoch.
 * A block write notices a newer epoch at its end and moves itself (block-store.ts), so what this must
 * cover is how late a process learns of an epoch: the layout follower's 1 s poll, with a wide margin.
 */
export const rebalanceWriteGraceMs = 15_000;
export const rebalanceRateBlocksPerSecDefault = 100;
export const rebalanceRateBytesPerSecDefault = 32 * MiB;
/**
 * Object keys per second a lifecycle pass judges by default: 1,000,000 keys in under an hour. Most keys need
 * one metadata read and no write, so this leaves the metadata store to the request path (docs/benchmarks.md).
 */
export const lifecycleRateKeysPerSecDefault = 1000;
/**
 * Multipart uploads left incomplete this long are aborted in every bucket, with or without a rule: abandoned
 * parts would otherwise hold their space forever. AWS keeps them until a rule aborts them and recommends a
 * 7-day AbortIncompleteMultipartUpload rule; this store makes that recommendation its default.
 */
export const abortUploadsAfterDaysDefault = 7;
/**
 * Blocks a rebalance step moves at once. One move is a few node calls per shard in a row (stat, read, write,
 * commit, delete), so moving one block at a time left drives and network idle between round trips (0.9 MB/s
 * on a loaded loopback cluster); the throttle above still bounds the average.
 */
export const rebalanceMovesInFlight = 4;
export const metaRetriesMax = 64; // optimistic transaction retries: each round at least one writer of a key wins
export const metaCommitBatchMax = 512; // transactions grouped into one fsync
// A completed multipart upload is remembered this long, so a client that lost the response and retries
// CompleteMultipartUpload gets the same answer (AWS keeps them "for a while", undocumented).
export const completedUploadRetentionMs = 60 * 60 * 1000;

// Large GETs (src/blocks): per-process reuse of read buffers and open shard files.
// Idle read buffers kept for reuse: 32 MiB holds the stripes of 16 parallel 1 MiB GETs twice over; reads
// beyond it still allocate, so memory stays bounded by the reads in flight, not by this pool.
export const readPoolIdleBytesMax = 32 * MiB;
// Pooled read buffers hold at most this many 64 KiB checksum blocks: a full 1 MiB chunk, the most a stripe reads per shard.
export const readPoolBlocksMax = 16;
// A shard read whose bytes are all in the page cache is copied and checked at once on the event loop, skipping
// the threadpool's two thread hops, when it is at most this long: a 1 MiB chunk and its CRCs, about 0.05-0.1 ms
// of copying and CRC here.
export const cachedReadBytesMax = MiB + 64 * 1024;
// Such reads on the event loop in one turn of it (until its check phase) come to at most this many bytes;
// later ones in the same turn go to the threadpool. A turn of 1 MiB GETs at c=16 carries 10-15 of them, all
// read at once under this bound; without one, 64 MiB GETs streaming to fast clients read their read-ahead in
// one turn and held the loop 97 ms (16 MiB: 36 ms at most; docs/benchmarks.md "Large GET: reads the page
// cache answers at once").
export const cachedReadTurnBytesMax = 16 * MiB;
// MiB of checked stripes of hot blocks kept in memory by each serving process (StripeCache, --read-cache):
// GETs of them skip the read out of the page cache and the CRC32 pass. `auto` keeps this much, or 1/32 of
// the machine's memory when that is less (32 MiB on 1 GiB; all 128 from 4 GiB up), so a small machine's
// workers do not crowd out the page cache; 8 workers (auto's most, from 8 cores up) keep 1 GiB in all.
export const readCacheMiBMax = 128;
export const readCacheMemoryShare = 1 / 32;
// Open shard files kept per process; each holds one file descriptor (Node raises the soft descriptor limit
// to the hard one at start). 64 held the shards of only 16 objects at RS 4+2 (four files per stripe), and an
// LRU misses every read of a cycle larger than itself: 1 MiB GETs over 32 objects on 6 drives opened,
// header-read, fstat-ed and closed four files each (issue 17). Idle entries still close after
// shardReaderIdleMsMax, so this bounds a burst, not what a quiet server holds.
export const shardReadersCachedMax = 1024;
// An unused open shard file is closed after this, so a shard GC deleted (here or in another process)
// gives its space back soon.
export const shardReaderIdleMsMax = 5000;
// Stripe reads of GETs in flight per process, over all requests (each request still reads ahead up to
// readAheadStripes): bounds how much read completion work can land in one event-loop turn.
export const stripeReadsInFlightMax = 8;
// Idle stripe buffers of block writes kept per process for reuse (two per PUT in flight at most); beyond
// this they are left to the GC, so memory stays bounded by the writes in flight.
export const writePoolIdleBytesMax = 16 * MiB;
// Pooled write stripe buffers hold at most this many 64 KiB blocks: a 1 MiB stripe's data, or its parity at k = 1 / m = 2.
export const writePoolBlocksMax = 32;

// Drive I/O (src/blocks/drive-io.ts). A drive call (open, read, append, fsync, rename, list, probe) that
// has not answered after this long fails, and the drive is skipped as missing until a probe answers in
// time. Measured (bench/shard-ops.ts, docs/architecture.md): the slowest call seen was 208 ms, under a load
// average of 16 on 2 cores with 24 writers; 5 s is 25 times that and still far below a client's patience.
export const driveOpTimeoutMs = 5000;
// fs calls in flight per drive; more wait in a queue. A hung drive thus holds at most this many libuv
// threads (plus one probe), while bin/tessera.js gives the process 16.
export const driveOpsInFlightMax = 4;
// A stop (SIGTERM, SIGINT) lets requests in flight finish for this long before it cuts them: long enough for
// a large PUT or GET on a busy server, short of the 30 s default grace an orchestrator gives before SIGKILL
// plus the few seconds the stores take to close.
export const shutdownTimeoutMsDefault = 30_000;

/**
 * How long a gateway trusts what it read of a bucket's policy and Block Public Access settings (and the
 * store's): a change made through this gateway applies at once, one made through another within this time
 * (AWS documents policy changes as eventually consistent too).
 */
export const accessCacheTtlMs = 1000;
/** Buckets (and parsed identity policies) whose access facts are cached per process. */
export const accessCacheEntriesMax = 10_000;
/** Policy decisions remembered per process (a few hundred bytes each, its resource ARN the most of it). */
export const decisionCacheEntriesMax = 10_000;
