package prom

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mailprobe/mailprobe/internal/metrics"
)

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
type queueCollector struct{ s metrics.QueueSampler }

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
		st   metrics.QueueState
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
func (r *Registry) WatchQueue(s metrics.QueueSampler) error {
	if err := r.reg.Register(queueCollector{s}); err != nil {
		return fmt.Errorf("prom: watch queue: %w", err)
	}
	return nil
}
