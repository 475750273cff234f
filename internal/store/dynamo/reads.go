package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// ListResults returns up to limit records of a job in index order, skipping
// the first offset stored ones (indices without a result take no place).
func (s *Store) ListResults(ctx context.Context, jobID string, offset, limit int) ([]store.Record, error) {
	if err := store.CheckPage(offset, limit); err != nil {
		return nil, err
	}
	cond := expression.Key("pk").Equal(expression.Value(jobPK(jobID))).And(expression.Key("sk").BeginsWith("R#"))
	var start map[string]types.AttributeValue
	if offset > 0 {
		keysOnly := expression.NamesList(expression.Name("pk"), expression.Name("sk"))
		in, err := queryInput(s.table, "", cond, &keysOnly)
		if err != nil {
			return nil, fmt.Errorf("dynamo: list results of %q: %w", jobID, err)
		}
		keys, err := s.query(ctx, in, offset)
		if err != nil {
			return nil, fmt.Errorf("dynamo: list results of %q: skip %d: %w", jobID, offset, err)
		}
		if len(keys) < offset {
			return nil, nil
		}
		start = keys[offset-1]
	}
	in, err := queryInput(s.table, "", cond, nil)
	if err != nil {
		return nil, fmt.Errorf("dynamo: list results of %q: %w", jobID, err)
	}
	in.ConsistentRead, in.ExclusiveStartKey = aws.Bool(true), start
	return s.records(ctx, in, limit)
}

// ResultsByVerdict returns up to limit records of a job with the given
// verdict and created_at ≥ since, oldest first. It reads gsi2, which in AWS
// is eventually consistent: a result written a moment ago may be missing.
func (s *Store) ResultsByVerdict(ctx context.Context, jobID, verdict string, since time.Time, limit int) ([]store.Record, error) {
	if !store.ValidVerdict(verdict) || limit < 1 {
		return nil, fmt.Errorf("%w: verdict %q limit %d", store.ErrInvalid, verdict, limit)
	}
	cond := expression.Key(AttrGSI2PK).Equal(expression.Value(jobPK(jobID) + "#" + verdict))
	if !since.IsZero() {
		cond = cond.And(expression.Key(AttrGSI2SK).GreaterThanEqual(expression.Value(formatTime(since))))
	}
	in, err := queryInput(s.table, IndexVerdict, cond, nil)
	if err != nil {
		return nil, fmt.Errorf("dynamo: results of %q by verdict: %w", jobID, err)
	}
	return s.records(ctx, in, limit)
}

// LatestByAddress returns the most recently created record, over all jobs,
// of a normalized address (from gsi1, eventually consistent in AWS).
func (s *Store) LatestByAddress(ctx context.Context, normalized string) (store.Record, error) {
	if normalized == "" {
		return store.Record{}, fmt.Errorf("dynamo: latest of empty address: %w", store.ErrNotFound)
	}
	cond := expression.Key(AttrGSI1PK).Equal(expression.Value("ADDR#" + normalized))
	in, err := queryInput(s.table, IndexAddress, cond, nil)
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamo: latest of %q: %w", normalized, err)
	}
	in.ScanIndexForward = aws.Bool(false)
	recs, err := s.records(ctx, in, 1)
	if err != nil {
		return store.Record{}, fmt.Errorf("dynamo: latest of %q: %w", normalized, err)
	}
	if len(recs) == 0 {
		return store.Record{}, fmt.Errorf("dynamo: latest of %q: %w", normalized, store.ErrNotFound)
	}
	return recs[0], nil
}

func queryInput(table, index string, cond expression.KeyConditionBuilder, proj *expression.ProjectionBuilder) (*dynamodb.QueryInput, error) {
	b := expression.NewBuilder().WithKeyCondition(cond)
	if proj != nil {
		b = b.WithProjection(*proj)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(table), KeyConditionExpression: expr.KeyCondition(),
		ProjectionExpression:     expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	return in, nil
}

// query pages through in until it has max items or the end.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, max int) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for len(items) < max {
		in.Limit = aws.Int32(int32(min(max-len(items), 1000)))
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, err
		}
		items = append(items, out.Items...)
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	return items, nil
}

func (s *Store) records(ctx context.Context, in *dynamodb.QueryInput, limit int) ([]store.Record, error) {
	items, err := s.query(ctx, in, limit)
	if err != nil {
		return nil, err
	}
	var its []resultItem
	if err := attributevalue.UnmarshalListOfMaps(items, &its); err != nil {
		return nil, err
	}
	out := make([]store.Record, 0, len(its))
	for _, it := range its {
		r, err := it.record()
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
