package queue

import (
	"encoding/json"
)

// Batch turns a job's addresses into messages: grouped by Domain (groups in
// order of first appearance), each item keeping its position in emails as its
// index, and split so that every message has at most maxItems items and an
// encoded body of at most maxBytes. maxItems ≤ 0 means no item limit;
// maxBytes ≤ 0 or above MaxBodyBytes means MaxBodyBytes. An item too large to
// fit even alone gets a message of its own (which Encode then rejects).
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
	base := encodedSize(tmpl)
	var out []Message
	for _, d := range order {
		out = appendSplit(out, tmpl, groups[d], base, maxItems, maxBytes)
	}
	return out
}

// appendSplit appends messages holding items, greedily filled up to the limits.
func appendSplit(out []Message, tmpl Message, items []Item, base, maxItems, maxBytes int) []Message {
	cur, size := []Item(nil), base
	for _, it := range items {
		add := encodedSize(it)
		if len(cur) > 0 {
			add++ // the comma
		}
		if len(cur) > 0 && (size+add > maxBytes || (maxItems > 0 && len(cur) >= maxItems)) {
			m := tmpl
			m.Items = cur
			out = append(out, m)
			cur, size, add = nil, base, add-1
		}
		cur = append(cur, it)
		size += add
	}
	if len(cur) > 0 {
		m := tmpl
		m.Items = cur
		out = append(out, m)
	}
	return out
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
