package dynamo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/mailprobe/mailprobe/internal/store"
	"github.com/mailprobe/mailprobe/internal/store/storetest"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

// newStore creates a fresh table on dynalite and a store on it.
func newStore(t testing.TB, opts []Option, optFns ...func(*dynamodb.Options)) *Store {
	t.Helper()
	client := awsemu.DynamoDB(t, optFns...)
	table := awsemu.Name(t, "t")
	if err := CreateTable(context.Background(), client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return New(client, table, opts...)
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time, retention time.Duration) storetest.Store {
		return newStore(t, []Option{WithClock(now), WithRetention(retention)})
	})
}

// TestContractUnderFaults injects throttling and 5xx answers below the SDK's
// retryer — some before the request reaches dynalite, some after it has been
// applied (the ambiguous case) — and checks the counts stay exact.
func TestContractUnderFaults(t *testing.T) {
	storetest.RunExactness(t, func(t *testing.T, _ func() time.Time, _ time.Duration) storetest.Store {
		var faults atomic.Int64
		t.Cleanup(func() {
			if faults.Load() == 0 {
				t.Errorf("no fault was injected")
			}
			t.Logf("%d faults injected", faults.Load())
		})
		return newStore(t, nil, ClientOptions(10, 20*time.Millisecond), func(o *dynamodb.Options) {
			o.HTTPClient = &faultyHTTP{inner: o.HTTPClient, every: 5, faults: &faults}
		})
	})
}

// faultyHTTP fails every n-th request, rotating over three failure kinds.
type faultyHTTP struct {
	inner interface {
		Do(*http.Request) (*http.Response, error)
	}
	every  int64
	n      atomic.Int64
	faults *atomic.Int64
}

func (f *faultyHTTP) Do(req *http.Request) (*http.Response, error) {
	n := f.n.Add(1)
	if n%f.every != 0 {
		return f.inner.Do(req)
	}
	f.faults.Add(1)
	switch (n / f.every) % 3 {
	case 0:
		return awsError(req, http.StatusBadRequest, "ThrottlingException"), nil
	case 1:
		return awsError(req, http.StatusBadRequest, "ProvisionedThroughputExceededException"), nil
	default: // applied, but the answer is lost
		resp, err := f.inner.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return awsError(req, http.StatusInternalServerError, "InternalServerError"), nil
	}
}

func awsError(req *http.Request, status int, code string) *http.Response {
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#` + code + `","message":"injected by test"}`
	return &http.Response{
		StatusCode: status, Status: http.StatusText(status), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"injected"}},
		Body:          io.NopCloser(bytes.NewReader([]byte(body))),
		ContentLength: int64(len(body)), Request: req,
	}
}

func TestCreateTableTwice(t *testing.T) {
	client := awsemu.DynamoDB(t)
	table := awsemu.Name(t, "t")
	for i := range 2 {
		if err := CreateTable(context.Background(), client, table); err != nil {
			t.Fatalf("CreateTable #%d: %v", i+1, err)
		}
	}
}

func BenchmarkDeliver(b *testing.B) {
	storetest.BenchmarkDeliver(b, newStore(b, nil, ClientOptions(0, 0)))
}

// oneKeyAtATime answers each BatchGetItem for its first key only and hands
// the others back as unprocessed, as DynamoDB does under throttling.
type oneKeyAtATime struct {
	API
	calls atomic.Int64
}

func (o *oneKeyAtATime) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	o.calls.Add(1)
	first := map[string]types.KeysAndAttributes{}
	rest := map[string]types.KeysAndAttributes{}
	for table, ka := range in.RequestItems {
		one := ka
		one.Keys = ka.Keys[:1]
		first[table] = one
		if len(ka.Keys) > 1 {
			more := ka
			more.Keys = ka.Keys[1:]
			rest[table] = more
		}
	}
	out, err := o.API.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: first}, optFns...)
	if err != nil {
		return nil, err
	}
	out.UnprocessedKeys = rest
	return out, nil
}

// TestListResultsUnprocessedKeys: a page whose groups come back a few at a
// time (unprocessed keys) is still read whole, in order.
func TestListResultsUnprocessedKeys(t *testing.T) {
	ctx := context.Background()
	st := newStore(t, nil)
	api := &oneKeyAtATime{API: st.api}
	reader := New(api, st.table)
	if err := st.CreateJob(ctx, store.Job{ID: "j", Total: 3, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		rec := store.Record{JobID: "j", Index: i, Input: "a@b.c", Normalized: "a@b.c", IsReachable: store.Safe, Result: []byte(`{}`)}
		if _, _, err := st.PutResult(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := reader.ListResults(ctx, "j", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Index != 0 || recs[2].Index != 2 {
		t.Errorf("ListResults = %+v, want indices 0, 1, 2", recs)
	}
	if n := api.calls.Load(); n != 3 {
		t.Errorf("%d BatchGetItem calls, want 3 (one per group)", n)
	}
}
