package events

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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

// Tidy is free text as a catalog keeps it: in Unicode's composed form
// (NFC), so that a name typed with a combining accent is the same name as
// one typed with the accented letter, and without the spaces and the
// characters that draw nothing (zero-width spaces and joiners, byte-order
// marks) around it. Control characters are left for PlainText to refuse.
func Tidy(s string) string {
	return strings.TrimFunc(norm.NFC.String(s), func(r rune) bool { return unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) })
}

// Visible reports whether s shows at least one character: a name of
// spaces, zero-width characters or blank letters names nothing.
func Visible(s string) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !strings.ContainsRune(blankLetters, r)
	}) >= 0
}

// blankLetters are letters and symbols that draw nothing: the Hangul
// fillers and the blank braille pattern.
const blankLetters = "\u115f\u1160\u3164\uffa0\u2800"
