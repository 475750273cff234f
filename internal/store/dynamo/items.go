package dynamo

import (
	"encoding/json"
	"fmt"

	"github.com/mailprobe/mailprobe/internal/store"
)

type jobItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	JobID     string `dynamodbav:"job_id"`
	Total     int    `dynamodbav:"total"`
	CreatedAt string `dynamodbav:"created_at"`
	Webhook   string `dynamodbav:"webhook,omitempty"`
	// Single is true for a single-shot job (store.Job.SingleShot).
	Single bool `dynamodbav:"single_shot,omitempty"`
}

type resultItem struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	JobID       string `dynamodbav:"job_id"`
	Index       int    `dynamodbav:"idx"`
	Input       string `dynamodbav:"input"`
	Normalized  string `dynamodbav:"normalized,omitempty"`
	IsReachable string `dynamodbav:"is_reachable"`
	Result      string `dynamodbav:"result,omitempty"`
	CreatedAt   string `dynamodbav:"created_at"`
	BackendName string `dynamodbav:"backend_name,omitempty"`
	DurationMs  int64  `dynamodbav:"duration_ms"`
	// Index keys; gsi1pk is omitted for a record without a normalized
	// address, which keeps it out of gsi1 (a sparse index).
	GSI1PK string `dynamodbav:"gsi1pk,omitempty"`
	GSI1SK string `dynamodbav:"gsi1sk,omitempty"`
	GSI2PK string `dynamodbav:"gsi2pk"`
	GSI2SK string `dynamodbav:"gsi2sk"`
	// Writer is a random token of the PutResult call that wrote the item: a
	// call whose put was applied but whose answer was lost finds its own
	// token on the retry's conditional failure, and still reports created.
	Writer string `dynamodbav:"writer,omitempty"`
}

// shardItem is the part of a shard GetJob reads (done is never read back).
type shardItem struct {
	Safe    int    `dynamodbav:"n_safe"`
	Risky   int    `dynamodbav:"n_risky"`
	Invalid int    `dynamodbav:"n_invalid"`
	Unknown int    `dynamodbav:"n_unknown"`
	LastAt  string `dynamodbav:"last_at"`
}

type cacheItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Value     string `dynamodbav:"value"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // TTL, seconds, rounded up
	ExpiresNs int64  `dynamodbav:"expires_ns,omitempty"` // exact expiry, what reads compare
}

func toResultItem(r store.Record) resultItem {
	created := formatTime(r.CreatedAt)
	it := resultItem{
		PK: jobPK(r.JobID), SK: resultSK(r.Index),
		JobID: r.JobID, Index: r.Index, Input: r.Input, Normalized: r.Normalized,
		IsReachable: r.IsReachable, Result: string(r.Result), CreatedAt: created,
		BackendName: r.BackendName, DurationMs: r.DurationMs,
		GSI2PK: jobPK(r.JobID) + "#" + r.IsReachable, GSI2SK: created,
	}
	if r.Normalized != "" {
		it.GSI1PK, it.GSI1SK = "ADDR#"+r.Normalized, created
	}
	return it
}

func (it resultItem) record() (store.Record, error) {
	at, err := parseTime(it.CreatedAt)
	if err != nil {
		return store.Record{}, err
	}
	r := store.Record{
		JobID: it.JobID, Index: it.Index, Input: it.Input, Normalized: it.Normalized,
		IsReachable: it.IsReachable, CreatedAt: at, BackendName: it.BackendName, DurationMs: it.DurationMs,
	}
	if it.Result != "" {
		r.Result = json.RawMessage(it.Result)
	}
	return r, nil
}

func (it jobItem) job() (store.Job, error) {
	at, err := parseTime(it.CreatedAt)
	if err != nil {
		return store.Job{}, fmt.Errorf("job %q: %w", it.JobID, err)
	}
	j := store.Job{ID: it.JobID, Total: it.Total, CreatedAt: at, SingleShot: it.Single}
	if it.Webhook != "" {
		j.Webhook = json.RawMessage(it.Webhook)
	}
	return j, nil
}
