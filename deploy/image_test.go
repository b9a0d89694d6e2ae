package deploy

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// TestImage runs the image built from deploy/Dockerfile, named by
// LINKWATCH_IMAGE (.ci/run builds it with buildah and sets it), with
// podman, as `docker run` and `docker compose` would: what a static
// binary FROM scratch must still do, and the configs of compose.yaml and
// the manifests, validated by the binary that runs them.
func TestImage(t *testing.T) {
	ref := os.Getenv("LINKWATCH_IMAGE")
	if ref == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("LINKWATCH_IMAGE is not set: .ci/run builds the image before deploy's tests")
		}
		t.Skip("LINKWATCH_IMAGE is not set: .ci/run builds the image (deploy/Dockerfile) and runs this test with podman")
	}
	img := inspectImage(t, ref)
	t.Run("files", func(t *testing.T) { testImageFiles(t, img) })
	t.Run("serve", func(t *testing.T) { testImageServe(t, img) })
	t.Run("names and CA roots", func(t *testing.T) { testImageCheck(t, img) })
	t.Run("configs", func(t *testing.T) { testImageConfigs(t, img) })
	t.Run("compose linkwatch-sqlite", func(t *testing.T) { testImageComposeSQLite(t, img) })
}

// image is what the tests need of the image: its reference, its config,
// and copies of its files.
type image struct {
	ref              string
	uid, gid         int
	workDir          string
	entrypoint, cmd  []string
	linkwatch, check string // /linkwatch and /healthcheck, copied out
	caBundle         []byte // /etc/ssl/certs/ca-certificates.crt
}

const caBundlePath = "/etc/ssl/certs/ca-certificates.crt"

func inspectImage(t *testing.T, ref string) *image {
	t.Helper()
	var cfg struct {
		User       string
		WorkingDir string
		Entrypoint []string
		Cmd        []string
	}
	if err := json.Unmarshal([]byte(podman(t, "image", "inspect", "--format", "{{json .Config}}", ref)), &cfg); err != nil {
		t.Fatal(err)
	}
	img := &image{ref: ref, workDir: cfg.WorkingDir, entrypoint: cfg.Entrypoint, cmd: cfg.Cmd}
	u, g, ok := strings.Cut(cfg.User, ":")
	var errU, errG error
	img.uid, errU = strconv.Atoi(u)
	img.gid, errG = strconv.Atoi(g)
	if !ok || errU != nil || errG != nil {
		t.Fatalf("image USER %q: want uid:gid, numbers (a scratch image has no /etc/passwd, and Kubernetes' runAsNonRoot needs a number)", cfg.User)
	}
	dir := t.TempDir()
	ctr := strings.TrimSpace(podman(t, "create", ref))
	defer podman(t, "rm", ctr)
	for _, f := range []string{"/linkwatch", "/healthcheck", caBundlePath} {
		podman(t, "cp", ctr+":"+f, filepath.Join(dir, path.Base(f)))
	}
	img.linkwatch, img.check = filepath.Join(dir, "linkwatch"), filepath.Join(dir, "healthcheck")
	var err error
	if img.caBundle, err = os.ReadFile(filepath.Join(dir, path.Base(caBundlePath))); err != nil {
		t.Fatal(err)
	}
	return img
}

// testImageFiles: a scratch image has no libc, no NSS modules, no
// /etc/passwd and no CA store of its own, so the binaries must be static,
// with Go's own resolver and user lookups, and the CA roots must be in
// the one place Go looks first.
func testImageFiles(t *testing.T, img *image) {
	if img.uid == 0 || img.gid == 0 {
		t.Errorf("image USER %d:%d: want a user other than root", img.uid, img.gid)
	}
	// The manifests run the image as its own user: /data (and so a new
	// volume's root) belongs to it.
	for _, dir := range []string{".", "sqlite"} {
		m, err := build(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, pod := m.workload()
		if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != int64(img.uid) || sc.RunAsGroup == nil || *sc.RunAsGroup != int64(img.gid) {
			t.Errorf("deploy/%s: the pod's runAsUser and runAsGroup are not the image's user %d:%d", dir, img.uid, img.gid)
		}
	}
	if img.workDir != "/data" {
		t.Errorf("image WORKDIR %q, want /data: the demo config's relative storage.path lands there, on the volume", img.workDir)
	}
	if !slices.Equal(img.entrypoint, []string{"/linkwatch"}) || !slices.Equal(img.cmd, []string{"serve"}) {
		t.Errorf("image ENTRYPOINT %q CMD %q, want [/linkwatch] [serve]", img.entrypoint, img.cmd)
	}
	for _, bin := range []string{img.linkwatch, img.check} {
		if err := static(bin); err != nil {
			t.Errorf("%s: %v", path.Base(bin), err)
		}
	}
	info, err := buildinfo.ReadFile(img.linkwatch)
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, s := range info.Settings {
		if s.Key == "-tags" {
			tags = strings.Split(s.Value, ",")
		}
	}
	for _, tag := range []string{"netgo", "osusergo"} {
		if !slices.Contains(tags, tag) {
			t.Errorf("linkwatch is built with the tags %q, want %s: glibc's lookups load NSS modules, which a static binary cannot", tags, tag)
		}
	}
	// The public roots: Debian's bundle holds about 140.
	if n := countCerts(t, img.caBundle); n < 100 {
		t.Errorf("%s holds %d certificates, want the public CA roots", caBundlePath, n)
	}
}

// static fails unless the ELF file at name needs no interpreter and no
// shared library.
func static(name string) error {
	f, err := elf.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	if slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP }) {
		return errors.New("dynamically linked (it names an interpreter), and the image has none")
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		return fmt.Errorf("needs the shared libraries %q (%v), and the image has none", libs, err)
	}
	return nil
}

func countCerts(t *testing.T, bundle []byte) int {
	t.Helper()
	n := 0
	for block, rest := pem.Decode(bundle); block != nil; block, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Errorf("%s: certificate %d: %v", caBundlePath, n, err)
		}
		n++
	}
	return n
}

// testImageServe runs `docker run -v linkwatch-data:/data IMAGE serve` as
// the README says, on a read-only root as compose.yaml and the manifests
// run it: linkwatch serves a redirect, writes its SQLite file in the
// volume as the image's user, answers the healthcheck, and stops cleanly
// on SIGTERM as PID 1.
func testImageServe(t *testing.T, img *image) {
	cfg := configDir(t, map[string]string{"linkwatch.yaml": `
server:
  drain_delay: 0s
probe:
  allow_private: [127.0.0.1/32]
pages:
  - slug: ada
    title: Ada
    links:
      - slug: go
        title: Go
        url: http://upstream.test:9/go
`})
	vol := volume(t)
	ctr := runDetached(t, img, []string{
		"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--network", "host", "--add-host", "upstream.test:127.0.0.1",
		"-v", vol + ":/data", "-v", cfg + ":/etc/linkwatch:ro",
	}, "serve", "-config", "/etc/linkwatch/linkwatch.yaml", "-addr", "127.0.0.1:0")
	base := listening(t, ctr)

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(base + "/ada/go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "http://upstream.test:9/go" {
		t.Errorf("GET /ada/go: %s, Location %q; want 302 to http://upstream.test:9/go", resp.Status, resp.Header.Get("Location"))
	}

	waitHealthy(t, ctr, []string{"/healthcheck", base + "/readyz"})
	if _, err := podmanErr(t, "exec", ctr, "/healthcheck", base+"/no-such-endpoint"); err == nil {
		t.Error("/healthcheck of a 404: exit 0, want 1")
	}

	// The volume started as the image's /data, owner included, and the
	// database in it is the image's user's: linkwatch ran as that user,
	// and wrote through a read-only root into the volume.
	mount := strings.TrimSpace(podman(t, "volume", "inspect", "--format", "{{.Mountpoint}}", vol))
	for _, f := range []string{mount, filepath.Join(mount, "linkwatch.db")} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != img.uid {
			t.Errorf("%s belongs to uid %d, want the image's user %d", f, st.Uid, img.uid)
		}
	}

	podman(t, "stop", "--time", "60", ctr)
	if code := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.ExitCode}}", ctr)); code != "0" {
		t.Errorf("after SIGTERM linkwatch exited with %s, want 0", code)
	}
}

// testImageCheck: the static binary resolves a name from the container's
// /etc/hosts with Go's resolver (netgo: glibc's would need NSS modules),
// and trusts the CA bundle at /etc/ssl/certs/ca-certificates.crt without
// SSL_CERT_FILE. An https destination signed by a test CA is up once that
// CA is added to the image's bundle, and untrusted with the bundle alone.
func testImageCheck(t *testing.T, img *image) {
	ca, leaf := testCA(t, "upstream.test")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted check's handshake fails, as it must
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "https://"), ":")
	cfg := configDir(t, map[string]string{
		"linkwatch.yaml": fmt.Sprintf(`
probe:
  allow_private: [127.0.0.1/32]
pages:
  - slug: ada
    title: Ada
    links:
      - slug: up
        title: Up
        url: https://upstream.test:%s/up
`, port),
		"ca-certificates.crt": string(img.caBundle) + ca,
	})
	check := func(args ...string) (result struct{ Status, Cause, Summary string }, err error) {
		args = append([]string{"run", "--rm", "--read-only", "--network", "host", "--add-host", "upstream.test:127.0.0.1",
			"-v", cfg + "/linkwatch.yaml:/etc/linkwatch/linkwatch.yaml:ro"}, args...)
		out, err := podmanErr(t, append(args, img.ref, "check", "-json", "-config", "/etc/linkwatch/linkwatch.yaml")...)
		if jerr := json.Unmarshal([]byte(out), &result); jerr != nil {
			t.Fatalf("linkwatch check -json: %v (%v)\n%s", jerr, err, out)
		}
		return result, err
	}
	if r, err := check("-v", cfg+"/ca-certificates.crt:"+caBundlePath+":ro"); err != nil || r.Status != "up" {
		t.Errorf("https://upstream.test with the test CA in the image's bundle: %s %s %q (%v), want up", r.Status, r.Cause, r.Summary, err)
	}
	if r, err := check(); err == nil || r.Cause != "tls_untrusted" {
		t.Errorf("https://upstream.test with the image's bundle alone: %s %s %q (%v), want down, tls_untrusted", r.Status, r.Cause, r.Summary, err)
	}
}

// testImageConfigs: the image's `linkwatch validate` accepts every config
// that compose.yaml and the manifests give it, with the environment they
// set; the manifests' Secret placeholders are refused.
func testImageConfigs(t *testing.T, img *image) {
	p, err := loadCompose(t.Context(), "..", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range composeRuns {
		rp, err := run.selected(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range rp.Services {
			if s.Build == nil {
				continue
			}
			env := map[string]string{}
			for k, v := range s.Environment {
				if v != nil {
					env[k] = *v
				}
			}
			for _, c := range s.Configs {
				if out, err := validate(t, img, p.Configs[c.Source].File, env); err != nil {
					t.Errorf("%s: service %s: config %s: %v\n%s", run.command, s.Name, c.Source, err, out)
				}
			}
		}
	}
	// What an operator puts in the Secret, key by key.
	filled := map[string]string{
		"LINKWATCH_DSN":         "postgres://linkwatch:s3cret-pw@postgres.db.svc:5432/linkwatch?sslmode=verify-full",
		"LINKWATCH_ADMIN_TOKEN": "0123456789abcdef0123456789abcdef",
		"SLACK_WEBHOOK_URL":     "https://hooks.slack.com/services/T/B/X",
		"SENTRY_DSN":            "https://key@o0.ingest.sentry.io/42",
		"OPS_WEBHOOK_SECRET":    "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	for _, dir := range []string{".", "sqlite"} {
		m, err := build(filesys.MakeFsOnDisk(), dir)
		if err != nil {
			t.Fatal(err)
		}
		placeholders := map[string]string{}
		for _, s := range m.secrets {
			maps.Copy(placeholders, s.StringData)
		}
		env := map[string]string{}
		for k := range placeholders {
			if env[k] = filled[k]; env[k] == "" {
				t.Fatalf("deploy/%s: the Secret's key %s: give this test a value for it", dir, k)
			}
		}
		_, _, _, pod := m.workload()
		_, data, err := m.configFile(pod.Spec.Containers[0], pod.Spec)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "linkwatch.yaml")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := validate(t, img, file, env); err != nil {
			t.Errorf("deploy/%s: linkwatch.yaml with the Secret filled in: %v\n%s", dir, err, out)
		}
		if out, err := validate(t, img, file, placeholders); err == nil {
			t.Errorf("deploy/%s: linkwatch.yaml with the Secret's placeholders: valid, want refused\n%s", dir, out)
		}
	}
}

// validate runs the image's linkwatch, copied out of it, as `linkwatch
// validate -config file` with env as its whole environment.
func validate(t *testing.T, img *image, file string, env map[string]string) (string, error) {
	t.Helper()
	cmd := exec.Command(img.linkwatch, "validate", "-config", file)
	cmd.Env = []string{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// testImageComposeSQLite runs the image as `docker compose up
// linkwatch-sqlite` would, from compose.yaml's own settings (no network
// out, so its demo links stay unreached), until its healthcheck passes.
func testImageComposeSQLite(t *testing.T, img *image) {
	p, err := loadCompose(t.Context(), "..", nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err = p.WithServicesEnabled("linkwatch-sqlite")
	if err != nil {
		t.Fatal(err)
	}
	s := p.Services["linkwatch-sqlite"]
	args := []string{"--network", "none"}
	if s.ReadOnly {
		args = append(args, "--read-only")
	}
	for _, c := range s.CapDrop {
		args = append(args, "--cap-drop", c)
	}
	for _, o := range s.SecurityOpt {
		args = append(args, "--security-opt", o)
	}
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		if v := s.Environment[k]; v != nil {
			args = append(args, "-e", k+"="+*v)
		}
	}
	for _, c := range s.Configs {
		args = append(args, "-v", p.Configs[c.Source].File+":"+c.Target+":ro")
	}
	for _, v := range s.Volumes {
		args = append(args, "-v", volume(t)+":"+v.Target)
	}
	ctr := runDetached(t, img, args, s.Command...)
	waitHealthy(t, ctr, s.HealthCheck.Test[1:])
	podman(t, "stop", "--time", "60", ctr)
	if code := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.ExitCode}}", ctr)); code != "0" {
		t.Errorf("after SIGTERM linkwatch exited with %s, want 0", code)
	}
}

// podman runs podman with args and returns its stdout; it fails the test
// if podman fails.
func podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := podmanErr(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// podmanErr runs podman with args and returns its stdout, and an error
// with its stderr if it fails. (Not under t.Context(): cleanups run podman
// after it is canceled.)
func podmanErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("podman", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// runDetached starts a container of img, removed when the test ends.
func runDetached(t *testing.T, img *image, podmanArgs []string, args ...string) string {
	t.Helper()
	ctr := strings.TrimSpace(podman(t, slices.Concat([]string{"run", "-d"}, podmanArgs, []string{img.ref}, args)...))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of the container:\n%s", logs(t, ctr))
		}
		podmanErr(t, "rm", "--force", "--time", "0", ctr)
	})
	return ctr
}

// volume creates a named volume, removed when the test ends.
func volume(t *testing.T) string {
	t.Helper()
	name := strings.TrimSpace(podman(t, "volume", "create"))
	t.Cleanup(func() { podmanErr(t, "volume", "rm", "--force", name) })
	return name
}

// configDir writes files into a directory the image's user can read.
func configDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// logs is what the container wrote, stdout and stderr.
func logs(t *testing.T, ctr string) string {
	t.Helper()
	out, err := exec.Command("podman", "logs", ctr).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("podman logs %s: %v\n%s", ctr, err, out)
	}
	return string(out)
}

var listeningLine = regexp.MustCompile(`(?m)^linkwatch listening on (http://\S+)$`)

// listening waits for the container's linkwatch to say where it listens.
func listening(t *testing.T, ctr string) string {
	t.Helper()
	var out string
	// A poll of a container: real time.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out = logs(t, ctr)
		if m := listeningLine.FindStringSubmatch(out); m != nil {
			return m[1]
		}
		if state := strings.TrimSpace(podman(t, "inspect", "--format", "{{.State.Status}}", ctr)); state != "running" {
			t.Fatalf("the container is %s before linkwatch listened", state)
		}
	}
	t.Fatal("linkwatch did not say where it listens within a minute")
	return ""
}

// waitHealthy runs the healthcheck command in the container until it
// passes, as Docker does during a healthcheck's start period.
func waitHealthy(t *testing.T, ctr string, test []string) {
	t.Helper()
	var err error
	// A poll of a container: real time.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if _, err = podmanErr(t, append([]string{"exec", ctr}, test...)...); err == nil {
			return
		}
	}
	t.Fatalf("healthcheck %q did not pass within a minute: %v", test, err)
}

// testCA makes a CA and a certificate it signs for host, and returns the
// CA's certificate in PEM, as a bundle holds it.
func testCA(t *testing.T, host string) (string, tls.Certificate) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey, leafKey := key(), key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "linkwatch image test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		// Beyond probe.tls_warn (14 days), so that the check is up, not
		// tls_expiring.
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return string(ca), tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}
}
