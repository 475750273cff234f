package dynamo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// maxGroupBytes bounds a result group item below DynamoDB's 400 KB item
// limit, with room for the keys and attribute names.
const maxGroupBytes = 390 * 1024

// ErrTooLarge reports results that do not fit in one item even
// compressed: store fewer at once.
var ErrTooLarge = errors.New("dynamo: results too large for one item")

// StoreResults stores the results a delivery of message key reached, in
// one compressed item (G#key) written only if the key has none: one
// conditional PutItem per message delivery, however many results. If
// another delivery stored results under the key first, those are returned
// and created is false. The results count once the key's outcome is
// settled (Settle). A zero CreatedAt is set to now.
func (s *Store) StoreResults(ctx context.Context, jobID, key string, recs []store.Record) ([]store.Record, bool, error) {
	now := s.now()
	recs, err := store.ResultsToStore(jobID, key, recs, now)
	if err != nil || len(recs) == 0 {
		return nil, false, err
	}
	data, err := encodeGroup(recs)
	if err != nil {
		return nil, false, fmt.Errorf("dynamo: store results of %s/%s: %w", jobID, key, err)
	}
	if len(data) > maxGroupBytes {
		return nil, false, fmt.Errorf("%w: %d results of %s/%s compress to %d bytes", ErrTooLarge, len(recs), jobID, key, len(data))
	}
	writer := rand.Text()
	item, err := attributevalue.MarshalMap(groupItem{PK: jobPK(jobID), SK: skGroup + key, Data: data,
		ExpiresAt: ttl(store.Expiry(now, s.retention)), Writer: writer})
	if err != nil {
		return nil, false, fmt.Errorf("dynamo: store results of %s/%s: %w", jobID, key, err)
	}
	err = s.putNew(ctx, item)
	if err == nil {
		s.groups.put(jobID, key, recs)
		return recs, true, nil
	}
	if !isConditionFailed(err) {
		return nil, false, fmt.Errorf("dynamo: store results of %s/%s: %w", jobID, key, err)
	}
	stored, by, err := s.readGroup(ctx, jobID, key)
	if err != nil {
		return nil, false, fmt.Errorf("dynamo: store results of %s/%s: %w", jobID, key, err)
	}
	return stored, by == writer, nil
}

// Settle records o (its results stored by StoreResults under o.Key) unless
// the key has an outcome already, in one conditional PutItem of a small
// item (T#key); it returns the outcome that stands and whether this call
// wrote it. Once settled, the stored results count in the job.
func (s *Store) Settle(ctx context.Context, o store.Outcome) (store.Outcome, bool, error) {
	o, err := store.OutcomeToSettle(o, s.now())
	if err != nil {
		return store.Outcome{}, false, err
	}
	item, err := attributevalue.MarshalMap(outcomeItem{PK: jobPK(o.JobID), SK: skOutcome + o.Key, By: o.By,
		At: formatTime(o.At), Outcome: encodeOutcome(o), ExpiresAt: ttl(store.Expiry(o.At, s.retention))})
	if err != nil {
		return store.Outcome{}, false, fmt.Errorf("dynamo: settle %s/%s: %w", o.JobID, o.Key, err)
	}
	err = s.putNew(ctx, item)
	if err == nil {
		return o, true, nil
	}
	if !isConditionFailed(err) {
		return store.Outcome{}, false, fmt.Errorf("dynamo: settle %s/%s: %w", o.JobID, o.Key, err)
	}
	won, err := s.Outcome(ctx, o.JobID, o.Key)
	if err != nil {
		return store.Outcome{}, false, fmt.Errorf("dynamo: settle %s/%s: %w", o.JobID, o.Key, err)
	}
	return won, false, nil
}

// Outcome returns the settled outcome of a message key, or
// store.ErrNotFound.
func (s *Store) Outcome(ctx context.Context, jobID, key string) (store.Outcome, error) {
	if err := store.CheckKey(jobID, key); err != nil {
		return store.Outcome{}, err
	}
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(jobPK(jobID), skOutcome+key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: outcome %s/%s: %w", jobID, key, err)
	}
	var it outcomeItem
	if out.Item == nil {
		return store.Outcome{}, fmt.Errorf("dynamo: outcome %s/%s: %w", jobID, key, store.ErrNotFound)
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return store.Outcome{}, fmt.Errorf("dynamo: outcome %s/%s: %w", jobID, key, err)
	}
	if expired(it.ExpiresAt, s.now()) {
		return store.Outcome{}, fmt.Errorf("dynamo: outcome %s/%s: %w", jobID, key, store.ErrNotFound)
	}
	return it.outcome(jobID)
}

// PutResult stores one record as a message of its own (store.PutResult).
func (s *Store) PutResult(ctx context.Context, rec store.Record) (store.Record, bool, error) {
	return store.PutResult(ctx, s, rec)
}

// readGroup reads the results stored under a key and the token of the
// call that stored them.
func (s *Store) readGroup(ctx context.Context, jobID, key string) ([]store.Record, string, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(jobPK(jobID), skGroup+key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, "", err
	}
	if out.Item == nil {
		return nil, "", store.ErrNotFound
	}
	return s.decodeGroupItem(jobID, out.Item)
}

// decodeGroupItem decodes a group item and keeps it in the cache of
// decoded groups (a group never changes once written).
func (s *Store) decodeGroupItem(jobID string, raw map[string]types.AttributeValue) ([]store.Record, string, error) {
	var it groupItem
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return nil, "", err
	}
	recs, err := decodeGroup(jobID, it.Data)
	if err != nil {
		return nil, "", err
	}
	s.groups.put(jobID, it.SK[len(skGroup):], recs)
	return recs, it.Writer, nil
}

// putNew writes item only if no item has its key.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue) error {
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeNotExists(expression.Name("pk"))).Build()
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
	})
	return err
}
