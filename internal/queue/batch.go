package queue

import (
	"encoding/json"
)

// Batch turns a job's addresses into messages. Addresses are grouped by
// Domain (groups in order of first appearance), each item keeping its
// position in emails as its index. Every message has at most maxItems items
// and an encoded body of at most maxBytes.
//
// A domain's addresses stay together so the worker can share SMTP sessions
// among them, but a message may hold several domains: a list of 100 000
// distinct domains then becomes 1 000 messages of 100, not 100 000 of one
// (SendMessageBatch calls are what bound bulk creation time). A domain that
// fits in one message is never split; one that does not starts a message of
// its own and fills as few messages as the limits allow, its last one open
// to the domains after it.
//
// maxItems ≤ 0 means no item limit; maxBytes ≤ 0 or above MaxBodyBytes means
// MaxBodyBytes. An item too large to fit even alone gets a message of its
// own (which Encode then rejects).
//
// req must be empty or a JSON object. Fields set after Batch (Webhook) are
// not in the size budget: reduce maxBytes by their encoded size
// (len(`,"webhook":`)+len(webhook)).
func Batch(jobID string, emails []string, req json.RawMessage, maxItems, maxBytes int) []Message {
	if maxBytes <= 0 || maxBytes > MaxBodyBytes {
		maxBytes = MaxBodyBytes
	}
	if len(req) == 0 {
		req = nil
	}
	var order []string
	groups := make(map[string][]Item)
	for i, e := range emails {
		d := Domain(e)
		if _, ok := groups[d]; !ok {
			order = append(order, d)
		}
		groups[d] = append(groups[d], Item{Index: i, Email: e})
	}
	tmpl := Message{Version: Version, JobID: jobID, Items: []Item{}, Request: req}
	p := packer{tmpl: tmpl, base: encodedSize(tmpl), maxItems: maxItems, maxBytes: maxBytes}
	p.size = p.base
	for _, d := range order {
		p.addGroup(groups[d])
	}
	p.flush()
	return p.out
}

// packer fills messages in order; cur is the open message.
type packer struct {
	tmpl                     Message
	base, maxItems, maxBytes int
	out                      []Message
	cur                      []Item
	size                     int // encoded size of the open message
}

// fits reports whether n more items of the given encoded size (commas
// between them included) fit in the open message.
func (p *packer) fits(n, bytes int) bool {
	if len(p.cur) > 0 {
		bytes++ // the comma before them
	}
	return (p.maxItems <= 0 || len(p.cur)+n <= p.maxItems) && p.size+bytes <= p.maxBytes
}

// addGroup adds one domain's items: whole to the open message when they fit,
// else whole to a new one, else spread greedily over new messages.
func (p *packer) addGroup(items []Item) {
	sizes := make([]int, len(items))
	total := len(items) - 1 // the commas between them
	for i, it := range items {
		sizes[i] = encodedSize(it)
		total += sizes[i]
	}
	if !p.fits(len(items), total) {
		p.flush()
	}
	if p.fits(len(items), total) {
		p.cur = append(p.cur, items...)
		p.size += total
		if len(p.cur) > len(items) {
			p.size++ // the comma before them
		}
		return
	}
	for i, it := range items {
		if len(p.cur) > 0 && !p.fits(1, sizes[i]) {
			p.flush()
		}
		if len(p.cur) > 0 {
			p.size++
		}
		p.cur = append(p.cur, it)
		p.size += sizes[i]
	}
}

// flush closes the open message, if it has items.
func (p *packer) flush() {
	if len(p.cur) == 0 {
		return
	}
	m := p.tmpl
	m.Items = p.cur
	p.out = append(p.out, m)
	p.cur, p.size = nil, p.base
}

// encodedSize is len(json.Marshal(v)), the encoding Encode uses, so the sizes
// Batch adds up are exactly the body's. An unencodable v (an invalid req)
// counts as 0 and is reported by Encode when the message is sent.
func encodedSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
