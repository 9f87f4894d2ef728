//go:build tools

package main

// pilot-discovery is built from this module's graph by scripts/setup-istiod.
import _ "istio.io/istio/pilot/cmd/pilot-discovery"
