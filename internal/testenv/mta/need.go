package mta

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mailprobe/mailprobe/internal/testenv/prereq"
)

// Need skips the test, loudly, unless the named servers ("postfix",
// "postgrey", "exim", "opensmtpd") and the tools to run them (root,
// unshare) are available; with CI set to a true value it fails the test
// instead, since CI installs everything. The Start functions call it.
func Need(t testing.TB, servers ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root (the servers change user and bind loopback addresses)")
	}
	for _, tool := range []string{"unshare", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	for _, s := range servers {
		for _, p := range binaries(s) {
			if _, err := os.Stat(p); err != nil {
				missing = append(missing, fmt.Sprintf("%s (%s)", p, s))
			}
		}
	}
	if len(missing) == 0 {
		return
	}
	prereq.Missing(t, fmt.Sprintf("real-MTA test needs %s; run ./scripts/apt-deps.sh (make test does)", strings.Join(missing, ", ")))
}

// binaries lists the files a server needs.
func binaries(server string) []string {
	switch server {
	case "postfix":
		return []string{"/usr/sbin/postfix", "/usr/sbin/postmap", postfixMaster}
	case "postgrey":
		return []string{"/usr/sbin/postgrey"}
	case "exim":
		return []string{eximBinary()}
	case "opensmtpd":
		// The package would create the spool and chroot directories.
		return []string{opensmtpdBinary(), opensmtpdSpool, opensmtpdChroot}
	}
	return []string{"unknown server " + server}
}

// pkgRoot is where scripts/apt-deps.sh unpacks the packages that conflict
// with Postfix: .tools/pkgs/root under the module root.
var pkgRoot = sync.OnceValue(func() string {
	root, err := prereq.Root()
	if err != nil {
		return filepath.Join(".tools", "pkgs", "root")
	}
	return filepath.Join(root, ".tools", "pkgs", "root")
})

func eximBinary() string      { return filepath.Join(pkgRoot(), "usr", "sbin", "exim4") }
func opensmtpdBinary() string { return filepath.Join(pkgRoot(), "usr", "sbin", "smtpd") }
