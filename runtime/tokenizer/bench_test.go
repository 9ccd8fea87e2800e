package tokenizer

import (
	"strings"
	"testing"

	"github.com/ssmc-dev/ssmc/runtime/tokenizer/internal/gen"
)

// BenchmarkEncode encodes the multilingual training corpus of the tiny
// fixture (about 4 KB) with a warm BPE cache.
func BenchmarkEncode(b *testing.B) {
	tk := loadTiny(b)
	text := gen.Corpus
	tk.Encode(text)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tk.Encode(text)
	}
}

// BenchmarkEncodeCold encodes text whose words are all new to the cache.
func BenchmarkEncodeCold(b *testing.B) {
	text := strings.Repeat(gen.Corpus, 2)
	b.SetBytes(int64(len(text)))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tk := loadTiny(b)
		b.StartTimer()
		tk.Encode(text)
	}
}

// BenchmarkDecode decodes the ids of the corpus.
func BenchmarkDecode(b *testing.B) {
	tk := loadTiny(b)
	ids := tk.Encode(gen.Corpus)
	b.SetBytes(int64(len(gen.Corpus)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tk.Decode(ids); err != nil {
			b.Fatal(err)
		}
	}
}
