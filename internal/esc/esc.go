// Package esc makes text from files safe to print on a terminal.
//
// Layer names, keras_version, backend, ONNX node names and paths come from files that
// strangers made. Printed raw, an ESC or OSC sequence in one of them reaches the terminal
// (clears the screen, forges lines, sets the window title) and a newline forges a table row.
// Text replaces every rune that is not printable — C0 and C1 controls (newline and tab
// included), DEL, Unicode format characters such as the bidirectional overrides (U+202E),
// line and paragraph separators, non-ASCII spaces — and every byte that is not UTF-8 by its Go
// escape (\n, \x1b, \u202e, \xff), as --json's output escapes them. Printable text, accents
// and CJK included, is left as it is.
package esc

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text returns s with every non-printable rune and every invalid byte escaped.
func Text(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r != utf8.RuneError || n > 1) && printable(r) {
			b.WriteString(s[i : i+n])
		} else {
			q := strconv.Quote(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// Texts is Text of each element.
func Texts(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = Text(v)
	}
	return out
}

func safe(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !printable(r) {
			return false
		}
	}
	return true
}

// printable: letters, marks, numbers, punctuation, symbols and the ASCII space.
func printable(r rune) bool { return r == ' ' || unicode.IsPrint(r) }
