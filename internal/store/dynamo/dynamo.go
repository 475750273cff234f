package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// API is the part of *dynamodb.Client the store calls; tests wrap it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Store keeps jobs, results, cache items and counters in one DynamoDB table
// (see the package documentation for its design). It is safe for concurrent
// use.
type Store struct {
	api       API
	table     string
	now       func() time.Time
	retention time.Duration
	groups    *groupCache
	ends      bookingEnds
}

// Option configures New.
type Option func(*Store)

// WithClock replaces time.Now, the clock that stamps counted results (the
// job's finished_at) and decides whether a counter window has expired.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// WithRetention sets how long jobs and results are kept (default
// store.DefaultRetention): their items carry the expiry as TTL, and reads
// ignore expired ones.
func WithRetention(d time.Duration) Option { return func(s *Store) { s.retention = d } }

// New returns a store on the table, which must exist (CreateTable, or the
// SAM template in AWS).
func New(api API, table string, opts ...Option) *Store {
	s := &Store{api: api, table: table, now: time.Now, retention: store.DefaultRetention, groups: newGroupCache(groupCacheSize)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Retry defaults for ClientOptions: throttling on a hot job can last a few
// seconds, longer than the SDK's default of 3 attempts covers.
const (
	DefaultMaxAttempts = 8
	DefaultMaxBackoff  = 5 * time.Second
)

// ClientOptions returns an option for dynamodb.New or
// dynamodb.NewFromConfig that retries transient errors (throttling,
// ProvisionedThroughputExceeded, 5xx, connection resets) with the SDK's
// standard retryer: exponential backoff with full jitter, at most maxAttempts
// attempts, at most maxBackoff between two (DefaultMaxAttempts and
// DefaultMaxBackoff when zero).
//
// The client-side retry quota is switched off: every write the store makes is
// conditional and idempotent, a retry is always safe, and giving up early
// only moves the retry to an SQS redelivery, which costs more.
func ClientOptions(maxAttempts int, maxBackoff time.Duration) func(*dynamodb.Options) {
	if maxAttempts < 1 {
		maxAttempts = DefaultMaxAttempts
	}
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	return func(o *dynamodb.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
			so.MaxBackoff = maxBackoff
			so.RateLimiter = ratelimit.None
		})
	}
}

// Fixed-width RFC 3339 so that string order is time order (see package doc).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

func jobPK(id string) string { return "JOB#" + id }

// Sort keys. A job's partition holds its META item, its outcomes (T#) and
// its result groups (G#): "G#" < "META" < "T#", so one Query from META on
// reads the job and its outcomes without the (large) groups.
const (
	skJob     = "META"
	skOutcome = "T#"
	skGroup   = "G#"
	skCache   = "CACHE"
	skCounter = "CTR"
)

// ttl is the TTL attribute of an item that expires at t: epoch seconds,
// rounded up so that DynamoDB never deletes it before then.
func ttl(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// expired reports whether an item with the TTL attribute exp has expired
// at now. Reads check it: TTL deletion runs days late, and never on
// dynalite.
func expired(exp int64, now time.Time) bool { return exp != 0 && now.Unix() >= exp }

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: pk},
		"sk": &types.AttributeValueMemberS{Value: sk},
	}
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}
