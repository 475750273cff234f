package dynamo

import (
	"bytes"
	"compress/flate"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/internal/store"
)

// Outcomes and result groups are stored as compact binary attributes: an
// outcome is read by every job status request, a group holds up to a
// message's worth of results, and DynamoDB bills by the byte.

const outcomeV1 = 1

var verdictCodes = []string{store.Safe, store.Risky, store.Invalid, store.Unknown}

// encodeOutcome packs hop, stored indices (delta-encoded uvarints) with
// their verdicts (2 bits each) and the parts.
func encodeOutcome(o store.Outcome) []byte {
	b := []byte{outcomeV1}
	b = binary.AppendUvarint(b, uint64(o.Hop))
	idx := make([]int, len(o.Stored))
	for i, v := range o.Stored {
		idx[i] = v.Index
	}
	b = appendIndices(b, idx)
	packed := make([]byte, (len(o.Stored)+3)/4)
	for i, v := range o.Stored {
		packed[i/4] |= byte(slices.Index(verdictCodes, v.Verdict)) << (2 * (i % 4))
	}
	b = append(b, packed...)
	b = binary.AppendUvarint(b, uint64(len(o.Parts)))
	for _, p := range o.Parts {
		b = binary.AppendUvarint(b, uint64(len(p.Reason)))
		b = append(b, p.Reason...)
		b = binary.AppendVarint(b, p.Until.UnixMilli())
		b = appendIndices(b, p.Indices)
	}
	return b
}

// appendIndices writes a count and the ascending indices as deltas.
func appendIndices(b []byte, idx []int) []byte {
	sorted := slices.Clone(idx)
	slices.Sort(sorted)
	b = binary.AppendUvarint(b, uint64(len(sorted)))
	prev := 0
	for _, i := range sorted {
		b = binary.AppendUvarint(b, uint64(i-prev))
		prev = i
	}
	return b
}

var errCorrupt = errors.New("corrupt stored outcome")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errCorrupt
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

// count reads a length that cannot exceed what is left of the input.
func (r *reader) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.err = errCorrupt
		return 0
	}
	return int(n)
}

func (r *reader) indices() []int {
	n := r.count()
	out := make([]int, n)
	prev := uint64(0)
	for i := range out {
		prev += r.uvarint()
		if prev > store.MaxIndex {
			r.err = errCorrupt
		}
		out[i] = int(prev)
	}
	return out
}

// decodeOutcome fills o's hop, stored results and parts.
func decodeOutcome(b []byte, o *store.Outcome) error {
	if len(b) == 0 || b[0] != outcomeV1 {
		return errCorrupt
	}
	r := &reader{b: b[1:]}
	o.Hop = int(r.uvarint())
	idx := r.indices()
	packed := r.bytes(uint64((len(idx) + 3) / 4))
	if r.err == nil {
		o.Stored = make([]store.Verdict, len(idx))
		for i, x := range idx {
			o.Stored[i] = store.Verdict{Index: x, Verdict: verdictCodes[packed[i/4]>>(2*(i%4))&3]}
		}
	}
	parts := r.count()
	for range parts {
		var p store.Part
		p.Reason = string(r.bytes(r.uvarint()))
		p.Until = time.UnixMilli(r.varint()).UTC()
		p.Indices = r.indices()
		o.Parts = append(o.Parts, p)
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errCorrupt
	}
	return r.err
}

// groupV1 is a group compressed with DEFLATE (RFC 1951) and dictV1 as its
// preset dictionary: results of one message share most of their text
// (the schema's keys, the MX records and settings of a domain), and the
// dictionary gives a message of one address the same head start.
const groupV1 = 1

// dictV1 is a typical result's text; never change it (stored groups name
// the version that compressed them), add a version instead.
//
//go:embed dict_v1.json
var dictV1 []byte

// groupRecord is one record of a group, in short keys.
type groupRecord struct {
	Index      int             `json:"i"`
	Input      string          `json:"in"`
	Normalized string          `json:"n,omitempty"`
	Verdict    string          `json:"v"`
	Result     json.RawMessage `json:"r,omitempty"`
	CreatedAt  time.Time       `json:"t"`
	Backend    string          `json:"b,omitempty"`
	DurationMs int64           `json:"d"`
}

// encodeGroup compresses records of one job.
func encodeGroup(recs []store.Record) ([]byte, error) {
	rows := make([]groupRecord, len(recs))
	for i, r := range recs {
		rows[i] = groupRecord{Index: r.Index, Input: r.Input, Normalized: r.Normalized, Verdict: r.IsReachable,
			Result: r.Result, CreatedAt: r.CreatedAt, Backend: r.BackendName, DurationMs: r.DurationMs}
	}
	// Without HTML escaping, a result's text comes back as it went in.
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rows); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte(groupV1)
	w := groupWriters.Get().(*flate.Writer)
	defer groupWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(js.Bytes()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// groupWriters keeps DEFLATE writers with dictV1 between messages: a new
// one allocates most of a megabyte, Reset keeps its level and dictionary.
var groupWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriterDict(nil, flate.BestCompression, dictV1) // fails only for an invalid level
	return w
}}

// decodeGroup returns the records of a group of job jobID.
func decodeGroup(jobID string, b []byte) ([]store.Record, error) {
	if len(b) == 0 || b[0] != groupV1 {
		return nil, fmt.Errorf("result group: unknown encoding")
	}
	raw, err := io.ReadAll(flate.NewReaderDict(bytes.NewReader(b[1:]), dictV1))
	if err != nil {
		return nil, fmt.Errorf("result group: %w", err)
	}
	var rows []groupRecord
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("result group: %w", err)
	}
	recs := make([]store.Record, len(rows))
	for i, g := range rows {
		recs[i] = store.Record{JobID: jobID, Index: g.Index, Input: g.Input, Normalized: g.Normalized,
			IsReachable: g.Verdict, Result: g.Result, CreatedAt: g.CreatedAt.UTC(), BackendName: g.Backend,
			DurationMs: g.DurationMs}
	}
	return recs, nil
}
