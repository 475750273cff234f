package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// CreateJob stores a new job; it fails with store.ErrJobExists when the id is
// taken. A zero CreatedAt is set to now. The job expires after the
// store's retention.
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
		ExpiresAt: ttl(store.Expiry(j.CreatedAt, s.retention)),
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

// GetJob returns the job with its counters, computed from its outcomes
// (store.TallyOutcomes); FinishedAt is when the last missing result was
// settled, once every address has one. One Query reads the job and its
// outcomes. An expired job is not found.
func (s *Store) GetJob(ctx context.Context, id string) (store.Job, error) {
	meta, outs, err := s.readJob(ctx, id)
	if err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, err)
	}
	if meta == nil {
		return store.Job{}, fmt.Errorf("dynamo: get job %q: %w", id, store.ErrNotFound)
	}
	j, err := meta.job()
	if err != nil {
		return store.Job{}, fmt.Errorf("dynamo: get job: %w", err)
	}
	store.TallyOutcomes(outs).Fill(&j)
	return j, nil
}

// readJob reads a job's META item (nil when absent) and its outcomes,
// both without what has expired; an expired job has no outcomes either.
func (s *Store) readJob(ctx context.Context, id string) (*jobItem, []store.Outcome, error) {
	cond := expression.Key("pk").Equal(expression.Value(jobPK(id))).And(expression.Key("sk").GreaterThanEqual(expression.Value(skJob)))
	expr, err := expression.NewBuilder().WithKeyCondition(cond).Build()
	if err != nil {
		return nil, nil, err
	}
	p := dynamodb.NewQueryPaginator(s.api, &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:   expr.KeyCondition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	now := s.now()
	var meta *jobItem
	var outs []store.Outcome
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, nil, err
		}
		for _, raw := range page.Items {
			if err := s.collect(id, raw, now, &meta, &outs); err != nil {
				return nil, nil, err
			}
		}
	}
	if meta != nil && expired(meta.ExpiresAt, now) {
		return nil, nil, nil
	}
	return meta, outs, nil
}

// collect sorts one item of a job's partition into meta or outs.
func (s *Store) collect(id string, raw map[string]types.AttributeValue, now time.Time, meta **jobItem, outs *[]store.Outcome) error {
	sk, _ := raw["sk"].(*types.AttributeValueMemberS)
	switch {
	case sk == nil:
		return nil
	case sk.Value == skJob:
		var it jobItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return err
		}
		*meta = &it
	case strings.HasPrefix(sk.Value, skOutcome):
		var it outcomeItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return err
		}
		if expired(it.ExpiresAt, now) {
			return nil
		}
		o, err := it.outcome(id)
		if err != nil {
			return err
		}
		*outs = append(*outs, o)
	}
	return nil
}
