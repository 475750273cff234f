package queue

// Fate is what becomes of a received message once a consumer handled it.
type Fate int

const (
	// Done: every item is settled (stored, or sent back in messages of
	// their own); the message may be deleted.
	Done Fate = iota
	// Again: the message could not be settled (the store failed, or the
	// consumer is stopping); it must be delivered again soon.
	Again
	// Reject: the message can never succeed (a body that does not decode,
	// unusable request options). It is delivered again at once, so that it
	// reaches the dead-letter queue after the maximum receive count
	// without waiting.
	Reject
)
