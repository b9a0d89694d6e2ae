package deploy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// manifests is what `kubectl apply -k` sends to the cluster, decoded. It
// runs linkwatch one of two ways: replicas sharing PostgreSQL (a
// Deployment and its PodDisruptionBudget: deploy/), or one replica on
// SQLite (a StatefulSet with a volume: deploy/sqlite/).
type manifests struct {
	deployment  *appsv1.Deployment
	statefulSet *appsv1.StatefulSet
	service     *corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	secrets     map[string]*corev1.Secret
	configMaps  map[string]*corev1.ConfigMap
}

// workload is the Deployment or the StatefulSet: its kind, replicas (nil:
// the API's default, 1), selector and pod template.
func (m *manifests) workload() (kind string, replicas *int32, sel *metav1.LabelSelector, pod corev1.PodTemplateSpec) {
	if m.deployment != nil {
		return "Deployment", m.deployment.Spec.Replicas, m.deployment.Spec.Selector, m.deployment.Spec.Template
	}
	return "StatefulSet", m.statefulSet.Spec.Replicas, m.statefulSet.Spec.Selector, m.statefulSet.Spec.Template
}

// strict decodes the kinds deploy/ may hold, refusing unknown and
// duplicate fields: a typo such as readinesProbe is an error, not a probe
// silently left out.
var strict = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	utilruntime.Must(appsv1.AddToScheme(scheme))
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(policyv1.AddToScheme(scheme))
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// build runs kustomize on dir as `kubectl apply -k dir` does and decodes
// every object it makes. Every manifest file in dir must be used by the
// kustomization: one that is not would never be applied.
func build(fsys filesys.FileSystem, dir string) (*manifests, error) {
	if err := allFilesUsed(fsys, dir); err != nil {
		return nil, err
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	m := &manifests{secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	var errs []error
	for _, r := range resources.Resources() {
		data, err := r.AsYAML()
		if err != nil {
			return nil, err
		}
		id := r.CurId().String()
		obj, _, err := strict.Decode(data, nil, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", id, err))
			continue
		}
		var dup bool
		switch o := obj.(type) {
		case *appsv1.Deployment:
			dup, m.deployment = m.deployment != nil, o
		case *appsv1.StatefulSet:
			dup, m.statefulSet = m.statefulSet != nil, o
		case *corev1.Service:
			dup, m.service = m.service != nil, o
		case *policyv1.PodDisruptionBudget:
			dup, m.pdb = m.pdb != nil, o
		case *corev1.Secret:
			m.secrets[o.Name] = o
		case *corev1.ConfigMap:
			m.configMaps[o.Name] = o
		default:
			errs = append(errs, fmt.Errorf("%s: a kind the checks here do not know", id))
		}
		if dup {
			errs = append(errs, fmt.Errorf("%s: a second one; the checks expect one linkwatch workload, Service and PodDisruptionBudget", id))
		}
	}
	switch {
	case (m.deployment == nil) == (m.statefulSet == nil):
		errs = append(errs, errors.New("want one workload: a Deployment (replicas on PostgreSQL) or a StatefulSet (one replica on SQLite)"))
	case m.service == nil:
		errs = append(errs, errors.New("want a Service"))
	case m.deployment != nil && m.pdb == nil:
		errs = append(errs, errors.New("want a PodDisruptionBudget for the Deployment's replicas"))
	}
	return m, errors.Join(errs...)
}

// allFilesUsed fails on a YAML file of dir that the kustomization neither
// lists as a resource nor generates from.
func allFilesUsed(fsys filesys.FileSystem, dir string) error {
	data, err := fsys.ReadFile(path.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	var k types.Kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return fmt.Errorf("kustomization.yaml: %w", err)
	}
	used := slices.Clone(k.Resources)
	for _, g := range k.ConfigMapGenerator {
		used = append(used, g.FileSources...)
	}
	for _, g := range k.SecretGenerator {
		used = append(used, g.FileSources...)
	}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if ext := path.Ext(name); (ext == ".yaml" || ext == ".yml") && name != "kustomization.yaml" && !slices.ContainsFunc(used, func(u string) bool {
			if _, file, ok := strings.Cut(u, "="); ok { // a file source may be key=file
				u = file
			}
			return path.Clean(u) == name
		}) {
			errs = append(errs, fmt.Errorf("%s is not used by kustomization.yaml, so `kubectl apply -k` would leave it out", name))
		}
	}
	return errors.Join(errs...)
}
