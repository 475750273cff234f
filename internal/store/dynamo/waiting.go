package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
)

// waitPrefix starts the shard attribute that holds when an index's retry
// is due: w_<idx> = Unix nanoseconds. Counting the index removes it.
const waitPrefix = "w_"

func waitAttr(idx int) string { return waitPrefix + itoa(idx) }

// SetWaiting records that the addresses at waits' indices wait for a retry,
// each until its Due: one UpdateItem per shard. A wait that arrives after
// its index was counted (a late duplicate delivery) is ignored when the job
// is read, since the shard's done set holds the index.
func (s *Store) SetWaiting(ctx context.Context, jobID string, waits []store.Wait) error {
	if err := store.CheckWaits(jobID, waits); err != nil {
		return err
	}
	byShard := map[int][]store.Wait{}
	for _, w := range waits {
		byShard[w.Index/store.ShardSize] = append(byShard[w.Index/store.ShardSize], w)
	}
	for shard, ws := range byShard {
		var update expression.UpdateBuilder
		for _, w := range ws {
			update = update.Set(expression.Name(waitAttr(w.Index)), expression.Value(w.Due.UnixNano()))
		}
		expr, err := expression.NewBuilder().WithUpdate(update).Build()
		if err != nil {
			return fmt.Errorf("dynamo: set waiting in %s: %w", jobID, err)
		}
		_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(s.table), Key: itemKey(jobPK(jobID), shardSK(shard)),
			UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		})
		if err != nil {
			return fmt.Errorf("dynamo: set waiting in %s: %w", jobID, err)
		}
	}
	return nil
}

// addWaiting adds to j the waits of one shard item whose indices are not
// counted (done) yet.
func addWaiting(j *store.Job, item map[string]types.AttributeValue) error {
	var done []int
	if v, ok := item["done"]; ok {
		if err := attributevalue.Unmarshal(v, &done); err != nil {
			return err
		}
	}
	counted := make(map[int]bool, len(done))
	for _, i := range done {
		counted[i] = true
	}
	for name, v := range item {
		rest, ok := strings.CutPrefix(name, waitPrefix)
		if !ok {
			continue
		}
		idx, err := strconv.Atoi(rest)
		if err != nil {
			return fmt.Errorf("shard attribute %s: %w", name, err)
		}
		if counted[idx] {
			continue
		}
		var ns int64
		if err := attributevalue.Unmarshal(v, &ns); err != nil {
			return fmt.Errorf("shard attribute %s: %w", name, err)
		}
		due := time.Unix(0, ns).UTC()
		if j.NextRetryAt == nil || due.Before(*j.NextRetryAt) {
			j.NextRetryAt = &due
		}
		j.Waiting++
	}
	return nil
}
