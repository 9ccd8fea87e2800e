package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// mergeVal is the result of merging a pair: its rank (index in the merges
// list, lower merges first) and the id of the merged token.
type mergeVal struct {
	rank  int32
	newID int32
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// bpeModel is the Hugging Face BPE model.
type bpeModel struct {
	vocab        map[string]int32
	idToTok      map[int32]string
	merges       map[uint64]mergeVal
	unkID        int32 // -1 if no unk_token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix

	// byteID[b] is the id of the byte-level token for byte b (-1 if absent);
	// used when a piece is byte-level mapped and no prefix/suffix is set.
	byteID [256]int32
	// fallbackID[b] is the id of "<0xXX>" (-1 if absent).
	fallbackID [256]int32

	mu    sync.RWMutex
	cache map[string][]int32
}

const (
	cacheCapacity  = 10000 // Hugging Face DEFAULT_CACHE_CAPACITY
	cacheMaxLength = 256   // words this long or longer are not cached
)

// vocabR returns the vocabulary token with the given id.
func (m *bpeModel) vocabR(id int) (string, bool) {
	s, ok := m.idToTok[int32(id)]
	return s, ok
}

func (m *bpeModel) init() {
	for b := 0; b < 256; b++ {
		m.byteID[b] = -1
		if id, ok := m.vocab[byteToString[b]]; ok {
			m.byteID[b] = id
		}
		m.fallbackID[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackID[b] = id
		}
	}
	m.cache = make(map[string][]int32)
}

// symbol is one element of the doubly linked word being merged.
type symbol struct {
	id         int32
	prev, next int32
	removed    bool
}

// word collects the initial symbols of a piece (BPE::merge_word).
type word struct {
	syms []symbol
}

func (w *word) add(id int32) {
	n := int32(len(w.syms))
	if n > 0 {
		w.syms[n-1].next = n
	}
	w.syms = append(w.syms, symbol{id: id, prev: n - 1, next: -1})
}

// tokenize appends the ids of one pre-tokenized piece. raw is the piece
// text; when mapped, the model sees its byte-level form.
func (m *bpeModel) tokenize(dst []int, raw string, mapped bool) []int {
	if len(raw) == 0 {
		return dst
	}
	if m.ignoreMerges {
		logical := raw
		if mapped {
			logical = byteLevelString(raw)
		}
		if id, ok := m.vocab[logical]; ok {
			return append(dst, int(id))
		}
	}
	cacheable := len(raw) < cacheMaxLength
	if cacheable {
		m.mu.RLock()
		ids, ok := m.cache[raw]
		m.mu.RUnlock()
		if ok {
			for _, id := range ids {
				dst = append(dst, int(id))
			}
			return dst
		}
	}
	var w word
	w.syms = make([]symbol, 0, len(raw))
	if mapped && m.prefix == "" && m.suffix == "" {
		m.initBytes(&w, raw)
	} else {
		logical := raw
		if mapped {
			logical = byteLevelString(raw)
		}
		m.initChars(&w, logical)
	}
	m.mergeAll(&w)
	ids := make([]int32, 0, len(w.syms))
	for i := 0; i >= 0 && i < len(w.syms); i = int(w.syms[i].next) {
		if !w.syms[i].removed {
			ids = append(ids, w.syms[i].id)
		}
	}
	if cacheable {
		m.mu.Lock()
		if len(m.cache) < cacheCapacity {
			m.cache[raw] = ids
		}
		m.mu.Unlock()
	}
	for _, id := range ids {
		dst = append(dst, int(id))
	}
	return dst
}

// initBytes is initChars for a byte-level piece without prefix/suffix:
// each raw byte is one character of the logical string.
func (m *bpeModel) initBytes(w *word, raw string) {
	u := unkState{m: m}
	for i := 0; i < len(raw); i++ {
		if id := m.byteID[raw[i]]; id >= 0 {
			u.flush(w)
			w.add(id)
			continue
		}
		u.miss(w, byteToString[raw[i]], len(byteToString[raw[i]]))
	}
	u.flush(w)
}

// initChars splits the logical string into characters and looks each one
// up, adding continuing_subword_prefix to all but the first and
// end_of_word_suffix to the last (BPE::merge_word).
func (m *bpeModel) initChars(w *word, s string) {
	u := unkState{m: m}
	for i := 0; i < len(s); {
		_, n := utf8.DecodeRuneInString(s[i:])
		c := s[i : i+n]
		if i > 0 && m.prefix != "" {
			c = m.prefix + c
		}
		if i+n == len(s) && m.suffix != "" {
			c += m.suffix
		}
		if id, ok := m.vocab[c]; ok {
			u.flush(w)
			w.add(id)
		} else {
			u.miss(w, c, n)
		}
		i += n
	}
	u.flush(w)
}

// unkState tracks a pending unknown-token run for fuse_unk.
type unkState struct {
	m       *bpeModel
	pending bool
}

// miss handles a character c (byteLen bytes of input) missing from the
// vocabulary: byte fallback tokens if all of c's bytes have one, else the
// unk token (fused with a directly preceding unk when fuse_unk), else the
// character is dropped, as Hugging Face does.
func (u *unkState) miss(w *word, c string, byteLen int) {
	m := u.m
	if m.byteFallback {
		ok := true
		for i := 0; i < len(c); i++ {
			if m.fallbackID[c[i]] < 0 {
				ok = false
				break
			}
		}
		if ok {
			for i := 0; i < len(c); i++ {
				w.add(m.fallbackID[c[i]])
			}
			return
		}
	}
	if m.unkID < 0 {
		return
	}
	if u.pending && m.fuseUnk {
		return
	}
	u.flush(w)
	u.pending = true
}

func (u *unkState) flush(w *word) {
	if u.pending {
		w.add(u.m.unkID)
		u.pending = false
	}
}

// mergeItem is a candidate merge of the symbol at pos with its successor.
type mergeItem struct {
	rank, pos, newID int32
}

func (a mergeItem) less(b mergeItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// mergeHeap is a binary min-heap ordered by (rank, pos).
type mergeHeap []mergeItem

func (h *mergeHeap) push(it mergeItem) {
	*h = append(*h, it)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q[i].less(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *mergeHeap) pop() mergeItem {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, r, s := 2*i+1, 2*i+2, i
		if l < len(q) && q[l].less(q[s]) {
			s = l
		}
		if r < len(q) && q[r].less(q[s]) {
			s = r
		}
		if s == i {
			break
		}
		q[i], q[s] = q[s], q[i]
		i = s
	}
	*h = q
	return top
}

// mergeAll applies merges in rank order (Hugging Face Word::merge_all):
// repeatedly take the lowest (rank, position) candidate; skip it if its
// left symbol is gone, has no successor, or the current pair no longer
// merges into the recorded id; otherwise merge and queue the new pairs with
// the neighbours.
func (m *bpeModel) mergeAll(w *word) {
	syms := w.syms
	if len(syms) < 2 || len(m.merges) == 0 {
		return
	}
	h := make(mergeHeap, 0, len(syms))
	for i := 0; i+1 < len(syms); i++ {
		if mv, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h.push(mergeItem{mv.rank, int32(i), mv.newID})
		}
	}
	for len(h) > 0 {
		top := h.pop()
		cur := &syms[top.pos]
		if cur.removed || cur.next < 0 {
			continue
		}
		right := syms[cur.next]
		if mv, ok := m.merges[pairKey(cur.id, right.id)]; !ok || mv.newID != top.newID {
			continue
		}
		syms[cur.next].removed = true
		cur.id = top.newID
		cur.next = right.next
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mv, ok := m.merges[pairKey(syms[cur.prev].id, cur.id)]; ok {
				h.push(mergeItem{mv.rank, cur.prev, mv.newID})
			}
		}
		if cur.next >= 0 {
			if mv, ok := m.merges[pairKey(cur.id, syms[cur.next].id)]; ok {
				h.push(mergeItem{mv.rank, top.pos, mv.newID})
			}
		}
	}
}
