package lambdalocal

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mailprobe/mailprobe/internal/testenv/esm"
	"github.com/mailprobe/mailprobe/internal/testenv/rie"
)

// errClosed is returned by acquire once the pool is shutting down.
var errClosed = errors.New("lambda-local is stopping")

// process is a running execution environment: aws-lambda-rie running the
// bootstrap (*rie.Process), or a test's stand-in.
type process interface {
	Endpoint() string // the invoke URL
	Done() <-chan struct{}
	Pid() int
	Runtimes() []int // the bootstrap's process ids, once noted
	NoteRuntimes()   // looks for the bootstrap, which starts with the first invocation
	Stop()
}

// starter starts an execution environment whose output goes to out.
type starter func(ctx context.Context, out *lineWriter) (process, error)

// instance is one execution environment. The emulator runs one invocation
// at a time, as an execution environment does, so concurrency means more
// instances.
type instance struct {
	name string // SqsWorkerFunction#2
	proc process
	out  *lineWriter
}

// runtimeScanDelay is how long after an invocation starts the instance
// looks for its bootstrap, which the emulator starts for the first one.
const runtimeScanDelay = 100 * time.Millisecond

// invoke runs one invocation. The first one of an instance also records
// the bootstrap's process, so that the bootstrap is stopped with the
// instance even if the emulator dies first.
func (in *instance) invoke(ctx context.Context, event []byte, timeout time.Duration, log *slog.Logger) rie.Result {
	if len(in.proc.Runtimes()) == 0 {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-time.After(runtimeScanDelay):
				in.proc.NoteRuntimes()
				if ids := in.proc.Runtimes(); len(ids) > 0 {
					log.Info("runtime started", "function", in.name, "runtime_pids", ids)
				}
			case <-stop:
			}
		}()
	}
	return rie.Invoke(ctx, in.proc.Endpoint(), event, timeout)
}

// alive reports whether the emulator is still running.
func (in *instance) alive() bool {
	select {
	case <-in.proc.Done():
		return false
	default:
		return true
	}
}

// pool holds the instances of one function, at most max of them busy at
// once. Instances start on demand (a cold start) and are reused while
// they stay healthy; one that timed out, crashed or died is replaced, as
// Lambda replaces an execution environment.
type pool struct {
	fn    string
	start starter
	logs  *sink
	log   *slog.Logger
	slots chan struct{} // one token per instance in use

	mu     sync.Mutex
	idle   []*instance
	live   map[*instance]bool
	seq    int
	closed bool
}

func newPool(fn string, max int, logs *sink, log *slog.Logger, start starter) *pool {
	return &pool{fn: fn, start: start, logs: logs, log: log, slots: make(chan struct{}, max), live: map[*instance]bool{}}
}

// warm starts n instances ahead of the first invocation.
func (p *pool) warm(ctx context.Context, n int) error {
	var got []*instance
	for range n {
		in, err := p.acquire(ctx)
		if err != nil {
			return err
		}
		got = append(got, in)
	}
	for _, in := range got {
		p.release(in, true)
	}
	return nil
}

// acquire waits for a free slot and returns an idle healthy instance, or
// starts one.
func (p *pool) acquire(ctx context.Context) (*instance, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		in := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if in.alive() {
			p.mu.Unlock()
			return in, nil
		}
		p.log.Warn("instance exited while idle; replacing it", "function", in.name)
		p.forget(in)
	}
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return nil, errClosed
	}
	p.seq++
	name := p.fn + "#" + strconv.Itoa(p.seq)
	p.mu.Unlock()

	out := p.logs.prefixed(name)
	proc, err := p.start(ctx, out)
	if err != nil {
		<-p.slots
		return nil, err
	}
	in := &instance{name: name, proc: proc, out: out}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		proc.Stop()
		<-p.slots
		return nil, errClosed
	}
	p.live[in] = true
	p.log.Info("instance started", "function", name, "pid", proc.Pid())
	return in, nil
}

// release returns an instance to the pool; an unhealthy one is stopped.
func (p *pool) release(in *instance, healthy bool) {
	defer func() { <-p.slots }()
	p.mu.Lock()
	defer p.mu.Unlock()
	if healthy && !p.closed && in.alive() {
		p.idle = append(p.idle, in)
		return
	}
	p.forget(in)
}

// forget stops an instance and drops it; p.mu is held.
func (p *pool) forget(in *instance) {
	delete(p.live, in)
	in.proc.Stop()
	in.out.Flush()
}

// close stops every instance, busy or idle.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for in := range p.live {
		p.forget(in)
	}
	p.idle = nil
}

// target is a function to invoke: its pool and its timeout. It is the
// esm.Function of the function's SQS events, and what the HTTP front calls.
type target struct {
	pool    *pool
	timeout time.Duration // the function's timeout
}

// Acquire leases an execution environment from the pool.
func (t target) Acquire(ctx context.Context) (esm.Instance, error) {
	in, err := t.pool.acquire(ctx)
	if err != nil {
		return nil, err
	}
	return lease{in: in, t: t}, nil
}

// call invokes the function once, on a free execution environment.
func (t target) call(ctx context.Context, event []byte) rie.Result {
	in, err := t.Acquire(ctx)
	if err != nil {
		return rie.Result{Outcome: rie.Crashed, Detail: err.Error()}
	}
	res := in.Invoke(ctx, event)
	in.Release(res.Healthy())
	return res
}

// lease is an execution environment taken from its pool for one
// invocation.
type lease struct {
	in *instance
	t  target
}

func (l lease) Name() string { return l.in.name }

func (l lease) Invoke(ctx context.Context, event []byte) rie.Result {
	return l.in.invoke(ctx, event, l.t.timeout, l.t.pool.log)
}

func (l lease) Release(healthy bool) { l.t.pool.release(l.in, healthy) }
