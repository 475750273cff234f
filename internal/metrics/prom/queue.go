package prom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe/internal/metrics"
)

// QueueState is one queue's messages by state, as SQS counts them.
type QueueState struct {
	Visible  int // waiting to be received
	Delayed  int // sent with a delay that has not passed yet
	InFlight int // received and not yet deleted or handed back
	// OldestAge is the age of the oldest visible message; zero when none.
	OldestAge time.Duration
}

// QueueSample is what a process sees of its queues at one moment.
type QueueSample struct {
	Work       QueueState
	DeadLetter QueueState
	// RetriesWaiting is the number of addresses waiting for a retry.
	RetriesWaiting int
}

// QueueSampler samples the queues at each scrape. The local queue of
// `mailprobe serve` is one (through app's adapter); anything that knows
// more (the retry policy) can feed RetriesWaiting through the same method.
type QueueSampler interface {
	SampleQueue(ctx context.Context) (QueueSample, error)
}

// sampleTimeout bounds one sample, well within a scrape timeout (10 s by
// default in Prometheus).
const sampleTimeout = 5 * time.Second

var (
	descMessages = prometheus.NewDesc(metrics.NameQueueMessages,
		"Messages in the queue (work or dead_letter), by state (visible, delayed, in_flight).",
		[]string{"queue", "state"}, nil)
	descOldest = prometheus.NewDesc(metrics.NameQueueOldestAge,
		"Age in seconds of the oldest visible message of the queue (work or dead_letter); 0 when none.",
		[]string{"queue"}, nil)
	descRetries = prometheus.NewDesc(metrics.NameRetriesWaiting,
		"Addresses waiting for a retry (greylisted, temporarily failing, or handed back unfinished).",
		nil, nil)
)

// queueCollector turns a QueueSampler into gauges, sampled at each scrape:
// no goroutine polls the queue between scrapes.
type queueCollector struct{ s QueueSampler }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descMessages
	ch <- descOldest
	ch <- descRetries
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	// Collect gets no context from the client library; the sample gets a
	// deadline of its own.
	ctx, cancel := context.WithTimeout(context.Background(), sampleTimeout)
	defer cancel()
	s, err := c.s.SampleQueue(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descMessages, fmt.Errorf("sample queue: %w", err))
		return
	}
	for _, q := range []struct {
		name string
		st   QueueState
	}{{"work", s.Work}, {"dead_letter", s.DeadLetter}} {
		for _, v := range []struct {
			state string
			n     int
		}{{"visible", q.st.Visible}, {"delayed", q.st.Delayed}, {"in_flight", q.st.InFlight}} {
			ch <- prometheus.MustNewConstMetric(descMessages, prometheus.GaugeValue, float64(v.n), q.name, v.state)
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, q.st.OldestAge.Seconds(), q.name)
	}
	ch <- prometheus.MustNewConstMetric(descRetries, prometheus.GaugeValue, float64(s.RetriesWaiting))
}

// WatchQueue exposes the queue gauges, sampled from s at each scrape.
// Call it once.
func (r *Registry) WatchQueue(s QueueSampler) error {
	if err := r.reg.Register(queueCollector{s}); err != nil {
		return fmt.Errorf("prom: watch queue: %w", err)
	}
	return nil
}
