package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// expiry returns the TTL attribute (epoch seconds, rounded up so that DynamoDB
// never deletes an item before it expires) and the exact expiry in ns.
func expiry(t time.Time) (ttl, ns int64) {
	if t.IsZero() {
		return 0, 0
	}
	ns = t.UnixNano()
	ttl = t.Unix()
	if t.Nanosecond() > 0 {
		ttl++
	}
	return ttl, ns
}

// GetCache returns the value stored under key unless it has expired at now.
// Expired items that TTL has not deleted yet are never returned.
func (s *Store) GetCache(ctx context.Context, key string, now time.Time) (json.RawMessage, bool, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: cacheKey(key), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, fmt.Errorf("dynamo: get cache %q: %w", key, err)
	}
	if out.Item == nil {
		return nil, false, nil
	}
	var it cacheItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, false, fmt.Errorf("dynamo: get cache %q: %w", key, err)
	}
	if it.ExpiresNs != 0 && now.UnixNano() >= it.ExpiresNs {
		return nil, false, nil
	}
	return json.RawMessage(it.Value), true, nil
}

// PutCache stores value under key until expires (zero: forever).
func (s *Store) PutCache(ctx context.Context, key string, value json.RawMessage, expires time.Time) error {
	if !json.Valid(value) {
		return fmt.Errorf("dynamo: put cache %q: value is not JSON", key)
	}
	ttl, ns := expiry(expires)
	item, err := attributevalue.MarshalMap(cacheItem{
		PK: "CACHE#" + key, SK: skCache, Value: string(value), ExpiresAt: ttl, ExpiresNs: ns,
	})
	if err != nil {
		return fmt.Errorf("dynamo: put cache %q: %w", key, err)
	}
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("dynamo: put cache %q: %w", key, err)
	}
	return nil
}

func cacheKey(k string) map[string]types.AttributeValue { return itemKey("CACHE#"+k, skCache) }

// maxIncrRounds bounds Incr's loop; each lost round means another writer
// made progress, so running out needs sustained contention on an expiring key.
const maxIncrRounds = 10

// Incr adds one to the counter under key and returns the new value. A new
// counter, or one whose window has expired by the store's clock, starts at 1
// with the given expiry; a live counter keeps its first expiry, so a window
// does not slide. Both cases are single conditional writes, so concurrent
// callers each get a distinct value.
func (s *Store) Incr(ctx context.Context, key string, expires time.Time) (int64, error) {
	return s.IncrBy(ctx, key, 1, expires)
}

// IncrBy is Incr by by instead of one (per-MX RCPT budgets count several
// RCPTs of a session at once).
func (s *Store) IncrBy(ctx context.Context, key string, by int64, expires time.Time) (int64, error) {
	if by < 1 {
		return 0, fmt.Errorf("dynamo: incr %q by %d: %w", key, by, store.ErrInvalid)
	}
	for range maxIncrRounds {
		now := s.now().UnixNano()
		n, err := s.incrLive(ctx, key, by, expires, now)
		if err == nil {
			return n, nil
		}
		if !isConditionFailed(err) {
			return 0, fmt.Errorf("dynamo: incr %q: %w", key, err)
		}
		// The counter exists and has expired: start a new window, unless
		// another caller has just done so (then loop and increment that one).
		err = s.restart(ctx, key, by, expires, now)
		if err == nil {
			return by, nil
		}
		if !isConditionFailed(err) {
			return 0, fmt.Errorf("dynamo: incr %q: %w", key, err)
		}
	}
	return 0, fmt.Errorf("dynamo: incr %q: %w", key, errContention)
}

var errContention = errors.New("too much contention on an expiring counter")

// incrLive increments a counter that is absent or not expired at now.
func (s *Store) incrLive(ctx context.Context, key string, by int64, expires time.Time, now int64) (int64, error) {
	update := expression.Add(expression.Name("n"), expression.Value(by))
	if ttl, ns := expiry(expires); ns != 0 {
		update = update.
			Set(expression.Name(AttrExpiresAt), expression.IfNotExists(expression.Name(AttrExpiresAt), expression.Value(ttl))).
			Set(expression.Name("expires_ns"), expression.IfNotExists(expression.Name("expires_ns"), expression.Value(ns)))
	}
	cond := expression.AttributeNotExists(expression.Name("expires_ns")).
		Or(expression.Name("expires_ns").GreaterThan(expression.Value(now)))
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return 0, err
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: itemKey("CTR#"+key, skCounter),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, err
	}
	n, ok := out.Attributes["n"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, errors.New("update returned no counter")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}

// restart replaces a counter that has expired at now with a fresh one at by.
func (s *Store) restart(ctx context.Context, key string, by int64, expires time.Time, now int64) error {
	ttl, ns := expiry(expires)
	item := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "CTR#" + key},
		"sk": &types.AttributeValueMemberS{Value: skCounter},
		"n":  &types.AttributeValueMemberN{Value: strconv.FormatInt(by, 10)},
	}
	if ns != 0 {
		item[AttrExpiresAt] = &types.AttributeValueMemberN{Value: strconv.FormatInt(ttl, 10)}
		item["expires_ns"] = &types.AttributeValueMemberN{Value: strconv.FormatInt(ns, 10)}
	}
	expr, err := expression.NewBuilder().
		WithCondition(expression.Name("expires_ns").LessThanEqual(expression.Value(now))).Build()
	if err != nil {
		return err
	}
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: item, ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return err
}
