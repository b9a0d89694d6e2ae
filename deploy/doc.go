// Package deploy holds linkwatch's Kubernetes manifests (kubectl apply -k
// deploy/) and no code: its test builds them as kubectl does, decodes every
// object strictly into the Kubernetes API types and checks what a replica
// set needs. It is a module of its own so that the Kubernetes libraries stay
// out of linkwatch's.
package deploy
