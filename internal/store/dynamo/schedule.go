package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// skSchedule is the sort key of a booking item: pk = SCHED#<key>, with
// `end` (Unix ns) the end of the last booking, GCRA's theoretical arrival
// time (politeness.Scheduler).
const skSchedule = "SCHED"

// Reserve books cost of key's time and returns when the booking starts:
// now if the last booking has ended, else its end. Each path is one
// conditional UpdateItem: "end = end + cost if end ≥ now" (busy) or
// "end = now + cost if end < now or absent" (idle). A failed condition is
// billed like a write, so the path tried first is the one this process
// last saw for the key (a new key is idle: most MX hosts get one session
// now and then); when the other process moved end meanwhile, the other
// path follows, and the loop tries again.
func (s *Store) Reserve(ctx context.Context, key string, cost time.Duration, now, expires time.Time) (time.Time, error) {
	k := itemKey("SCHED#"+key, skSchedule)
	busy := s.ends.busy(key, now)
	for range maxIncrRounds {
		for range 2 {
			var start time.Time
			var err error
			if busy {
				start, err = s.reserveBusy(ctx, k, cost, now, expires)
			} else {
				start, err = s.reserveIdle(ctx, k, cost, now, expires)
			}
			if err == nil {
				s.ends.set(key, start.Add(cost))
				return start, nil
			}
			if !isConditionFailed(err) {
				return time.Time{}, fmt.Errorf("dynamo: reserve %q: %w", key, err)
			}
			busy = !busy
		}
	}
	return time.Time{}, fmt.Errorf("dynamo: reserve %q: %w", key, errContention)
}

// reserveBusy appends to a booking that has not ended.
func (s *Store) reserveBusy(ctx context.Context, k map[string]types.AttributeValue, cost time.Duration, now, expires time.Time) (time.Time, error) {
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Add(expression.Name("end"), expression.Value(int64(cost))).
			Set(expression.Name(AttrExpiresAt), expression.Value(ttl(expires)))).
		WithCondition(expression.Name("end").GreaterThanEqual(expression.Value(now.UnixNano()))).Build()
	if err != nil {
		return time.Time{}, err
	}
	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k, UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(), ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return time.Time{}, err
	}
	end, err := nsAttr(out.Attributes["end"])
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, end-int64(cost)), nil
}

// reserveIdle starts a booking now on a key whose bookings have ended.
func (s *Store) reserveIdle(ctx context.Context, k map[string]types.AttributeValue, cost time.Duration, now, expires time.Time) (time.Time, error) {
	ns := now.UnixNano()
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("end"), expression.Value(ns+int64(cost))).
			Set(expression.Name(AttrExpiresAt), expression.Value(ttl(expires)))).
		WithCondition(expression.AttributeNotExists(expression.Name("end")).
			Or(expression.Name("end").LessThan(expression.Value(ns)))).Build()
	if err != nil {
		return time.Time{}, err
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k, UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	})
	if err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// bookingEnds remembers the booking ends this process saw, to guess which
// path Reserve takes first. It is safe for concurrent use.
type bookingEnds struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// maxBookingEnds bounds the keys remembered; past it, they are forgotten
// all at once (a forgotten key is guessed idle).
const maxBookingEnds = 10000

func (b *bookingEnds) busy(key string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[key].After(now)
}

func (b *bookingEnds) set(key string, end time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || len(b.m) >= maxBookingEnds {
		b.m = make(map[string]time.Time)
	}
	b.m[key] = end
}

// Unreserve gives back the last back of the booking that ends at end, if
// it is still the last one: one conditional UpdateItem.
func (s *Store) Unreserve(ctx context.Context, key string, end time.Time, back time.Duration) error {
	expr, err := expression.NewBuilder().
		WithUpdate(expression.Set(expression.Name("end"), expression.Value(end.UnixNano()-int64(back)))).
		WithCondition(expression.Name("end").Equal(expression.Value(end.UnixNano()))).Build()
	if err != nil {
		return err
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: itemKey("SCHED#"+key, skSchedule), UpdateExpression: expr.Update(),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("dynamo: unreserve %q: %w", key, err)
	}
	return nil
}

func nsAttr(v types.AttributeValue) (int64, error) {
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("booking end missing")
	}
	return strconv.ParseInt(n.Value, 10, 64)
}
