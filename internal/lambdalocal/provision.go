package lambdalocal

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/mailprobe/mailprobe/internal/samtemplate"
)

// Region and account of everything lambda-local creates: the emulators'.
const (
	region    = "us-east-1"
	accountID = "000000000000"
)

// created is what lambda-local made of the template's resources.
type created struct {
	refs, attrs map[string]string            // what !Ref and !GetAtt give
	queues      map[string]samtemplate.Queue // by logical id, as created
	buckets     []string                     // logical ids of the buckets created
	secrets     map[string]string            // secret values by ARN and by name
	notes       []string                     // where the local stack differs from AWS
	undo        []func(ctx context.Context)  // deletes what was created, newest first
}

func (c *created) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}

// provisioner creates the template's queues and tables in the emulators,
// named as CloudFormation names them (stack-LogicalId-RANDOM).
type provisioner struct {
	d         *samtemplate.Deployment
	r         *samtemplate.Resolver // reads c.refs and c.attrs as they fill
	sqs       *sqs.Client
	ddb       *dynamodb.Client
	s3        *s3.Client
	stackName string
	// stable names what is created stack-LogicalId, without the random
	// part, and takes a table or bucket that exists under that name as it
	// is: a second run finds everything in place (ProvisionStable).
	stable     bool
	visibility time.Duration // --visibility-timeout; 0 keeps the template's
	log        *slog.Logger
	c          *created
}

// provision creates every resource that exists (its Condition holds) in
// template order, dead-letter queues before the queues that use them.
func (p *provisioner) provision(ctx context.Context) error {
	var notEmulated []string
	for _, res := range p.d.Resources() {
		ok, err := p.r.Exists(res)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		switch res.Type {
		case samtemplate.QueueType:
			err = p.queue(ctx, res.ID, map[string]bool{})
		case samtemplate.TableType:
			err = p.table(ctx, res.ID)
		case bucketType:
			err = p.bucket(ctx, res.ID)
		case secretType:
			err = p.secret(res.ID)
		case samtemplate.FunctionType:
			name := p.physical(res.ID, 64)
			p.c.refs[res.ID] = name
			p.c.attrs[res.ID+".Arn"] = "arn:aws:lambda:" + region + ":" + accountID + ":function:" + name
		case "AWS::Serverless::HttpApi":
			p.c.refs[res.ID] = strings.ToLower(randomSuffix(10))
			if cors, _ := p.r.Value(res.Property("CorsConfiguration")); cors != nil {
				p.c.note("%s: CorsConfiguration is not emulated: no CORS headers or preflight answers", res.ID)
			}
		default:
			p.c.refs[res.ID] = res.ID // a placeholder, as sam local gives
			notEmulated = append(notEmulated, res.ID+" ("+res.Type+")")
		}
		if err != nil {
			return err
		}
	}
	for _, a := range p.d.AttributesUsed() {
		if _, ok := p.c.attrs[a]; !ok {
			p.c.attrs[a] = a // an attribute of a resource that is not emulated
		}
	}
	if len(notEmulated) > 0 {
		p.c.note("not emulated: %s", strings.Join(notEmulated, ", "))
	}
	return nil
}

// physical returns a CloudFormation-style name (stack-LogicalId-RANDOM,
// or stack-LogicalId with stable names), at most limit characters.
func (p *provisioner) physical(id string, limit int) string {
	suffix := "-" + randomSuffix(12)
	if p.stable {
		suffix = ""
	}
	base := p.stackName + "-" + id
	if len(base)+len(suffix) > limit {
		base = base[:limit-len(suffix)]
	}
	return base + suffix
}

const suffixAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomSuffix(n int) string {
	b := make([]byte, n)
	for i := range b {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(suffixAlphabet)))) // crypto/rand does not fail on Linux
		b[i] = suffixAlphabet[k.Int64()]
	}
	return string(b)
}

// secs formats a duration as whole seconds, rounded up.
func secs(d time.Duration) string {
	return strconv.Itoa(int((d + time.Second - 1) / time.Second))
}
