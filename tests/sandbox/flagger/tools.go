//go:build tools

// Package flagger only records the Flagger commands the sandbox builds, so that `go mod tidy`
// keeps their dependencies in go.mod and go.sum.
package flagger

import (
	_ "github.com/fluxcd/flagger/cmd/flagger"
	_ "github.com/fluxcd/flagger/cmd/loadtester"
)
