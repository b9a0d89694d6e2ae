// Package deploy holds what runs linkwatch outside a Go toolchain, and no
// code of linkwatch's: the image (Dockerfile, made from the files rootfs
// builds, with the healthcheck command for containers that have no shell),
// the Kubernetes manifests (kubectl apply -k deploy/ for replicas on
// PostgreSQL, deploy/sqlite/ for one node on SQLite), the configs that
// the repository's compose.yaml mounts (deploy/compose/), and a Grafana
// dashboard of linkwatch's Prometheus metrics (grafana/linkwatch.json).
//
// Its tests build the manifests as kubectl does and decode every object
// strictly into the Kubernetes API types, load compose.yaml with the
// Compose Specification's loader, check what each way of running linkwatch
// needs, parse every query of the dashboard with Prometheus's own PromQL
// parser against the metrics linkwatch serves, and run the image
// (TestImage, with podman, in CI). It is a module of its own so that the
// Kubernetes, Compose and Prometheus libraries stay out of linkwatch's.
package deploy
