package examples_test

// The repository's Dockerfile, which the Kubernetes examples' image is built from,
// read by BuildKit's own Dockerfile parser (the frontend of docker build; buildah and
// podman read the same syntax). No image is built here: no registry is reachable for
// the Go image of the build stage. A test-only dependency, as the other parsers.

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/require"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// dockerfile parses a Dockerfile as BuildKit does, its linter on, and returns its
// stages and the ARGs before the first FROM.
func dockerfile(t *testing.T, data []byte) ([]instructions.Stage, []instructions.ArgCommand) {
	t.Helper()
	ast, err := parser.Parse(bytes.NewReader(data))
	require.NoError(t, err)
	require.Empty(t, ast.Warnings, "BuildKit's parser warns")
	var lints []string
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, _ []parser.Range) { lints = append(lints, rule+": "+msg) }})
	stages, metaArgs, err := instructions.Parse(ast.AST, lint)
	require.NoError(t, err)
	require.Empty(t, lints, "BuildKit's linter")
	return stages, metaArgs
}

// secretName is a name that says it holds a secret, as BuildKit's linter rule
// SecretsUsedInArgOrEnv reads ARG and ENV names.
var secretName = regexp.MustCompile(`(?i)key|password|passwd|pin|secret|token|credential|auth`)

// TestDockerfile: a build stage on the Go image of go.mod's Go makes the binary as the
// README's release build does; the image is FROM scratch with that binary and the CA
// certificates alone, runs as a numeric user that is not root (the one the Kubernetes
// manifests run as), starts pbxsync without a shell, and holds nothing secret.
func TestDockerfile(t *testing.T) {
	stages, metaArgs := dockerfile(t, readFile(t, "../Dockerfile"))
	require.Len(t, stages, 2, "a build stage, then the image")
	build, image := stages[0], stages[1]

	// The build stage: the Go image, by default of go.mod's Go, and the release build.
	args := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			require.NotNil(t, kv.Value, "ARG %s has a default", kv.Key)
			args[kv.Key] = *kv.Value
		}
	}
	base := os.Expand(build.BaseName, func(k string) string { return args[k] })
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(readFile(t, "../go.mod"))
	require.NotNil(t, goVersion)
	require.Regexp(t, `^golang:`+regexp.QuoteMeta(string(goVersion[1]))+`\b`, base, "the Go of go.mod")
	var runs []string
	for _, c := range build.Commands {
		if r, ok := c.(*instructions.RunCommand); ok {
			runs = append(runs, strings.Join(r.CmdLine, " "))
		}
	}
	release := `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w"`
	require.Equal(t, []string{release + " -o /out/pbxsync ./cmd/pbxsync"}, runs, "one static, reproducible build")
	require.Contains(t, string(readFile(t, "../README.md")), release+" -o pbxsync ./cmd/pbxsync", "the README's release build is the image's")

	// The image: scratch, two files from the build stage, a user, an entrypoint.
	require.Equal(t, "scratch", image.BaseName, "no shell, no package manager")
	var copied []string
	var user string
	var entrypoint *instructions.EntrypointCommand
	for _, c := range image.Commands {
		switch c := c.(type) {
		case *instructions.CopyCommand:
			require.Equal(t, build.Name, c.From, "only what the build stage made")
			copied = append(copied, strings.Join(c.SourcePaths, " ")+" -> "+c.DestPath)
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			entrypoint = c
		default:
			t.Errorf("the image runs nothing and sets nothing else: %s", c.Name())
		}
	}
	require.ElementsMatch(t, []string{
		"/etc/ssl/certs/ca-certificates.crt -> /etc/ssl/certs/ca-certificates.crt", // where Go looks first on Linux
		"/out/pbxsync -> /pbxsync",
	}, copied)
	require.NotNil(t, entrypoint)
	require.False(t, entrypoint.PrependShell, "the exec form: scratch has no shell")
	require.Equal(t, []string{"/pbxsync"}, entrypoint.CmdLine)
	uid, gid, ok := strings.Cut(user, ":")
	require.True(t, ok, "USER uid:gid, %q", user)
	for _, id := range []string{uid, gid} {
		n, err := strconv.Atoi(id)
		require.NoError(t, err, "numeric, so that runAsNonRoot can check it: %q", user)
		require.NotZero(t, n, "not root")
	}

	// Nothing secret: no ARG or ENV whose name says so, no secret mount.
	for _, stage := range stages {
		for _, c := range stage.Commands {
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					require.NotRegexp(t, secretName, kv.Key)
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					require.NotRegexp(t, secretName, kv.Key)
				}
			case *instructions.RunCommand:
				require.NotContains(t, c.String(), "--mount")
			}
		}
	}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			require.NotRegexp(t, secretName, kv.Key)
		}
	}

	// The Kubernetes examples run the image as its user, under the name its README
	// builds it as.
	buildLine := regexp.MustCompile(`(?m)^(?:docker|podman|buildah) build -t (\S+) \.$`)
	var built []string
	for _, m := range buildLine.FindAllStringSubmatch(string(readFile(t, "kubernetes/README.md")), -1) {
		built = append(built, m[1])
	}
	require.NotEmpty(t, built, "kubernetes/README.md says how to build the image")
	for _, path := range []string{"kubernetes/cronjobs.yaml", "fleet/cronjobs.yaml"} {
		for _, obj := range readKubernetes(t, path) {
			cj, ok := obj.(*batchv1.CronJob)
			if !ok {
				continue
			}
			pod := cj.Spec.JobTemplate.Spec.Template.Spec
			i := slices.IndexFunc(pod.Containers, func(c corev1.Container) bool { return c.Name == "pbxsync" })
			require.GreaterOrEqual(t, i, 0, "%s: %s has a pbxsync container", path, cj.Name)
			require.Contains(t, built, pod.Containers[i].Image, "%s: %s runs the image the README builds", path, cj.Name)
			if sc := pod.SecurityContext; sc != nil && sc.RunAsUser != nil {
				require.Equal(t, uid, strconv.FormatInt(*sc.RunAsUser, 10), "%s: %s runs as the image's user", path, cj.Name)
			}
		}
	}

	// .dockerignore keeps out what may hold a server's PINs, and keeps in .git, which
	// the version is stamped from.
	ignored := lines(t, "../.dockerignore") // without comments
	for _, pattern := range []string{"/pbx.yaml", "**/*.har"} {
		require.Contains(t, ignored, pattern)
	}
	for _, p := range ignored {
		require.NotContains(t, p, ".git", "the version stamp needs .git")
	}
}
