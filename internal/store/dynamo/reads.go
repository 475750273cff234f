package dynamo

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/clock"
	"github.com/mailprobe/mailprobe/internal/store"
)

// maxBatchGet is BatchGetItem's limit of keys per call.
const maxBatchGet = 100

// ListResults returns up to limit records of a job in index order, skipping
// the first offset stored ones (indices without a result take no place).
//
// The job's outcomes (small items, a few bytes per address) say which
// indices are stored and in which group: the page is found there, and only
// the groups holding its records are read, so skipped results are never
// read. A job whose META item has expired lists nothing.
func (s *Store) ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error) {
	if err := store.CheckPage(offset, limit); err != nil {
		return nil, err
	}
	meta, outs, err := s.readJob(ctx, jobID)
	if err != nil {
		return nil, fmt.Errorf("dynamo: list results of %q: %w", jobID, err)
	}
	if meta == nil && len(outs) == 0 {
		return nil, nil
	}
	t := store.TallyOutcomes(outs)
	page := t.Page(offset, limit)
	want := make(map[string]bool)
	for _, i := range page {
		want[t.Owner[i]] = true
	}
	groups, err := s.groupsOf(ctx, jobID, slices.Sorted(maps.Keys(want)))
	if err != nil {
		return nil, fmt.Errorf("dynamo: list results of %q: %w", jobID, err)
	}
	out := make([]store.Record, 0, len(page))
	for _, i := range page {
		rec, ok := groups[t.Owner[i]][i]
		if !ok {
			return nil, fmt.Errorf("dynamo: list results of %q: index %d missing from group %s", jobID, i, t.Owner[i])
		}
		out = append(out, rec)
	}
	return out, nil
}

// groupsOf reads the groups of keys (the cached ones from memory, the
// others with BatchGetItem) and indexes their records by index.
func (s *Store) groupsOf(ctx context.Context, jobID string, keys []string) (map[string]map[int]store.Record, error) {
	out := make(map[string]map[int]store.Record, len(keys))
	add := func(key string, recs []store.Record) {
		m := make(map[int]store.Record, len(recs))
		for _, r := range recs {
			m[r.Index] = r
		}
		out[key] = m
	}
	var missing []string
	for _, k := range keys {
		if recs, ok := s.groups.get(jobID, k); ok {
			add(k, recs)
		} else {
			missing = append(missing, k)
		}
	}
	for chunk := range slices.Chunk(missing, maxBatchGet) {
		items, err := s.batchGet(ctx, jobID, chunk)
		if err != nil {
			return nil, err
		}
		for _, raw := range items {
			recs, _, err := s.decodeGroupItem(jobID, raw)
			if err != nil {
				return nil, err
			}
			sk, _ := raw["sk"].(*types.AttributeValueMemberS)
			add(sk.Value[len(skGroup):], recs)
		}
	}
	return out, nil
}

// Backoff between BatchGetItem calls for unprocessed keys, which DynamoDB
// returns when the table is throttled: AWS asks for an exponential backoff
// there, since the SDK's retryer sees a successful call.
const (
	unprocessedBackoff    = 50 * time.Millisecond
	maxUnprocessedBackoff = time.Second
)

// batchGet reads the groups of keys with strongly consistent
// BatchGetItem calls, until none is left unprocessed.
func (s *Store) batchGet(ctx context.Context, jobID string, keys []string) ([]map[string]types.AttributeValue, error) {
	ks := make([]map[string]types.AttributeValue, len(keys))
	for i, k := range keys {
		ks[i] = itemKey(jobPK(jobID), skGroup+k)
	}
	req := map[string]types.KeysAndAttributes{s.table: {Keys: ks, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	for wait := unprocessedBackoff; ; wait = min(2*wait, maxUnprocessedBackoff) {
		out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Responses[s.table]...)
		req = out.UnprocessedKeys
		if len(req[s.table].Keys) == 0 {
			return items, nil
		}
		if err := clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}
