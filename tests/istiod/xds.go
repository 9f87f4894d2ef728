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
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pilot/pkg/model"
	istiocluster "istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/constants"
	"istio.io/istio/pkg/log"
	pm "istio.io/istio/pkg/model"
	"istio.io/istio/pkg/network"
	"istio.io/istio/pkg/version"

	// Register every protobuf type istiod puts into typed_config Anys, so protojson can expand them:
	// pkg/config/xds imports all of go-control-plane's extensions (and contrib), and the config
	// generator imports the Istio-specific ones (istio.io/api/envoy/...) it emits.
	_ "istio.io/istio/pilot/pkg/networking/core"
	_ "istio.io/istio/pkg/config/xds"
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

// xdsClient is the state of the delta ADS stream: what istiod has pushed, by resource name, and
// which EDS/RDS resources we have subscribed to.
type xdsClient struct {
	stream   discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient
	node     *core.Node
	nodeSent bool

	received    map[string]bool // type URL -> at least one response (possibly empty) arrived
	subscribed  map[string]map[string]bool
	clusters    map[string]*cluster.Cluster
	listeners   map[string]*listener.Listener
	routes      map[string]*route.RouteConfiguration
	endpoints   map[string]*endpoint.ClusterLoadAssignment
	trustBundle []string
}

func newXDSClient(stream discovery.AggregatedDiscoveryService_DeltaAggregatedResourcesClient, node *core.Node) *xdsClient {
	return &xdsClient{
		stream:     stream,
		node:       node,
		received:   map[string]bool{},
		subscribed: map[string]map[string]bool{pm.EndpointType: {}, pm.RouteType: {}},
		clusters:   map[string]*cluster.Cluster{},
		listeners:  map[string]*listener.Listener{},
		routes:     map[string]*route.RouteConfiguration{},
		endpoints:  map[string]*endpoint.ClusterLoadAssignment{},
	}
}

// send sends a request; the first one on the stream carries the full node (ID and metadata),
// which is when istiod identifies the proxy.
func (c *xdsClient) send(req *discovery.DeltaDiscoveryRequest) error {
	if !c.nodeSent {
		req.Node = c.node
		c.nodeSent = true
	}
	return c.stream.Send(req)
}

// handle applies one response: decodes its resources (NACKing and failing if one does not
// decode), applies removals, ACKs it, and then subscribes to what the clusters and listeners now
// reference. Subscription changes are requests of their own, without a nonce: a nonce would make
// them an ACK of that type, and istiod ignores requests whose nonce is not the last it sent.
func (c *xdsClient) handle(resp *discovery.DeltaDiscoveryResponse) error {
	t := resp.GetTypeUrl()
	if err := c.apply(resp); err != nil {
		nack := &discovery.DeltaDiscoveryRequest{
			TypeUrl:       t,
			ResponseNonce: resp.GetNonce(),
			ErrorDetail:   &rpcstatus.Status{Code: int32(codes.InvalidArgument), Message: err.Error()},
		}
		_ = c.send(nack)
		return fmt.Errorf("rejected (NACKed) a %s push: %v", pm.GetShortType(t), err)
	}
	c.received[t] = true
	if err := c.send(&discovery.DeltaDiscoveryRequest{TypeUrl: t, ResponseNonce: resp.GetNonce()}); err != nil {
		return err
	}

	wantEDS := map[string]bool{}
	for _, cl := range c.clusters {
		if n := edsName(cl); n != "" {
			wantEDS[n] = true
		}
	}
	wantRDS := map[string]bool{}
	for _, l := range c.listeners {
		names, _ := rdsNames(l) // decoded without error when the listener was accepted
		for _, n := range names {
			wantRDS[n] = true
		}
	}
	if err := c.resubscribe(pm.EndpointType, wantEDS, func(n string) { delete(c.endpoints, n) }); err != nil {
		return err
	}
	return c.resubscribe(pm.RouteType, wantRDS, func(n string) { delete(c.routes, n) })
}

// apply decodes a response's resources into the state. A decoding problem is returned (to NACK).
func (c *xdsClient) apply(resp *discovery.DeltaDiscoveryResponse) error {
	t := resp.GetTypeUrl()
	for _, r := range resp.GetResources() {
		if got := r.GetResource().GetTypeUrl(); got != t {
			return fmt.Errorf("resource %q has type %s in a %s response", r.GetName(), got, t)
		}
		var err error
		switch t {
		case pm.ClusterType:
			err = decodeInto(r, c.clusters)
		case pm.ListenerType:
			l := &listener.Listener{}
			if err = r.GetResource().UnmarshalTo(l); err == nil {
				if _, err = rdsNames(l); err == nil {
					c.listeners[r.GetName()] = l
				}
			}
		case pm.EndpointType:
			err = decodeInto(r, c.endpoints)
		case pm.RouteType:
			err = decodeInto(r, c.routes)
		case pm.ProxyConfigType:
			// One unnamed resource carrying the whole trust bundle each time.
			pc := &meshconfig.ProxyConfig{}
			if err = r.GetResource().UnmarshalTo(pc); err == nil {
				c.trustBundle = pc.GetCaCertificatesPem()
			}
		}
		if err != nil {
			return fmt.Errorf("resource %q: %v", r.GetName(), err)
		}
	}
	for _, name := range resp.GetRemovedResources() {
		switch t {
		case pm.ClusterType:
			delete(c.clusters, name)
		case pm.ListenerType:
			delete(c.listeners, name)
		case pm.EndpointType:
			delete(c.endpoints, name)
		case pm.RouteType:
			delete(c.routes, name)
		case pm.ProxyConfigType:
			c.trustBundle = nil
		}
	}
	return nil
}

// decodeInto decodes a resource into a new M and stores it under the resource's name.
func decodeInto[M any, P interface {
	*M
	proto.Message
}](r *discovery.Resource, into map[string]P) error {
	m := P(new(M))
	if err := r.GetResource().UnmarshalTo(m); err != nil {
		return err
	}
	into[r.GetName()] = m
	return nil
}

// resubscribe brings the subscription to type t to want, dropping what is unsubscribed.
func (c *xdsClient) resubscribe(t string, want map[string]bool, drop func(string)) error {
	var sub, unsub []string
	for n := range want {
		if !c.subscribed[t][n] {
			sub = append(sub, n)
		}
	}
	for n := range c.subscribed[t] {
		if !want[n] {
			unsub = append(unsub, n)
		}
	}
	if len(sub) == 0 && len(unsub) == 0 {
		return nil
	}
	for _, n := range sub {
		c.subscribed[t][n] = true
	}
	for _, n := range unsub {
		delete(c.subscribed[t], n)
		drop(n)
	}
	sort.Strings(sub)
	sort.Strings(unsub)
	return c.send(&discovery.DeltaDiscoveryRequest{
		TypeUrl:                  t,
		ResourceNamesSubscribe:   sub,
		ResourceNamesUnsubscribe: unsub,
	})
}

// missing lists what the configuration still lacks: CDS and LDS responses, then the endpoints of
// every EDS cluster and every route configuration a listener references. Empty = complete.
func (c *xdsClient) missing() []string {
	var out []string
	for _, t := range []string{pm.ClusterType, pm.ListenerType} {
		if !c.received[t] {
			out = append(out, pm.GetShortType(t))
		}
	}
	if len(out) > 0 {
		return out
	}
	var eds, rds []string
	for n := range c.subscribed[pm.EndpointType] {
		if c.endpoints[n] == nil {
			eds = append(eds, n)
		}
	}
	for n := range c.subscribed[pm.RouteType] {
		if c.routes[n] == nil {
			rds = append(rds, n)
		}
	}
	if len(eds) > 0 {
		sort.Strings(eds)
		out = append(out, fmt.Sprintf("EDS %v", eds))
	}
	if len(rds) > 0 {
		sort.Strings(rds)
		out = append(out, fmt.Sprintf("RDS %v", rds))
	}
	return out
}

// output renders the state as JSON.
func (c *xdsClient) output() (*xdsOutput, error) {
	out := &xdsOutput{
		NodeID:      c.node.GetId(),
		Clusters:    map[string]json.RawMessage{},
		Listeners:   map[string]json.RawMessage{},
		Routes:      map[string]json.RawMessage{},
		Endpoints:   map[string]json.RawMessage{},
		TrustBundle: append([]string{}, c.trustBundle...),
	}
	var err error
	add := func(to map[string]json.RawMessage, name string, m proto.Message) {
		if err != nil {
			return
		}
		b, merr := protoJSON(m)
		if merr != nil {
			err = fmt.Errorf("rendering %s %q as JSON: %v", m.ProtoReflect().Descriptor().Name(), name, merr)
			return
		}
		to[name] = b
	}
	for n, m := range c.clusters {
		add(out.Clusters, n, m)
	}
	for n, m := range c.listeners {
		add(out.Listeners, n, m)
	}
	for n, m := range c.routes {
		add(out.Routes, n, m)
	}
	for n, m := range c.endpoints {
		add(out.Endpoints, n, m)
	}
	return out, err
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

// protoJSON renders m with protojson's default options. Any values are expanded through the global
// registry; should one hold a type this binary does not know, the resource is rendered anyway, that
// Any (and only it) as {"@type": URL, "value": BASE64 of its bytes}.
func protoJSON(m proto.Message) (json.RawMessage, error) {
	b, err := protojson.Marshal(m)
	if err == nil {
		return b, nil
	}
	clone := proto.Clone(m)
	opaque := map[string]opaqueAny{}
	if _, werr := markOpaqueAnys(clone.ProtoReflect(), opaque); werr != nil || len(opaque) == 0 {
		return nil, err // not an Any resolution problem
	}
	b, err = protojson.MarshalOptions{Resolver: opaqueResolver{protoregistry.GlobalTypes}}.Marshal(clone)
	if err != nil {
		return nil, err
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(restoreOpaqueAnys(v, opaque))
}

// opaqueAny is an Any whose type is unknown to this binary.
type opaqueAny struct{ typeURL, value string }

// opaqueURLPrefix marks, in the clone being rendered, an Any of unknown type; opaqueResolver maps
// it to an empty message so protojson writes just {"@type": MARKER}, which restoreOpaqueAnys then
// replaces.
const opaqueURLPrefix = "meshfed.invalid/opaque/"

// markOpaqueAnys walks m and renames the type of every Any that cannot be resolved to a unique
// opaqueURLPrefix marker, recording the original. Resolvable Anys are unpacked and walked too (and
// repacked if something inside them was marked). Reports whether m was changed.
func markOpaqueAnys(m protoreflect.Message, opaque map[string]opaqueAny) (bool, error) {
	changed := false
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		fields := m.Descriptor().Fields()
		urlField, valueField := fields.ByName("type_url"), fields.ByName("value")
		url, value := m.Get(urlField).String(), m.Get(valueField).Bytes()
		mt, err := protoregistry.GlobalTypes.FindMessageByURL(url)
		var inner protoreflect.Message
		if err == nil {
			inner = mt.New()
			err = proto.Unmarshal(value, inner.Interface())
		}
		if err != nil {
			marker := fmt.Sprintf("%s%d", opaqueURLPrefix, len(opaque))
			opaque[marker] = opaqueAny{typeURL: url, value: base64.StdEncoding.EncodeToString(value)}
			m.Set(urlField, protoreflect.ValueOfString(marker))
			return true, nil
		}
		innerChanged, err := markOpaqueAnys(inner, opaque)
		if err != nil || !innerChanged {
			return false, err
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(inner.Interface())
		if err != nil {
			return false, err
		}
		m.Set(valueField, protoreflect.ValueOfBytes(b))
		return true, nil
	}
	var walkErr error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		visit := func(sub protoreflect.Message) {
			c, err := markOpaqueAnys(sub, opaque)
			changed = changed || c
			if err != nil && walkErr == nil {
				walkErr = err
			}
		}
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					visit(mv.Message())
					return walkErr == nil
				})
			}
		case fd.IsList():
			if fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind {
				for i := 0; i < v.List().Len(); i++ {
					visit(v.List().Get(i).Message())
				}
			}
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			visit(v.Message())
		}
		return walkErr == nil
	})
	return changed, walkErr
}

// opaqueResolver is the global registry plus an empty message type for the opaque markers.
type opaqueResolver struct{ *protoregistry.Types }

func (r opaqueResolver) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if strings.HasPrefix(url, opaqueURLPrefix) {
		return opaqueMessageType()
	}
	return r.Types.FindMessageByURL(url)
}

// opaqueMessageType is a message type with no fields (meshfed.Opaque), built at run time.
var opaqueMessageType = sync.OnceValues(func() (protoreflect.MessageType, error) {
	fdp := &descriptorpb.FileDescriptorProto{
		Name:        proto.String("meshfed/opaque.proto"),
		Package:     proto.String("meshfed"),
		Syntax:      proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String("Opaque")}},
	}
	fd, err := protodesc.NewFile(fdp, new(protoregistry.Files))
	if err != nil {
		return nil, errors.New("building the opaque message type: " + err.Error())
	}
	return dynamicpb.NewMessageType(fd.Messages().Get(0)), nil
})

// restoreOpaqueAnys replaces every {"@type": MARKER} object in decoded JSON by the original
// type URL and the base64 bytes.
func restoreOpaqueAnys(v any, opaque map[string]opaqueAny) any {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["@type"].(string); ok {
			if o, ok := opaque[t]; ok {
				return map[string]any{"@type": o.typeURL, "value": o.value}
			}
		}
		for k, e := range x {
			x[k] = restoreOpaqueAnys(e, opaque)
		}
	case []any:
		for i, e := range x {
			x[i] = restoreOpaqueAnys(e, opaque)
		}
	}
	return v
}
