package tokenizer

import (
	"errors"
	"hash/maphash"
	"math"
	"math/bits"
	"sync"
)

// noRank marks "no token": a pair that cannot merge, or a missing lookup.
const noRank = math.MaxUint32

// bpeTable holds the mergeable ranks of a BPE encoding in pointer-free slices,
// so the garbage collector never has to scan them (a map[string]int of 200k
// tokens is ~300k heap objects that every GC cycle must mark).
//
// Token i is arena[offs[i]:offs[i+1]] and has rank ranks[i]. slots is an
// open-addressing hash table with linear probing: 0 is an empty slot, any other
// value is a token index + 1. It is never written after newBPETable returns, so
// any number of goroutines may read it.
type bpeTable struct {
	arena []byte   // the bytes of all tokens, back to back
	offs  []uint32 // len = tokens+1
	ranks []uint32 // len = tokens
	slots []uint32 // len = a power of two ≥ 2×tokens
	mask  uint64   // len(slots)-1
	seed  maphash.Seed
}

// newBPETable copies ranks (token bytes → rank) into a bpeTable. The map is
// not retained.
func newBPETable(ranks map[string]int) (*bpeTable, error) {
	n := len(ranks)
	if n == 0 {
		return nil, errors.New("tokenizer: empty BPE ranks")
	}
	if n > 1<<30 {
		return nil, errors.New("tokenizer: too many BPE ranks")
	}
	size := 0
	for tok, r := range ranks {
		if r < 0 || r >= math.MaxInt32 {
			return nil, errors.New("tokenizer: BPE rank out of range")
		}
		size += len(tok)
	}
	if size > math.MaxUint32 {
		return nil, errors.New("tokenizer: BPE tokens too large")
	}
	nslots := 1 << bits.Len(uint(2*n-1)) // the smallest power of two ≥ 2n: load ≤ 1/2
	t := &bpeTable{
		arena: make([]byte, 0, size),
		offs:  make([]uint32, 1, n+1),
		ranks: make([]uint32, 0, n),
		slots: make([]uint32, nslots),
		mask:  uint64(nslots - 1),
		seed:  maphash.MakeSeed(),
	}
	for tok, r := range ranks {
		idx := uint32(len(t.ranks))
		t.arena = append(t.arena, tok...)
		t.offs = append(t.offs, uint32(len(t.arena)))
		t.ranks = append(t.ranks, uint32(r))
		i := maphash.String(t.seed, tok) & t.mask
		for t.slots[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.slots[i] = idx + 1
	}
	return t, nil
}

// lookup returns the rank of the token whose bytes are piece. It does not
// allocate.
func (t *bpeTable) lookup(piece string) (rank uint32, ok bool) {
	for i := maphash.String(t.seed, piece) & t.mask; ; i = (i + 1) & t.mask {
		s := t.slots[i]
		if s == 0 {
			return noRank, false
		}
		if string(t.arena[t.offs[s-1]:t.offs[s]]) == piece { // compiled without a copy
			return t.ranks[s-1], true
		}
	}
}

// rank is lookup with noRank for a missing token.
func (t *bpeTable) rank(piece string) uint32 {
	r, _ := t.lookup(piece)
	return r
}

// linearMax is the longest piece merged by the quadratic scan of mergeLinear
// (on a stack buffer); longer pieces go through mergeHeap, which gives the same
// result in O(n log n) so that a long run of letters cannot stall a request.
const linearMax = 128

// countPiece returns the number of tokens of one pre-tokenized piece, exactly
// as tiktoken-go's encodeOrdinaryNative + bytePairEncode would produce.
func (t *bpeTable) countPiece(piece string) int {
	if _, ok := t.lookup(piece); ok {
		return 1
	}
	if len(piece) <= 1 { // every single byte is a token; "" has none
		return len(piece)
	}
	if len(piece) <= linearMax {
		var buf [linearMax + 1]part
		return t.mergeLinear(piece, buf[:len(piece)+1])
	}
	return t.mergeHeap(piece)
}

// part is a boundary of the merge: the start of a part, and the rank of merging
// it with the next part (noRank if that is no token).
type part struct {
	start uint32
	rank  uint32
}

// mergeLinear is tiktoken-go's bytePairMerge (bpe.go) step for step, counting
// the parts instead of building them. parts must have len(piece)+1 elements; it
// is overwritten.
func (t *bpeTable) mergeLinear(piece string, parts []part) int {
	for i := range parts {
		parts[i] = part{start: uint32(i), rank: noRank}
	}
	for i := 0; i < len(parts)-2; i++ {
		parts[i].rank = t.rank(piece[i : i+2])
	}
	for len(parts) > 1 {
		minRank, minIdx := uint32(noRank), -1
		for i := 0; i < len(parts)-1; i++ {
			if parts[i].rank < minRank { // strict: the leftmost of equal ranks wins
				minRank, minIdx = parts[i].rank, i
			}
		}
		if minRank == noRank {
			break
		}
		i := minIdx
		// Merge parts i and i+1: the new part i ends where part i+2 ends.
		parts[i].rank = noRank
		if i+3 < len(parts) {
			parts[i].rank = t.rank(piece[parts[i].start:parts[i+3].start])
		}
		if i > 0 {
			parts[i-1].rank = t.rank(piece[parts[i-1].start:parts[i+2].start])
		}
		copy(parts[i+1:], parts[i+2:])
		parts = parts[:len(parts)-1]
	}
	return len(parts) - 1
}

// mergeScratch holds the buffers of mergeHeap; all are pointer-free.
type mergeScratch struct {
	next, prev, rank []uint32
	heap             []uint64
}

var scratchPool = sync.Pool{New: func() any { return new(mergeScratch) }}

// maxPooledPiece bounds the buffers kept in scratchPool (≈ 36 bytes per byte of
// piece), so one huge input does not pin memory.
const maxPooledPiece = 1 << 16

func grow32(s []uint32, n int) []uint32 {
	if cap(s) < n {
		return make([]uint32, n)
	}
	return s[:n]
}

// mergeHeap gives the same result as mergeLinear with a linked list of parts
// and a min-heap of (rank, start) pairs. mergeLinear merges, at each step, the
// pair of lowest rank, the leftmost one among equals; the heap orders its
// entries by exactly that key. Entries left stale by an update are skipped
// when popped: an entry is current iff its rank is the part's current rank
// (removed parts have noRank, which is never pushed).
func (t *bpeTable) mergeHeap(piece string) int {
	n := len(piece)
	s := scratchPool.Get().(*mergeScratch)
	next := grow32(s.next, n)
	prev := grow32(s.prev, n)
	rank := grow32(s.rank, n)
	h := s.heap[:0]
	for i := 0; i < n; i++ {
		next[i] = uint32(i + 1)
		prev[i] = uint32(i - 1) // wraps to MaxUint32 for i == 0: no previous part
		rank[i] = noRank
		if i+2 <= n {
			if r, ok := t.lookup(piece[i : i+2]); ok {
				rank[i] = r
				h = append(h, uint64(r)<<32|uint64(i))
			}
		}
	}
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
	count := n
	for len(h) > 0 {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		if last > 0 {
			siftDown(h, 0)
		}
		r, i := uint32(top>>32), uint32(top)
		if rank[i] != r {
			continue // stale
		}
		// Merge part i with the next part j.
		j := next[i]
		k := next[j] // may be n: the end
		next[i] = k
		if int(k) < n {
			prev[k] = i
		}
		rank[j] = noRank
		count--
		rank[i] = noRank
		if int(k) < n {
			if r, ok := t.lookup(piece[i:next[k]]); ok {
				rank[i] = r
				h = pushHeap(h, uint64(r)<<32|uint64(i))
			}
		}
		if p := prev[i]; p != math.MaxUint32 {
			rank[p] = noRank
			if r, ok := t.lookup(piece[p:k]); ok {
				rank[p] = r
				h = pushHeap(h, uint64(r)<<32|uint64(p))
			}
		}
	}
	if n <= maxPooledPiece {
		s.next, s.prev, s.rank, s.heap = next, prev, rank, h
		scratchPool.Put(s)
	}
	return count
}

func pushHeap(h []uint64, v uint64) []uint64 {
	h = append(h, v)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= v {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = v
	return h
}

func siftDown(h []uint64, i int) {
	v := h[i]
	for {
		c := 2*i + 1
		if c >= len(h) {
			break
		}
		if c+1 < len(h) && h[c+1] < h[c] {
			c++
		}
		if v <= h[c] {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = v
}
