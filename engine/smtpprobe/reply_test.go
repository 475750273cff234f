package smtpprobe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	lines := func(n int, last string) string {
		var b strings.Builder
		for range n {
			b.WriteString("250-x\r\n")
		}
		return b.String() + last
	}
	tests := []struct {
		name    string
		in      string
		want    *Reply
		wantErr error  // a sentinel, or nil
		reason  string // a *ProtocolError's Reason, or ""
	}{
		{name: "single", in: "250 OK\r\n", want: &Reply{Code: 250, Lines: []string{"OK"}}},
		{name: "enhanced", in: "250 2.1.5 Ok\r\n", want: &Reply{Code: 250, Enhanced: EnhancedCode{2, 1, 5}, Lines: []string{"Ok"}}},
		{name: "three-digit detail", in: "550 5.7.606 Access denied\r\n",
			want: &Reply{Code: 550, Enhanced: EnhancedCode{5, 7, 606}, Lines: []string{"Access denied"}}},
		{name: "multi-line gmail", in: "550-5.1.1 The email account that you tried to reach does not exist.\r\n" +
			"550-5.1.1 Please try double-checking.\r\n550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp\r\n",
			want: &Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{
				"The email account that you tried to reach does not exist.", "Please try double-checking.",
				"https://support.google.com/mail/?p=NoSuchUser - gsmtp"}}},
		{name: "ehlo", in: "250-mx.test\r\n250-PIPELINING\r\n250 SIZE 1000\r\n",
			want: &Reply{Code: 250, Lines: []string{"mx.test", "PIPELINING", "SIZE 1000"}}},
		{name: "code only", in: "250\r\n", want: &Reply{Code: 250, Lines: []string{""}}},
		{name: "empty continuation", in: "220-\r\n220 ready\r\n", want: &Reply{Code: 220, Lines: []string{"", "ready"}}},
		{name: "bare LF", in: "220 ready\n", want: &Reply{Code: 220, Lines: []string{"ready"}}},
		{name: "enhanced code alone", in: "550 5.1.1\r\n", want: &Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{""}}},
		{name: "enhanced class disagrees", in: "250 5.1.1 odd\r\n", want: &Reply{Code: 250, Lines: []string{"5.1.1 odd"}}},
		{name: "enhanced detail too long", in: "550 5.1.1000 x\r\n", want: &Reply{Code: 550, Lines: []string{"5.1.1000 x"}}},
		{name: "IP is not a code", in: "554 5.1.2.3 x\r\n", want: &Reply{Code: 554, Lines: []string{"5.1.2.3 x"}}},
		{name: "other code on later line kept", in: "550-5.1.1 a\r\n550 5.7.1 b\r\n",
			want: &Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{"a", "5.7.1 b"}}},
		{name: "longest line", in: "250 " + strings.Repeat("a", DefaultMaxLineLength-4) + "\r\n",
			want: &Reply{Code: 250, Lines: []string{strings.Repeat("a", DefaultMaxLineLength-4)}}},
		{name: "100 lines", in: lines(99, "250 x\r\n"), want: &Reply{Code: 250, Lines: strings.Split(strings.Repeat("x", 100), "")}},
		{name: "letters for code", in: "abc OK\r\n", reason: "bad reply code"},
		{name: "1xx", in: "199 hello\r\n", reason: "bad reply code"},
		{name: "6xx", in: "600 hello\r\n", reason: "bad reply code"},
		{name: "second digit 6", in: "260 hello\r\n", reason: "bad reply code"},
		{name: "short", in: "25\r\n", reason: "short reply line"},
		{name: "missing space", in: "250OK\r\n", reason: "missing separator after reply code"},
		{name: "mixed codes", in: "250-a\r\n251 b\r\n", reason: "mixed reply codes"},
		{name: "overlong", in: "250 " + strings.Repeat("a", DefaultMaxLineLength) + "\r\n", reason: "reply line too long"},
		{name: "101 lines", in: lines(100, "250 x\r\n"), reason: "too many reply lines"},
		{name: "empty stream", in: "", wantErr: io.EOF},
		{name: "EOF inside reply", in: "250-a\r\n", wantErr: io.ErrUnexpectedEOF},
		{name: "EOF inside line", in: "250 a", wantErr: io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		// A 16-byte buffer exercises the path that joins fragments of
		// lines longer than the bufio buffer.
		for _, size := range []int{16, 4096} {
			t.Run(tt.name+"/buf"+strconv.Itoa(size), func(t *testing.T) {
				got, err := ReadReply(bufio.NewReaderSize(strings.NewReader(tt.in), size))
				var perr *ProtocolError
				switch {
				case tt.reason != "":
					if !errors.As(err, &perr) || perr.Reason != tt.reason {
						t.Fatalf("ReadReply() error = %v, want ProtocolError %q", err, tt.reason)
					}
				case tt.wantErr != nil:
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("ReadReply() error = %v, want %v", err, tt.wantErr)
					}
				case err != nil:
					t.Fatalf("ReadReply() error = %v", err)
				case !reflect.DeepEqual(got, tt.want):
					t.Errorf("ReadReply() = %+v, want %+v", got, tt.want)
				}
			})
		}
	}
}

func TestReplyMethods(t *testing.T) {
	r := &Reply{Code: 550, Enhanced: EnhancedCode{5, 1, 1}, Lines: []string{"no such", "user"}}
	if got, want := r.Error(), "smtp reply 550 5.1.1 no such user"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := r.Message(), "no such user"; got != want {
		t.Errorf("Message() = %q, want %q", got, want)
	}
	if got := (EnhancedCode{}).String(); got != "" {
		t.Errorf("zero EnhancedCode.String() = %q, want empty", got)
	}
	tests := []struct {
		code                           int
		positive, temporary, permanent bool
	}{
		{250, true, false, false}, {354, false, false, false}, {450, false, true, false}, {554, false, false, true},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			r := &Reply{Code: tt.code}
			if r.Positive() != tt.positive || r.Temporary() != tt.temporary || r.Permanent() != tt.permanent {
				t.Errorf("Positive, Temporary, Permanent = %v, %v, %v; want %v, %v, %v",
					r.Positive(), r.Temporary(), r.Permanent(), tt.positive, tt.temporary, tt.permanent)
			}
		})
	}
}

// format writes r back in wire form, repeating the enhanced code on every
// line as RFC 2034 §4 has it.
func format(r *Reply) string {
	var b strings.Builder
	for i, l := range r.Lines {
		b.WriteString(strconv.Itoa(r.Code))
		if i < len(r.Lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if !r.Enhanced.IsZero() {
			b.WriteString(r.Enhanced.String() + " ")
		}
		b.WriteString(l + "\r\n")
	}
	return b.String()
}

// Bounds of FuzzReadReply. The fuzzer minimizes every input that reaches
// new coverage, and its byte minimizer tries O(n²) candidates; hit counts
// of a loop are bucketed coverage, so each further bufio buffer's worth of
// a line used to count as new coverage. With a 64-byte reader and no cap
// on the input, the workers spent most of a 10 s run minimizing
// 0.5-2 KB inputs ("execs: N (0/sec)"). Inputs are therefore capped, and
// the fragment-joining and overlong-line paths are reached with a 16-byte
// reader and a 64-byte line limit instead of kilobytes of input; the
// default limits keep their unit tests in TestReadReply.
const (
	maxFuzzInput = 256
	fuzzMaxLine  = 64
)

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 OK\r\n", "250-mx.test\r\n250 PIPELINING\r\n", "550-5.1.1 a\r\n550 5.1.1 b\r\n",
		"550 5.7.606 x\r\n", "250\r\n", "220 ready\n", "250-a\r\n251 b\r\n", "250OK\r\n", "550 5.1.1\r\n",
		"250 " + strings.Repeat("a", fuzzMaxLine) + "\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			return
		}
		// Fragments of 16 bytes, with a line limit the fuzzer can reach.
		small, serr := readReply(bufio.NewReaderSize(bytes.NewReader(data), 16), fuzzMaxLine)
		checkFuzzReply(t, small, serr)
		// The default limits must agree wherever no line exceeded the
		// small one: same reply, or the same failure.
		r, err := ReadReply(bufio.NewReader(bytes.NewReader(data)))
		checkFuzzReply(t, r, err)
		var perr *ProtocolError
		if errors.As(serr, &perr) && perr.Reason == "reply line too long" {
			return
		}
		if !reflect.DeepEqual(r, small) || !sameError(err, serr) {
			t.Fatalf("ReadReply() = %+v, %v; with 64-byte lines %+v, %v", r, err, small, serr)
		}
	})
}

// checkFuzzReply checks the invariants of one readReply result.
func checkFuzzReply(t *testing.T, r *Reply, err error) {
	t.Helper()
	if err != nil {
		if r != nil {
			t.Fatalf("readReply() = %+v with error %v", r, err)
		}
		return
	}
	if r.Code < 200 || r.Code > 559 || len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
		t.Fatalf("readReply() = %+v: out of bounds", r)
	}
	if e := r.Enhanced; !e.IsZero() && e.Class != r.Code/100 {
		t.Fatalf("enhanced code %v disagrees with %d", e, r.Code)
	}
	// What was parsed must parse again to the same thing.
	again, err := readReply(bufio.NewReader(strings.NewReader(format(r))), 1<<16)
	if err != nil || !reflect.DeepEqual(again, r) {
		t.Fatalf("round trip of %+v: got %+v, %v", r, again, err)
	}
}

// sameError reports whether a and b are the same outcome: both nil, the
// same sentinel, or protocol errors with the same reason.
func sameError(a, b error) bool {
	var pa, pb *ProtocolError
	if errors.As(a, &pa) || errors.As(b, &pb) {
		return errors.As(a, &pa) && errors.As(b, &pb) && pa.Reason == pb.Reason
	}
	return errors.Is(a, b)
}
