package main

import (
	"os"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// sample is one sample of a gauge, as Prometheus' own parser reads it.
type sample struct {
	labels map[string]string
	value  float64
}

// readMetrics parses a metrics file with the Prometheus text-format parser, the one
// node_exporter's textfile collector uses, and returns each family's samples; every
// family must be a gauge.
func readMetrics(t *testing.T, path string) map[string][]sample {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	require.NoError(t, err)
	out := map[string][]sample{}
	for name, fam := range families {
		require.Equal(t, "GAUGE", fam.GetType().String(), "%s", name)
		require.NotEmpty(t, fam.GetHelp(), "%s", name)
		for _, m := range fam.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			out[name] = append(out[name], sample{labels: labels, value: m.GetGauge().GetValue()})
		}
	}
	return out
}
