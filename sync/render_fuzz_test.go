package sync_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pbxsync/pbxsync/apiclient"
	"github.com/pbxsync/pbxsync/plan"
	"github.com/pbxsync/pbxsync/sync"
)

// fzHostile are the texts a hostile server writes into its fail messages and
// company-ids (spec/api.md, "What the tool trusts"), to seed the corpus.
var fzHostile = []string{
	"\x1b]0;pwned\x07", "\x1b[2J", "\x1b[8m", "\r", "\n# Heading", "\n\n<img src=x onerror=alert(1)>",
	"```", "|", "\u202e", "\u2066x\u2069", "\u2067\u2068", "\u009b31m", "\u0085", "\x7f", "\xff\xfe", "\xc0",
	"Verified: yes", "\rVerified: yes\n", "\u2028", "\u200b", "\ufeff", "\t", "",
}

// fzUnsafe returns what in out a terminal or viewer would act on: a control other
// than a line feed, DEL, a C1 control, a format character, a line or paragraph
// separator, bytes that are not UTF-8.
func fzUnsafe(out []byte) string {
	for i := 0; i < len(out); {
		r, size := utf8.DecodeRune(out[i:])
		bad := r == utf8.RuneError && size == 1 ||
			r != '\n' && (r < 0x20 || r == 0x7f) ||
			r >= 0x80 && r <= 0x9f ||
			unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029
		if bad {
			lo, hi := max(i-30, 0), min(i+size+30, len(out))
			return fmt.Sprintf("%q at byte %d in %q", out[i:i+size], i, out[lo:hi])
		}
		i += size
	}
	return ""
}

// fzReport is a report whose server texts are id (a company the server named, as
// a prune deletes it) and msg (the server's fail message): a failed delete, a
// failed update, a skipped group, a value the server did not keep, a verification
// that failed, a company not planned, refused credentials.
func fzReport(id, msg string) *sync.Report {
	refused := func(verb string) error { return &apiclient.APIError{Verb: verb, Company: id, Message: msg} }
	return &sync.Report{
		Results: []sync.Result{
			{Change: plan.Change{Action: plan.Delete, Company: id}, Status: sync.Failed, Err: refused("delete")},
			{Change: plan.Change{Action: plan.Update, Company: "acme", Fields: map[string]plan.FieldChange{
				"hs_access": {Before: apiclient.String(msg), After: apiclient.String("x")}}}, Status: sync.Failed, Err: refused("update")},
			{Change: plan.Change{Action: plan.Group, Company: "acme", Target: id}, Status: sync.Skipped, Err: fmt.Errorf("%s failed", id)},
			{Change: plan.Change{Action: plan.Create, Company: "beta"}, Status: sync.OK},
		},
		Drift:       []sync.Drift{{Company: "acme", Field: "hs_access", Want: "x", Got: msg}, {Company: "acme", Field: "nm_password", Want: "1", Got: msg}},
		VerifyError: refused("read"),
		Unresolved:  []plan.Change{{Action: plan.Delete, Company: id}},
		Rounds:      1,
		Fatal:       &apiclient.AuthError{Message: msg},
		NotPlanned:  map[string]string{"delta": "its container could not be read: " + refused("readContainer").Error()},
		Started:     time.Unix(1_700_000_000, 0),
		Duration:    time.Second,
	}
}

// fzMigrationReport is a migration report whose company, notes and differences hold
// server texts.
func fzMigrationReport(id, msg string) sync.MigrationReport {
	n := int64(1001)
	return sync.MigrationReport{
		FormatVersion: 1, From: "https://old.example", To: "https://new.example",
		Companies: []sync.MigratedCompany{
			{Company: id, SourceID: &n, Source: "failed", Target: "created", Note: "delete of " + id + ": " + msg, Differences: []string{msg}},
			{Company: "acme", Source: "kept", Target: "failed", Note: msg},
		},
		Error: msg,
	}
}

// fzRender renders the reports in every form.
func fzRender(t *testing.T, id, msg string) map[string][]byte {
	out := map[string][]byte{}
	rep := fzReport(id, msg)
	var b bytes.Buffer
	if err := rep.WriteSummary(&b); err != nil {
		t.Fatalf("WriteSummary: %v", err)
	}
	out["summary"] = bytes.Clone(b.Bytes())
	b.Reset()
	result := rep.JSON()
	result.Error = strings.Join(strings.Fields(rep.Err().Error()), " ") // as apply sets it
	if err := result.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON: %v", err)
	}
	out["json"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := rep.WriteMetrics(&b, time.Unix(1_700_000_001, 0), "pbx.example.test", rep.Err()); err != nil {
		t.Fatalf("WriteMetrics: %v", err)
	}
	out["metrics"] = bytes.Clone(b.Bytes())
	out["error line"] = []byte(strings.Join(strings.Fields(rep.Err().Error()), " ") + "\n") // as pbxsync prints it
	for _, res := range rep.Results {
		if !strings.Contains(res.Message(), msg) && msg != "" && res.Status == sync.Failed {
			t.Errorf("the message of %s %s lost the server's text: %q", res.Action, res.Company, res.Message())
		}
	}

	mr := fzMigrationReport(id, msg)
	b.Reset()
	if err := mr.WriteJSON(&b); err != nil {
		t.Fatalf("MigrationReport.WriteJSON: %v", err)
	}
	out["migration json"] = bytes.Clone(b.Bytes())
	b.Reset()
	if err := sync.NewMigration(sync.MigrateOptions{}).WriteSummary(&b, mr); err != nil {
		t.Fatalf("Migration.WriteSummary: %v", err)
	}
	out["migration summary"] = bytes.Clone(b.Bytes())
	return out
}

// FuzzReportRenderers renders apply's and migrate's reports made of any company-id
// and fail message: every form stays inert text, the JSON forms one valid document,
// the text forms have as many lines as with a tame message, and the verdict line
// cannot be forged.
func FuzzReportRenderers(f *testing.F) {
	for i, h := range fzHostile {
		f.Add("cust_"+fzHostile[(i+3)%len(fzHostile)], "bad request: "+h)
	}
	all := strings.Join(fzHostile, "")
	f.Add(all, all)
	f.Fuzz(func(t *testing.T, id, msg string) {
		got := fzRender(t, id, msg)
		for form, data := range got {
			if bad := fzUnsafe(data); bad != "" {
				t.Errorf("%s holds %s", form, bad)
			}
			if strings.Contains(form, "json") && !json.Valid(data) {
				t.Errorf("%s is not valid JSON: %q", form, data)
			}
		}
		tame1 := func(s, t string) string { // the same pattern: empty stays empty
			if s == "" {
				return ""
			}
			return t
		}
		tameID, tameMsg := tame1(id, "tamea"), tame1(msg, "tameb")
		if id == msg {
			tameMsg = tameID
		}
		tame := fzRender(t, tameID, tameMsg)
		for _, form := range []string{"summary", "metrics", "error line", "migration summary"} {
			if n, want := bytes.Count(got[form], []byte("\n")), bytes.Count(tame[form], []byte("\n")); n != want {
				t.Errorf("%s has %d lines, %d with a tame message:\n%s", form, n, want, got[form])
			}
		}
		for _, form := range []string{"summary", "migration summary"} {
			if n := strings.Count(string(got[form]), "\nVerified: "); n != 1 {
				t.Errorf("%s has %d verdict lines:\n%s", form, n, got[form])
			}
		}
		if !bytes.HasSuffix(got["summary"], []byte("\nVerified: no\n")) {
			t.Errorf("the summary does not end with its verdict:\n%s", got["summary"])
		}
	})
}
