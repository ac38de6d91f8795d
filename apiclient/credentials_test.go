package apiclient_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient"
)

// TestCredentialsFrom: one way to authenticate, or an error that names the
// variables and never a value.
func TestCredentialsFrom(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"key", map[string]string{"PBX_FROM_API_KEY": "s3cretkey"}, ""},
		{"login", map[string]string{"PBX_FROM_USERNAME": "admin", "PBX_FROM_PASSWORD": "s3cretpw"}, ""},
		{"both", map[string]string{"PBX_FROM_API_KEY": "s3cretkey", "PBX_FROM_PASSWORD": "s3cretpw"},
			"two kinds of credentials: set PBX_FROM_API_KEY, or PBX_FROM_USERNAME and PBX_FROM_PASSWORD, not both"},
		{"user alone", map[string]string{"PBX_FROM_USERNAME": "admin"}, "PBX_FROM_USERNAME is set without PBX_FROM_PASSWORD"},
		{"password alone", map[string]string{"PBX_FROM_PASSWORD": "s3cretpw"}, "PBX_FROM_PASSWORD is set without PBX_FROM_USERNAME"},
		{"none", nil, "no credentials: set PBX_FROM_API_KEY, or PBX_FROM_USERNAME and PBX_FROM_PASSWORD"},
		{"other prefix", map[string]string{"PBX_API_KEY": "s3cretkey"}, "no credentials: set PBX_FROM_API_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := apiclient.CredentialsFrom("PBX_FROM", func(k string) string { return tt.env[k] })
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, opt)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "s3cret")
		})
	}
}
