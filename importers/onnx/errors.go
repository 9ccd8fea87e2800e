package onnx

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Error is a problem with the content of an ONNX file: malformed
// protobuf, an inconsistent graph, a bad tensor or attribute. Its message
// is one line naming the file and the node, tensor or field.
type Error struct {
	Path  string // the model file ("" when read from memory)
	Where string // e.g. `node "layers.0/MatMul" (MatMul)` or `initializer "w"`
	Msg   string
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("onnx: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.Where != "" {
		b.WriteString(e.Where)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return oneLine(b.String())
}

// Unsupported is one kind of node the importer cannot translate.
type Unsupported struct {
	// Domain is the operator set's domain ("" is the default, ai.onnx).
	Domain string
	// Op is the operator type.
	Op string
	// Opset is the version of Domain that the model imports.
	Opset int64
	// Nodes names the nodes (by name, or by first output when unnamed).
	Nodes []string
	// Reason is set when the operator is supported but not this use of it
	// (a runtime-dependent output shape, an unsupported attribute value).
	Reason string
}

// UnsupportedError lists every unsupported operator of a model. It is
// returned instead of a partial module.
type UnsupportedError struct {
	Path  string
	Items []Unsupported
}

// Error implements error: one line with every (domain, op, opset) and its
// nodes.
func (e *UnsupportedError) Error() string {
	var b strings.Builder
	b.WriteString("onnx: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString("unsupported: ")
	for i, it := range e.Items {
		if i > 0 {
			b.WriteString("; ")
		}
		dom := it.Domain
		if dom == "" {
			dom = "ai.onnx"
		}
		fmt.Fprintf(&b, "%s %s (opset %d)", dom, it.Op, it.Opset)
		if it.Reason != "" {
			b.WriteString(": ")
			b.WriteString(it.Reason)
		}
		b.WriteString(" at ")
		b.WriteString(nodeList(it.Nodes))
	}
	return oneLine(b.String())
}

// nodeList quotes up to five node names and counts the rest.
func nodeList(nodes []string) string {
	const show = 5
	var parts []string
	for i, n := range nodes {
		if i == show {
			parts = append(parts, "and "+strconv.Itoa(len(nodes)-show)+" more")
			break
		}
		parts = append(parts, strconv.Quote(clip(n)))
	}
	word := "node "
	if len(nodes) != 1 {
		word = "nodes "
	}
	return word + strings.Join(parts, ", ")
}

// unsupportedSet collects unsupported items keyed by domain, op and
// reason, keeping node names in the order they were found.
type unsupportedSet struct {
	items []Unsupported
	index map[string]int
	seen  map[string]bool // key + "\x00" + node
}

func (s *unsupportedSet) add(domain, op string, opset int64, node, reason string) {
	if s.index == nil {
		s.index = map[string]int{}
	}
	domain = canonicalDomain(domain)
	key := domain + "\x00" + op + "\x00" + reason
	i, ok := s.index[key]
	if !ok {
		i = len(s.items)
		s.index[key] = i
		s.items = append(s.items, Unsupported{Domain: domain, Op: op, Opset: opset, Reason: reason})
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if s.seen[key+"\x00"+node] {
		return
	}
	s.seen[key+"\x00"+node] = true
	s.items[i].Nodes = append(s.items[i].Nodes, node)
}

// sorted returns the items ordered by domain, op and reason.
func (s *unsupportedSet) sorted() []Unsupported {
	out := append([]Unsupported(nil), s.items...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		return a.Reason < b.Reason
	})
	return out
}

// unsupportedUse is returned by a converter that recognizes its node but
// cannot translate this use of it; the graph converter records it with
// the node and carries on with the nodes that do not depend on it.
type unsupportedUse struct{ reason string }

func (u *unsupportedUse) Error() string { return u.reason }

// unsupportedf returns an *unsupportedUse.
func unsupportedf(format string, a ...any) error {
	return &unsupportedUse{reason: fmt.Sprintf(format, a...)}
}

// oneLine escapes line breaks so that every message is a single line.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}

// clip shortens file-controlled text quoted in messages.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
