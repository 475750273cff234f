// Package s3export keeps full exports of bulk results in an S3 bucket and
// hands out presigned GET URLs to them: the API's ExportStore on Lambda,
// whose responses are capped at 6 MB. Objects are written once per key
// (the API's keys name a job's state) and expire by the bucket's
// lifecycle rule (infra/template.yaml).
package s3export

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Store is an export store in one bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
	ttl     time.Duration
	now     func() time.Time
}

// DefaultTTL is how long a presigned URL stays valid.
const DefaultTTL = 15 * time.Minute

// New returns a Store writing to bucket through c; URLs are valid for ttl
// (DefaultTTL when zero).
func New(c *s3.Client, bucket string, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Store{client: c, presign: s3.NewPresignClient(c), bucket: bucket, ttl: ttl, now: time.Now}
}

// Publish writes the object key with write, unless it exists already, and
// returns a presigned GET URL of it and its expiry. The export is spooled
// to a temporary file first (Lambda's /tmp), so that memory stays small
// whatever the job's size and S3 gets a seekable body of known length.
func (s *Store) Publish(ctx context.Context, key, contentType, filename string, write func(io.Writer) error) (string, time.Time, error) {
	exists, err := s.exists(ctx, key)
	if err != nil {
		return "", time.Time{}, err
	}
	if !exists {
		if err := s.put(ctx, key, contentType, filename, write); err != nil {
			return "", time.Time{}, err
		}
	}
	expires := s.now().Add(s.ttl)
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(s.ttl))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("s3export: presign %s: %w", key, err)
	}
	return req.URL, expires, nil
}

// exists reports whether key is stored.
func (s *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err == nil {
		return true, nil
	}
	var nf *types.NotFound
	var re interface{ HTTPStatusCode() int }
	var ae smithy.APIError
	switch {
	case errors.As(err, &nf), errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound,
		errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NoSuchKey"):
		return false, nil
	}
	return false, fmt.Errorf("s3export: head %s: %w", key, err)
}

// put spools the export to a temporary file and uploads it.
func (s *Store) put(ctx context.Context, key, contentType, filename string, write func(io.Writer) error) error {
	f, err := os.CreateTemp("", "mailprobe-export-*")
	if err != nil {
		return fmt.Errorf("s3export: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return fmt.Errorf("s3export: write %s: %w", key, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("s3export: spool %s: %w", key, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("s3export: spool %s: %w", key, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String(s.bucket),
		Key:                aws.String(key),
		Body:               f,
		ContentType:        aws.String(contentType),
		ContentDisposition: aws.String(`attachment; filename="` + filename + `"`),
	})
	if err != nil {
		return fmt.Errorf("s3export: put %s: %w", key, err)
	}
	return nil
}
