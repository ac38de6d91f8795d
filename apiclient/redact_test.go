package apiclient

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The credentials of the redactor tests: a key as vendors issue them, a password with
// a space, quotes, HTML's and URL's special characters and a letter outside ASCII,
// and a session cookie.
const (
	testKey      = "AlnumKey0123456789abcdefghijKLMNOPqrstuv"
	testPassword = `pa ss"<w&rd>/é%2024!xPASSWORD`
	testSession  = "c2Vzc2lvbi1hYmMxMjM0NTY3ODkw"
	testPIN      = "4242"
)

func testRedactor() *redactor {
	r := &redactor{}
	r.credential(testKey)
	r.credential(testPassword)
	r.credential(testSession)
	r.secret(testPIN)
	return r
}

// echoForms are the ways a server may write s back: as it is, escaped for JSON,
// URL and HTML, every character escaped, escapes within escapes, base64 on its own
// and inside longer base64 at each alignment, in both alphabets.
func echoForms(s string) map[string]string {
	forms := map[string]string{
		"raw":                   s,
		"json":                  jsonInner(s),
		"json \\u each":         eachRune(s, func(r rune) string { return fmt.Sprintf(`\u%04x`, r) }),
		"query":                 url.QueryEscape(s),
		"path":                  url.PathEscape(s),
		"%xx each":              eachByte(s, "%%%02X"),
		"%xx lower":             eachByte(s, "%%%02x"),
		"html":                  html.EscapeString(s),
		"&#x; each":             eachRune(s, func(r rune) string { return fmt.Sprintf("&#x%x;", r) }),
		"&#; each":              eachRune(s, func(r rune) string { return fmt.Sprintf("&#%d;", r) }),
		"html of query":         html.EscapeString(url.QueryEscape(s)),
		"query of json":         url.QueryEscape(jsonInner(s)),
		"json of html":          jsonInner(html.EscapeString(s)),
		"query of html of json": url.QueryEscape(html.EscapeString(jsonInner(s))),
	}
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding,
		"url": base64.URLEncoding, "raw url": base64.RawURLEncoding} {
		forms["base64 "+name] = enc.EncodeToString([]byte(s))
		for _, prefix := range []string{"a", "ab", "abc"} {
			forms[fmt.Sprintf("base64 %s inside, after %d bytes", name, len(prefix))] = enc.EncodeToString([]byte(prefix + s + "tail"))
		}
	}
	return forms
}

func jsonInner(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

func eachRune(s string, f func(rune) string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString(f(r))
	}
	return b.String()
}

func eachByte(s, format string) string {
	var b strings.Builder
	for i := range len(s) {
		fmt.Fprintf(&b, format, s[i])
	}
	return b.String()
}

// requireNoRun fails when out, read in any of the forms of echoForms, holds a run of
// n bytes of s: as it stands, with its escapes undone by the standard library (up to
// three layers, in any order), or base64-decoded at any alignment.
func requireNoRun(t *testing.T, out, s string, n int) {
	t.Helper()
	for _, reading := range readings(out) {
		for i := 0; i+n <= len(s); i++ {
			require.NotContains(t, reading, s[i:i+n], "a run of %d bytes of %q shows in %q", n, s, out)
		}
	}
}

// readings returns out with up to three layers of escapes undone, in every order,
// and each of those base64-decoded.
func readings(out string) []string {
	undo := []func(string) (string, error){
		func(s string) (string, error) { return html.UnescapeString(s), nil },
		url.QueryUnescape,
		url.PathUnescape,
		unquote,
	}
	all := []string{out}
	layer := []string{out}
	for range 3 {
		var next []string
		for _, text := range layer {
			for _, f := range undo {
				if u, err := f(text); err == nil && u != text {
					next = append(next, u)
				}
			}
		}
		all, layer = append(all, next...), next
	}
	for _, text := range slices.Clone(all) {
		all = append(all, base64Readings(text)...)
	}
	return all
}

// unquote undoes the backslash escapes of Go and JSON in s, leaving what is no
// escape as it is.
func unquote(s string) (string, error) {
	var b strings.Builder
	for len(s) > 0 {
		r, multibyte, tail, err := strconv.UnquoteChar(s, 0)
		switch {
		case err != nil:
			b.WriteByte(s[0])
			s = s[1:]
			continue
		case multibyte || r >= 0x80:
			b.WriteRune(r)
		default:
			b.WriteByte(byte(r))
		}
		s = tail
	}
	return b.String(), nil
}

// base64Readings decodes every run of base64 characters in s at each of the four
// alignments, in both alphabets.
func base64Readings(s string) []string {
	var out []string
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/_-]{4,}`).FindAllString(s, -1) {
		run = strings.NewReplacer("-", "+", "_", "/").Replace(run)
		for a := range 4 {
			part := run[min(a, len(run)):]
			part = part[:len(part)/4*4]
			if b, err := base64.StdEncoding.DecodeString(part); err == nil {
				out = append(out, string(b))
			}
		}
	}
	return out
}

// Every credential is removed in each form a server may echo it in, and the text
// around it stays.
func TestRedactorRemovesEveryFormOfACredential(t *testing.T) {
	r := testRedactor()
	for _, cred := range []string{testKey, testPassword, testSession} {
		for name, form := range echoForms(cred) {
			t.Run(name+" of "+cred[:4], func(t *testing.T) {
				out := r.message("invalid credential: " + form + " (try again)")
				require.Contains(t, out, Redacted)
				require.True(t, strings.HasPrefix(out, "invalid credential: "), out)
				require.True(t, strings.HasSuffix(out, " (try again)"), out)
				// base64 inside longer base64 leaves up to two bytes of each end
				// mixed with what stands beside them: no run of six survives.
				requireNoRun(t, out, cred, 6)
			})
		}
	}
}

// A run of 8 or more characters of a credential is removed wherever it stands, also
// escaped; a run of 7 is not, and neither is the text around it, nor words of a
// password in another case.
func TestRedactorRemovesRunsOfACredential(t *testing.T) {
	r := testRedactor()
	tests := []struct{ in, want string }{
		{"invalid key " + testKey[:12] + "...", "invalid key (sensitive)..."},
		{"key ends in " + testKey[len(testKey)-8:] + ".", "key ends in (sensitive)."},
		{"middle:" + testKey[9:17] + ":", "middle:(sensitive):"},
		{"escaped:" + url.QueryEscape(testPassword[1:9]), "escaped:(sensitive)"},
		{"html:" + html.EscapeString(testPassword[3:12]), "html:(sensitive)"},
		{"invalid username or password", "invalid username or password"},
		{"two runs " + testKey[:8] + " and " + testKey[20:30], "two runs (sensitive) and (sensitive)"},
		{"seven only: " + testKey[:7] + " " + testKey[10:17], "seven only: " + testKey[:7] + " " + testKey[10:17]},
		{"no key here, 100% sure & done\\", "no key here, 100% sure & done\\"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, r.message(tt.in), "%q", tt.in)
	}
}

// A secret value (a PIN) is removed whatever its length, as sent, escaped and in
// base64 on its own. Its runs are not: they are digits of every number.
func TestRedactorRemovesSecretValues(t *testing.T) {
	r := testRedactor()
	r.secret("7")
	for _, form := range []string{testPIN, `\u0034\u0032\u0034\u0032`, "&#52;&#x32;&#x34;&#50;", "%34%32%34%32",
		"NDI0Mg==", "NDI0Mg", "%2534%2532%2534%2532"} {
		require.Equal(t, "pin=(sensitive);", r.message("pin="+form+";"), form)
	}
	require.Equal(t, "(sensitive) apples", r.message("7 apples"), "a PIN of one digit goes, as sent")
	long := &redactor{}
	long.secret("98765432109")
	require.Equal(t, "order 987654321 of (sensitive)", long.message("order 987654321 of 98765432109"))
	require.Equal(t, "base64 of a short PIN inside longer base64 stays: eDQyNDJ4", r.message("base64 of a short PIN inside longer base64 stays: eDQyNDJ4"))
}

// The values a server holds lose the credentials of 8 characters or more, in every
// form, but no secret value: a tenant's PIN is its data.
func TestRedactorData(t *testing.T) {
	r := &redactor{}
	require.Nil(t, r.data(), "nothing sent, nothing to remove")
	r.credential("solo")
	r.secret("123456")
	require.Nil(t, r.data(), "a short key would cut company-ids apart")
	r.credential(testKey)
	clean := r.data()
	require.Equal(t, "solo_ltd 123456", clean("solo_ltd 123456"))
	require.Equal(t, "name (sensitive)", clean("name "+testKey[5:15]))
	require.Equal(t, "b64 (sensitive)", clean("b64 "+base64.RawURLEncoding.EncodeToString([]byte(testKey))))
}

// An error that quotes the server loses the credentials, and keeps its type and
// what it wraps.
func TestRedactorScrubsErrors(t *testing.T) {
	r := testRedactor()
	cause := fmt.Errorf("malformed HTTP response %q", testKey)
	err := error(&TransportError{Verb: "read", Err: cause, Transient: true})
	r.scrubError(err)
	require.Equal(t, `read: malformed HTTP response "(sensitive)"`, err.Error())
	require.ErrorIs(t, err, cause)
	require.True(t, IsTransient(err))

	refused := &APIError{Verb: "update", Message: "bad pin " + testPIN}
	r.scrubError(fmt.Errorf("wrapped: %w", refused))
	require.Equal(t, "bad pin (sensitive)", refused.Message)
}

// undone escapes map back onto the text they stood in, also two layers deep.
func TestUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a%41&amp;&#66;&#x43;\\u0044\\x45\\\"", `aA&BCDE"`},
		{"100% &unknown; \\q \\u12", "100% &unknown; \\q \\u12"},
		{`\ud83d\ude00`, "\U0001F600"},
	}
	for _, tt := range tests {
		got, start, end := unescape(tt.in)
		require.Equal(t, tt.want, got, tt.in)
		if got == tt.in {
			require.Nil(t, start)
			continue
		}
		require.Len(t, start, len(got))
		require.Equal(t, len(tt.in), end[len(end)-1], "the last escape ends the text")
	}
}

// BenchmarkRedactorMessage scrubs a typical fail message, which echoes an update
// request, with a key, a session, a password and a thousand PINs known.
func BenchmarkRedactorMessage(b *testing.B) {
	r := testRedactor()
	for i := range 1000 {
		r.secret(strconv.Itoa(100000 + i*7))
	}
	msg := `bad request: {"type":"company","scope":{"company":"acme_hq"},"values":{"zone":"Europe/London","nm_password":"100700","hs_access":"internal"}} (code 17)`
	b.ReportAllocs()
	for b.Loop() {
		r.message(msg)
	}
}

// BenchmarkRedactorData scrubs one value a server holds, as a read of every company
// does for each of its settings.
func BenchmarkRedactorData(b *testing.B) {
	r := testRedactor()
	clean := r.data()
	b.ReportAllocs()
	for b.Loop() {
		clean("Acme Holdings West, floor 3")
	}
}

// FuzzRedactorMessage: any server text, however its escapes are broken, is scrubbed
// without a panic, and keeps no run of 8 of the key's characters.
func FuzzRedactorMessage(f *testing.F) {
	for _, seed := range []string{"", "%", "%4", "&#", "&#x110000;", `\`, `\u`, `\ud800`, `\ud83d\ude0`, `\x4`,
		"invalid key " + testKey[:12], url.QueryEscape(testKey), html.EscapeString(testPassword)} {
		f.Add(seed)
	}
	r := testRedactor()
	f.Fuzz(func(t *testing.T, text string) {
		out := r.message(text)
		for i := 0; i+runLen <= len(testKey); i++ {
			if strings.Contains(out, testKey[i:i+runLen]) {
				t.Fatalf("%q gave %q, which holds %q", text, out, testKey[i:i+runLen])
			}
		}
	})
}
