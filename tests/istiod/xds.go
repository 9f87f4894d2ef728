package main

// meshfed-istio xds: connects to a running istiod's plaintext xDS port as a proxy (a sidecar or a
// gateway, "router") and prints, as one JSON object, the configuration istiod pushes to it.
//
// It speaks delta (incremental) ADS, as a current istio-agent/Envoy does, and subscribes the way
// Envoy does: every cluster (CDS) and listener (LDS), then the endpoints (EDS) of every EDS cluster
// and the route configurations (RDS) named by HTTP listeners, following later pushes. It also
// watches PCDS (istio.mesh.v1alpha1.ProxyConfig), where an istiod with ISTIO_MULTIROOT_MESH=true
// pushes the mesh's trust bundle, as istio-agent does.
//
// The node (ID and metadata) is what istio-agent sends for a Kubernetes pod, so istiod treats the
// connection as that pod's proxy: for a sidecar it looks the Pod up, in the cluster CLUSTER_ID
// names, by the POD.NAMESPACE in the node ID (by IP only with ENABLE_PROXY_FIND_POD_BY_IP; failing
// both, it matches Services against LABELS), and builds inbound listeners from the Services
// selecting it.
//
// Once CDS and LDS have arrived and every EDS/RDS resource they reference too, it keeps listening
// for --settle (starting over if a push makes the config incomplete again), then prints
//
//	{"node_id": "...", "clusters": {NAME: Cluster}, "listeners": {NAME: Listener},
//	 "routes": {NAME: RouteConfiguration}, "endpoints": {CLUSTER: ClusterLoadAssignment},
//	 "trust_bundle": [PEM, ...]}
//
// with every resource in protojson form (lowerCamelCase names, typed_config Anys expanded into
// their fields).
//
// Istio's own ADS clients (istio.io/istio/pkg/adsc) are not used: its delta client sends EDS/RDS
// subscription changes carrying the CDS/LDS response's nonce, which istiod drops as a stale nonce,
// so clusters added after the first push never get endpoints; its SotW client guesses RDS names
// from ports. The protocol part here is small; the node metadata uses Istio's own types.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"strings"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"

	"istio.io/istio/pilot/pkg/model"
	istiocluster "istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/log"
	pm "istio.io/istio/pkg/model"
	"istio.io/istio/pkg/network"
	"istio.io/istio/pkg/version"
)

// fallbackIstioVersion is sent as ISTIO_VERSION when this binary carries no release version (Go
// builds without Istio's ldflags report "unknown"). 1.31 is the pinned Istio's VERSION file.
const fallbackIstioVersion = "1.31.0"

type xdsOptions struct {
	addr, proxyType, ip, pod, namespace, serviceAccount string
	clusterID, network, labels, routerMode, workload    string
	timeout, settle                                     time.Duration
}

func runXDS(args []string) int {
	var o xdsOptions
	fs := flag.NewFlagSet("xds", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "istiod's plaintext xDS address HOST:PORT (pilot-discovery --grpcAddr, normally :15010)")
	fs.StringVar(&o.proxyType, "type", "sidecar", "proxy type: sidecar or router (a gateway)")
	fs.StringVar(&o.ip, "ip", "", "the proxy's (pod's) IP (node ID and INSTANCE_IPS)")
	fs.StringVar(&o.pod, "pod", "", "pod name")
	fs.StringVar(&o.namespace, "namespace", "", "pod namespace")
	fs.StringVar(&o.serviceAccount, "service-account", "default", "the pod's service account")
	fs.StringVar(&o.clusterID, "cluster-id", "", "node metadata CLUSTER_ID: the cluster (istiod --clusterID) the pod is in")
	fs.StringVar(&o.network, "network", "", "node metadata NETWORK (optional)")
	fs.StringVar(&o.labels, "labels", "", "pod labels k=v,k2=v2 (node metadata LABELS)")
	fs.StringVar(&o.routerMode, "router-mode", "", "node metadata ROUTER_MODE, e.g. sni-dnat (router only)")
	fs.StringVar(&o.workload, "workload-name", "", "node metadata WORKLOAD_NAME (default: the pod name without a trailing -N)")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "overall timeout")
	fs.DurationVar(&o.settle, "settle", 2*time.Second, "how long to keep listening for late pushes once the config is complete")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fatalf("xds: unexpected arguments %q", fs.Args())
	}
	for name, v := range map[string]string{"--addr": o.addr, "--ip": o.ip, "--pod": o.pod, "--namespace": o.namespace} {
		if v == "" {
			fatalf("xds: %s is required", name)
		}
	}
	nodeType := pm.NodeType(o.proxyType)
	if nodeType != pm.SidecarProxy && nodeType != pm.Router {
		fatalf("xds: --type must be sidecar or router, not %q", o.proxyType)
	}
	if o.routerMode != "" && nodeType != pm.Router {
		fatalf("xds: --router-mode is for --type router only")
	}
	labels, err := parseLabels(o.labels)
	if err != nil {
		fatalf("xds: --labels: %v", err)
	}
	meta, err := nodeMetadata(o, labels)
	if err != nil {
		fatalf("xds: node metadata: %v", err)
	}
	quietIstioLogs()

	node := &core.Node{Id: nodeID(o, nodeType), Metadata: meta}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	out, err := fetchXDS(ctx, o, node)
	if err != nil {
		fatalf("xds: %v", err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		fatalf("xds: %v", err)
	}
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		fatalf("xds: writing output: %v", err)
	}
	return 0
}

// xdsOutput is the JSON printed on stdout.
type xdsOutput struct {
	NodeID      string                     `json:"node_id"`
	Clusters    map[string]json.RawMessage `json:"clusters"`
	Listeners   map[string]json.RawMessage `json:"listeners"`
	Routes      map[string]json.RawMessage `json:"routes"`
	Endpoints   map[string]json.RawMessage `json:"endpoints"`
	TrustBundle []string                   `json:"trust_bundle"`
}

// nodeID is istio-agent's node ID for a pod: TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local
// (the last part is always cluster.local, whatever the cluster's domain).
func nodeID(o xdsOptions, nodeType pm.NodeType) string {
	return fmt.Sprintf("%s~%s~%s.%s~%s.svc.%s", nodeType, o.ip, o.pod, o.namespace, o.namespace,
		constants.DefaultClusterLocalDomain)
}

// fetchXDS opens one delta ADS stream and runs it until the configuration is complete and
// settled. All sending happens on this goroutine; a second one only receives.
func fetchXDS(ctx context.Context, o xdsOptions, node *core.Node) (*xdsOutput, error) {
	logf("xds: connecting to %s as %s", o.addr, node.GetId())
	conn, err := grpc.NewClient(o.addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %v", o.addr, err)
	}
	defer conn.Close()
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(streamCtx)
	if err != nil {
		return nil, xdsStreamError(ctx, o, nil, err)
	}
	c := newXDSClient(stream, node)

	responses := make(chan *discovery.DeltaDiscoveryResponse)
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case responses <- resp:
			case <-streamCtx.Done():
				return
			}
		}
	}()

	// Wildcard subscriptions, as istio-agent/Envoy start: CDS, LDS, and PCDS.
	for _, t := range []string{pm.ClusterType, pm.ListenerType, pm.ProxyConfigType} {
		if err := c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: t}); err != nil {
			return nil, xdsStreamError(ctx, o, c, err)
		}
	}

	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var completeSince time.Time // when the config last became complete; zero while incomplete
	for {
		select {
		case resp := <-responses:
			if err := c.handle(resp); err != nil {
				return nil, err
			}
		case err := <-recvErr:
			return nil, xdsStreamError(ctx, o, c, err)
		case <-ctx.Done():
			return nil, xdsStreamError(ctx, o, c, ctx.Err())
		case <-tick.C:
		}
		if len(c.missing()) > 0 {
			completeSince = time.Time{}
			continue
		}
		if completeSince.IsZero() {
			completeSince = time.Now()
			logf("xds: configuration complete; settling for %v", o.settle)
		}
		if time.Since(completeSince) >= o.settle {
			break
		}
	}

	out, err := c.output()
	if err != nil {
		return nil, err
	}
	logf("xds: %d clusters, %d listeners, %d routes, %d endpoints, %d trust bundle certificates",
		len(out.Clusters), len(out.Listeners), len(out.Routes), len(out.Endpoints), len(out.TrustBundle))
	return out, nil
}

// xdsStreamError explains why the stream could not deliver a complete configuration.
func xdsStreamError(ctx context.Context, o xdsOptions, c *xdsClient, err error) error {
	if ctx.Err() != nil {
		missing := []string{"CDS", "LDS"}
		if c != nil {
			missing = c.missing()
		}
		return fmt.Errorf("timed out after %v waiting for %s", o.timeout, strings.Join(missing, ", "))
	}
	return fmt.Errorf("xds stream to %s: %v", o.addr, err)
}

// nodeMetadata builds the node metadata istio-agent sends for a Kubernetes pod (see
// pkg/bootstrap GetNodeMetaData; istiod parses it into pkg/model.NodeMetadata).
func nodeMetadata(o xdsOptions, labels map[string]string) (*structpb.Struct, error) {
	istioVersion := version.Info.Version
	if !regexp.MustCompile(`^[1-9][0-9]*\.[0-9]+`).MatchString(istioVersion) {
		istioVersion = fallbackIstioVersion
	}
	workload := o.workload
	if workload == "" {
		workload = regexp.MustCompile(`-[0-9]+$`).ReplaceAllString(o.pod, "")
	}
	m := pm.BootstrapNodeMetadata{
		NodeMetadata: pm.NodeMetadata{
			IstioVersion:        istioVersion,
			Namespace:           o.namespace,
			ServiceAccount:      o.serviceAccount,
			Labels:              labels,
			ClusterID:           istiocluster.ID(o.clusterID),
			Network:             network.ID(o.network),
			InterceptionMode:    model.InterceptionRedirect,
			InstanceIPs:         pm.StringList{o.ip},
			WorkloadName:        workload,
			EnvoyStatusPort:     15021, // istio-agent's defaults
			EnvoyPrometheusPort: 15090,
		},
		InstanceName: o.pod,
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	// ROUTER_MODE has no NodeMetadata field: istio-agent passes it through from
	// ISTIO_META_ROUTER_MODE, as Istio's east-west gateway chart sets it.
	if o.routerMode != "" {
		fields["ROUTER_MODE"] = o.routerMode
	}
	return structpb.NewStruct(fields)
}

// parseLabels parses "k=v,k2=v2".
func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

// quietIstioLogs sends any logging of the Istio packages linked in to stderr rather than stdout,
// which carries our JSON, and keeps only errors.
func quietIstioLogs() {
	lo := log.DefaultOptions()
	lo.OutputPaths = []string{"stderr"}
	lo.SetDefaultOutputLevel(log.DefaultScopeName, log.ErrorLevel)
	if err := log.Configure(lo); err != nil {
		logf("xds: configuring Istio logging: %v", err)
	}
}

// edsName is the EDS resource an EDS cluster asks for ("" for other clusters).
func edsName(c *cluster.Cluster) string {
	if c.GetType() != cluster.Cluster_EDS {
		return ""
	}
	if n := c.GetEdsClusterConfig().GetServiceName(); n != "" {
		return n
	}
	return c.GetName()
}

// rdsNames are the route configurations a listener's HTTP connection managers load over RDS.
func rdsNames(l *listener.Listener) ([]string, error) {
	var names []string
	chains := append([]*listener.FilterChain{l.GetDefaultFilterChain()}, l.GetFilterChains()...)
	for _, fc := range chains {
		for _, f := range fc.GetFilters() {
			h := &hcm.HttpConnectionManager{}
			if tc := f.GetTypedConfig(); !tc.MessageIs(h) {
				continue
			} else if err := tc.UnmarshalTo(h); err != nil {
				return nil, fmt.Errorf("filter %s: %v", f.GetName(), err)
			}
			if rds := h.GetRds(); rds != nil {
				names = append(names, rds.GetRouteConfigName())
			}
		}
	}
	return names, nil
}
