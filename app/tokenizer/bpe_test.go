package tokenizer

import (
	"math/rand/v2"
	"reflect"
	"testing"

	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// hasPointers reports whether values of type t contain pointers that the
// garbage collector would have to scan.
func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && hasPointers(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default: // pointers, strings, slices, maps, channels, funcs, interfaces
		return true
	}
}

// TestTablesArePointerFree checks the structure of the long-lived tables: the
// table struct may hold slice headers (a few words, scanned once), but the
// backing arrays, which are the megabytes, must be pointer-free so that the GC
// allocates them as no-scan spans and never marks their contents.
func TestTablesArePointerFree(t *testing.T) {
	typ := reflect.TypeFor[bpeTable]()
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		switch {
		case f.Type.Kind() == reflect.Slice:
			if hasPointers(f.Type.Elem()) {
				t.Errorf("bpeTable.%s: elements of %s contain pointers", f.Name, f.Type)
			}
		case hasPointers(f.Type):
			t.Errorf("bpeTable.%s: %s contains pointers and is not a slice of pointer-free elements", f.Name, f.Type)
		}
	}
	// The same for the scratch buffers kept in scratchPool and runePool.
	st := reflect.TypeFor[mergeScratch]()
	for i := 0; i < st.NumField(); i++ {
		if f := st.Field(i); f.Type.Kind() != reflect.Slice || hasPointers(f.Type.Elem()) {
			t.Errorf("mergeScratch.%s: %s is not a slice of pointer-free elements", f.Name, f.Type)
		}
	}
	if hasPointers(reflect.TypeFor[rune]()) {
		t.Error("rune contains pointers")
	}
	// And the checker itself catches pointers.
	for _, typ := range []reflect.Type{
		reflect.TypeFor[string](), reflect.TypeFor[*int](), reflect.TypeFor[[]int](),
		reflect.TypeFor[map[int]int](), reflect.TypeFor[struct{ p *byte }](),
		reflect.TypeFor[[1]string](), reflect.TypeFor[any](), reflect.TypeFor[func()](),
	} {
		if !hasPointers(typ) {
			t.Errorf("hasPointers(%s) = false", typ)
		}
	}
}

// TestLookupMatchesRanks checks every token of the loader's map, and misses.
func TestLookupMatchesRanks(t *testing.T) {
	e := loaded(t)
	ranks, err := tiktoken_loader.NewOfflineLoader().LoadTiktokenBpe(o200kFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.table.ranks); got != len(ranks) {
		t.Fatalf("table has %d tokens, the loader %d", got, len(ranks))
	}
	for tok, want := range ranks {
		if got, ok := e.table.lookup(tok); !ok || int(got) != want {
			t.Fatalf("lookup(%q) = %d, %v; want %d", tok, got, ok, want)
		}
	}
	for _, s := range []string{"", "\xff\xfe\xfd\xfc", "zzzzqqqqxxxx", "thisisnotatoken_12345"} {
		_, want := ranks[s]
		if _, got := e.table.lookup(s); got != want {
			t.Errorf("lookup(%q) found = %v, want %v", s, got, want)
		}
	}
}

func TestMergeHeapMatchesLinear(t *testing.T) {
	e := loaded(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		var s string
		switch n := 2 + r.IntN(300); i % 3 {
		case 0:
			s = randomLetters(r, n)
		case 1: // random bytes
			b := make([]byte, n)
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			s = string(b)
		default: // a slice of mixed text
			m := mixedText(3000)
			j := r.IntN(len(m) - n)
			s = m[j : j+n]
		}
		lin := e.table.mergeLinear(s, make([]part, len(s)+1))
		if hp := e.table.mergeHeap(s); hp != lin {
			t.Fatalf("piece %q: mergeLinear = %d, mergeHeap = %d", s, lin, hp)
		}
	}
}

func TestCountAllocations(t *testing.T) {
	e := loaded(t)
	if n := testing.AllocsPerRun(100, func() {
		e.table.lookup("hello")
		e.table.lookup("thisisnotatoken_12345")
		e.table.countPiece(" Schwarzenegger")
	}); n != 0 {
		t.Errorf("lookup/countPiece: %v allocations, want 0", n)
	}
	if raceEnabled {
		return // sync.Pool drops items at random under the race detector
	}
	long := randomLetters(rand.New(rand.NewPCG(7, 8)), 1000)
	e.table.countPiece(long) // fills scratchPool
	if n := testing.AllocsPerRun(100, func() { e.table.countPiece(long) }); n > 1 {
		t.Errorf("countPiece(long piece): %v allocations, want ≤ 1", n)
	}
}

// A long run of letters is one piece; it must not take quadratic time.
func TestLongPieceIsFast(t *testing.T) {
	e := loaded(t)
	s := randomLetters(rand.New(rand.NewPCG(9, 10)), 1<<18)
	if n := e.table.countPiece(s); n <= 0 || n > len(s) {
		t.Fatalf("countPiece(256 KB of letters) = %d", n)
	}
}
