package safetensors

import (
	"errors"
	"strings"
)

// Errors returned (wrapped) by lookups; test with errors.Is.
var (
	// ErrNotFound reports a tensor name that is not in the file or index.
	ErrNotFound = errors.New("tensor not found")
	// ErrClosed reports use of a File or Sharded after Close.
	ErrClosed = errors.New("file already closed")
)

// FormatError reports malformed or inconsistent input: a safetensors file,
// a shard index, or tensors handed to the writer. Its message is a single
// line naming the file and the offending tensor or field.
type FormatError struct {
	Path  string // file being read or written ("" for Encode)
	Field string // offending tensor or field, e.g. `tensor "w": shape`
	Msg   string // what is wrong
}

// Error implements error.
func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Field)
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// oneLine escapes line breaks so that every error is a single line even
// when a path or decoder message contains one.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// clip shortens attacker-controlled text quoted in error messages.
func clip(s string) string {
	const max = 256
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
