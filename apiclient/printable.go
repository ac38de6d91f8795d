package apiclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Every string that comes from a server is data (spec/api.md, "What the tool
// trusts"): a company's name, a tenant's free text, a container's name, a fail
// message. A terminal, a log viewer or a Markdown renderer acts on some characters
// instead of showing them: escape sequences can clear the screen, retitle the window
// or hide text, a carriage return overwrites a line, a line break starts a forged
// one, a bidirectional override shows text in another order than it is. Printable
// and PrintableJSON are the one place where such text becomes displayable; every
// renderer, log line and report goes through one of them.

// unsafe reports whether a terminal or a viewer might act on r instead of showing
// it: C0 and C1 controls (ESC, CR, LF, TAB, BEL, ...), DEL, format characters
// (bidirectional overrides and isolates, zero-width characters, the byte-order
// mark), and the line and paragraph separators.
func unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r < 0x80:
		return false
	}
	return unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == utf8.RuneError
}

// IsPrintable reports whether Printable would return s unchanged.
func IsPrintable(s string) bool { return strings.IndexFunc(s, unsafe) < 0 && utf8.ValidString(s) }

// Printable returns s as it may be shown to a person on one line: every character
// that a terminal or a viewer would act on instead of showing (see unsafe), and every
// byte that is not UTF-8, is written as a Go escape (\x1b, \r, \n, \u202e, \xff).
// Other text is returned unchanged.
func Printable(s string) string {
	if IsPrintable(s) {
		return s
	}
	i := max(strings.IndexFunc(s, unsafe), 0)
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for len(s[i:]) > 0 {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafe(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// PrintableJSON returns encoded JSON with every character that encoding/json leaves
// raw but a terminal might act on (DEL, C1 controls, format characters, line
// separators) written as a \u escape: the same document, safe to print. Such
// characters occur only inside strings, where the escape means the same. The same
// holds for YAML whose strings holding such characters are double-quoted.
func PrintableJSON(b []byte) []byte {
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x20 && unsafe(r) || r == utf8.RuneError && size <= 1 {
			break
		}
		i += size
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	out = append(out, b[:i]...)
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			out = append(out, `\ufffd`...)
		case r >= 0x20 && unsafe(r):
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// WriteJSON writes v as one indented JSON document, made printable (PrintableJSON):
// the one way pbxsync writes JSON for people and scripts (plans, results, reports).
func WriteJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(PrintableJSON(buf.Bytes()))
	return err
}
