package ir

import (
	"fmt"
	"strconv"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // func, f32, Add, B, true, inf, _
	tLocal          // %name
	tGlobal         // @name
	tInt            // 12, -3
	tFloat          // 1.5, 1e-05, -2.0
	tString         // "text"
	tPunct          // ( ) [ ] { } , : = * + - ->
)

type token struct {
	kind tokKind
	text string // identifier without sigil, punctuation, number text, unquoted string
	pos  Pos
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tLocal:
		return "%" + t.text
	case tGlobal:
		return "@" + t.text
	case tString:
		return strconv.Quote(t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// ParseError is a syntax or name error at a position in an IR text file.
type ParseError struct {
	Pos Pos
	Msg string
}

func (e *ParseError) Error() string { return e.Pos.String() + ": " + e.Msg }

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '.' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lex splits src into tokens; the last is tEOF.
func lex(file, src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for k := 0; k < n; k++ {
			if src[i] == '\n' {
				line++
				col = 1
			} else {
				col++
			}
			i++
		}
	}
	for i < len(src) {
		c := src[i]
		pos := Pos{File: file, Line: line, Col: col}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			adv(1)
			continue
		case c == '/' && i+1 < len(src) && src[i+1] == '/':
			for i < len(src) && src[i] != '\n' {
				adv(1)
			}
			continue
		case c == '%' || c == '@':
			j := i + 1
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, &ParseError{pos, fmt.Sprintf("expected a name after %q", c)}
			}
			k := tLocal
			if c == '@' {
				k = tGlobal
			}
			toks = append(toks, token{k, src[i+1 : j], pos})
			adv(j - i)
			continue
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentChar(src[j]) {
				j++
			}
			toks = append(toks, token{tIdent, src[i:j], pos})
			adv(j - i)
			continue
		case isDigit(c) || c == '-' && i+1 < len(src) && isDigit(src[i+1]):
			j := i + 1
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			kind := tInt
			if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
				kind = tFloat
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && isDigit(src[k]) {
					kind = tFloat
					for k < len(src) && isDigit(src[k]) {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{kind, src[i:j], pos})
			adv(j - i)
			continue
		case c == '"':
			j := i + 1
			for j < len(src) && src[j] != '"' && src[j] != '\n' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(src) || src[j] != '"' {
				return nil, &ParseError{pos, "unterminated string"}
			}
			s, err := strconv.Unquote(src[i : j+1])
			if err != nil {
				return nil, &ParseError{pos, "bad string literal: " + err.Error()}
			}
			toks = append(toks, token{tString, s, pos})
			adv(j + 1 - i)
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '>':
			toks = append(toks, token{tPunct, "->", pos})
			adv(2)
			continue
		case c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}' ||
			c == ',' || c == ':' || c == '=' || c == '*' || c == '+' || c == '-':
			toks = append(toks, token{tPunct, string(c), pos})
			adv(1)
			continue
		}
		return nil, &ParseError{pos, fmt.Sprintf("unexpected character %q", c)}
	}
	toks = append(toks, token{tEOF, "", Pos{File: file, Line: line, Col: col}})
	return toks, nil
}
