//go:build tools

// Package controlplane only records the Kubernetes commands the sandbox builds, so that
// `go mod tidy` keeps their dependencies in go.mod and go.sum.
package controlplane

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
