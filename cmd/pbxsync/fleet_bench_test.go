package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pbxsync/pbxsync/apiclient/pbxtest"
	"github.com/pbxsync/pbxsync/apiclient/pbxtest/simtest"
	"github.com/pbxsync/pbxsync/plan"
)

// fleetBenchPBX is PBX number p of the fleet benchmark: a server of n companies in
// containers of four, each with a zone and a queue setting, and its inventory, which
// lists them all with every hundredth company's queue setting drifted (1%: an update).
func fleetBenchPBX(p, n int) (pbxtest.State, string) {
	st := pbxtest.State{Containers: map[string][]string{}}
	var companies, containers strings.Builder
	for i := range n {
		id := fmt.Sprintf("p%02dc%05d", p, i)
		ring := 5 + i%20
		st.Companies = append(st.Companies, co(id, "Company "+id, "zone", "Europe/London", "q_ringtime", strconv.Itoa(ring)))
		if i%100 == 0 {
			ring++
		}
		fmt.Fprintf(&companies, "  %s:\n    name: Company %s\n    settings: {zone: Europe/London, q_ringtime: %d}\n", id, id, ring)
		box := fmt.Sprintf("p%02dc%05d", p, i-i%4)
		st.Containers[box] = append(st.Containers[box], id)
		if i%4 == 3 || i == n-1 {
			fmt.Fprintf(&containers, "  %s: [%s]\n", box, strings.Join(st.Containers[box], ", "))
		}
	}
	return st, "version: 1\ncompanies:\n" + companies.String() + "containers:\n" + containers.String()
}

// BenchmarkFleetPlan plans a fleet of ten PBXs of 2,000 companies each (500
// containers of four; 1% of the companies drifted), each a simulator on a loopback
// port that takes 50 ms to answer any request. Each op takes seconds:
//
//	go test ./cmd/pbxsync -run '^$' -bench BenchmarkFleetPlan -benchtime 3x
//
// A PBX's plan reads 1 + 500 containers, at --parallelism auto (the default): the
// server queues nothing, so the limit grows to --max-parallelism (32), about 1 +
// ceil(500/32) = 17 round trips once it has. "one-pbx" is a fleet of one of them, the
// baseline; "ten-pbxs/pbx-parallelism=M" the whole fleet, read M PBXs at once (all is
// the default), and its x-one-pbx is its time over the baseline's (reported when
// one-pbx ran first): the goal is about 1, the time of the slowest PBX, not the sum
// (10); at M = 4 the PBXs go in ceil(10/4) = 3 waves. requests/op counts what the
// ten servers answered. The simulators run in this process: on a machine of few
// cores, their CPU and the client's (about 0.3 s a PBX) add to the ten-PBX figure.
func BenchmarkFleetPlan(b *testing.B) {
	const pbxs, companies, latency = 10, 2000, 50 * time.Millisecond
	dir := b.TempDir()
	vars := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	var servers []*simtest.Server
	var entries []string // of the fleet file, by PBX
	for p := range pbxs {
		st, inv := fleetBenchPBX(p, companies)
		srv := simtest.NewServer(b, pbxtest.WithState(st)) // latency once checked
		servers = append(servers, srv)
		name := fmt.Sprintf("pbx%02d", p)
		file := filepath.Join(dir, name+".yaml")
		require.NoError(b, os.WriteFile(file, []byte(inv), 0o600))
		entries = append(entries, fmt.Sprintf("  %s:\n    url: %s\n    credentials: site%02d\n    inventory: %s\n", name, srv.URL, p, file))
		vars[fmt.Sprintf("PBX_SITE%02d_API_KEY", p)] = pbxtest.AdminKey
	}
	fleet := func(name string, entries []string) string {
		file := filepath.Join(dir, name)
		require.NoError(b, os.WriteFile(file, []byte("version: 1\npbxs:\n"+strings.Join(entries, "")), 0o600))
		return file
	}
	one, all := fleet("one.yaml", entries[:1]), fleet("fleet.yaml", entries)
	requests := func() int {
		n := 0
		for _, srv := range servers {
			n += srv.Stats().TotalRequests()
		}
		return n
	}

	// The plan measured is the one meant: checked once, before the latency, in JSON.
	var stdout, stderr bytes.Buffer
	code := run(b.Context(), []string{"plan", "--fleet", all, "--format", "json"}, strings.NewReader(""), &stdout, &stderr, lookup)
	require.Equal(b, 0, code, "stderr: %s", stderr.String())
	var doc plan.JSONFleetPlan
	require.NoError(b, json.Unmarshal(stdout.Bytes(), &doc))
	require.Equal(b, plan.JSONFleetSummary{PBXs: pbxs, JSONSummary: plan.JSONSummary{Update: pbxs * companies / 100}}, doc.Summary)
	require.Equal(b, pbxs*(1+companies/4), requests(), "a plan reads 1 + its containers on each PBX")
	for _, srv := range servers {
		srv.SetFaults(pbxtest.Faults{Latency: latency})
	}

	// measure plans fleet at --pbx-parallelism m, and returns the time of one plan.
	measure := func(b *testing.B, fleet string, m int) time.Duration {
		args := []string{"plan", "--fleet", fleet, "--pbx-parallelism", strconv.Itoa(m)}
		before, n := requests(), 0
		for b.Loop() {
			var stderr bytes.Buffer
			if code := run(b.Context(), args, strings.NewReader(""), io.Discard, &stderr, lookup); code != 0 {
				b.Fatalf("plan --fleet %s exited %d: %s", filepath.Base(fleet), code, stderr.String())
			}
			n++
		}
		per := b.Elapsed() / time.Duration(n)
		b.ReportMetric(float64(requests()-before)/float64(n), "requests/op")
		return per
	}
	var baseline time.Duration
	b.Run("one-pbx", func(b *testing.B) { baseline = measure(b, one, 4) })
	b.Run("ten-pbxs", func(b *testing.B) {
		for _, m := range []int{4, 10} {
			b.Run(fmt.Sprintf("pbx-parallelism=%d", m), func(b *testing.B) {
				per := measure(b, all, m)
				if baseline > 0 {
					b.ReportMetric(per.Seconds()/baseline.Seconds(), "x-one-pbx")
				}
			})
		}
	})
}
