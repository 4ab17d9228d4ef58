package guardrails

import "strings"

// acMatcher finds many literals in one pass: an Aho-Corasick automaton
// compiled to a dense DFA over byte classes (only bytes that occur in a pattern
// get their own class, so the table stays small). The text is matched as if
// folded: ASCII lowercased and every run of ASCII whitespace collapsed to one
// space, so "Ignore\n  previous" meets the pattern "ignore previous" without a
// normalized copy being made. Offsets of matches are offsets in the original
// text; startOf maps a match end back to its start.
//
// The scan loop does one table load per byte: a transition holds the next
// state premultiplied by the number of classes, negated (minus one) when that
// state recognises a pattern; whitespace collapsing is built into the table.
type acMatcher struct {
	cls    [256]int32 // byte -> class of its folded form
	nclass int
	delta  []int32   // state*nclass + class -> encoded next state
	out    [][]int32 // state -> pattern ids, including those of its suffixes
}

// acHit is a pattern id and the end offset (exclusive) of its match.
type acHit struct {
	pat int32
	end int
}

// foldByte is the fold applied to text and patterns alike.
func foldByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + 'a' - 'A'
	case c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r':
		return ' '
	}
	return c
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// normalizeLiteral trims a literal and collapses its inner whitespace; with
// fold it also lowercases ASCII. Patterns must be normalized this way.
func normalizeLiteral(s string, fold bool) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isSpaceByte(c) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if fold {
			c = foldByte(c)
		}
		b.WriteByte(c)
	}
	return b.String()
}

func newACMatcher(pats []string) *acMatcher {
	m := &acMatcher{}
	var class [256]uint16
	n := 1 // class 0: bytes that occur in no pattern
	for _, p := range pats {
		for i := 0; i < len(p); i++ {
			if class[p[i]] == 0 {
				class[p[i]] = uint16(n)
				n++
			}
		}
	}
	m.nclass = n
	for b := 0; b < 256; b++ {
		m.cls[b] = int32(class[foldByte(byte(b))])
	}
	trie, outs := buildTrie(pats, class[:], n)
	linkFailures(trie, outs, n)
	collapseSpaces(trie, class[' '])
	m.delta = make([]int32, 0, len(trie)*n)
	for _, row := range trie {
		for _, next := range row {
			enc := next * int32(n)
			if len(outs[next]) > 0 {
				enc = -enc - 1
			}
			m.delta = append(m.delta, enc)
		}
	}
	m.out = outs
	return m
}

// collapseSpaces makes a second space a no-op: a state entered by a space
// loops on further spaces. This equals skipping them because patterns are
// trimmed and hold no double spaces, so such a state recognises nothing and
// a space after it otherwise leads back to the root.
func collapseSpaces(trie [][]int32, space uint16) {
	if space == 0 {
		return // no pattern has a space: spaces lead to the root anyway
	}
	for _, row := range trie {
		if next := row[space]; next != 0 {
			trie[next][space] = next
		}
	}
}

// buildTrie makes the goto function; 0 (the root) doubles as "no edge" since
// no edge leads back to the root.
func buildTrie(pats []string, class []uint16, n int) ([][]int32, [][]int32) {
	trie := [][]int32{make([]int32, n)}
	outs := [][]int32{nil}
	for id, p := range pats {
		st := int32(0)
		for i := 0; i < len(p); i++ {
			c := class[p[i]]
			if trie[st][c] == 0 {
				trie = append(trie, make([]int32, n))
				outs = append(outs, nil)
				trie[st][c] = int32(len(trie) - 1)
			}
			st = trie[st][c]
		}
		outs[st] = append(outs[st], int32(id))
	}
	return trie, outs
}

// linkFailures turns the trie into a DFA breadth first: a missing edge copies
// the edge of the failure state, and each state inherits the outputs of its
// failure state (already complete, being shallower).
func linkFailures(trie [][]int32, outs [][]int32, n int) {
	fail := make([]int32, len(trie))
	var queue []int32
	for c := 0; c < n; c++ {
		if s := trie[0][c]; s != 0 {
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		if f := outs[fail[st]]; len(f) > 0 {
			outs[st] = append(append([]int32(nil), outs[st]...), f...)
		}
		for c := 0; c < n; c++ {
			next := trie[st][c]
			if next == 0 {
				trie[st][c] = trie[fail[st]][c]
				continue
			}
			fail[next] = trie[fail[st]][c]
			queue = append(queue, next)
		}
	}
}

// scan appends every match in s to hits. Allocation-free when hits has room.
func (m *acMatcher) scan(s string, hits []acHit) []acHit {
	st := int32(0)
	delta := m.delta
	for i := 0; i < len(s); i++ {
		st = delta[st+m.cls[s[i]]]
		if st < 0 {
			st = -st - 1
			for _, id := range m.out[st/int32(m.nclass)] {
				hits = append(hits, acHit{pat: id, end: i + 1})
			}
		}
	}
	return hits
}

// startOf returns where a match of the normalized literal lit that ends at end
// begins in s, undoing the whitespace collapse.
func startOf(s string, end int, lit string) int {
	j := end
	for k := len(lit) - 1; k >= 0 && j > 0; k-- {
		if lit[k] == ' ' {
			for j > 0 && isSpaceByte(s[j-1]) {
				j--
			}
			continue
		}
		j--
	}
	return j
}

// equalCollapsed reports whether seg equals the normalized (unfolded) literal
// lit once seg's whitespace runs are collapsed; it checks case-sensitive terms.
func equalCollapsed(seg, lit string) bool {
	i := 0
	for k := 0; k < len(lit); k++ {
		if i >= len(seg) {
			return false
		}
		if lit[k] == ' ' {
			if !isSpaceByte(seg[i]) {
				return false
			}
			for i < len(seg) && isSpaceByte(seg[i]) {
				i++
			}
			continue
		}
		if seg[i] != lit[k] {
			return false
		}
		i++
	}
	return i == len(seg)
}
