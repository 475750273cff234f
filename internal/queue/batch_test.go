package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestBatch(t *testing.T) {
	emails := []string{"a@x.com", "b@y.com", "c@X.com", "d@x.com", "nobody", "e@y.com"}
	tests := []struct {
		name     string
		maxItems int
		want     [][]int // indices per message, in order
	}{
		{"no item limit packs every domain", 0, [][]int{{0, 2, 3, 1, 5, 4}}},
		{"domains kept together", 3, [][]int{{0, 2, 3}, {1, 5, 4}}},
		{"domains kept together, not split to fill", 4, [][]int{{0, 2, 3}, {1, 5, 4}}},
		{"big domain spans messages", 2, [][]int{{0, 2}, {3}, {1, 5}, {4}}},
		{"one per message", 1, [][]int{{0}, {2}, {3}, {1}, {5}, {4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := Batch("j", emails, json.RawMessage(`{"smtp_port":25}`), tt.maxItems, 0)
			var got [][]int
			for _, m := range msgs {
				var idx []int
				for _, it := range m.Items {
					idx = append(idx, it.Index)
					if it.Email != emails[it.Index] {
						t.Errorf("item %d email %q, want %q", it.Index, it.Email, emails[it.Index])
					}
				}
				got = append(got, idx)
				if _, err := Encode(m); err != nil {
					t.Errorf("Encode: %v", err)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Batch = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestBatchBytes checks that messages fill up to, and never past, maxBytes.
func TestBatchBytes(t *testing.T) {
	var emails []string
	for i := range 5000 {
		emails = append(emails, fmt.Sprintf("user-%d-%s@example.com", i, strings.Repeat("x", i%50)))
	}
	req := json.RawMessage(`{"from_email":"probe@example.net","hello_name":"example.net"}`)
	for _, maxBytes := range []int{300, 4096, 65536, 0} {
		t.Run(fmt.Sprint(maxBytes), func(t *testing.T) {
			limit := maxBytes
			if limit == 0 {
				limit = MaxBodyBytes
			}
			msgs := Batch("job-1", emails, req, 0, maxBytes)
			next := 0
			for i, m := range msgs {
				body, err := Encode(m)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if len(body) > limit {
					t.Fatalf("message %d is %d bytes, limit %d", i, len(body), limit)
				}
				if i < len(msgs)-1 {
					// Greedy: the next item would not have fitted.
					extra := len(fmt.Sprintf(`,{"index":%d,"email":%q}`, msgs[i+1].Items[0].Index, msgs[i+1].Items[0].Email))
					if len(body)+extra <= limit {
						t.Errorf("message %d is %d bytes and %d more would fit in %d", i, len(body), extra, limit)
					}
				}
				for _, it := range m.Items {
					if it.Index != next {
						t.Fatalf("item index %d, want %d", it.Index, next)
					}
					next++
				}
			}
			if next != len(emails) {
				t.Errorf("%d items batched, want %d", next, len(emails))
			}
		})
	}
}

func TestClamp(t *testing.T) {
	tests := []struct{ in, delay, vis string }{
		{"-1s", "0s", "0s"}, {"0s", "0s", "0s"}, {"1ns", "1s", "1s"}, {"1.5s", "2s", "2s"},
		{"15m1s", "15m0s", "15m1s"}, {"13h", "15m0s", "12h0m0s"},
	}
	for _, tt := range tests {
		d, err := time.ParseDuration(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := ClampDelay(d).String(); got != tt.delay {
			t.Errorf("ClampDelay(%s) = %s, want %s", tt.in, got, tt.delay)
		}
		if got := ClampVisibility(d).String(); got != tt.vis {
			t.Errorf("ClampVisibility(%s) = %s, want %s", tt.in, got, tt.vis)
		}
	}
}

func BenchmarkBatch(b *testing.B) {
	emails := make([]string, 10000)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%d@domain%d.example", i, i%50)
	}
	b.ReportAllocs()
	for b.Loop() {
		Batch("job", emails, json.RawMessage(`{"smtp_port":25}`), 100, 0)
	}
}

func BenchmarkDecode(b *testing.B) {
	msgs := Batch("job", []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com"}, json.RawMessage(`{"smtp_port":25}`), 0, 0)
	body, err := Encode(msgs[0])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBatchPacksDomains checks the packing rules on a mix of one big domain
// and many small ones: every index exactly once, every message within the
// limits, a domain that fits in one message never split, a bigger one in as
// few messages as the item limit allows.
func TestBatchPacksDomains(t *testing.T) {
	var emails []string
	for i := range 100_000 {
		switch {
		case i%4 == 0:
			emails = append(emails, fmt.Sprintf("u%d@big.example", i))
		case i%4 == 1:
			emails = append(emails, fmt.Sprintf("u%d@pair%d.example", i, i/8)) // 2 per domain
		default:
			emails = append(emails, fmt.Sprintf("u%d@d%d.example", i, i)) // distinct
		}
	}
	tests := []struct {
		name               string
		maxItems, maxBytes int
	}{
		{"items bind", 100, 0},
		{"bytes bind", 1000, 16 << 10},
		{"odd limits", 7, 700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := Batch("job-1", emails, nil, tt.maxItems, tt.maxBytes)
			limit := tt.maxBytes
			if limit == 0 {
				limit = MaxBodyBytes
			}
			seen := make([]bool, len(emails))
			where := map[string][]int{} // domain -> messages holding it
			for i, m := range msgs {
				body, err := Encode(m)
				if err != nil {
					t.Fatalf("Encode: %v", err)
				}
				if len(body) > limit || len(m.Items) > tt.maxItems {
					t.Fatalf("message %d: %d bytes, %d items; limits %d, %d", i, len(body), len(m.Items), limit, tt.maxItems)
				}
				for _, it := range m.Items {
					if seen[it.Index] || emails[it.Index] != it.Email {
						t.Fatalf("item %+v repeated or wrong", it)
					}
					seen[it.Index] = true
					d := Domain(it.Email)
					if w := where[d]; len(w) == 0 || w[len(w)-1] != i {
						where[d] = append(w, i)
					}
				}
			}
			for i, ok := range seen {
				if !ok {
					t.Fatalf("index %d not batched", i)
				}
			}
			for d, w := range where {
				if d != "big.example" && len(w) != 1 {
					t.Errorf("small domain %s split over messages %v", d, w)
				}
			}
			big := 25_000
			if min := (big + tt.maxItems - 1) / tt.maxItems; tt.maxBytes == 0 && len(where["big.example"]) != min {
				t.Errorf("big domain in %d messages, want %d", len(where["big.example"]), min)
			}
			// The big domain fills 250 messages; the 75 000 others pack at
			// 99 or 100 per message (a pair does not join a message at 99).
			if tt.name == "items bind" && len(msgs) > 250+(75_000+98)/99 {
				t.Errorf("%d messages for 100 000 addresses at 100 per message, want at most 1008", len(msgs))
			}
		})
	}
}
