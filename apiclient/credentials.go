package apiclient

import (
	"crypto/x509"
	"fmt"
)

// CredentialsFrom picks the one way to authenticate that the environment variables of
// prefix give (PBX: PBX_API_KEY, or PBX_USERNAME with PBX_PASSWORD). Its errors
// name the variables, never their values.
func CredentialsFrom(prefix string, getenv func(string) string) (Option, error) {
	keyVar, userVar, passwordVar := prefix+"_API_KEY", prefix+"_USERNAME", prefix+"_PASSWORD"
	key, user, password := getenv(keyVar), getenv(userVar), getenv(passwordVar)
	switch {
	case key != "" && (user != "" || password != ""):
		return nil, fmt.Errorf("two kinds of credentials: set %s, or %s and %s, not both", keyVar, userVar, passwordVar)
	case key != "":
		return WithAPIKey(key), nil
	case user != "" && password == "":
		return nil, fmt.Errorf("%s is set without %s", userVar, passwordVar)
	case user == "" && password != "":
		return nil, fmt.Errorf("%s is set without %s", passwordVar, userVar)
	case user != "":
		return WithLogin(user, password), nil
	}
	return nil, fmt.Errorf("no credentials: set %s, or %s and %s", keyVar, userVar, passwordVar)
}

// LoadCA reads the certificate authorities of a PEM file (--ca-cert), for WithRootCAs.
func LoadCA(file string) (*x509.CertPool, error) {
	data, err := ReadFile(file, MaxCAFile)
	if err != nil {
		return nil, fmt.Errorf("--ca-cert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("--ca-cert %s: no PEM certificate in the file", file)
	}
	return pool, nil
}
