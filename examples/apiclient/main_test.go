package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQuickstart(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))
	got := out.String()
	require.Contains(t, got, "acme_west  Acme West  US/Pacific    (sensitive)  acme_hq (acme_hq, acme_west)")
	require.Contains(t, got, `sent 15, the server keeps "15", the same value: true`)
	require.Contains(t, got, "the server answered success and keeps null")
	require.NotContains(t, got, pin, "the PIN is a secret")
}
