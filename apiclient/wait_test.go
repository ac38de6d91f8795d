package apiclient_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

func TestWait(t *testing.T) {
	require.NoError(t, apiclient.Wait(t.Context(), time.Millisecond))
	require.NoError(t, apiclient.Wait(t.Context(), 0))

	stop := errors.New("stopped by the test")
	ctx, cancel := context.WithCancelCause(t.Context())
	cancel(stop)
	require.ErrorIs(t, apiclient.Wait(ctx, time.Hour), stop, "an ended context ends the wait with its cause")
	require.ErrorIs(t, apiclient.Wait(ctx, 0), stop)
}
