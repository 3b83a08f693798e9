//go:build tools

// Package etcd only records the etcd command the sandbox builds, so that `go mod tidy` keeps its
// dependencies in go.mod and go.sum.
package etcd

import (
	_ "go.etcd.io/etcd/server/v3"
)
