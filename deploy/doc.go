// Package deploy holds what runs linkwatch outside a Go toolchain, and no
// code of linkwatch's: the image (Dockerfile, made from the files rootfs
// builds, with the healthcheck command for containers that have no shell),
// the Kubernetes manifests (kubectl apply -k deploy/ for replicas on
// PostgreSQL, deploy/sqlite/ for one node on SQLite), and the configs that
// the repository's compose.yaml mounts (deploy/compose/).
//
// Its tests build the manifests as kubectl does and decode every object
// strictly into the Kubernetes API types, load compose.yaml with the
// Compose Specification's loader, check what each way of running linkwatch
// needs, and run the image (TestImage, with podman, in CI). It is a module
// of its own so that the Kubernetes and Compose libraries stay out of
// linkwatch's.
package deploy
