package inventory

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"zone", "zone", 0}, {"", "abc", 3}, {"abc", "", 3},
		{"q_ringtme", "q_ringtime", 1}, {"kitten", "sitting", 3}, {"nobarge", "nopickup", 6},
	} {
		require.Equal(t, tc.want, editDistance(tc.a, tc.b), "%q %q", tc.a, tc.b)
		require.Equal(t, tc.want, editDistance(tc.b, tc.a), "%q %q", tc.b, tc.a)
	}
}

func TestNearest(t *testing.T) {
	fields := []string{"zone", "q_ringtime", "q_pausetime", "vm_silent"}
	require.Equal(t, "q_ringtime", Nearest("q_ringtme", fields))
	require.Equal(t, "zone", Nearest("ZONE", fields))
	require.Equal(t, "vm_silent", Nearest("vm_silnet", fields))
	require.Equal(t, "", Nearest("colour", fields))
	require.Equal(t, "", Nearest("", fields))
}
