package dynamo

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// PutResult stores rec unless (JobID, Index) already has a record, then
// counts the stored record in its job exactly once; it returns the stored
// record, and created reports whether this call's write made it.
//
// Two single-item conditional writes do this without a transaction: the
// result put (attribute_not_exists) and the shard update (NOT contains(done,
// idx)). If a call dies between them, the redelivery finds the stored result
// and counts it. A put retried by the SDK after its answer was lost fails its
// condition on its own item; a per-call token in the item tells that case
// apart, so created stays exact.
func (s *Store) PutResult(ctx context.Context, rec store.Record) (store.Record, bool, error) {
	if err := store.CheckRecord(rec); err != nil {
		return store.Record{}, false, err
	}
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = s.now()
	}
	rec.CreatedAt = store.Clean(rec.CreatedAt)
	it := toResultItem(rec)
	it.Writer = rand.Text()
	item, err := attributevalue.MarshalMap(it)
	if err != nil {
		return store.Record{}, false, fmt.Errorf("dynamo: put result %s#%d: %w", rec.JobID, rec.Index, err)
	}
	stored, created := rec, true
	if err := s.putNew(ctx, item); err != nil {
		if !isConditionFailed(err) {
			return store.Record{}, false, fmt.Errorf("dynamo: put result %s#%d: %w", rec.JobID, rec.Index, err)
		}
		var writer string
		if stored, writer, err = s.getResult(ctx, rec.JobID, rec.Index); err != nil {
			return store.Record{}, false, fmt.Errorf("dynamo: put result %s#%d: %w", rec.JobID, rec.Index, err)
		}
		created = writer == it.Writer
	}
	if err := s.count(ctx, stored); err != nil {
		return store.Record{}, false, fmt.Errorf("dynamo: count result %s#%d: %w", rec.JobID, rec.Index, err)
	}
	return stored, created, nil
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

// getResult reads a stored result and the token of the call that wrote it.
func (s *Store) getResult(ctx context.Context, jobID string, idx int) (store.Record, string, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(jobPK(jobID), resultSK(idx)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Record{}, "", err
	}
	if out.Item == nil {
		// Only a delete between our failed put and this read gets here.
		return store.Record{}, "", store.ErrNotFound
	}
	var it resultItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return store.Record{}, "", err
	}
	r, err := it.record()
	return r, it.Writer, err
}

// count adds rec's index to its shard's done set and bumps the counter of its
// verdict, in one conditional update that fails (harmlessly) when the index
// is already in the set.
func (s *Store) count(ctx context.Context, rec store.Record) error {
	idx := &types.AttributeValueMemberN{Value: itoa(rec.Index)}
	update := expression.
		Add(expression.Name("done"), expression.Value(&types.AttributeValueMemberNS{Value: []string{idx.Value}})).
		Add(expression.Name("n_"+rec.IsReachable), expression.Value(1)).
		Set(expression.Name("last_at"), expression.Value(formatTime(s.now()))).
		Remove(expression.Name(waitAttr(rec.Index)))
	cond := expression.Not(expression.Contains(expression.Name("done"), idx))
	expr, err := expression.NewBuilder().WithUpdate(update).WithCondition(cond).Build()
	if err != nil {
		return err
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: itemKey(jobPK(rec.JobID), shardSK(rec.Index/store.ShardSize)),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if isConditionFailed(err) {
		return nil // already counted
	}
	return err
}

// Recount counts rec, a record GetResult returned, in its job unless it is
// counted already: it is the second write of PutResult alone. A call of
// PutResult that died between its two writes left its result stored but
// uncounted; a redelivery that finds the result stored calls Recount
// instead of writing the result again.
func (s *Store) Recount(ctx context.Context, rec store.Record) error {
	if err := store.CheckRecord(rec); err != nil {
		return err
	}
	if err := s.count(ctx, rec); err != nil {
		return fmt.Errorf("dynamo: count result %s#%d: %w", rec.JobID, rec.Index, err)
	}
	return nil
}

// GetResult returns the stored result of (jobID, idx), or store.ErrNotFound.
// A result read here may not be counted yet (a crash between the two writes
// of PutResult): callers that skip work because it is stored must still pass
// the record to Recount, which counts it exactly once.
func (s *Store) GetResult(ctx context.Context, jobID string, idx int) (store.Record, error) {
	r, _, err := s.getResult(ctx, jobID, idx)
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamo: get result %s#%d: %w", jobID, idx, err)
	}
	return r, nil
}
