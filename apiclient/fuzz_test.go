package apiclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/pbxsync/pbxsync/apiclient"
)

type servedAnswer struct {
	status int
	body   []byte
}

// FuzzDecodeResponse feeds arbitrary answers to DecodeResponse, and through a Client
// (ReadAll, Read, ReadContainer) served over HTTP: never a panic, and every error is
// an *APIError or a *TransportError.
func FuzzDecodeResponse(f *testing.F) {
	for _, seed := range []struct {
		status int
		body   string
	}{
		{200, `{"result":"success","values":{"acme":{"id":1001,"name":"Acme","data":{"q_ringtime":"15","record":3,"nocallrec":null,"noext":"qh","nm_password":"0000"}}}}`},
		{200, `{"result":"success","values":{"acme":{"id":1001,"name":"Acme","data":{"q_ringtime":15,"zone":"US/Pacific","future":[1,{"a":2}],"vm_callback":"-1"}},"beta":{"id":1002,"name":"Beta","data":{}}}}`},
		{200, `{"result":"success","values":{"acme":{"id":501,"name":"acme","data":{},"members":{"acme":{"id":1001,"name":"Acme","data":{"hs_nm":"3"}},"beta":{"id":1002,"name":"Beta","data":{"nobarge":true}}}}}}`},
		{200, `{"result":"success","values":{"acme":{"id":501,"members":{"x":{"members":{"y":{}}}}}}}`},
		{200, `{"result":"success","message":"grouped okay","containermoves":2}`},
		{200, `{"result":"fail","message":"company \"acme\" not found"}`},
		{200, `{"result":"fail"}`},
		{200, `{"result":"maybe"}`},
		{200, `<html><head><title>Gateway</title></head><body><h1>Please wait</h1></body></html>`},
		{200, `{"result":"success","values":{"acme":{"id":1001,"name":"Ac`},
		{200, `{}`},
		{200, `null`},
		{200, ``},
		{200, `[]`},
		{200, `{"result":"success","values":{"1001":{"id":"1001","name":1001,"data":{"1":1}}}}`},
		{200, `{"result":"success","values":{"acme":{"id":1e400,"data":{"q_ringtime":1e400,"record":-0,"fid":0.5}}}}`},
		{200, `{"result":"success","values":{"acme":{"id":1001,"data":{"noext":"\u00e9\u00e9","zone":"../../etc/passwd","callerid":"-"}}}}`},
		{200, `{"result":"success","values":null,"containermoves":"x"}`},
		{429, `Too Many Requests`},
		{503, `Service Unavailable`},
		{404, `404 page not found`},
		{500, `{"result":"success"}`},
	} {
		f.Add(seed.status, []byte(seed.body))
	}

	var current atomic.Pointer[servedAnswer]
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a := current.Load()
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(hs.Close)
	c, err := apiclient.New(hs.URL, apiclient.WithAPIKey("fuzz"), apiclient.WithRetryPolicy(apiclient.RetryPolicy{Attempts: 1}))
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, status int, body []byte) {
		resp, err := apiclient.DecodeResponse("read", "acme", status, http.Header{}, bytes.NewReader(body))
		checkDecodeError(t, status, err)
		if err == nil {
			if status != http.StatusOK || resp == nil || resp.Result != apiclient.ResultSuccess {
				t.Fatalf("a success needs status 200 and result success: status %d, %+v", status, resp)
			}
			for _, e := range resp.Values {
				checkEntry(t, e)
			}
		}

		if status < 200 || status > 599 {
			return // not a status an HTTP server can send with a body
		}
		if err != nil && len(body) > 512 {
			return // the client adds decoding only to a success; keep long failures cheap
		}
		current.Store(&servedAnswer{status: status, body: body})
		all, err := c.ReadAll(t.Context())
		checkDecodeError(t, status, err)
		for _, co := range all {
			checkSettings(t, co.Settings)
		}
		co, err := c.Read(t.Context(), "acme")
		checkDecodeError(t, status, err)
		if err == nil && co.ID != "acme" {
			t.Fatalf("Read of acme returned %q", co.ID)
		}
		box, err := c.ReadContainer(t.Context(), "acme")
		checkDecodeError(t, status, err)
		for _, m := range box.Members {
			checkSettings(t, m.Settings)
		}
	})
}

func checkDecodeError(t *testing.T, status int, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var apiErr *apiclient.APIError
	var te *apiclient.TransportError
	switch {
	case errors.As(err, &apiErr):
		if status != http.StatusOK || apiErr.Message == "" {
			t.Fatalf("an APIError needs status 200 and a message: status %d, %v", status, err)
		}
	case errors.As(err, &te):
		if te.Status != status {
			t.Fatalf("TransportError.Status = %d, want %d", te.Status, status)
		}
		_ = err.Error()
	default:
		t.Fatalf("error %T is neither *APIError nor *TransportError: %v", err, err)
	}
}

func checkEntry(t *testing.T, e apiclient.Entry) {
	t.Helper()
	checkSettings(t, e.Data)
	for _, m := range e.Members {
		checkEntry(t, m)
	}
}

// checkSettings normalises, compares and prints every value; each must write valid JSON.
func checkSettings(t *testing.T, s apiclient.Settings) {
	t.Helper()
	_ = s.String()
	for name, v := range s.All() {
		if !json.Valid([]byte(v.JSON())) {
			t.Fatalf("%s: a decoded value writes invalid JSON %q", name, v.JSON())
		}
		if f, ok := apiclient.LookupField(name); ok {
			if n, err := f.Normalize(v); err == nil && !f.Equal(v, n) {
				t.Fatalf("%s: %s does not equal its normal form %s", name, v.JSON(), n.JSON())
			}
		}
		_ = apiclient.Equal(name, v, v)
		_ = apiclient.Display(name, v)
	}
}
