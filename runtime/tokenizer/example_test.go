package tokenizer_test

import (
	"fmt"

	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

func ExampleTokenizer_Encode() {
	tk, err := tokenizer.Load("testdata/tiny-bpe.json")
	if err != nil {
		panic(err)
	}
	ids := tk.Encode("naïve café 🙂<|endoftext|>")
	text, _ := tk.Decode(ids)
	fmt.Println(text)
	plain, _ := tk.DecodeWith(ids, tokenizer.DecodeOptions{SkipSpecialTokens: true})
	fmt.Println(plain)
	eos, _ := tk.EOS()
	fmt.Println(ids[len(ids)-1] == eos)
	fmt.Printf("%q\n", tk.PreTokenize("I'm  here"))
	// Output:
	// naïve café 🙂<|endoftext|>
	// naïve café 🙂
	// true
	// ["I" "'m" " " " here"]
}
