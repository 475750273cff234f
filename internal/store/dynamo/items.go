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
	Single    bool  `dynamodbav:"single_shot,omitempty"`
	ExpiresAt int64 `dynamodbav:"expires_at"`
}

// outcomeItem is a settled message (T#<key>): small, since every job
// status request reads all of a job's.
type outcomeItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	By        string `dynamodbav:"by,omitempty"`
	At        string `dynamodbav:"at"`
	Outcome   []byte `dynamodbav:"o"` // encodeOutcome
	ExpiresAt int64  `dynamodbav:"expires_at"`
}

// groupItem is the results a message stored (G#<key>), compressed.
type groupItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Data      []byte `dynamodbav:"d"` // encodeGroup
	ExpiresAt int64  `dynamodbav:"expires_at"`
	// Writer is a random token of the StoreResults call that wrote the
	// item: a call whose put was applied but whose answer was lost (the
	// SDK retried it) finds its own token and still reports created.
	Writer string `dynamodbav:"w"`
}

type cacheItem struct {
	PK        string `dynamodbav:"pk"`
	SK        string `dynamodbav:"sk"`
	Value     string `dynamodbav:"value"`
	ExpiresAt int64  `dynamodbav:"expires_at,omitempty"` // TTL, seconds, rounded up
	ExpiresNs int64  `dynamodbav:"expires_ns,omitempty"` // exact expiry, what reads compare
}

func (it outcomeItem) outcome(jobID string) (store.Outcome, error) {
	o := store.Outcome{JobID: jobID, Key: it.SK[len(skOutcome):], By: it.By}
	at, err := parseTime(it.At)
	if err != nil {
		return o, err
	}
	o.At = at
	if err := decodeOutcome(it.Outcome, &o); err != nil {
		return o, fmt.Errorf("outcome %s of %s: %w", o.Key, jobID, err)
	}
	return o, nil
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
