package deploy

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	// minReplicas: one replica may be restarting or on a drained node
	// while another serves.
	minReplicas = 2
	// shutdownBudget is what linkwatch may take after SIGTERM: requests in
	// flight (cmd/linkwatch/web drainTimeout, 10 s), the last click flush
	// (cmd/linkwatch lastFlushTimeout, 10 s), and the prober, incident
	// engine, dispatcher and result writer finishing what they hold.
	shutdownBudget = 30 * time.Second
)

// problems lists what would make m a poor way to run linkwatch, each
// naming the object and what is wrong. The API server would accept nearly
// all of them.
func (m *manifests) problems() []string {
	kind, replicas, sel, pod := m.workload()
	r := &review{m: m, kind: kind, pod: pod, podLabels: labels.Set(pod.Labels), replicas: 1} // 1: the API's default
	if replicas != nil {
		r.replicas = *replicas
	}
	r.selects(r.kind+" selector", sel)
	r.image()
	if n := len(r.pod.Spec.Containers); n != 1 {
		r.fail("the pod has %d containers, want linkwatch alone", n)
		return r.found
	}
	r.c = r.pod.Spec.Containers[0]
	if r.cfg = m.config(r.c, r.pod.Spec, r.fail); r.cfg == nil {
		return r.found
	}
	if m.deployment != nil {
		r.rollout()
		r.spread()
		r.disruptionBudget()
	} else {
		r.singleWriter()
	}
	r.probes()
	r.termination()
	r.resources()
	r.security()
	r.service()
	r.secrets()
	return r.found
}

// review is one pass of the checks over a build.
type review struct {
	m         *manifests
	kind      string // of the workload: Deployment or StatefulSet
	pod       corev1.PodTemplateSpec
	podLabels labels.Set
	replicas  int32
	c         corev1.Container // linkwatch's
	cfg       *linkwatchConfig // the config it runs (-config)
	found     []string
}

func (r *review) fail(format string, args ...any) {
	r.found = append(r.found, fmt.Sprintf(format, args...))
}

// selects fails unless sel selects the Deployment's pods.
func (r *review) selects(what string, sel *metav1.LabelSelector) {
	s, err := metav1.LabelSelectorAsSelector(sel)
	switch {
	case err != nil:
		r.fail("%s: %v", what, err)
	case s.Empty() || !s.Matches(r.podLabels):
		r.fail("%s does not select the %s's pods (labels %v)", what, r.kind, r.podLabels)
	}
}

// rollout: enough replicas, on one database they can share, and a new
// one ready before an old one stops.
func (r *review) rollout() {
	d := r.m.deployment
	if r.replicas < minReplicas {
		r.fail("Deployment has %d replicas, want at least %d", r.replicas, minReplicas)
	}
	if r.cfg.driver != "postgres" {
		r.fail("Deployment has %d replicas on storage.driver %s: replicas share one PostgreSQL (for SQLite, one replica: deploy/sqlite/)", r.replicas, r.cfg.driver)
	}
	if ru := d.Spec.Strategy.RollingUpdate; d.Spec.Strategy.Type != "RollingUpdate" || ru == nil || ru.MaxUnavailable == nil {
		r.fail("Deployment strategy must be RollingUpdate with maxUnavailable 0 (a new replica is ready before an old one stops)")
	} else if n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxUnavailable, int(r.replicas), true); err != nil || n != 0 {
		r.fail("Deployment rollingUpdate.maxUnavailable is %s, want 0", ru.MaxUnavailable.String())
	}
}

// image: the release pinned, so a restart does not change it.
func (r *review) image() {
	for _, c := range r.pod.Spec.Containers {
		if _, digest, ok := strings.Cut(c.Image, "@"); !ok || digest == "" {
			if _, tag, ok := strings.Cut(path.Base(c.Image), ":"); !ok || tag == "" || tag == "latest" {
				r.fail("image %q: want a release tag or digest (kustomization.yaml's images), not latest", c.Image)
			}
		}
	}
}

// singleWriter: the StatefulSet is one SQLite process, its database on a
// volume of its own that it can write, and that outlives the pod.
func (r *review) singleWriter() {
	ss := r.m.statefulSet
	if r.replicas != 1 {
		r.fail("StatefulSet has %d replicas: SQLite has one writer, want 1 (for replicas, PostgreSQL: deploy/)", r.replicas)
	}
	if r.cfg.driver != "sqlite" {
		r.fail("StatefulSet runs storage.driver %s: it is the single SQLite node (on PostgreSQL, run replicas: deploy/)", r.cfg.driver)
		return
	}
	if ss.Spec.ServiceName != r.m.service.Name {
		r.fail("StatefulSet serviceName %q: want the Service %q", ss.Spec.ServiceName, r.m.service.Name)
	}
	dir := path.Dir(r.cfg.path)
	var mount *corev1.VolumeMount
	for i, vm := range r.c.VolumeMounts {
		if vm.MountPath == dir && vm.SubPath == "" {
			mount = &r.c.VolumeMounts[i]
		}
	}
	if mount == nil {
		r.fail("storage.path %s: no volume is mounted at %s", r.cfg.path, dir)
		return
	}
	if mount.ReadOnly {
		r.fail("storage.path %s: the volume %s is mounted read-only", r.cfg.path, mount.Name)
	}
	// A claim takes precedence over a pod volume of the same name.
	i := slices.IndexFunc(ss.Spec.VolumeClaimTemplates, func(pvc corev1.PersistentVolumeClaim) bool { return pvc.Name == mount.Name })
	if i < 0 {
		r.fail("storage.path %s: the volume %s is not one of the StatefulSet's volumeClaimTemplates, so the database would not outlive the pod", r.cfg.path, mount.Name)
		return
	}
	// A volume many nodes mount is a network file system, where SQLite's
	// locks do not hold.
	for _, mode := range ss.Spec.VolumeClaimTemplates[i].Spec.AccessModes {
		if mode != corev1.ReadWriteOnce && mode != corev1.ReadWriteOncePod {
			r.fail("volumeClaimTemplate %s: access mode %s, want ReadWriteOnce or ReadWriteOncePod (SQLite's locks need a local file system)", mount.Name, mode)
		}
	}
	if psc := r.pod.Spec.SecurityContext; psc == nil || psc.FSGroup == nil {
		r.fail("securityContext: want an fsGroup, so that linkwatch's user can write the volume %s", mount.Name)
	}
}

// probes: readiness on /readyz, liveness on /healthz, both where linkwatch
// listens.
func (r *review) probes() {
	probe := func(what string, pr *corev1.Probe, wantPath string) {
		switch {
		case pr == nil || pr.HTTPGet == nil:
			r.fail("%s: want an HTTP GET of %s", what, wantPath)
		case pr.HTTPGet.Path != wantPath:
			r.fail("%s: GET %s, want %s", what, pr.HTTPGet.Path, wantPath)
		default:
			if n, ok := resolvePort(r.c, pr.HTTPGet.Port); !ok || n != r.cfg.port {
				r.fail("%s: port %s is not the port linkwatch listens on (%d)", what, pr.HTTPGet.Port.String(), r.cfg.port)
			}
		}
	}
	probe("readinessProbe", r.c.ReadinessProbe, "/readyz")
	probe("livenessProbe", r.c.LivenessProbe, "/healthz")
}

// termination: a replica leaves the Service's endpoints while preStop
// runs, so that the others take its visitors; then linkwatch gets SIGTERM
// and must finish before the grace period ends. A single replica has no
// one to hand its visitors to, and needs no preStop.
func (r *review) termination() {
	var preStop time.Duration
	if lc := r.c.Lifecycle; lc == nil || lc.PreStop == nil || lc.PreStop.Sleep == nil || lc.PreStop.Sleep.Seconds <= 0 {
		if r.m.deployment != nil {
			r.fail("want a preStop sleep, so the pod leaves the Service's endpoints before SIGTERM")
		}
	} else {
		preStop = time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
	}
	grace := 30 * time.Second // the API's default
	if g := r.pod.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if grace < preStop+shutdownBudget {
		r.fail("terminationGracePeriodSeconds %s is below preStop %s + linkwatch's shutdown %s: a replica would be killed mid-drain", grace, preStop, shutdownBudget)
	}
}

func (r *review) resources() {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := r.c.Resources.Requests[name]
		lim, hasLim := r.c.Resources.Limits[name]
		switch {
		case !hasReq || !hasLim:
			r.fail("resources: want a request and a limit of %s", name)
		case req.Cmp(lim) > 0:
			r.fail("resources: the %s request %s is above its limit %s", name, req.String(), lim.String())
		}
	}
}

func (r *review) security() {
	sc, psc := r.c.SecurityContext, r.pod.Spec.SecurityContext
	// The container's setting wins over the pod's.
	nonRoot := psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot
	if sc != nil && sc.RunAsNonRoot != nil {
		nonRoot = *sc.RunAsNonRoot
	}
	if !nonRoot {
		r.fail("securityContext: want runAsNonRoot")
	}
	if sc == nil {
		r.fail("container securityContext: missing")
		return
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		r.fail("securityContext: want readOnlyRootFilesystem (linkwatch writes only to its database: PostgreSQL, or SQLite's volume)")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		r.fail("securityContext: want allowPrivilegeEscalation false")
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		r.fail("securityContext: want every capability dropped")
	}
}

// spread: replicas on different nodes where there are enough, and every
// spreading rule about linkwatch's pods.
func (r *review) spread() {
	byNode := false
	if a := r.pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		terms := slices.Clone(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
		for i, t := range terms {
			r.selects(fmt.Sprintf("podAntiAffinity term %d", i), t.LabelSelector)
			byNode = byNode || t.TopologyKey == "kubernetes.io/hostname"
		}
	}
	if !byNode {
		r.fail("want a pod anti-affinity by kubernetes.io/hostname")
	}
	for i, t := range r.pod.Spec.TopologySpreadConstraints {
		r.selects(fmt.Sprintf("topologySpreadConstraints[%d]", i), t.LabelSelector)
	}
}

// disruptionBudget: it covers the pods and lets a drain through one at a
// time (a budget that allows none blocks every drain).
func (r *review) disruptionBudget() {
	spec := r.m.pdb.Spec
	r.selects("PodDisruptionBudget selector", spec.Selector)
	field, v := "minAvailable", spec.MinAvailable
	switch {
	case (spec.MinAvailable == nil) == (spec.MaxUnavailable == nil):
		r.fail("PodDisruptionBudget: set one of minAvailable and maxUnavailable")
		return
	case spec.MaxUnavailable != nil:
		field, v = "maxUnavailable", spec.MaxUnavailable
	}
	if n, err := intstr.GetScaledValueFromIntOrPercent(v, int(r.replicas), true); err != nil || n < 1 || n >= int(r.replicas) {
		r.fail("PodDisruptionBudget %s %s of %d replicas: want at least 1 and fewer than all", field, v.String(), r.replicas)
	}
}

// service: every replica, on linkwatch's port.
func (r *review) service() {
	svc := r.m.service
	if sel := labels.SelectorFromSet(svc.Spec.Selector); sel.Empty() || !sel.Matches(r.podLabels) {
		r.fail("Service selector %v does not select the %s's pods (labels %v)", svc.Spec.Selector, r.kind, r.podLabels)
	}
	if len(svc.Spec.Ports) == 0 {
		r.fail("Service has no port")
	}
	for _, sp := range svc.Spec.Ports {
		target := sp.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(sp.Port) // the API's default
		}
		if n, ok := resolvePort(r.c, target); !ok || n != r.cfg.port {
			r.fail("Service port %d: targetPort %s is not the port linkwatch listens on (%d)", sp.Port, target.String(), r.cfg.port)
		}
	}
}

// secrets: every key the container reads exists, under the name of the
// variable (one name from the Secret to the config's ${NAME}: the config
// package's test fills the config in from the Secret's keys), and every
// key of the Secrets reaches the container.
func (r *review) secrets() {
	env := map[string]bool{}
	for _, e := range r.c.Env {
		env[e.Name] = true
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		switch s, ok := r.m.secrets[ref.Name]; {
		case !ok:
			r.fail("env %s: Secret %q is not in the manifests", e.Name, ref.Name)
		case !slices.Contains(secretKeys(s), ref.Key):
			r.fail("env %s: Secret %q has no key %q", e.Name, ref.Name, ref.Key)
		}
		if ref.Key != e.Name {
			r.fail("env %s is read from the Secret key %q: name the key after the variable", e.Name, ref.Key)
		}
	}
	for name, s := range r.m.secrets {
		for _, k := range secretKeys(s) {
			if !env[k] {
				r.fail("Secret %q key %s is not set in the container's env", name, k)
			}
		}
	}
}

// config reads the config the container runs, whose port (server.addr)
// must be one the container declares.
func (m *manifests) config(c corev1.Container, pod corev1.PodSpec, fail func(string, ...any)) *linkwatchConfig {
	cmName, data, err := m.configFile(c, pod)
	if err != nil {
		fail("%v", err)
		return nil
	}
	cfg, err := parseConfig(data)
	if err != nil {
		fail("ConfigMap %s: %v", cmName, err)
		return nil
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == cfg.port }) {
		fail("linkwatch listens on %d (server.addr), which the container does not declare", cfg.port)
	}
	return cfg
}

// configFile follows the container's -config flag to the ConfigMap it is
// mounted from, and returns that file.
func (m *manifests) configFile(c corev1.Container, pod corev1.PodSpec) (cmName string, data []byte, err error) {
	args := slices.Concat(c.Command, c.Args)
	i := slices.Index(args, "-config")
	if i < 0 || i+1 >= len(args) {
		return "", nil, fmt.Errorf("container args %q: want serve -config FILE", args)
	}
	file := args[i+1]
	var volume string
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == path.Dir(file) && vm.SubPath == "" {
			volume = vm.Name
		}
	}
	for _, v := range pod.Volumes {
		if v.Name == volume && v.ConfigMap != nil && len(v.ConfigMap.Items) == 0 {
			cmName = v.ConfigMap.Name
		}
	}
	cm, ok := m.configMaps[cmName]
	if !ok {
		return "", nil, fmt.Errorf("-config %s: no ConfigMap of the manifests is mounted at %s", file, path.Dir(file))
	}
	text, ok := cm.Data[path.Base(file)]
	if !ok {
		return "", nil, fmt.Errorf("-config %s: ConfigMap %s has no key %s", file, cm.Name, path.Base(file))
	}
	return cm.Name, []byte(text), nil
}

// resolvePort is the container port a probe or Service port names, by
// number or by name.
func resolvePort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && p.StrVal == cp.Name) || (p.Type == intstr.Int && p.IntVal == cp.ContainerPort) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

// secretKeys are the keys of s, whether given as data or as stringData.
func secretKeys(s *corev1.Secret) []string {
	keys := slices.Collect(maps.Keys(s.Data))
	for k := range s.StringData {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
