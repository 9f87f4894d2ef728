package main

// The delta ADS client behind `meshfed-istio xds` (xds.go): subscriptions, acks, and what istiod
// has pushed so far.

import (
	"encoding/json"
	"fmt"
	"sort"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpoint "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	route "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	meshconfig "istio.io/api/mesh/v1alpha1"
	pm "istio.io/istio/pkg/model"
)

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
