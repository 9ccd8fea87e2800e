package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ssmc-dev/ssmc"
	"github.com/ssmc-dev/ssmc/runtime/tokenizer"
)

// maxStdinText bounds what tokenize --stdin reads.
const maxStdinText = 64 << 20

// tokenizerFlags are the flags that choose a tokenizer.
type tokenizerFlags struct {
	file  string
	model string
}

func (tf *tokenizerFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&tf.file, "tokenizer", "", "a tokenizer.json `FILE`")
	fs.StringVar(&tf.model, "model", "", "use the tokenizer embedded in `MODEL.ssmc`")
}

func (tf *tokenizerFlags) load() (*tokenizer.Tokenizer, error) {
	switch {
	case tf.file != "" && tf.model != "":
		return nil, usagef("give --tokenizer or --model, not both")
	case tf.file != "":
		return tokenizer.Load(tf.file)
	case tf.model != "":
		m, err := ssmc.LoadWith(tf.model, ssmc.LoadOptions{Backend: "cpu"}) // only the tokenizer is needed
		if err != nil {
			return nil, err
		}
		defer m.Close()
		if m.Tokenizer() == nil {
			return nil, fmt.Errorf("%s has no tokenizer (compile a checkpoint folder that has tokenizer.json)", tf.model)
		}
		return m.Tokenizer(), nil
	}
	return nil, usagef("missing --tokenizer FILE or --model MODEL")
}

var tokenizeCmd = &command{
	name:  "tokenize",
	args:  "--tokenizer FILE|--model MODEL.ssmc [--stdin] [TEXT]",
	short: "print the token ids of a text as a JSON array",
	long: `
Tokenize encodes TEXT (or, with --stdin, all of standard input, byte for
byte) with a tokenizer.json file or the tokenizer embedded in a compiled
model, and prints the ids as a JSON array.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		var tf tokenizerFlags
		tf.define(fs)
		stdin := fs.Bool("stdin", false, "read the text from standard input")
		return func(c *ctx, args []string) error {
			var text string
			switch {
			case *stdin && len(args) == 0:
				b, err := io.ReadAll(io.LimitReader(c.stdin, maxStdinText+1))
				if err != nil {
					return err
				}
				if len(b) > maxStdinText {
					return fmt.Errorf("standard input is larger than %d MiB", maxStdinText>>20)
				}
				text = string(b)
			case !*stdin && len(args) == 1:
				text = args[0]
			default:
				return usagef("tokenize takes one TEXT argument or --stdin")
			}
			tok, err := tf.load()
			if err != nil {
				return err
			}
			ids := tok.Encode(text)
			if ids == nil {
				ids = []int{}
			}
			b, _ := json.Marshal(ids)
			fmt.Fprintln(c.stdout, string(b))
			return nil
		}
	},
}

var detokenizeCmd = &command{
	name:  "detokenize",
	args:  "--tokenizer FILE|--model MODEL.ssmc IDS",
	short: "print the text of comma-separated token ids",
	long: `
Detokenize decodes token ids (comma-separated, or a JSON array) and prints
the text exactly, without a trailing newline.`,
	define: func(fs *flag.FlagSet) func(*ctx, []string) error {
		var tf tokenizerFlags
		tf.define(fs)
		return func(c *ctx, args []string) error {
			if len(args) != 1 {
				return usagef("detokenize takes one list of ids")
			}
			ids, err := parseIDs(strings.Trim(args[0], "[] \n"))
			if err != nil {
				return usagef("%v", err)
			}
			tok, err := tf.load()
			if err != nil {
				return err
			}
			text, err := tok.Decode(ids)
			if err != nil {
				return err
			}
			_, err = io.WriteString(c.stdout, text)
			return err
		}
	},
}
