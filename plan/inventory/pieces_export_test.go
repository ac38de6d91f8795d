package inventory

// LoadInPieces is Load with the companies parsed size bytes at a time (1: each
// company alone); 0 parses the file whole.
func LoadInPieces(file string, data []byte, opts LoadOptions, size int) (*Inventory, []Diagnostic, error) {
	return loadFiles([]File{{Name: file, Data: data}}, opts, size)
}

// Pieces says in how many pieces Load parses data's companies when it cuts them
// every size bytes: 0 when it parses the file whole.
func Pieces(data []byte, size int) int {
	c, ok := cutCompanies(data, size)
	if !ok || c.pieces == nil {
		return 0
	}
	l := &loader{file: "pieces.yaml", pieceSize: size}
	if _, ok := l.readDoc(File{Name: "pieces.yaml", Data: data}, c.skeleton, &c); !ok {
		return 0
	}
	return len(c.pieces)
}
