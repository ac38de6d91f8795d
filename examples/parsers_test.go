package examples_test

// What the examples hand to other tools is checked here by those tools' own parsers,
// not by our reading of them: the metrics file by Prometheus' text-format parser, the
// GitHub Actions workflow by actionlint, the Kubernetes manifests by strict decoding
// into the Kubernetes API's own types. These modules are test-only dependencies: no
// package of pbxsync's commands imports them.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rhysd/actionlint"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// ---- Prometheus

// promSample is one sample of a gauge, as Prometheus' parser reads it.
type promSample struct {
	Labels map[string]string
	Value  float64
}

// readMetrics parses a metrics file with Prometheus' text-format parser, the one
// node_exporter's textfile collector reads a .prom file with, under the legacy (the
// strictest) rules for names, and returns each family's samples. Every family must be
// a gauge with a help text, and no sample may have a timestamp, which the collector
// refuses.
func readMetrics(t *testing.T, path string) map[string][]promSample {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(readFile(t, path)))
	require.NoError(t, err, "Prometheus' text parser on %s", path)
	out := map[string][]promSample{}
	for name, f := range families {
		require.Equal(t, "GAUGE", f.GetType().String(), name)
		require.NotEmpty(t, f.GetHelp(), name)
		for _, m := range f.GetMetric() {
			require.Nil(t, m.TimestampMs, "%s: node_exporter's textfile collector refuses timestamps", name)
			s := promSample{Labels: map[string]string{}, Value: m.GetGauge().GetValue()}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			out[name] = append(out[name], s)
		}
	}
	return out
}

// ---- GitHub Actions

// lintWorkflow runs actionlint, as a library, on a workflow placed where the example
// says it goes (.github/workflows/) in a repository of its own, so that no
// actionlint configuration around the test applies. shellcheck and pyflakes stay off:
// no program outside this module is run.
func lintWorkflow(t *testing.T, name string, content []byte) ([]*actionlint.Error, string) {
	t.Helper()
	root := t.TempDir()
	path := filepath.Join(root, ".github", "workflows", name)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, content, 0o644))
	project, err := actionlint.NewProject(root)
	require.NoError(t, err)
	var out bytes.Buffer
	linter, err := actionlint.NewLinter(&out, &actionlint.LinterOptions{
		Color:      actionlint.ColorOptionKindNever,
		Shellcheck: "", // off: an empty name disables the rule
		Pyflakes:   "",
		WorkingDir: root,
	})
	require.NoError(t, err)
	errs, err := linter.Lint(path, content, project)
	require.NoError(t, err)
	return errs, out.String()
}

func TestCIPlanReviewActionlint(t *testing.T) {
	content := readFile(t, "ci-plan-review/pbxsync-plan.yml")
	errs, out := lintWorkflow(t, "pbxsync-plan.yml", content)
	require.Empty(t, errs, "actionlint:\n%s", out)

	// actionlint does read it: a typo in a key and in an expression are found.
	broken := strings.Replace(string(content), "timeout-minutes:", "timeout-minute:", 1)
	broken = strings.Replace(broken, "== github.repository", "== github.repositry", 1)
	require.NotEqual(t, string(content), broken)
	errs, out = lintWorkflow(t, "pbxsync-plan.yml", []byte(broken))
	require.Len(t, errs, 2, "actionlint on a broken copy:\n%s", out)
}

// ---- Kubernetes

// kubernetesScheme knows the kinds the examples may use; any other kind is an error.
func kubernetesScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	require.NoError(t, corev1.AddToScheme(scheme))
	require.NoError(t, batchv1.AddToScheme(scheme))
	return scheme
}

// decodeKubernetes decodes every document of a multi-document manifest, each into the
// Kubernetes API type of its apiVersion and kind, strictly: a field the type does not
// have (or spelt in another case), a key twice, a value of the wrong type, or a kind
// the scheme does not know is an error. Every object's
// metadata must pass the API server's validation (names, labels, annotations).
func decodeKubernetes(scheme *runtime.Scheme, name string, data []byte) ([]runtime.Object, error) {
	// The API server's own decoder in strict mode (fieldValidation=Strict): unlike
	// encoding/json, and so sigs.k8s.io/yaml's UnmarshalStrict, it matches field names
	// case-sensitively, and reports duplicate keys and unknown fields.
	decoder := kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
	reader := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objects []runtime.Object
	for i := 1; ; i++ {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if js, err := yaml.YAMLToJSON(doc); err == nil && string(js) == "null" {
			continue // comments only, before the first ---
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		meta, ok := obj.(metav1.Object)
		if !ok {
			return nil, fmt.Errorf("%s: document %d: an object without metadata", name, i)
		}
		// Namespaced kinds, with the namespace left to kubectl apply -n.
		if errs := apivalidation.ValidateObjectMetaAccessor(meta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata")); len(errs) > 0 {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, errs.ToAggregate())
		}
		objects = append(objects, obj)
	}
	return objects, nil
}

// readKubernetes decodes a manifest of the examples; it must hold something.
func readKubernetes(t *testing.T, path string) []runtime.Object {
	t.Helper()
	objects, err := decodeKubernetes(kubernetesScheme(t), path, readFile(t, path))
	require.NoError(t, err, path)
	require.NotEmpty(t, objects, path)
	return objects
}

// TestKubernetesDecodeRefuses makes sure decodeKubernetes would see a broken manifest.
func TestKubernetesDecodeRefuses(t *testing.T) {
	scheme := kubernetesScheme(t)
	good := string(readFile(t, "kubernetes/cronjobs.yaml"))
	_, err := decodeKubernetes(scheme, "good", []byte(good))
	require.NoError(t, err)
	for name, broken := range map[string]string{
		"an unknown field":           strings.Replace(good, "concurrencyPolicy:", "concurrency:", 1),
		"a field in another case":    strings.Replace(good, "concurrencyPolicy:", "concurrencypolicy:", 1),
		"a field in the wrong place": strings.Replace(good, "      backoffLimit: 0", "      restartPolicy: Never\n      backoffLimit: 0", 1),
		"a key twice":                strings.Replace(good, "  timeZone: Etc/UTC\n", "  timeZone: Etc/UTC\n  timeZone: Etc/UTC\n", 1),
		"a value of the wrong type":  strings.Replace(good, "startingDeadlineSeconds: 3600", "startingDeadlineSeconds: an hour", 1),
		"an unknown kind":            strings.Replace(good, "kind: CronJob", "kind: CronTab", 1),
		"an invalid name":            strings.Replace(good, "name: pbxsync-pbx-eu\n", "name: PBXsync_EU\n", 1),
		"an invalid label":           strings.Replace(good, "pbxsync.example.com/pbx: pbx-eu}", "pbxsync.example.com/pbx: pbx eu}", 1),
	} {
		require.NotEqual(t, good, broken, name)
		_, err := decodeKubernetes(scheme, name, []byte(broken))
		require.Error(t, err, name)
		t.Log(err)
	}
}
