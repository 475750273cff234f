package s3export_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mailprobe/mailprobe/internal/s3export"
	"github.com/mailprobe/mailprobe/internal/testenv/awsemu"
)

func TestMain(m *testing.M) {
	code := m.Run()
	awsemu.Stop()
	os.Exit(code)
}

func bucket(t *testing.T) (*s3.Client, string) {
	t.Helper()
	c := awsemu.S3(t)
	name := strings.ToLower(awsemu.Name(t, "exports"))
	if len(name) > 63 {
		name = name[len(name)-63:]
	}
	name = strings.Trim(strings.ReplaceAll(name, "_", "-"), "-")
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return c, name
}

// TestPublish: against the s3rver emulator, an export is written once per
// key, and its presigned URL downloads it with a plain GET (no
// credentials), with the content type and file name it was stored with.
func TestPublish(t *testing.T) {
	c, b := bucket(t)
	st := s3export.New(c, b, time.Minute)
	writes := 0
	write := func(w io.Writer) error {
		writes++
		_, err := io.WriteString(w, strings.Repeat("input,is_reachable\n", 50000))
		return err
	}
	var urls []string
	for range 2 {
		u, exp, err := st.Publish(context.Background(), "exports/42/1200.csv", "text/csv; charset=utf-8", "mailprobe-job-42.csv", write)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Until(exp); d < 50*time.Second || d > time.Minute {
			t.Errorf("expires in %v, want a minute", d)
		}
		urls = append(urls, u)
	}
	if writes != 1 {
		t.Errorf("written %d times, want once per key", writes)
	}
	resp, err := http.Get(urls[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != 50000*len("input,is_reachable\n") ||
		resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="mailprobe-job-42.csv"` {
		t.Fatalf("GET presigned: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}
	if !strings.Contains(urls[1], "X-Amz-Signature=") {
		t.Errorf("url %s is not presigned", urls[1])
	}
}

func TestPublishWriteFailure(t *testing.T) {
	c, b := bucket(t)
	st := s3export.New(c, b, 0)
	boom := errors.New("store down")
	_, _, err := st.Publish(context.Background(), "exports/1/1.csv", "text/csv", "x.csv", func(io.Writer) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the writer's", err)
	}
	// Nothing half-written is left to be served later.
	_, err = c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("exports/1/1.csv")})
	if err == nil {
		t.Error("a failed export was stored")
	}
}
