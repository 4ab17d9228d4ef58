package tokenizer

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// tiktoken-go is the reference the counts must match (it is only used by the
// tests).
var (
	refOnce sync.Once
	refEnc  *tiktoken.Tiktoken
	refErr  error
)

func reference(tb testing.TB) *tiktoken.Tiktoken {
	tb.Helper()
	refOnce.Do(func() {
		tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader())
		refEnc, refErr = tiktoken.GetEncoding(tiktoken.MODEL_O200K_BASE)
	})
	if refErr != nil {
		tb.Fatalf("tiktoken-go o200k_base: %v", refErr)
	}
	return refEnc
}

func loaded(tb testing.TB) *encoder {
	tb.Helper()
	Warm()
	if enc == nil {
		tb.Fatal("the o200k_base tables did not load")
	}
	return enc
}

func checkAgainstReference(t *testing.T, ref *tiktoken.Tiktoken, name, s string) {
	t.Helper()
	want := len(ref.EncodeOrdinary(s))
	if got := Count(s); got != want {
		q := s
		if len(q) > 200 {
			q = q[:200] + "…"
		}
		t.Errorf("%s: Count(%q) = %d, tiktoken-go = %d", name, q, got, want)
	}
}

// corpus is varied text for the comparison with tiktoken-go.
var corpus = map[string]string{
	"empty":   "",
	"space":   " ",
	"newline": "\n",
	"prose":   "The quick brown fox jumps over the lazy dog. It wasn't the fox's fault; they'd said it'll be fine, and we're sure you've heard I'm right.",
	"contractions": "it's IT'S they'll THEY'LL we're WE'RE you've YOU'VE I'm I'M he'd HE'D don't DON'T 's 'll 'RE 'Ve " +
		"o'clock rock'n'roll ’s ‘quoted’ «guillemets»",
	"numbers":     "1234567 12 123 1234 3.14159 1,000,000 2024-05-13 0x1F 1e10 -42 +7 ½ ² ٣٤٥ 一二三 ⅫⅣ",
	"punctuation": "!!! ??? ... --- ___ *** ### $$$ %%% ^^^ &&& ((())) [[]] {{}} <<>> ||| \\\\ // ;;; ::: ,,, ''' \"\"\" ``` ~~~ @@@ ==> <=> !== ?.?",
	"code": "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n\t\tif i%2 == 0 {\n\t\t\tfmt.Println(\"even\", i)\n\t\t}\n\t}\n}\n" +
		"def f(x):\r\n    return x ** 2  # square\r\n\r\n\r\nclass A:\r\n        pass\r\n" +
		"<div class=\"x\">&nbsp;</div>\n  SELECT * FROM t WHERE a >= 1 AND b <> 'z';\n\t\t\t\n   \n",
	"emoji":      "I ❤️ Go 🚀🚀🚀 👩‍👩‍👧‍👦 👍🏽 🇫🇷🇯🇵 😀😃😄 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀𓀁 🀄︎",
	"cjk":        "日本語のテキストです。中文文本，包括标点符号！한국어 텍스트도 있습니다. カタカナ ひらがな 漢字",
	"arabic":     "مرحبا بالعالم! هذه جملة عربية، مع أرقام ١٢٣ وعلامات. עברית גם כן",
	"combining":  "e\u0301 a\u0300\u0316 n\u0303 Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324 हिन्दी ภาษาไทย ṩ̂ Å Å",
	"invalid":    "a\xffb\xfe\xfd c\xc3 d\xe2\x82 e\xed\xa0\x80 f\xf4\x90\x80\x80 g\xc0\xaf \x80\x80\x80 \xff\xff hello\xffworld \ufffd\xff",
	"whitespace": strings.Repeat(" ", 300) + "x" + strings.Repeat("\t", 70) + "y" + strings.Repeat("\n", 40) + strings.Repeat(" \r\n", 30) + strings.Repeat("\u00a0\u3000 ", 20) + "   ",
	"longword":   strings.Repeat("a", 3000) + " " + strings.Repeat("ab", 700) + " " + strings.Repeat("xyzzy", 300),
	"mixedcase":  "HTTPServerError XMLHttpRequest camelCaseIdentifier snake_case_id SCREAMING_CASE McDonald'S iPhone ÉCOLE École",
	"json":       `{"model":"gpt-4o","messages":[{"role":"user","content":"hi\nthere"}],"temperature":0.7,"max_tokens":1024}`,
	"url":        "https://example.com/path/to/page?query=1&x=y#frag /usr/local/bin//\n//\r\n/// C:\\Windows\\System32",
	"specials":   "<|endoftext|> <|endofprompt|> <|im_start|>user",
}

// randomLetters returns n pseudo-random letters with no separator: one long
// pre-tokenizer piece, which exercises the merge of long pieces (mergeHeap).
func randomLetters(r *rand.Rand, n int) string {
	const alphabet = "etaoinshrdlucmfwypvbgkjqxz"
	var b strings.Builder
	for i := 0; i < n; i++ {
		// Skew towards the frequent letters so that long tokens occur.
		b.WriteByte(alphabet[min(r.IntN(len(alphabet)), r.IntN(len(alphabet)))])
	}
	return b.String()
}

// mixedText returns about size bytes drawn from the corpus, shuffled.
func mixedText(size int) string {
	r := rand.New(rand.NewPCG(1, 2))
	var parts []string
	for _, s := range corpus {
		if len(s) < 1000 {
			parts = append(parts, s)
		}
	}
	seps := []string{" ", "\n", "", "\r\n", "\t", "  "}
	var b strings.Builder
	for b.Len() < size {
		p := parts[r.IntN(len(parts))]
		if len(p) > 0 && r.IntN(3) == 0 { // a random cut, possibly in the middle of a rune
			i, j := r.IntN(len(p)), r.IntN(len(p))
			p = p[min(i, j):max(i, j)]
		}
		b.WriteString(p)
		b.WriteString(seps[r.IntN(len(seps))])
	}
	return b.String()
}

func TestCountMatchesTiktoken(t *testing.T) {
	ref := reference(t)
	for name, s := range corpus {
		checkAgainstReference(t, ref, name, s)
	}
	checkAgainstReference(t, ref, "mixed50k", mixedText(50_000))
	checkAgainstReference(t, ref, "english10k", englishText(10_000))
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{linearMax - 1, linearMax, linearMax + 1, 500, 4000} {
		checkAgainstReference(t, ref, "letters", randomLetters(r, n))
	}
	// Every single byte, and every rune of a few ranges.
	for b := 0; b < 256; b++ {
		checkAgainstReference(t, ref, "byte", string([]byte{byte(b)}))
		checkAgainstReference(t, ref, "byte", "ab"+string([]byte{byte(b)})+"cd "+string([]byte{byte(b), byte(b)}))
	}
	var b strings.Builder
	for _, rg := range [][2]rune{{0, 0x800}, {0x2000, 0x2100}, {0x3000, 0x3100}, {0xfe00, 0xfff0}, {0x1f300, 0x1f400}} {
		b.Reset()
		for c := rg[0]; c < rg[1]; c++ {
			if utf8.ValidRune(c) {
				b.WriteRune(c)
				if c%7 == 0 {
					b.WriteByte(' ')
				}
			}
		}
		checkAgainstReference(t, ref, "runes", b.String())
	}
}

func FuzzCountMatchesTiktoken(f *testing.F) {
	for _, s := range corpus {
		if len(s) < 1000 {
			f.Add(s)
		}
	}
	f.Add("a\xff")
	f.Add("  \n\r\n\t x")
	ref := reference(f)
	e := loaded(f)
	f.Fuzz(func(t *testing.T, s string) {
		if want, got := len(ref.EncodeOrdinary(s)), Count(s); got != want {
			t.Fatalf("Count(%q) = %d, tiktoken-go = %d", s, got, want)
		}
		// The two merges must agree on any bytes, as one piece.
		if len(s) >= 2 {
			parts := make([]part, len(s)+1)
			if lin, hp := e.table.mergeLinear(s, parts), e.table.mergeHeap(s); lin != hp {
				t.Fatalf("piece %q: mergeLinear = %d, mergeHeap = %d", s, lin, hp)
			}
		}
	})
}

// englishText returns about size bytes of English prose.
func englishText(size int) string {
	const para = "Large language models are trained on vast amounts of text, and they read it as tokens rather than characters. " +
		"A tokenizer splits the input into pieces: common words become a single token, while rare words, numbers such as 1234567, " +
		"and names like Schwarzenegger are broken into several. The gateway counts tokens when an upstream provider doesn't report usage, " +
		"or when it must estimate the size of a prompt before routing it. Counting has to be fast, because it runs on every request, " +
		"and it shouldn't slow the garbage collector down either.\n\n"
	return strings.Repeat(para, size/len(para)+1)[:size]
}

var sink int

func BenchmarkCount(b *testing.B) {
	text := englishText(10_000)
	loaded(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		sink = Count(text)
	}
}

func BenchmarkCountTiktoken(b *testing.B) {
	text := englishText(10_000)
	ref := reference(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		sink = len(ref.EncodeOrdinary(text))
	}
}

// Count is called from many goroutines at once (shared regexp, pools).
func TestCountConcurrent(t *testing.T) {
	texts := []string{mixedText(3000), englishText(2000), corpus["invalid"], corpus["longword"], corpus["cjk"]}
	want := make([]int, len(texts))
	for i, s := range texts {
		want[i] = Count(s)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for k := 0; k < 20; k++ {
				i := (g + k) % len(texts)
				if got := Count(texts[i]); got != want[i] {
					t.Errorf("concurrent Count(texts[%d]) = %d, want %d", i, got, want[i])
				}
			}
		})
	}
	wg.Wait()
}
