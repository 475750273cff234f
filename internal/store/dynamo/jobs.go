package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/mailprobe/mailprobe/internal/store"
)

// CreateJob stores a new job; it fails with store.ErrJobExists when the id is
// taken. A zero CreatedAt is set to now.
func (s *Store) CreateJob(ctx context.Context, j store.Job) error {
	if err := store.CheckJob(j); err != nil {
		return err
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = s.now()
	}
	item, err := attributevalue.MarshalMap(jobItem{
		PK: jobPK(j.ID), SK: skJob, JobID: j.ID, Total: j.Total,
		CreatedAt: formatTime(j.CreatedAt), Webhook: string(j.Webhook), Single: j.SingleShot,
	})
	if err != nil {
		return fmt.Errorf("dynamo: create job %q: %w", j.ID, err)
	}
	if err := s.putNew(ctx, item); err != nil {
		if isConditionFailed(err) {
			return fmt.Errorf("dynamo: create job %q: %w", j.ID, store.ErrJobExists)
		}
		return fmt.Errorf("dynamo: create job %q: %w", j.ID, err)
	}
	return nil
}

// GetJob returns the job with counters summed over its shards; FinishedAt is
// the time the last missing result was counted, once every address has one.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(jobPK(id), skJob), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	if out.Item == nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, store.ErrNotFound)
	}
	var it jobItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	j, err := it.job()
	if err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job: %w", err)
	}
	last, err := s.sumShards(ctx, &j)
	if err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	j.Processed = j.Summary.Total()
	if j.Status() == store.StatusCompleted {
		j.FinishedAt = &last
	}
	return j, nil
}

// sumShards adds a job's shard counters to j's summary, its waiting
// addresses to j, and returns the latest last_at. The shards are read whole:
// their wait attributes have names of their own (waiting.go).
func (s *Store) sumShards(ctx context.Context, j *store.Job) (time.Time, error) {
	sum := &j.Summary
	keyCond := expression.Key("pk").Equal(expression.Value(jobPK(j.ID))).
		And(expression.Key("sk").BeginsWith("S#"))
	expr, err := expression.NewBuilder().WithKeyCondition(keyCond).Build()
	if err != nil {
		return time.Time{}, err
	}
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:   expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var last time.Time
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return time.Time{}, err
		}
		var shards []shardItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &shards); err != nil {
			return time.Time{}, err
		}
		for _, item := range page.Items {
			if err := addWaiting(j, item); err != nil {
				return time.Time{}, err
			}
		}
		for _, sh := range shards {
			sum.Safe += sh.Safe
			sum.Risky += sh.Risky
			sum.Invalid += sh.Invalid
			sum.Unknown += sh.Unknown
			if sh.LastAt == "" {
				continue // a shard with waits only
			}
			at, err := parseTime(sh.LastAt)
			if err != nil {
				return time.Time{}, err
			}
			if at.After(last) {
				last = at
			}
		}
	}
	return last, nil
}
