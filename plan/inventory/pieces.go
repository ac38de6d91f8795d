package inventory

import (
	"bytes"
	"errors"
	"io"
	"regexp"

	"gopkg.in/yaml.v3"
)

// yaml.v3 builds the node tree of a whole document before it hands over any of it, and
// that tree takes about 14 times the bytes of the text: 190 MB for 20,000 companies with
// every field set. So Load cuts the companies section into pieces of about pieceSize
// bytes, at the lines where a company's key starts, and parses one piece at a time,
// letting go of each tree before it parses the next. The rest of the file (the
// skeleton: the file with the companies blanked, line for line) is parsed first, and
// each piece is parsed behind the file's head (the lines up to companies:), so that an
// alias to an anchor of the head means what it means in the whole file.
//
// The cut is only trusted where yaml.v3 agrees with it: every piece parses, its
// companies are an untagged block mapping whose keys sit exactly on the cut's key
// lines, and no node of a piece defines an anchor (an alias in a later piece, or a
// redefinition, would mean something else). Anything else, a syntax error included,
// and the file is parsed whole, as it always was: errors read the same either way.

// pieceSize is the size of the companies' text parsed at once.
const pieceSize = 64 << 10

// companiesKey starts the line of companiesLineRE: most lines are told apart by it,
// without the regular expression.
var companiesKey = []byte("companies:")

// companiesLineRE is the line that opens the companies section in block style.
var companiesLineRE = regexp.MustCompile(`^companies:[ \t]*(#.*)?\r?$`)

// A cut is a file cut for Load: its skeleton and the pieces of its companies section.
type cut struct {
	data     []byte // the file
	head     int    // the length of its head: the lines up to companies:
	skeleton []byte
	header   int // the line of companies:
	column   int // the column of the companies' keys
	pieces   []piece
}

// A piece is a run of companies of the companies section, parsed on its own.
type piece struct {
	from, to int   // the piece's lines in the file
	shift    int   // what to add to a line of the piece's companies to get the file's line
	keys     []int // the file's lines where the piece's companies start
}

// cutCompanies cuts data into pieces of about size bytes of companies. It returns
// ok false when the file is not laid out so that it can be cut, and no pieces when
// there is nothing to cut (no companies section in block style, or an empty one):
// in both cases parse the file whole.
func cutCompanies(data []byte, size int) (c cut, ok bool) {
	if bytes.Count(data, []byte("\r")) != bytes.Count(data, []byte("\r\n")) || bytes.ContainsAny(data, "\u0085\u2028\u2029") {
		return cut{}, false // line breaks that yaml.v3 counts and the cut would not
	}
	bodyStart := 0
	for start, n := 0, 1; start < len(data); n++ {
		end := lineEnd(data, start)
		if bytes.HasPrefix(data[start:end], companiesKey) && companiesLineRE.Match(bytes.TrimSuffix(data[start:end], []byte("\n"))) {
			if c.header > 0 {
				return cut{}, false // twice: the whole parse says what that means
			}
			c.header, bodyStart = n, end
		}
		start = end
	}
	if c.header == 0 {
		return cut{}, true
	}
	// The body runs from the line after companies: to its last line of content before
	// the next line at column 1; a line between (indented less than the first
	// company's key, but indented) is a layout the cut does not take.
	type key struct{ offset, line int }
	var keys []key
	indent := 0
	bodyEnd, lastLine := bodyStart, c.header
	for start, n := bodyStart, c.header+1; start < len(data); n++ {
		end := lineEnd(data, start)
		in := indentOf(data[start:end])
		if in >= 0 {
			if indent == 0 {
				indent = in
			}
			if indent == 0 || in == 0 {
				break // the next top-level key
			}
			if in < indent {
				return cut{}, false // neither a company nor the next key: the whole parse says what
			}
			if in == indent {
				if !keyStart(data[start+in]) {
					return cut{}, false // ? or : at a key's place, a tag, an anchor, a flow mapping
				}
				keys = append(keys, key{start, n})
			}
			bodyEnd, lastLine = end, n
		}
		start = end
	}
	if len(keys) == 0 {
		return cut{}, true
	}
	c.data, c.head, c.column = data, bodyStart, indent+1
	// A piece ends before the first key past size bytes; the first one starts at the
	// body, with the comments before the first company.
	first, from, fromLine := 0, bodyStart, c.header+1
	for i := 1; i <= len(keys); i++ {
		if i < len(keys) && keys[i].offset-from < size {
			continue
		}
		to := bodyEnd
		if i < len(keys) {
			to = keys[i].offset
		}
		p := piece{from: from, to: to, shift: fromLine - (c.header + 1)}
		for _, k := range keys[first:i] {
			p.keys = append(p.keys, k.line)
		}
		c.pieces = append(c.pieces, p)
		if i < len(keys) {
			first, from, fromLine = i, keys[i].offset, keys[i].line
		}
	}

	blank := lastLine - c.header
	c.skeleton = make([]byte, 0, bodyStart+blank+len(data)-bodyEnd)
	c.skeleton = append(c.skeleton, data[:bodyStart]...)
	c.skeleton = append(c.skeleton, bytes.Repeat([]byte("\n"), blank)...)
	c.skeleton = append(c.skeleton, data[bodyEnd:]...)
	return c, true
}

// lineEnd returns the offset after the line that starts at start, newline included.
func lineEnd(data []byte, start int) int {
	if i := bytes.IndexByte(data[start:], '\n'); i >= 0 {
		return start + i + 1
	}
	return len(data)
}

// indentOf counts the spaces that lead a line; -1 for a blank line or a comment.
func indentOf(line []byte) int {
	if rest := bytes.TrimLeft(line, " \t\r\n"); len(rest) == 0 || rest[0] == '#' {
		return -1
	}
	n := 0
	for line[n] == ' ' {
		n++
	}
	return n
}

// keyStart says whether a line whose content begins with c can begin a company's key:
// a plain or quoted string.
func keyStart(c byte) bool {
	return c == '_' || c == '"' || c == '\'' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// parseOne parses the one document of data.
func parseOne(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return &doc, nil
}

// companiesOf returns the value of the companies key at the cut's header line in a
// parsed document of the cut (the skeleton or a piece).
func (c cut) companiesOf(doc *yaml.Node) *yaml.Node {
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Line == c.header && k.Column == 1 && k.Value == "companies" {
			return root.Content[i+1]
		}
	}
	return nil
}

// parsePiece parses a piece and returns its companies, with the file's lines, or
// ok false when yaml.v3 does not agree with the cut.
func (c cut) parsePiece(p piece) (*yaml.Node, bool) {
	text := make([]byte, 0, c.head+p.to-p.from)
	text = append(append(text, c.data[:c.head]...), c.data[p.from:p.to]...)
	doc, err := parseOne(text)
	if err != nil {
		return nil, false
	}
	m := c.companiesOf(doc)
	if m == nil || m.Kind != yaml.MappingNode || m.Tag != "!!map" || m.Style != 0 || m.Anchor != "" || len(m.Content) != 2*len(p.keys) {
		return nil, false
	}
	if !shiftLines(m.Content, p.shift) {
		return nil, false
	}
	for i, line := range p.keys {
		if k := m.Content[2*i]; k.Line != line || k.Column != c.column {
			return nil, false
		}
	}
	return m, true
}

// shiftLines moves nodes and everything under them by shift lines. It returns
// false when one of them defines an anchor.
func shiftLines(nodes []*yaml.Node, shift int) bool {
	for _, n := range nodes {
		if n.Anchor != "" {
			return false
		}
		n.Line += shift
		if !shiftLines(n.Content, shift) {
			return false
		}
	}
	return true
}
