// Package metrics names what mailprobe measures and records it where
// CloudWatch and operators read it without a metrics server: CloudWatch
// Embedded Metric Format lines on stdout (Lambda), which CloudWatch turns
// into metrics from the log stream with no API call, and the guide's
// "Verification completed" log line. The Prometheus registry that
// `mailprobe serve` exposes on /metrics is the subpackage prom, kept apart
// so that the Lambda functions do not link a Prometheus client.
//
// An Observer records finished verifications; an Events value hears of
// what happens on the way (failed proxy dials, politeness waits) and of
// failures outside verifications.
package metrics

import (
	"time"

	"github.com/mailprobe/mailprobe/engine"
	"github.com/mailprobe/mailprobe/engine/dialer"
)

// Metric names: the first four are the guide's (Reacher's self-hosting
// documentation); the others are what an operator of a queue-driven
// verifier needs beside them. The deploy/ dashboards and alerts read them.
const (
	NameVerifications = "reacher_verifications_total"
	NameByResult      = "reacher_verifications_by_result"
	NameDuration      = "reacher_verification_duration_seconds"
	NameErrors        = "reacher_errors_total"

	// NameProxyFailures counts failed dials through a configured SOCKS5
	// proxy where the proxy was at fault, by proxy id and kind.
	NameProxyFailures = "reacher_proxy_failures_total"
	// NamePolitenessWaits counts SMTP sessions that had to wait for the
	// per-MX politeness limits, by MX host; NamePolitenessWaitSeconds
	// sums the time they waited.
	NamePolitenessWaits       = "reacher_politeness_waits_total"
	NamePolitenessWaitSeconds = "reacher_politeness_wait_seconds_total"
	// NamePolitenessWait is the EMF metric: one raw value (seconds) per
	// SMTP session, waits of zero included.
	NamePolitenessWait = "reacher_politeness_wait_seconds"
	// NameRetriesWaiting is the number of addresses waiting for a retry
	// (greylisted, temporarily failing, or handed back unfinished).
	NameRetriesWaiting = "reacher_retries_waiting"
	// NameQueueMessages is the number of queue messages by queue
	// ("work", "dead_letter") and state ("visible", "delayed",
	// "in_flight"), as SQS reports them.
	NameQueueMessages = "reacher_queue_messages"
	// NameQueueOldestAge is the age of the oldest message waiting to be
	// received, by queue.
	NameQueueOldestAge = "reacher_queue_oldest_message_age_seconds"
)

// DurationBuckets are the upper bounds (seconds) of the duration
// histogram's buckets, suited to SMTP probes: a cached or syntax-only
// answer takes milliseconds, a probe through a proxy a fraction of a
// second to a few seconds, a slow or tarpitting server up to the SMTP
// timeout (45 s by default, at most 60 s on Lambda).
var DurationBuckets = []float64{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 45, 60}

// Verdicts are the values of the result label, always exposed (at zero
// when unseen) so a dashboard never shows a gap for a verdict that has not
// happened yet.
var Verdicts = [...]engine.Reachability{engine.Safe, engine.Risky, engine.Invalid, engine.Unknown}

// Observer records one finished verification.
type Observer interface {
	Observe(res engine.Result, d time.Duration)
}

// Observers passes each observation to every observer, in order.
type Observers []Observer

// Observe calls Observe on each observer.
func (obs Observers) Observe(res engine.Result, d time.Duration) {
	for _, o := range obs {
		o.Observe(res, d)
	}
}

// Events hears of what operators watch beside verifications. The prom
// Registry and EMFObserver implement it; implementations are safe for
// concurrent use and quick.
type Events interface {
	// ProxyFailed is a dialer.FailureFunc: a dial through p failed.
	ProxyFailed(p dialer.Proxy, err *dialer.ProxyError)
	// PolitenessWaited reports that an SMTP session to mxHost waited d
	// for the politeness limits before it could start.
	PolitenessWaited(mxHost string, d time.Duration)
	// IncErrors counts a failure outside a verification (a store write
	// that failed, a webhook that could not be delivered).
	IncErrors()
}

// HasError reports whether an error object replaced a step of the result:
// the check could not conclude (timeout, proxy failure, blocked, DNS
// failure). Such results are what reacher_errors_total counts.
func HasError(res engine.Result) bool {
	return res.Misc.Err != nil || res.MX.Err != nil || res.SMTP.Err != nil
}

// Verdict is the result label of res: its is_reachable, or unknown when
// it has none.
func Verdict(res engine.Result) engine.Reachability {
	if res.IsReachable == "" {
		return engine.Unknown
	}
	return res.IsReachable
}

// ProxyFailureKind is the kind label of a proxy failure, and false when
// the failure is not the proxy's fault (the target refused or could not
// be reached through it) and so is not a proxy failure at all. The proxy is
// at fault when another proxy might have succeeded (ProxyLevel) or when it
// refused our credentials, the two cases where a Rotation rests it.
func ProxyFailureKind(err *dialer.ProxyError) (string, bool) {
	if !err.ProxyLevel() && err.Kind != dialer.ProxyAuth {
		return "", false
	}
	switch err.Kind {
	case dialer.ProxyUnreachable:
		return "unreachable", true
	case dialer.ProxyAuth:
		return "auth", true
	case dialer.ProxyProtocol:
		return "protocol", true
	default: // ProxyLevel's timeouts while connecting or greeting
		return "timeout", true
	}
}

// ProxyFailureKinds are the values ProxyFailureKind returns, for
// registries that expose every kind from the start.
var ProxyFailureKinds = [...]string{"unreachable", "auth", "protocol", "timeout"}

// PolitenessWaitThreshold is the shortest wait counted as a politeness
// wait: taking a free slot from an in-process limiter takes microseconds,
// a DynamoDB-counted one a few milliseconds.
const PolitenessWaitThreshold = 20 * time.Millisecond
