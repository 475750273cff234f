package smtpstep

import (
	"testing"

	"github.com/mailprobe/mailprobe/engine/smtpprobe"
)

func TestReacherDescription(t *testing.T) {
	for d, want := range map[string]string{
		smtpprobe.DescIPBlacklisted: "IpBlacklisted", smtpprobe.DescNeedsRDNS: "NeedsRDNS", "Whatever": "", "": "",
	} {
		if got := reacherDescription(d); got != want {
			t.Errorf("reacherDescription(%q) = %q, want %q", d, got, want)
		}
	}
}
