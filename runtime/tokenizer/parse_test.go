package tokenizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// doc builds a small tokenizer.json; parts override the defaults.
func doc(parts map[string]string) string {
	def := map[string]string{
		"version":        `"1.0"`,
		"added_tokens":   `[{"id":0,"content":"<s>","single_word":false,"lstrip":false,"rstrip":false,"normalized":false,"special":true}]`,
		"normalizer":     `null`,
		"pre_tokenizer":  `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`,
		"post_processor": `null`,
		"decoder":        `{"type":"ByteLevel"}`,
		"model":          `{"type":"BPE","dropout":null,"vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["a b"]}`,
	}
	for k, v := range parts {
		def[k] = v
	}
	var sb strings.Builder
	sb.WriteString("{")
	first := true
	for _, k := range []string{"version", "added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model"} {
		if def[k] == "-" {
			continue
		}
		if !first {
			sb.WriteString(",")
		}
		first = false
		sb.WriteString(`"` + k + `":` + def[k])
	}
	sb.WriteString("}")
	return sb.String()
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name  string
		input string
		want  string // substring of the error
	}{
		{"empty", ``, "invalid JSON"},
		{"not json", `{"model":`, "invalid JSON"},
		{"array", `[]`, "invalid JSON"},
		{"invalid utf8", "{\"version\":\"1.0\xff\"}", "UTF-8"},
		{"no model", doc(map[string]string{"model": "-"}), "model: missing"},
		{"version", doc(map[string]string{"version": `"2.0"`}), "version"},
		{"wordpiece", doc(map[string]string{"model": `{"type":"WordPiece","vocab":{"a":0}}`}), `model.type: unsupported model type "WordPiece"`},
		{"unigram", doc(map[string]string{"model": `{"type":"Unigram","vocab":[]}`}), `model.type`},
		{"no merges", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":0}}`}), "vocab and merges"},
		{"dropout", doc(map[string]string{"model": `{"type":"BPE","dropout":0.1,"vocab":{"a":0},"merges":[]}`}), "model.dropout"},
		{"vocab not object", doc(map[string]string{"model": `{"type":"BPE","vocab":[1],"merges":[]}`}), "model.vocab"},
		{"vocab id string", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":"0"},"merges":[]}`}), "must be a number"},
		{"vocab id float", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":1.5},"merges":[]}`}), "not an integer"},
		{"vocab id negative", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":-1},"merges":[]}`}), "not an integer"},
		{"vocab id huge", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":99999999999},"merges":[]}`}), "not an integer"},
		{"vocab id above max", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":16777216},"merges":[]}`}), "not an integer"},
		{"duplicate id", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"b":0},"merges":[]}`}), "id 0 is used by both"},
		{"duplicate token", doc(map[string]string{"model": `{"type":"BPE","vocab":{"a":0,"a":1},"merges":[]}`}), "duplicate token"},
		{"sparse ids", doc(map[string]string{"added_tokens": `[]`, "model": `{"type":"BPE","vocab":{"a":0,"b":9000000},"merges":[]}`}), "too sparse"},
		{"merge unknown left", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":["x a"]}`}), `model.merges[0]: token "x"`},
		{"merge unknown right", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":["a y"]}`}), `token "y"`},
		{"merge result unknown", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2},"merges":["a b"]}`}), `merged token "ab"`},
		{"merge bad line", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":["a"]}`}), `"a b"`},
		{"merge three parts", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":["a a a"]}`}), `"a b"`},
		{"merge pair of 3", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":[["a","a","a"]]}`}), "2 elements"},
		{"merges mixed", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1},"merges":["a a",["a","a"]]}`}), "model.merges"},
		{"unk missing", doc(map[string]string{"model": `{"type":"BPE","unk_token":"<unk>","vocab":{"<s>":0},"merges":[]}`}), "model.unk_token"},
		{"prefix longer than token", doc(map[string]string{"model": `{"type":"BPE","continuing_subword_prefix":"###","vocab":{"<s>":0,"a":1},"merges":["a a"]}`}), "shorter than continuing_subword_prefix"},
		{"nfkc", doc(map[string]string{"normalizer": `{"type":"NFKC"}`}), `normalizer.type: unsupported normalizer "NFKC"`},
		{"lowercase in sequence", doc(map[string]string{"normalizer": `{"type":"Sequence","normalizers":[{"type":"Lowercase"}]}`}), `normalizer.normalizers[0].type`},
		{"normalizer no type", doc(map[string]string{"normalizer": `{}`}), "normalizer.type: missing"},
		{"metaspace", doc(map[string]string{"pre_tokenizer": `{"type":"Metaspace"}`}), `pre_tokenizer.type: unsupported pre-tokenizer "Metaspace"`},
		{"whitespace in sequence", doc(map[string]string{"pre_tokenizer": `{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"Whitespace"}]}`}), `pre_tokenizer.pretokenizers[1].type`},
		{"two bytelevel", doc(map[string]string{"pre_tokenizer": `{"type":"Sequence","pretokenizers":[{"type":"ByteLevel"},{"type":"ByteLevel"}]}`}), "more than one ByteLevel"},
		{"split lookbehind", doc(map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"Regex":"(?<=a)b"},"behavior":"Isolated","invert":false}`}), "pre_tokenizer.pattern.Regex"},
		{"split no pattern", doc(map[string]string{"pre_tokenizer": `{"type":"Split","behavior":"Isolated"}`}), "pre_tokenizer.pattern"},
		{"split bad behavior", doc(map[string]string{"pre_tokenizer": `{"type":"Split","pattern":{"String":" "},"behavior":"Sideways"}`}), "pre_tokenizer.behavior"},
		{"decoder wordpiece", doc(map[string]string{"decoder": `{"type":"WordPiece"}`}), `decoder.type: unsupported decoder "WordPiece"`},
		{"post bert bad id", doc(map[string]string{"post_processor": `{"type":"BertProcessing","sep":["</s>",77],"cls":["<s>",0]}`}), "sep id 77"},
		{"post template missing special", doc(map[string]string{"post_processor": `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"X","type_id":0}}],"special_tokens":{}}`}), `missing "X"`},
		{"post template B", doc(map[string]string{"post_processor": `{"type":"TemplateProcessing","single":[{"Sequence":{"id":"B","type_id":0}}],"special_tokens":{}}`}), `sequence "B"`},
		{"post unknown", doc(map[string]string{"post_processor": `{"type":"Mystery"}`}), `post_processor.type: unsupported post-processor "Mystery"`},
		{"added no id", doc(map[string]string{"added_tokens": `[{"content":"<s>"}]`}), "added_tokens[0]: id and content are required"},
		{"added id mismatch", doc(map[string]string{"added_tokens": `[{"id":5,"content":"<s>","special":true}]`}), "added_tokens[0]"},
		{"added fresh id wrong", doc(map[string]string{"added_tokens": `[{"id":0,"content":"<s>","special":true},{"id":9,"content":"<new>","special":true}]`}), "disagrees with id 4"},
		{"added duplicate id", doc(map[string]string{"added_tokens": `[{"id":0,"content":"<s>","special":true},{"id":0,"content":"<t>","special":true}]`}), "added_tokens[1]"},
		{"added clash", doc(map[string]string{"added_tokens": `[{"id":2,"content":"<x>"}]`, "model": `{"type":"BPE","vocab":{"a":0,"b":2},"merges":[]}`}), "already used by a vocabulary token"},
		{"added negative", doc(map[string]string{"added_tokens": `[{"id":-1,"content":"<s>"}]`}), "out of range"},
		{"added not list", doc(map[string]string{"added_tokens": `{}`}), "added_tokens"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.input))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestParseVariants(t *testing.T) {
	cases := []struct {
		name  string
		input string
		text  string
		want  []string // tokens of Encode(text)
	}{
		{"legacy merges with #version", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["#version: 0.2","a b"]}`}), "ab", []string{"ab"}},
		{"tuple merges", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":[["a","b"]]}`}), "ab", []string{"ab"}},
		{"tuple merges with spaces", doc(map[string]string{"pre_tokenizer": "null", "decoder": "null",
			"model": `{"type":"BPE","vocab":{"<s>":0,"a":1," ":2,"a ":3},"merges":[["a"," "]]}`}), "a a", []string{"a ", "a"}},
		{"no type in model", doc(map[string]string{"model": `{"vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["a b"]}`}), "ab", []string{"ab"}},
		{"dropout zero", doc(map[string]string{"model": `{"type":"BPE","dropout":0,"vocab":{"<s>":0,"a":1,"b":2,"ab":3},"merges":["a b"]}`}), "ab", []string{"ab"}},
		{"empty normalizer sequence", doc(map[string]string{"normalizer": `{"type":"Sequence","normalizers":[]}`}), "ab", []string{"ab"}},
		{"repeated merge keeps last rank", doc(map[string]string{"model": `{"type":"BPE","vocab":{"<s>":0,"a":1,"b":2,"c":3,"ab":4,"bc":5},"merges":["a b","b c","a b"]}`}), "abc", []string{"a", "bc"}},
		{"template bos", doc(map[string]string{"post_processor": `{"type":"TemplateProcessing",
			"single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
			"pair":[],"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]}}}`}), "ab", []string{"<s>", "ab"}},
		{"roberta", doc(map[string]string{"post_processor": `{"type":"RobertaProcessing","sep":["b",2],"cls":["<s>",0],"trim_offsets":true,"add_prefix_space":false}`}), "a", []string{"<s>", "a", "b"}},
		{"sequence of post processors", doc(map[string]string{"post_processor": `{"type":"Sequence","processors":[{"type":"ByteLevel"},{"type":"BertProcessing","sep":["b",2],"cls":["a",1]}]}`}), "ab", []string{"a", "ab", "b"}},
		{"truncation and padding ignored", strings.Replace(doc(nil), `"version":"1.0"`, `"version":"1.0","truncation":{"max_length":1},"padding":{"strategy":"BatchLongest"}`, 1), "abab", []string{"ab", "ab"}},
		{"empty added content ignored", doc(map[string]string{"added_tokens": `[{"id":0,"content":"<s>","special":true},{"id":4,"content":""}]`}), "ab", []string{"ab"}},
	}
	for _, c := range cases {
		tk, err := Parse([]byte(c.input))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var got []string
		for _, id := range tk.Encode(c.text) {
			s, _ := tk.IDToToken(id)
			got = append(got, s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(%q) = %q, want %q", c.name, c.text, got, c.want)
		}
	}
}

func TestBOSEOSFromTemplate(t *testing.T) {
	tk, err := Parse([]byte(doc(map[string]string{"post_processor": `{"type":"TemplateProcessing",
		"single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"b","type_id":0}}],
		"special_tokens":{"<s>":{"id":"<s>","ids":[0],"tokens":["<s>"]},"b":{"id":"b","ids":[2],"tokens":["b"]}}}`})))
	if err != nil {
		t.Fatal(err)
	}
	bos, ok1 := tk.BOS()
	eos, ok2 := tk.EOS()
	if bos != 0 || eos != 2 || !ok1 || !ok2 {
		t.Errorf("BOS, EOS = %d, %d", bos, eos)
	}
	if got := tk.EncodeWith("a", EncodeOptions{}); !slices.Equal(got, []int{1}) {
		t.Errorf("without special tokens: %v", got)
	}
	plain, err := Parse([]byte(doc(map[string]string{"added_tokens": `[]`})))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := plain.BOS(); ok {
		t.Error("BOS found without special tokens")
	}
}

func TestLoad(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(p, []byte(`{"model":{"type":"WordLevel"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "model.type") {
		t.Errorf("Load error = %v, want the path and the field", err)
	}
}
