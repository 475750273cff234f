// Package dynamo is the Amazon DynamoDB store: jobs, results, the result
// cache and expiring counters in ONE table. It relies only on single-item
// conditional writes, which the dynalite emulator supports, so everything it
// depends on is exercised by the contract tests (storetest) against dynalite.
//
// # Table
//
// One table, billing mode PAY_PER_REQUEST, string partition key `pk` and
// string sort key `sk`, TTL attribute `expires_at` (epoch seconds). The SAM
// template creates it in AWS (with TimeToLiveSpecification on expires_at);
// CreateTable creates the same table for local tooling and tests.
//
//	item      pk                 sk             other attributes
//	job       JOB#<id>           META           job_id, total, created_at, webhook
//	result    JOB#<id>           R#<%09d idx>   job_id, idx, input, normalized, is_reachable,
//	                                            result (JSON text), created_at, backend_name,
//	                                            duration_ms, gsi1pk, gsi1sk, gsi2pk, gsi2sk
//	shard     JOB#<id>           S#<%06d idx/1000>  done (number set of counted indices),
//	                                            n_safe, n_risky, n_invalid, n_unknown, last_at,
//	                                            w_<idx> (retry due, Unix ns, while idx waits)
//	cache     CACHE#<key>        CACHE          value (JSON text), expires_at, expires_ns
//	counter   CTR#<key>          CTR            n, expires_at, expires_ns
//
// Global secondary indexes, both projecting ALL attributes:
//
//	gsi1  gsi1pk = ADDR#<normalized>       gsi1sk = created_at   latest result of an address
//	gsi2  gsi2pk = JOB#<id>#<verdict>      gsi2sk = created_at   a job's results by verdict and time
//
// Times (created_at, last_at, gsi1sk, gsi2sk) are RFC 3339 in UTC with exactly
// nine fractional digits ("2006-01-02T15:04:05.000000000Z"): the fixed width
// makes string order chronological, which RFC3339Nano's trimmed fractions
// would not. Indices are zero-padded to nine digits so that string order is
// numeric order; indices of 10^9 or more (Reacher-shaped messages use 16-digit
// ones) sort numerically among indices of the same width.
//
// # Access patterns
//
//   - Create a job: PutItem job, condition attribute_not_exists(pk).
//   - Store a result: PutItem result, condition attribute_not_exists(pk); the
//     first write wins and a redelivery reads the stored item instead.
//   - Count a result: ONE UpdateItem on its shard,
//     `ADD done :idxset, n_<verdict> :one SET last_at = :now` with condition
//     `NOT contains(done, :idx)`. The counted indices live in the shard item
//     itself, so a retry, a redelivery or a duplicate writer can never count an
//     index twice, without transactions (dynalite has none). A crash between
//     the result put and the count is repaired by the redelivery, which finds
//     the stored result and counts it (its stored verdict, not the new one).
//     A shard holds at most 1 000 indices, far below the 400 KB item limit.
//   - Job status: GetItem job + Query pk = JOB#<id>, sk begins_with S#
//     (the shards); processed = Σ n_*, finished_at = max(last_at) once
//     processed = total; waiting_for_retry = the w_<idx> whose idx is not
//     in done, next_retry_at their earliest.
//   - Waiting for a retry: one UpdateItem SET w_<idx> per shard; counting
//     an index removes its w_<idx> in the same update.
//   - Results in input order: Query pk = JOB#<id>, sk begins_with R#; an
//     offset is skipped with a keys-only Query.
//   - Results by verdict since a time: Query gsi2, gsi2sk >= since.
//   - Latest result of an address: Query gsi1, descending, Limit 1.
//   - Cache and counters: GetItem/PutItem/UpdateItem on their own items.
//     Reads compare expires_ns (exact) with the clock and ignore expired
//     items: TTL deletion is a clean-up that may lag by days (and dynalite
//     never does it), never something correctness relies on.
//
// # Retries
//
// Transient errors (throttling, ProvisionedThroughputExceeded, 5xx) are
// retried by the SDK's standard retryer with exponential backoff; ClientOptions
// configures it. Every write is conditional, so a retried write whose first
// attempt did succeed cannot duplicate or double-count.
package dynamo
