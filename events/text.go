package events

import (
	"unicode"
	"unicode/utf8"
)

// PlainText reports whether s may stand in a free-text field of an event
// (a name, a description, a reason): valid UTF-8 without the replacement
// character (which is what a lone surrogate in JSON decodes to), and no
// control characters, which would let a value rewrite a terminal or a log
// line (ANSI escapes, NUL, CR). Multiline text may hold line feeds and
// tabs.
func PlainText(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) || r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			return false
		}
	}
	return true
}
