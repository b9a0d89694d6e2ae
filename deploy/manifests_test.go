package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestManifests builds deploy/ and deploy/sqlite/ as `kubectl apply -k`
// does: every object decodes strictly into its Kubernetes API type, and
// the replica set (deploy/) or the single SQLite node (deploy/sqlite/)
// they make is sound.
func TestManifests(t *testing.T) {
	for _, dir := range []string{".", "sqlite"} {
		t.Run(dir, func(t *testing.T) {
			m, err := build(filesys.MakeFsOnDisk(), dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range m.problems() {
				t.Error(p)
			}
		})
	}
}

// mistake is one edit of a file of a kustomization: old, there exactly
// once, becomes new, and the build or the checks must then report a
// problem containing want.
type mistake struct {
	name, file, old, new, want string
}

// TestManifestChecksCatch: each mistake below, made in a copy of deploy/,
// is caught by the build or the checks, named by what is wrong.
func TestManifestChecksCatch(t *testing.T) {
	catches(t, ".", []mistake{
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
		{"replicas on SQLite", "linkwatch.yaml", "driver: postgres                            # one database for every replica", "driver: sqlite\n  path: /data/linkwatch.db", "Deployment has 3 replicas on storage.driver sqlite"},
	})
}

// TestSQLiteManifestChecksCatch: each mistake below, made in a copy of
// deploy/sqlite/, is caught by the build or the checks.
func TestSQLiteManifestChecksCatch(t *testing.T) {
	catches(t, "sqlite", []mistake{
		{"two writers", "statefulset.yaml", "replicas: 1 #", "replicas: 2 #", "StatefulSet has 2 replicas: SQLite has one writer, want 1"},
		{"on PostgreSQL", "linkwatch.yaml", "driver: sqlite ", "driver: postgres ", "StatefulSet runs storage.driver postgres"},
		{"database off the volume", "linkwatch.yaml", "path: /data/linkwatch.db", "path: /var/lib/linkwatch/linkwatch.db", "storage.path /var/lib/linkwatch/linkwatch.db: no volume is mounted at /var/lib/linkwatch"},
		{"relative database path", "linkwatch.yaml", "path: /data/linkwatch.db", "path: linkwatch.db", `storage.path "linkwatch.db": want an absolute path`},
		{"volume mounted elsewhere", "statefulset.yaml", "mountPath: /data", "mountPath: /var/lib/linkwatch", "storage.path /data/linkwatch.db: no volume is mounted at /data"},
		{"volume read-only", "statefulset.yaml", "mountPath: /data\n", "mountPath: /data\n              readOnly: true\n", "the volume data is mounted read-only"},
		{"volume from no claim", "statefulset.yaml", "    - metadata:\n        name: data", "    - metadata:\n        name: db", "the volume data is not one of the StatefulSet's volumeClaimTemplates"},
		{"network file system", "statefulset.yaml", `accessModes: ["ReadWriteOnce"]`, `accessModes: ["ReadWriteMany"]`, "access mode ReadWriteMany, want ReadWriteOnce or ReadWriteOncePod"},
		{"volume not the user's", "statefulset.yaml", "        fsGroup: 65532\n", "", "want an fsGroup"},
		{"writable root", "statefulset.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "want readOnlyRootFilesystem"},
		{"root", "statefulset.yaml", "runAsNonRoot: true", "runAsNonRoot: false", "want runAsNonRoot"},
		{"readiness on the wrong path", "statefulset.yaml", "path: /readyz", "path: /ready", "readinessProbe: GET /ready, want /readyz"},
		{"no liveness probe", "statefulset.yaml", "livenessProbe:", "startupProbe:", "livenessProbe: want an HTTP GET of /healthz"},
		{"another service", "statefulset.yaml", "serviceName: linkwatch", "serviceName: linkwatch-pods", `StatefulSet serviceName "linkwatch-pods": want the Service "linkwatch"`},
		{"secret key not passed on", "statefulset.yaml", "            - name: OPS_WEBHOOK_SECRET\n              valueFrom:\n                secretKeyRef: {name: linkwatch, key: OPS_WEBHOOK_SECRET}\n", "", `Secret "linkwatch" key OPS_WEBHOOK_SECRET is not set in the container's env`},
		{"grace too short", "statefulset.yaml", "terminationGracePeriodSeconds: 60", "terminationGracePeriodSeconds: 20", "terminationGracePeriodSeconds 20s is below preStop 0s + linkwatch's shutdown 30s"},
		{"latest", "kustomization.yaml", "newTag: VERSION", "newTag: latest", `image "ghcr.io/linkwatch/linkwatch:latest": want a release tag`},
		{"manifest left out", "kustomization.yaml", "  - service.yaml\n", "", "service.yaml is not used by kustomization.yaml"},
	})
}

// catches makes each mistake in a copy of dir and wants it reported.
func catches(t *testing.T, dir string, mistakes []mistake) {
	t.Helper()
	for _, tc := range mistakes {
		t.Run(tc.name, func(t *testing.T) {
			fsys := copyDir(t, dir)
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
