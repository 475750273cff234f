package lambdalocal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bucketType is the resource type of an S3 bucket.
const bucketType = "AWS::S3::Bucket"

// bucket creates bucket id in the S3 emulator. Its other properties
// (encryption, public access block, lifecycle rules) have no local effect.
func (p *provisioner) bucket(ctx context.Context, id string) error {
	res, _ := p.d.Resource(id)
	name := ""
	if n := res.Property("BucketName"); n != nil {
		v, err := p.r.String(n)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", id, err)
		}
		name = v
	}
	if name == "" {
		// CloudFormation's generated bucket names are lower case.
		name = strings.ToLower(p.physical(id, 63))
	}
	_, err := p.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	var owned *s3types.BucketAlreadyOwnedByYou
	var taken *s3types.BucketAlreadyExists
	existed := p.stable && (errors.As(err, &owned) || errors.As(err, &taken))
	if err != nil && !existed {
		return fmt.Errorf("create bucket %s: %w", id, err)
	}
	if !existed {
		p.c.undo = append(p.c.undo, func(ctx context.Context) { emptyAndDelete(ctx, p.s3, name) })
	}
	var ignored []string
	for _, prop := range res.PropertyNames() {
		if prop != "BucketName" {
			ignored = append(ignored, prop)
		}
	}
	if len(ignored) > 0 {
		p.c.note("%s: %s have no local effect (the S3 emulator keeps objects until lambda-local stops)", id, strings.Join(ignored, ", "))
	}
	p.c.refs[id] = name
	p.c.attrs[id+".Arn"] = "arn:aws:s3:::" + name
	p.c.attrs[id+".DomainName"] = name + ".s3.amazonaws.com"
	p.c.attrs[id+".RegionalDomainName"] = name + ".s3." + region + ".amazonaws.com"
	p.c.buckets = append(p.c.buckets, id)
	p.log.Info("bucket created", "resource", id, "name", name)
	return nil
}

// emptyAndDelete removes a bucket lambda-local created in shared
// emulators, objects first, as S3 requires; best effort at shutdown.
func emptyAndDelete(ctx context.Context, c *s3.Client, name string) {
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
		}
	}
	_, _ = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)})
}
