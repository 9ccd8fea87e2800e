package cpu

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool: kernels split their work into chunks and parallel
// runs the chunks on a fixed set of goroutines, started once and reused
// for every op, so the decode hot path spawns nothing and allocates
// nothing.
//
// Protocol. One caller at a time dispatches (pool.mu, taken with
// TryLock: a caller that finds the pool busy — another Instance running
// on another goroutine — runs its chunks itself). The job's state is one
// atomic word
//
//	state = seq<<32 | count<<16 | next
//
// seq numbers the job, count is its number of chunks and next the first
// chunk nobody has claimed. Participants (the caller and the workers)
// claim chunk next by a compare-and-swap of the whole word, so a worker
// that wakes up late for a job that is over fails its CAS (seq moved on)
// and never touches the next job's task. The task pointer is read only
// after a successful claim, when the job cannot end before the claimed
// chunk is done; done counts finished chunks and the caller returns once
// done = count. Chunks are claimed dynamically: when the other tenant of
// a shared machine holds a core, the caller does the work instead of
// waiting for a worker that is not running.
//
// Idle workers spin on state for up to spinFor, then park on their wake
// channel; the dispatcher wakes parked workers after publishing a job.
// A caller whose last chunks are still running polls done briefly, then
// sleeps until the worker finishing the last chunk wakes it.

// task is work split into chunks. run computes chunk i; worker is the
// participant's index in [0, workers()), for per-participant buffers
// that the task itself owns (the caller is always 0).
type task interface {
	run(worker, chunk int)
}

// maxChunks bounds a job's chunk count (16 bits of the state word);
// parallel runs bigger jobs on the calling goroutine.
const maxChunks = 1<<16 - 1

// spinFor is how long an idle worker polls for the next job before
// parking: longer than the gap between two ops of a decode step, so a
// token's ops reach workers that are already running.
const spinFor = 2 * time.Millisecond

type workerPool struct {
	n     int        // participants: the caller plus n-1 workers
	mu    sync.Mutex // held by the dispatching caller
	seq   uint32     // the last job's seq (under mu)
	state atomic.Uint64
	done  atomic.Int64
	t     task // the current job's task: written under mu before state
	// waiting is set by a caller that sleeps on finished until the last
	// chunk is done.
	waiting  atomic.Bool
	finished chan struct{}
	// parked[w] is set by worker w before it sleeps on wake[w].
	parked []atomic.Bool
	wake   []chan struct{}
}

var (
	poolOnce sync.Once
	pool     *workerPool
)

// thePool starts the pool on first use, sized to GOMAXPROCS then.
func thePool() *workerPool {
	poolOnce.Do(func() {
		n := min(runtime.GOMAXPROCS(0), 64)
		p := &workerPool{n: n, parked: make([]atomic.Bool, n), wake: make([]chan struct{}, n), finished: make(chan struct{}, 1)}
		for w := 1; w < n; w++ {
			p.wake[w] = make(chan struct{}, 1)
			go p.loop(w)
		}
		pool = p
	})
	return pool
}

// workers is the number of participants a job may have: the size of the
// per-participant buffers a task needs.
func workers() int { return thePool().n }

// parallel runs t's chunks 0..chunks-1, on the pool's workers and the
// calling goroutine, and returns when all are done. It allocates
// nothing. With one chunk, a one-participant pool, more than maxChunks
// chunks, or the pool busy with another caller, the caller runs every
// chunk itself, in order, as worker 0.
func parallel(t task, chunks int) {
	p := thePool()
	if chunks <= 1 || p.n <= 1 || chunks > maxChunks || !p.mu.TryLock() {
		for i := 0; i < chunks; i++ {
			t.run(0, i)
		}
		return
	}
	p.seq++
	p.t = t
	p.done.Store(0)
	s := uint64(p.seq)<<32 | uint64(chunks)<<16
	p.state.Store(s)
	for w := 1; w < p.n; w++ {
		if p.parked[w].CompareAndSwap(true, false) {
			p.wake[w] <- struct{}{}
		}
	}
	p.help(0, s)
	p.await(int64(chunks))
	p.t = nil
	p.mu.Unlock()
}

// awaitSpins is how many times the caller polls for the workers' last
// chunks before it sleeps: a worker descheduled by the OS in the middle
// of a chunk (another tenant of a shared machine) then gets the core.
const awaitSpins = 1 << 14

// await returns once count chunks are done.
func (p *workerPool) await(count int64) {
	for spin := 0; spin < awaitSpins; spin++ {
		if p.done.Load() == count {
			return
		}
	}
	p.waiting.Store(true)
	if p.done.Load() == count && p.waiting.CompareAndSwap(true, false) {
		return
	}
	<-p.finished // the worker that finished the last chunk cleared waiting and sent
}

// help claims and runs chunks of the job whose state word was s until
// none is left or the job is over.
func (p *workerPool) help(w int, s uint64) {
	seq := s >> 32
	for {
		count, next := s>>16&0xffff, s&0xffff
		if next >= count {
			return
		}
		if p.state.CompareAndSwap(s, s+1) {
			p.t.run(w, int(next))
			if p.done.Add(1) == int64(count) && p.waiting.CompareAndSwap(true, false) {
				p.finished <- struct{}{}
			}
		}
		s = p.state.Load()
		if s>>32 != seq {
			return
		}
	}
}

// loop is worker w: wait for a job newer than the last one seen, help
// with it, repeat.
func (p *workerPool) loop(w int) {
	last := uint64(0)
	for {
		s := p.next(w, last)
		last = s >> 32
		p.help(w, s)
	}
}

// next returns the state word once its seq differs from last: polling
// for spinFor, then sleeping until the dispatcher wakes the worker.
func (p *workerPool) next(w int, last uint64) uint64 {
	start := time.Now()
	for spin := 1; ; spin++ {
		if s := p.state.Load(); s>>32 != last {
			return s
		}
		if spin&1023 != 0 {
			continue
		}
		if time.Since(start) < spinFor {
			runtime.Gosched()
			continue
		}
		p.parked[w].Store(true)
		if s := p.state.Load(); s>>32 != last {
			if !p.parked[w].CompareAndSwap(true, false) {
				<-p.wake[w] // the dispatcher cleared the flag and sent a token
			}
			return s
		}
		<-p.wake[w]
		start = time.Now()
	}
}

// freeList keeps tasks of one type for reuse, so that dispatching a job
// allocates nothing once warm; each concurrent caller gets its own task.
type freeList[T any] struct {
	mu   sync.Mutex
	free []*T
}

// get returns a task from the list, or a new one.
func (l *freeList[T]) get() *T {
	l.mu.Lock()
	if n := len(l.free); n > 0 {
		t := l.free[n-1]
		l.free = l.free[:n-1]
		l.mu.Unlock()
		return t
	}
	l.mu.Unlock()
	return new(T)
}

// put returns t to the list.
func (l *freeList[T]) put(t *T) {
	l.mu.Lock()
	l.free = append(l.free, t)
	l.mu.Unlock()
}

// chunkRange is the half-open range of items chunk i of chunks covers when
// n items are split as evenly as possible, each boundary a multiple of
// align (the last chunk takes the remainder).
func chunkRange(i, chunks, n, align int) (lo, hi int) {
	blocks := (n + align - 1) / align
	lo = blocks * i / chunks * align
	hi = blocks * (i + 1) / chunks * align
	return min(lo, n), min(hi, n)
}

// chunksFor picks a chunk count for n items of the given cost each (any
// unit, grain of it per chunk at least), at most maxPer chunks per
// participant, never more than n/align.
func chunksFor(n, align int, cost, grain float64, maxPer int) int {
	c := int(float64(n) * cost / grain)
	c = min(c, workers()*maxPer, (n+align-1)/align)
	return max(c, 1)
}
