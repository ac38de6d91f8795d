package apiclient_test

import (
	"path/filepath"
	"testing"

	"github.com/pbxsync/pbxsync/apiclient"
)

func TestSameServer(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://pbx.example.com", "https://pbx.example.com/", true},
		{"https://PBX.example.com", "https://pbx.example.com", true},
		{"HTTPS://pbx.example.com/api/", "https://pbx.example.com/api", true},
		{"https://pbx.example.com", "http://pbx.example.com", false},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081", false},
		{"sim:state.yaml", "sim:./state.yaml", true},
		{"sim:state.yaml", "sim:" + filepath.Join(dir, "state.yaml"), true},
		{"sim:state.yaml", "sim:other.yaml", false},
		{"sim:state.yaml", "http://127.0.0.1:8080", false},
	}
	for _, tt := range tests {
		if got := apiclient.SameServer(tt.a, tt.b); got != tt.want {
			t.Errorf("SameServer(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := apiclient.SameServer(tt.b, tt.a); got != tt.want {
			t.Errorf("SameServer(%q, %q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestServerLabel(t *testing.T) {
	for raw, want := range map[string]string{
		"https://pbx.example.com:8443/": "pbx.example.com:8443",
		"http://127.0.0.1:8080":         "127.0.0.1:8080",
		"sim:state.yaml":                "sim:state.yaml",
	} {
		if got := apiclient.ServerLabel(raw); got != want {
			t.Errorf("ServerLabel(%q) = %q, want %q", raw, got, want)
		}
	}
}
