// Package dynamo is the Amazon DynamoDB store: jobs, results, the result
// cache and expiring counters in ONE table. It relies only on single-item
// conditional writes, which the dynalite emulator supports, so everything it
// depends on is exercised by the contract tests (storetest) against dynalite.
//
// # Table
//
// One table, billing mode PAY_PER_REQUEST, string partition key `pk` and
// string sort key `sk`, TTL attribute `expires_at` (epoch seconds), and no
// secondary index: every read below is by key, and an index would bill every
// write a second time. The SAM template creates it in AWS (with
// TimeToLiveSpecification on expires_at); CreateTable creates the same table
// for local tooling and tests.
//
//	item      pk             sk          other attributes
//	job       JOB#<id>       META        job_id, total, created_at, webhook, single_shot, expires_at
//	group     JOB#<id>       G#<key>     d (the results a message stored, compressed), w, expires_at
//	outcome   JOB#<id>       T#<key>     by, at, o (stored indices and verdicts, parts sent back), expires_at
//	cache     CACHE#<key>    CACHE       value (JSON text), expires_at, expires_ns
//	counter   CTR#<key>      CTR         n, expires_at, expires_ns
//
// <key> is a queue message's key (store.MessageKey: its attempt and a hash
// of its indices). Results are written per message, not per address: a
// message of 100 addresses costs one group write of its compressed results
// (DEFLATE with a preset dictionary of typical result text, about 150-300
// bytes an address) and one outcome write of a few bytes an address, where
// one item per address cost at least 1 WRU each (plus its index entries).
//
// Times are RFC 3339 in UTC with exactly nine fractional digits
// ("2006-01-02T15:04:05.000000000Z"): the fixed width makes string order
// chronological.
//
// # Access patterns
//
//   - Create a job: PutItem job, condition attribute_not_exists(pk).
//   - Store a message's results: PutItem group, condition
//     attribute_not_exists(pk); the first delivery wins, a later one reads
//     the stored group (GetItem) and adopts it. A random writer token tells
//     a retried put whose first attempt did succeed from another writer.
//   - Settle a message: PutItem outcome, condition attribute_not_exists(pk):
//     the first settles, a later one reads the outcome that stands. Only
//     settled results count, so a crash between the two writes is repaired
//     by the redelivery, which adopts the stored group and settles it.
//   - Redelivery: GetItem outcome (one read per delivery) says whether the
//     message was settled, by which delivery, and what it sent back.
//   - Job status: ONE Query pk = JOB#<id>, sk >= "META" reads the job item
//     and every outcome ("G#" < "META" < "T#": the large groups are not
//     read). Counters, finished_at and the waiting addresses are computed
//     from the outcomes (store.TallyOutcomes): an index stored twice (only
//     overlapping messages can do that) counts once.
//   - Results in input order with offset/limit: the same Query gives the
//     stored indices and the group holding each; only the groups holding
//     the page are read (BatchGetItem), so skipped results are never read.
//     Decoded groups are cached in memory: they never change.
//   - Cache and counters: GetItem/PutItem/UpdateItem on their own items.
//
// # Retention
//
// Job, group and outcome items carry expires_at, the job's creation (or
// the outcome's time) plus the store's retention (WithRetention, 30 days
// by default). Reads compare it with the clock and ignore expired items:
// TTL deletion is a clean-up that may lag by days (and dynalite never does
// it), never something correctness relies on.
//
// # Retries
//
// Transient errors (throttling, ProvisionedThroughputExceeded, 5xx) are
// retried by the SDK's standard retryer with exponential backoff; ClientOptions
// configures it. Every write is conditional, so a retried write whose first
// attempt did succeed cannot duplicate or double-count.
package dynamo
