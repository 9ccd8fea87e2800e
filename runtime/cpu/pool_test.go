package cpu

import (
	"sync"
	"sync/atomic"
	"testing"
)

// countTask counts how often each chunk runs and which workers ran them.
type countTask struct {
	hits    []atomic.Int32
	workers [64]atomic.Int32
	nested  bool
}

func (t *countTask) run(w, chunk int) {
	t.hits[chunk].Add(1)
	t.workers[w].Add(1)
	if t.nested {
		inner := &countTask{hits: make([]atomic.Int32, 3)}
		parallel(inner, 3) // the pool is busy: runs on this goroutine
		for i := range inner.hits {
			if inner.hits[i].Load() != 1 {
				panic("nested chunk did not run once")
			}
		}
	}
}

// TestParallelRunsEveryChunkOnce dispatches jobs of many sizes, nested
// jobs, and jobs from several goroutines at once, and checks that every
// chunk runs exactly once and that worker indexes stay in range.
func TestParallelRunsEveryChunkOnce(t *testing.T) {
	check := func(t *testing.T, tk *countTask) {
		t.Helper()
		for i := range tk.hits {
			if n := tk.hits[i].Load(); n != 1 {
				t.Fatalf("chunk %d of %d ran %d times", i, len(tk.hits), n)
			}
		}
		total := int32(0)
		for w := range tk.workers {
			if w >= workers() && tk.workers[w].Load() != 0 {
				t.Fatalf("worker index %d out of range [0, %d)", w, workers())
			}
			total += tk.workers[w].Load()
		}
		if int(total) != len(tk.hits) {
			t.Fatalf("%d chunk runs counted by worker, want %d", total, len(tk.hits))
		}
	}
	for _, n := range []int{0, 1, 2, 3, 17, 1000, maxChunks + 5} {
		tk := &countTask{hits: make([]atomic.Int32, n)}
		parallel(tk, n)
		check(t, tk)
	}
	tk := &countTask{hits: make([]atomic.Int32, 8), nested: true}
	parallel(tk, 8)
	check(t, tk)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 200; rep++ {
				tk := &countTask{hits: make([]atomic.Int32, 1+rep%13)}
				parallel(tk, len(tk.hits))
				check(t, tk)
			}
		}()
	}
	wg.Wait()
}

// sumTask adds up its chunks' ranges, for the allocation test.
type sumTask struct {
	parts [64]int64
	n     int
}

func (t *sumTask) run(w, chunk int) {
	lo, hi := chunkRange(chunk, 7, t.n, 4)
	t.parts[w] += int64(hi - lo)
}

// TestParallelAllocs checks that dispatching a warm job allocates nothing.
func TestParallelAllocs(t *testing.T) {
	tk := &sumTask{n: 1000}
	parallel(tk, 7)
	if a := testing.AllocsPerRun(100, func() { parallel(tk, 7) }); a != 0 {
		t.Errorf("parallel allocates %v times per job", a)
	}
	total := int64(0)
	for _, p := range tk.parts {
		total += p
	}
	if total != 102*1000 {
		t.Errorf("chunks covered %d items over 102 jobs, want %d", total, 102*1000)
	}
}

// TestChunkRange checks that chunkRange splits n items into contiguous
// ranges with aligned boundaries that cover [0, n) exactly.
func TestChunkRange(t *testing.T) {
	for _, c := range []struct{ n, chunks, align int }{{0, 1, 1}, {10, 3, 1}, {10, 4, 4}, {1536, 12, 8}, {50280, 64, 4}, {5, 8, 1}} {
		next := 0
		for i := 0; i < c.chunks; i++ {
			lo, hi := chunkRange(i, c.chunks, c.n, c.align)
			if lo != next || hi < lo || (hi != c.n && hi%c.align != 0) {
				t.Fatalf("%+v: chunk %d is [%d, %d), want it to start at %d and end aligned", c, i, lo, hi, next)
			}
			next = hi
		}
		if next != c.n {
			t.Fatalf("%+v: chunks end at %d", c, next)
		}
	}
}
