//go:build tools

// Package tools pins cmd/registry's dependencies in this module's go.sum.
package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
