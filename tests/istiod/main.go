// ! meshfed-istio: Istio test tooling for meshfed's testbed, built from the same module graph as
// ! the istiod it talks to (tests/istiod/go.mod pins istio.io/istio). Test tooling only.
// !
// !	meshfed-istio istiod ...   run one istiod (pilot-discovery) against one test cluster (istiod.go)
// !	meshfed-istio xds ...      connect to an istiod as a proxy and print what it pushes (xds.go)
// !	meshfed-istio csr ...      get a workload certificate from an istiod's CA (csr.go)
// !
// ! pilot-discovery itself is built from istio.io/istio/pilot/cmd/pilot-discovery by
// ! scripts/setup-istiod; tools.go keeps that package in this module's graph.
package main

import (
	"fmt"
	"os"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	var code int
	switch os.Args[1] {
	case "istiod":
		code = runIstiod(args)
	case "xds":
		code = runXDS(args)
	case "csr":
		code = runCSR(args)
	default:
		usage()
	}
	os.Exit(code)
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: meshfed-istio istiod|xds|csr [flags] (-h for each)")
	os.Exit(2)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "meshfed-istio: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s meshfed-istio: "+format+"\n",
		append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}
