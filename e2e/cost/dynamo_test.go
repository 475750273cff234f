package cost

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ddbMeter sits between a function and dynalite. dynalite reports the
// consumed capacity of successful calls (the meter asks for it on every
// call) but leaves out what AWS also bills:
//
//   - global secondary index writes: for each index, a write of the item's
//     projection when an item enters, changes in or leaves the index (two
//     when an update moves it between index keys), each rounded up to 1 KB;
//   - conditional writes whose condition fails: the size of the larger of
//     the existing and the new item (PutItem) or of the existing item
//     (UpdateItem, DeleteItem), at least 1 WRU.
//
// To add those, it reads the item before and after each write (with calls
// of its own, which nobody is billed for).
type ddbMeter struct {
	who    string
	rtt    time.Duration // added to every call: an in-region round trip
	target string
	client *http.Client
	ledger *ledger
	tables *tableInfos
}

// av is a DynamoDB attribute value in its JSON form ({"S": "x"}, ...).
type av = map[string]any

type item = map[string]av

// tableInfo is what the meter needs of a table: its key and its indexes.
type tableInfo struct {
	keys    []string
	indexes []indexInfo
}

type indexInfo struct {
	name       string
	keys       []string
	projection string   // ALL, KEYS_ONLY or INCLUDE
	include    []string // INCLUDE's non-key attributes
}

type tableInfos struct {
	mu sync.Mutex
	m  map[string]*tableInfo
}

func (m *ddbMeter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		req = nil
	}
	c := call{who: m.who, service: "dynamodb", op: op}
	var w8 *writeView
	if req != nil && isWrite(op) {
		w8 = m.view(op, req)
	}
	if req != nil && metered(op) {
		req["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
		body, _ = json.Marshal(req)
	}
	c.start = time.Now()
	time.Sleep(m.rtt)
	status, h, out, err := forward(m.client, m.target, r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.end = time.Now()
	m.account(&c, status, out, w8)
	m.ledger.add(c)
	reply(w, status, h, out)
}

func metered(op string) bool {
	switch op {
	case "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem":
		return true
	}
	return false
}

func isWrite(op string) bool { return op == "PutItem" || op == "UpdateItem" || op == "DeleteItem" }

// writeView is a single-item write: its table, key, new item (PutItem)
// and the item as it was before.
type writeView struct {
	table string
	info  *tableInfo
	key   item
	put   item
	old   item
}

func (m *ddbMeter) view(op string, req map[string]json.RawMessage) *writeView {
	v := &writeView{}
	_ = json.Unmarshal(req["TableName"], &v.table)
	v.info = m.tables.get(m, v.table)
	if v.info == nil {
		return nil
	}
	if op == "PutItem" {
		if json.Unmarshal(req["Item"], &v.put) != nil {
			return nil
		}
		v.key = item{}
		for _, k := range v.info.keys {
			v.key[k] = v.put[k]
		}
	} else if json.Unmarshal(req["Key"], &v.key) != nil {
		return nil
	}
	if len(v.info.indexes) > 0 || req["ConditionExpression"] != nil {
		v.old = m.getItem(v.table, v.key)
	}
	return v
}

// account fills the capacity of c from the answer and the meter's rules.
func (m *ddbMeter) account(c *call, status int, out []byte, v *writeView) {
	if status != http.StatusOK {
		c.failed = true
		if v != nil && strings.Contains(string(out), "ConditionalCheckFailedException") {
			size := itemSize(v.old)
			if v.put != nil {
				size = max(size, itemSize(v.put))
			}
			c.wru = units(size, 1024)
		}
		return
	}
	var resp struct {
		ConsumedCapacity json.RawMessage
	}
	_ = json.Unmarshal(out, &resp)
	total := capacityOf(resp.ConsumedCapacity)
	if isWrite(c.op) || c.op == "BatchWriteItem" {
		c.wru = total
	} else {
		c.rru = total
	}
	if v != nil && len(v.info.indexes) > 0 {
		c.indexWRU = indexWrites(v.info, v.old, m.getItem(v.table, v.key))
	}
}

// capacityOf sums CapacityUnits of one ConsumedCapacity or of a list.
func capacityOf(raw json.RawMessage) float64 {
	type cc struct{ CapacityUnits float64 }
	var one cc
	if json.Unmarshal(raw, &one) == nil {
		return one.CapacityUnits
	}
	var many []cc
	_ = json.Unmarshal(raw, &many)
	sum := 0.0
	for _, x := range many {
		sum += x.CapacityUnits
	}
	return sum
}

// indexWrites applies AWS's rules for global secondary index writes to an
// item that changed from old to new (either may be nil).
func indexWrites(t *tableInfo, old, new item) float64 {
	sum := 0.0
	for _, ix := range t.indexes {
		po, pn := projection(t, ix, old), projection(t, ix, new)
		switch {
		case po == nil && pn == nil:
		case po == nil:
			sum += units(itemSize(pn), 1024)
		case pn == nil:
			sum += units(itemSize(po), 1024)
		case !sameValues(po, pn, ix.keys):
			sum += units(itemSize(po), 1024) + units(itemSize(pn), 1024)
		case !sameValues(po, pn, nil):
			sum += units(itemSize(pn), 1024)
		}
	}
	return sum
}

// projection is the index entry of it: nil when it lacks an index key.
func projection(t *tableInfo, ix indexInfo, it item) item {
	if it == nil {
		return nil
	}
	for _, k := range ix.keys {
		if _, ok := it[k]; !ok {
			return nil
		}
	}
	if ix.projection == "ALL" {
		return it
	}
	p := item{}
	for _, k := range append(append(append([]string{}, t.keys...), ix.keys...), ix.include...) {
		if v, ok := it[k]; ok {
			p[k] = v
		}
	}
	return p
}

// sameValues compares the attributes names of a and b (all when nil).
func sameValues(a, b item, names []string) bool {
	if names == nil {
		if len(a) != len(b) {
			return false
		}
		for k := range a {
			names = append(names, k)
		}
	}
	for _, k := range names {
		x, _ := json.Marshal(a[k])
		y, _ := json.Marshal(b[k])
		if !bytes.Equal(x, y) {
			return false
		}
	}
	return true
}

func units(size int, unit int) float64 { return math.Max(1, math.Ceil(float64(size)/float64(unit))) }

// itemSize is an item's size by DynamoDB's rules: names plus values;
// strings and binaries by length, numbers about one byte per two
// significant digits plus one, lists and maps 3 bytes plus one per
// element.
func itemSize(it item) int {
	n := 0
	for k, v := range it {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v av) int {
	for t, x := range v {
		switch t {
		case "S":
			s, _ := x.(string)
			return len(s)
		case "N":
			s, _ := x.(string)
			return numSize(s)
		case "B":
			s, _ := x.(string)
			return base64.StdEncoding.DecodedLen(len(s))
		case "BOOL", "NULL":
			return 1
		case "SS", "NS", "BS":
			n := 0
			xs, _ := x.([]any)
			for _, e := range xs {
				s, _ := e.(string)
				switch t {
				case "NS":
					n += numSize(s)
				case "BS":
					n += base64.StdEncoding.DecodedLen(len(s))
				default:
					n += len(s)
				}
			}
			return n
		case "L":
			n := 3
			xs, _ := x.([]any)
			for _, e := range xs {
				m, _ := e.(map[string]any)
				n += 1 + valueSize(m)
			}
			return n
		case "M":
			n := 3
			xs, _ := x.(map[string]any)
			for k, e := range xs {
				m, _ := e.(map[string]any)
				n += 1 + len(k) + valueSize(m)
			}
			return n
		}
	}
	return 0
}

func numSize(s string) int {
	s = strings.TrimLeft(s, "+-")
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	digits := strings.Trim(strings.Replace(mant, ".", "", 1), "0")
	return (len(digits)+1)/2 + 1
}

// getItem reads an item with a call of the meter's own.
func (m *ddbMeter) getItem(table string, key item) item {
	var out struct{ Item item }
	if err := m.side("GetItem", map[string]any{"TableName": table, "Key": key, "ConsistentRead": true}, &out); err != nil {
		return nil
	}
	return out.Item
}

// side calls dynalite directly; dynalite wants a signature header but
// does not check it.
func (m *ddbMeter) side(op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, m.target+"/", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", op, b)
	}
	return json.Unmarshal(b, out)
}

// get returns a table's key and indexes, from DescribeTable once.
func (t *tableInfos) get(m *ddbMeter, table string) *tableInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ti, ok := t.m[table]; ok {
		return ti
	}
	type keyElem struct{ AttributeName string }
	var out struct {
		Table struct {
			KeySchema              []keyElem
			GlobalSecondaryIndexes []struct {
				IndexName  string
				KeySchema  []keyElem
				Projection struct {
					ProjectionType   string
					NonKeyAttributes []string
				}
			}
		}
	}
	if err := m.side("DescribeTable", map[string]any{"TableName": table}, &out); err != nil {
		return nil
	}
	names := func(ks []keyElem) []string {
		var s []string
		for _, k := range ks {
			s = append(s, k.AttributeName)
		}
		return s
	}
	ti := &tableInfo{keys: names(out.Table.KeySchema)}
	for _, g := range out.Table.GlobalSecondaryIndexes {
		ti.indexes = append(ti.indexes, indexInfo{name: g.IndexName, keys: names(g.KeySchema),
			projection: g.Projection.ProjectionType, include: g.Projection.NonKeyAttributes})
	}
	if t.m == nil {
		t.m = map[string]*tableInfo{}
	}
	t.m[table] = ti
	return ti
}
