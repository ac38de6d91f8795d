package sync

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/pbxsync/pbxsync/apiclient"
)

// DoctorReport is what doctor found, as --json prints it (cli.md "First contact").
type DoctorReport struct {
	Checks               []DoctorCheck `json:"checks"`
	Role                 string        `json:"role,omitempty"`
	GroupMode            string        `json:"group_mode,omitempty"`            // --write-test: move or merge
	FeatureSwitchesKept  *bool         `json:"feature_switches_kept,omitempty"` // --write-test
	SuggestedParallelism int           `json:"suggested_parallelism,omitempty"`
}

// DoctorCheck is one check: its name (one of doctorChecks), whether it was ok, a
// warning, failed, or skipped (it could not run, and Detail says why), and what was
// found or what to do.
type DoctorCheck struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, warning, failed or skipped
	Detail string `json:"detail"`
}

// The checks doctor lists, in the order it lists them: each one, ran or skipped with
// the reason (cli.md "First contact", v0.3: nothing is left out silently); those of
// writeChecks with --write-test only, and "write test" only when the scratch
// companies could not be made.
var (
	readChecks   = []string{"tls", "server", "credentials", "api version", "containers", "latency", "parallelism"}
	writeChecks  = []string{"write test", "group mode", "update", "features", "cleanup"}
	doctorChecks = slices.Concat(readChecks, writeChecks)
)

func (r *DoctorReport) add(name, status, format string, args ...any) {
	r.Checks = append(r.Checks, DoctorCheck{Name: name, Status: status, Detail: apiclient.Printable(fmt.Sprintf(format, args...))})
}

func (r *DoctorReport) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c DoctorCheck) bool { return c.Status == "failed" })
}

// DoctorClient is what doctor's checks need of a server.
type DoctorClient interface {
	Client
	Retries() int
	PeerCertificate() *x509.Certificate
	Limiter() *apiclient.Limiter
}

// DoctorOptions say what doctor checks, and on what.
type DoctorOptions struct {
	URL       string   // the server as the user named it
	Simulated bool     // the embedded simulator (sim:FILE): no network, no TLS
	WriteTest bool     // --write-test: scratch companies, or a switch of Companies[0]
	Companies []string // --company: read when every company cannot be (a company administrator)
}

func (r *DoctorReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-8s %-12s %s\n", c.Status, c.Name, c.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Doctor runs the checks of a first contact with a server (cli.md "First contact"),
// in order. It only reads, unless opts.WriteTest. Every check is listed: one that
// cannot run, on a server that holds no company or after a failed check it needs,
// as skipped, with the reason.
func Doctor(ctx context.Context, srv DoctorClient, opts DoctorOptions) *DoctorReport {
	rep := &DoctorReport{}
	runDoctor(ctx, srv, opts, rep)
	rep.skipRest(opts.WriteTest)
	return rep
}

// runDoctor runs the checks until one fails that the next ones need. With
// --write-test and a System-Admin's credentials, the scratch companies are made
// first: on a server that holds no company, the reads are checked on them.
func runDoctor(ctx context.Context, srv DoctorClient, opts DoctorOptions, rep *DoctorReport) {
	start := time.Now()
	all, err := srv.ReadAll(ctx)
	first := time.Since(start)
	if !checkTLS(srv, opts, err, time.Now(), rep) {
		return
	}
	all, ok := checkAccess(ctx, srv, opts, all, err, rep)
	if !ok {
		return
	}
	var scratch []string
	if opts.WriteTest && rep.Role == "system_admin" {
		s := &scratchCompanies{}
		defer s.delete(ctx, srv, rep)
		scratch = s.create(ctx, srv, rep)
	}
	probe := ""
	switch {
	case len(all) > 0:
		probe = all[0].ID
	case len(scratch) > 0:
		probe = scratch[0]
	}
	checkVersion(ctx, srv, all, probe, rep)
	if !checkContainers(ctx, srv, probe, rep) || !checkLatency(ctx, srv, probe, first, rep) {
		return
	}
	switch {
	case opts.WriteTest && rep.Role == "company_admin":
		const why = "a company administrator's credentials cannot create the scratch companies it needs"
		rep.add("group mode", "skipped", why)
		rep.add("update", "skipped", why)
		switchTest(ctx, srv, probe, rep)
	case scratch != nil:
		writeTest(ctx, srv, scratch, rep)
	}
}

// skipRest lists each check that did not run, of those doctor lists (the write
// test's with writeTest), as skipped because of the first check that failed; and
// puts the checks in the order of doctorChecks.
func (r *DoctorReport) skipRest(writeTest bool) {
	reason := "not reached"
	if i := slices.IndexFunc(r.Checks, func(c DoctorCheck) bool { return c.Status == "failed" }); i >= 0 {
		reason = "the " + r.Checks[i].Name + " check failed"
	}
	listed := readChecks
	if writeTest {
		listed = doctorChecks
	}
	for _, name := range listed {
		ran := slices.ContainsFunc(r.Checks, func(c DoctorCheck) bool { return c.Name == name })
		if !ran && name != "write test" {
			r.add(name, "skipped", "%s", reason)
		}
	}
	slices.SortStableFunc(r.Checks, func(a, b DoctorCheck) int {
		return cmp.Compare(slices.Index(doctorChecks, a.Name), slices.Index(doctorChecks, b.Name))
	})
}

// checkAccess adds the "server" and "credentials" checks from the answer to reading
// every company (all, err), and learns the role. A company administrator's
// credentials read opts.Companies instead. It returns the companies read, and
// whether the checks can go on.
func checkAccess(ctx context.Context, srv DoctorClient, opts DoctorOptions, all []apiclient.Company, err error, rep *DoctorReport) ([]apiclient.Company, bool) {
	if err != nil && !apiclient.IsRefused(err) {
		rep.add("server", "failed", "no answer of the API: %v", err)
		return nil, false
	}
	rep.add("server", "ok", "%s answers the company API", opts.URL) // a refusal is an answer
	switch {
	case apiclient.IsRefused(err) && len(opts.Companies) > 0:
		all = all[:0]
		for _, id := range opts.Companies {
			c, err := srv.Read(ctx, id)
			if err != nil {
				rep.add("credentials", "failed", "the server refused to read every company, and %s: %v", id, err)
				return nil, false
			}
			all = append(all, c)
		}
		rep.Role = "company_admin"
		rep.add("credentials", "warning", "a company administrator's: %s can be read, not every company; plans read the inventory's companies one by one, cannot create or delete, leave containers alone, and the server ignores feature switches", strings.Join(opts.Companies, ", "))
	case apiclient.IsRefused(err):
		rep.add("credentials", "failed", "the server refused to read every company: the key or password is refused, or it is a company administrator's, which pbxsync can use only for its own companies: then name one with --company ID: %v", err)
		return nil, false
	default:
		rep.Role = "system_admin"
		rep.add("credentials", "ok", "a System-Admin's: every company can be read (%s)", countOf(len(all), "company", "companies"))
	}
	return all, true
}

// checkVersion adds the "api version" check: which fields of the table the
// server's companies lack. On a server that holds none, it reads probe, a scratch
// company, if there is one.
func checkVersion(ctx context.Context, srv DoctorClient, all []apiclient.Company, probe string, rep *DoctorReport) {
	if len(all) == 0 && probe == "" {
		rep.add("api version", "skipped", "the server holds no company, whose fields would tell its version: --write-test creates scratch companies and reads theirs")
		return
	}
	if len(all) == 0 {
		c, err := srv.Read(ctx, probe)
		if err != nil {
			rep.add("api version", "failed", "a read of the scratch company %s failed: %v", probe, err)
			return
		}
		all = []apiclient.Company{c}
	}
	fields := map[string]bool{}
	for _, c := range all {
		for name := range c.Settings.All() {
			fields[name] = true
		}
	}
	var missing []string
	for _, f := range apiclient.Fields() {
		if !fields[f.Name] {
			missing = append(missing, f.Name+" (since "+cmp.Or(f.Since, "every version")+")")
		}
	}
	if len(missing) == 0 {
		rep.add("api version", "ok", "every field of the table is returned: 6.5, or a version as new")
	} else {
		rep.add("api version", "warning", "fields not returned: %s: an older server, whose plans leave them alone", strings.Join(missing, ", "))
	}
}

// checkContainers adds the "containers" check: a read of probe's container. It
// reports whether the checks can go on.
func checkContainers(ctx context.Context, srv DoctorClient, probe string, rep *DoctorReport) bool {
	switch {
	case rep.Role == "company_admin":
		rep.add("containers", "warning", "a company administrator may not read containers: plans leave them alone")
	case probe == "":
		rep.add("containers", "skipped", "the server holds no company to read the container of: --write-test creates scratch companies and reads theirs")
	default:
		if _, err := srv.ReadContainer(ctx, probe); err != nil {
			rep.add("containers", "failed", "the container of %s cannot be read: %v", probe, err)
			return false
		}
		rep.add("containers", "ok", "containers can be read")
	}
	return true
}

// checkLatency adds the "latency" and "parallelism" checks: the median of five
// reads of probe (on a server that holds no company, "": of the list of companies);
// then the limit on requests in flight that --parallelism auto finds for the server,
// the same measure, over a few dozen reads (probeParallelism). It reports whether
// the checks can go on.
func checkLatency(ctx context.Context, srv DoctorClient, probe string, first time.Duration, rep *DoctorReport) bool {
	var one []time.Duration
	for range 5 {
		t := time.Now()
		if err := probeRead(ctx, srv, probe); err != nil {
			rep.add("latency", "failed", "a read of %s failed: %v", cmp.Or(probe, "the companies"), err)
			return false
		}
		one = append(one, time.Since(t))
	}
	slices.Sort(one)
	base := one[len(one)/2]
	if probe == "" {
		rep.add("latency", "ok", "a read of the companies, none here, takes %s", roundTime(base))
	} else {
		rep.add("latency", "ok", "a read takes %s (the read of every company took %s)", roundTime(base), roundTime(first))
	}
	suggested := probeParallelism(ctx, srv, probe)
	rep.SuggestedParallelism = suggested
	rep.add("parallelism", "ok", "%d requests in flight are answered without queueing, as --parallelism auto finds (the default); --parallelism %d pins it", suggested, suggested)
	return true
}

// probeRead reads probe, or with "" every company (a server that holds none).
func probeRead(ctx context.Context, srv DoctorClient, probe string) error {
	var err error
	if probe == "" {
		_, err = srv.ReadAll(ctx)
	} else {
		_, err = srv.Read(ctx, probe)
	}
	return err
}

// probeReads is how many reads probeParallelism sends.
const probeReads = 32

// probeParallelism reads probe probeReads times through the client's limiter, as
// many at once as it lets through, and returns the limit it reached: what the
// server answers without a queue forming or a 429 (apiclient.Limiter, adaptive).
// A client without an adaptive limiter gives 1.
func probeParallelism(ctx context.Context, srv DoctorClient, probe string) int {
	l := srv.Limiter()
	if l == nil || l.Fixed() {
		return 1
	}
	var g errgroup.Group
	g.SetLimit(l.Max())
	for range probeReads {
		g.Go(func() error {
			_ = probeRead(ctx, srv, probe) // a refusal is the limiter's news, not the check's
			return nil
		})
	}
	_ = g.Wait()
	return l.Limit()
}

// certificateWarning is how close to its expiry a server's certificate is worth a
// warning: a month, time enough to renew it.
const certificateWarning = 30 * 24 * time.Hour

// checkTLS adds the "tls" check from the first request's outcome: the certificate
// the server presented (who it is for, who issued it, when it expires), plain http://,
// or a certificate that could not be verified. It reports whether the checks can go on.
func checkTLS(srv DoctorClient, opts DoctorOptions, err error, now time.Time, rep *DoctorReport) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	switch {
	case errors.As(err, &unknown):
		rep.add("tls", "failed", "the server's certificate is not signed by a CA this machine trusts: if a private CA signed it, name its certificate with --ca-cert FILE (%v)", err)
		return false
	case errors.As(err, &hostname):
		rep.add("tls", "failed", "the server's certificate is for another name: use the URL its certificate names (%v)", err)
		return false
	case errors.As(err, &invalid):
		rep.add("tls", "failed", "the server's certificate is not valid: %v", err)
		return false
	}
	if opts.Simulated {
		rep.add("tls", "ok", "the embedded simulator: nothing crosses the network")
		return true
	}
	cert := srv.PeerCertificate()
	if cert == nil {
		u, perr := url.Parse(opts.URL)
		switch {
		case perr == nil && u.Scheme == "http" && apiclient.LoopbackHost(u.Hostname()):
			rep.add("tls", "ok", "http:// to this machine: nothing crosses the network")
		case perr == nil && u.Scheme == "http":
			rep.add("tls", "warning", "http:// to another host (--allow-http): the credentials cross the network in the clear; use https://")
		default:
			rep.add("tls", "warning", "no certificate seen: the server did not answer over TLS")
		}
		return true
	}
	left := cert.NotAfter.Sub(now)
	subject := cmp.Or(strings.Join(cert.DNSNames, ", "), cert.Subject.CommonName, "(no name)")
	detail := fmt.Sprintf("verified; for %s, issued by %s, valid until %s", subject,
		cmp.Or(cert.Issuer.CommonName, strings.Join(cert.Issuer.Organization, ", "), "(no name)"), cert.NotAfter.UTC().Format(time.DateOnly))
	if left < certificateWarning {
		rep.add("tls", "warning", "%s: it expires in %s; renew it, or every run will fail", detail, countOf(int(left.Hours()/24), "day", "days"))
	} else {
		rep.add("tls", "ok", "%s (%s left)", detail, countOf(int(left.Hours()/24), "day", "days"))
	}
	return true
}

// switchTest learns, for a company administrator's credentials, whether a feature
// switch is kept: it sends nocallrec of company, the other way round, and reads the
// company back; when the server kept it, it sends the old value again. Nothing else
// is written, and a company administrator cannot create scratch companies.
func switchTest(ctx context.Context, srv DoctorClient, company string, rep *DoctorReport) {
	before, err := srv.Read(ctx, company)
	if err != nil {
		rep.add("features", "failed", "read of %s: %v", company, err)
		return
	}
	old, ok := before.Settings.Lookup("nocallrec")
	if !ok {
		rep.add("features", "warning", "the server does not return nocallrec of %s: a server older than 6.3.22, without feature switches", company)
		rep.add("cleanup", "skipped", "nothing was written")
		return
	}
	flipped := apiclient.Bool(!apiclient.Equal("nocallrec", old, apiclient.Bool(true)))
	write, cancel := seenThrough(ctx)
	_, err = srv.Update(write, company, apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": flipped})})
	cancel()
	// From here the tenant's switch may be flipped, even when the update's answer was
	// lost or the run interrupted: it is set back whatever happens next.
	defer setBack(ctx, srv, company, old, rep)
	if err != nil {
		rep.add("features", "failed", "update of nocallrec of %s: %v", company, err)
		return
	}
	after, err := srv.Read(ctx, company)
	if err != nil {
		rep.add("features", "failed", "read back of %s: %v", company, err)
		return
	}
	kept := apiclient.Equal("nocallrec", after.Settings.Get("nocallrec"), flipped)
	rep.FeatureSwitchesKept = &kept
	if !kept {
		rep.add("features", "warning", "feature switches are not kept for these credentials: the server answered success and left nocallrec of %s as it was; leave feature switches out of the inventories these credentials apply", company)
		return
	}
	rep.add("features", "ok", "feature switches are kept for these credentials")
}

// seenThrough is the context of a write doctor must undo: an interrupt does not cut
// it off, its answer is awaited (up to a minute), so that the undoing reaches the
// server after it, never before it. A request the client abandoned may still be
// carried out, after the read that was to find it.
func seenThrough(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

// setBack sets nocallrec of company back to old after switchTest, on a context of
// its own when ctx is done (an interrupt): it reads the company and writes old only
// where the switch is not old. A switch it cannot set back is a failed check that
// names the company and the switch ("cleanup", as for the scratch companies).
func setBack(ctx context.Context, srv DoctorClient, company string, old apiclient.Value, rep *DoctorReport) {
	restore, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	now, err := srv.Read(restore, company)
	if err == nil && apiclient.Equal("nocallrec", now.Settings.Get("nocallrec"), old) {
		// never flipped, or the server did not keep it
		rep.add("cleanup", "ok", "nocallrec of %s is as it was: nothing to set back", company)
		return
	}
	if err == nil {
		_, err = srv.Update(restore, company, apiclient.Changes{Settings: apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": old})})
	}
	if err != nil {
		rep.add("cleanup", "failed", "nocallrec of %s may be left flipped: set it back to %s by hand: %v", company, old.JSON(), err)
		return
	}
	rep.add("cleanup", "ok", "nocallrec of %s was set back to %s", company, old.JSON())
}

// scratchCompanies are the companies of the write test, pbxsync_doctor_<random>_a,
// _b and _c: each created in a container of its own, and deleted at the end
// whatever happened.
type scratchCompanies struct {
	// tried are the creates tried, answered or not: one whose answer an interrupt
	// cut off may exist all the same, so delete reads each back before deleting it.
	tried []string
}

// create creates the three scratch companies and returns their ids; nil, with a
// failed "write test" check, when one could not be created.
func (s *scratchCompanies) create(ctx context.Context, srv DoctorClient, rep *DoctorReport) []string {
	prefix := "pbxsync_doctor_" + strings.ToLower(rand.Text()[:8]) + "_"
	ids := []string{prefix + "a", prefix + "b", prefix + "c"}
	for _, id := range ids {
		if ctx.Err() != nil {
			rep.add("write test", "failed", "interrupted: %v", context.Cause(ctx))
			return nil
		}
		s.tried = append(s.tried, id)
		write, cancel := seenThrough(ctx)
		_, err := srv.CreateConfirmed(write, id, "pbxsync doctor", "")
		cancel()
		if err != nil {
			rep.add("write test", "failed", "create of %s: %v", id, err)
			return nil
		}
	}
	return ids
}

// delete deletes the scratch companies, on a context of its own when ctx is done,
// and adds the "cleanup" check.
func (s *scratchCompanies) delete(ctx context.Context, srv DoctorClient, rep *DoctorReport) {
	cleanup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	var left []string
	for _, id := range s.tried {
		_, exists, err := srv.Lookup(cleanup, id)
		if err == nil && exists {
			err = srv.DeleteConfirmed(cleanup, id)
		}
		if err != nil {
			left = append(left, id)
		}
	}
	switch {
	case len(left) > 0:
		rep.add("cleanup", "failed", "could not delete the scratch companies %s: delete them by hand", strings.Join(left, ", "))
	case len(s.tried) > 0:
		rep.add("cleanup", "ok", "the scratch companies are deleted")
	default:
		rep.add("cleanup", "skipped", "no scratch company was created")
	}
}

// writeTest learns from the scratch companies ids, A, B and C, each in a container
// of its own: it groups B into A's container, then A into C's: a server that moves
// a company alone leaves B behind, one that moves whole containers takes B along.
// It sets a feature switch and a setting on A and reads the update's answer.
func writeTest(ctx context.Context, srv DoctorClient, ids []string, rep *DoctorReport) {
	if _, err := srv.Group(ctx, ids[1], ids[0]); err != nil {
		rep.add("group mode", "failed", "group of %s into the container of %s: %v", ids[1], ids[0], err)
		return
	}
	if _, err := srv.Group(ctx, ids[0], ids[2]); err != nil {
		rep.add("group mode", "failed", "group of %s into the container of %s: %v", ids[0], ids[2], err)
		return
	}
	box, err := srv.ReadContainer(ctx, ids[2])
	if err != nil {
		rep.add("group mode", "failed", "read back the container of %s: %v", ids[2], err)
		return
	}
	rep.GroupMode = "move"
	if slices.Contains(box.MemberIDs(), ids[1]) {
		rep.GroupMode = "merge"
	}
	rep.add("group mode", "ok", "group moves %s (pbxsync plans for either)", map[string]string{"move": "the company alone", "merge": "its whole container"}[rep.GroupMode])

	want := apiclient.SettingsOf(map[string]apiclient.Value{"nocallrec": apiclient.Bool(true), "vm_silent": apiclient.String("yes")})
	got, err := srv.Update(ctx, ids[0], apiclient.Changes{Settings: want})
	if err != nil {
		rep.add("update", "failed", "update of %s: %v", ids[0], err)
		return
	}
	if apiclient.Equal("vm_silent", got.Settings.Get("vm_silent"), want.Get("vm_silent")) {
		rep.add("update", "ok", "an update's answer shows what was written: verification needs no read")
	} else {
		rep.add("update", "warning", "an update's answer does not show what was written (vm_silent: %s): verification will report drift", got.Settings.Get("vm_silent").JSON())
	}
	kept := apiclient.Equal("nocallrec", got.Settings.Get("nocallrec"), want.Get("nocallrec"))
	rep.FeatureSwitchesKept = &kept
	if kept {
		rep.add("features", "ok", "feature switches are kept for these credentials")
	} else {
		rep.add("features", "warning", "a feature switch (nocallrec) was not kept: these credentials may not set them; leave feature switches out of the inventory, or use a System-Admin key")
	}
}

// roundTime rounds a duration to what a person reads: milliseconds, or tens of
// microseconds below ten milliseconds (a simulator on this machine).
func roundTime(d time.Duration) time.Duration {
	if d < 10*time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
