package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestManifests builds deploy/ as `kubectl apply -k deploy/` does: every
// object decodes strictly into its Kubernetes API type, and the replica
// set they make is sound.
func TestManifests(t *testing.T) {
	m, err := build(filesys.MakeFsOnDisk(), ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.problems() {
		t.Error(p)
	}
}

// TestManifestChecksCatch: each mistake below, made in a copy of deploy/,
// is caught by the build or the checks, named by what is wrong.
func TestManifestChecksCatch(t *testing.T) {
	for _, tc := range []struct {
		name, file, old, new, want string
	}{
		{"typo in a field", "deployment.yaml", "readinessProbe:", "readinesProbe:", `unknown field "spec.template.spec.containers[0].readinesProbe"`},
		{"duplicate field", "deployment.yaml", "minReadySeconds: 10", "minReadySeconds: 10\n  minReadySeconds: 5", `"minReadySeconds" already`},
		{"unknown version", "secret.yaml", "apiVersion: v1\nkind: Secret", "apiVersion: v2\nkind: Secret", `no kind "Secret" is registered for version "v2"`},
		{"one replica", "deployment.yaml", "replicas: 3", "replicas: 1", "Deployment has 1 replicas, want at least 2"},
		{"surge by stopping first", "deployment.yaml", "maxUnavailable: 0", "maxUnavailable: 1", "maxUnavailable is 1, want 0"},
		{"readiness on the wrong path", "deployment.yaml", "path: /readyz", "path: /ready", "readinessProbe: GET /ready, want /readyz"},
		{"liveness on another port", "deployment.yaml", "path: /healthz\n              port: http", "path: /healthz\n              port: 9090", "livenessProbe: port 9090 is not the port linkwatch listens on (8080)"},
		{"config on another port", "linkwatch.yaml", `addr: ":8080"`, `addr: ":9090"`, "linkwatch listens on 9090 (server.addr), which the container does not declare"},
		{"config not mounted", "deployment.yaml", "mountPath: /etc/linkwatch", "mountPath: /etc/lw", "no ConfigMap of the manifests is mounted at /etc/linkwatch"},
		{"pdb selects nothing", "pdb.yaml", "      app.kubernetes.io/name: linkwatch", "      app.kubernetes.io/name: linkwatch-web", "PodDisruptionBudget selector does not select the Deployment's pods"},
		{"pdb blocks every drain", "pdb.yaml", "maxUnavailable: 1", "minAvailable: 3", "PodDisruptionBudget minAvailable 3 of 3 replicas"},
		{"service selects nothing", "service.yaml", "  selector:\n    app.kubernetes.io/name: linkwatch", "  selector:\n    app.kubernetes.io/name: web", "Service selector map[app.kubernetes.io/name:web] does not select"},
		{"service on another port", "service.yaml", "targetPort: http", "targetPort: 8443", "Service port 80: targetPort 8443 is not the port linkwatch listens on"},
		{"no anti-affinity", "deployment.yaml", "podAntiAffinity:", "podAffinity:", "want a pod anti-affinity by kubernetes.io/hostname"},
		{"secret key misspelt", "deployment.yaml", "key: SENTRY_DSN}", "key: SENTRY_DNS}", `env SENTRY_DSN: Secret "linkwatch" has no key "SENTRY_DNS"`},
		{"secret key not passed on", "deployment.yaml", "            - name: OPS_WEBHOOK_SECRET\n              valueFrom:\n                secretKeyRef: {name: linkwatch, key: OPS_WEBHOOK_SECRET}\n", "", `Secret "linkwatch" key OPS_WEBHOOK_SECRET is not set in the container's env`},
		{"writable root", "deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "want readOnlyRootFilesystem"},
		{"root", "deployment.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "want runAsNonRoot"},
		{"no memory limit", "deployment.yaml", "              memory: 768Mi\n", "", "want a request and a limit of memory"},
		{"preStop needs a shell", "deployment.yaml", "sleep:\n                seconds: 10", "exec:\n                command: [sleep, \"10\"]", "want a preStop sleep"},
		{"grace too short", "deployment.yaml", "terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds 30s is below preStop 10s + linkwatch's shutdown 30s"},
		{"latest", "kustomization.yaml", "newTag: VERSION", "newTag: latest", `image "ghcr.io/linkwatch/linkwatch:latest": want a release tag`},
		{"manifest left out", "kustomization.yaml", "  - pdb.yaml\n", "", "pdb.yaml is not used by kustomization.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := copyDir(t, ".")
			data, err := fsys.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), tc.old); n != 1 {
				t.Fatalf("%s holds %q %d times; the mistake must be made exactly once", tc.file, tc.old, n)
			}
			if err := fsys.WriteFile(tc.file, []byte(strings.Replace(string(data), tc.old, tc.new, 1))); err != nil {
				t.Fatal(err)
			}
			var got []string
			m, err := build(fsys, ".")
			if err != nil {
				got = append(got, err.Error())
			} else {
				got = m.problems()
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Errorf("want a problem containing %q, got %q", tc.want, got)
			}
		})
	}
}

// copyDir copies the files of dir into a file system in memory.
func copyDir(t *testing.T, dir string) filesys.FileSystem {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	fsys := filesys.MakeFsInMemory()
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := fsys.WriteFile(e.Name(), data); err != nil {
			t.Fatal(err)
		}
	}
	return fsys
}
