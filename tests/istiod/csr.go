package main

// meshfed-istio csr: gets a workload certificate from an istiod's CA the way istio-agent does, over
// Istio's CSR API (istio.v1.auth.IstioCertificateService/CreateCertificate) on istiod's TLS port.
//
//  1. A token for the workload's ServiceAccount, from the cluster's API server (TokenRequest),
//     with the audience istiod's CA checks (TOKEN_AUDIENCES, default "istio-ca").
//  2. A fresh ECDSA P-256 key and a CSR for spiffe://TRUST_DOMAIN/ns/NAMESPACE/sa/SERVICE_ACCOUNT.
//  3. TLS to istiod, checked against the root istiod publishes in the namespace (ConfigMap
//     istio-ca-root-cert) for the name istiod.istio-system.svc, as a sidecar checks it; the call
//     carries "authorization: Bearer TOKEN" and "ClusterID: CLUSTER_ID".
//  4. DIR/key.pem, DIR/cert-chain.pem (leaf first, as istiod returns it) and DIR/root-cert.pem (the
//     chain's last element); on stdout {"cert_chain": [PEM, ...], "root": PEM, "spiffe_id": ID}.
//
// The key and the token are never printed.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	authv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	pb "istio.io/api/security/v1alpha1"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/spiffe"
	"istio.io/istio/security/pkg/pki/util"
)

const (
	// rootCertConfigMap is the ConfigMap istiod writes into every namespace with its root(s).
	rootCertConfigMap = "istio-ca-root-cert"
	rootCertKey       = "root-cert.pem"
	// istiodServerName is a name in istiod's serving certificate (istiod.NAMESPACE.svc), the one
	// sidecars connect to.
	istiodServerName = "istiod.istio-system.svc"
	tokenExpiry      = 10 * time.Minute
)

type csrOptions struct {
	addr, kubeconfig, kubeContext                          string
	namespace, serviceAccount, trustDomain, clusterID, out string
	ttl, timeout                                           time.Duration
}

// csrOutput is the JSON printed on stdout.
type csrOutput struct {
	CertChain []string `json:"cert_chain"`
	Root      string   `json:"root"`
	SpiffeID  string   `json:"spiffe_id"`
}

func runCSR(args []string) int {
	var o csrOptions
	fs := flag.NewFlagSet("csr", flag.ContinueOnError)
	fs.StringVar(&o.addr, "addr", "", "istiod's TLS xDS/CA address HOST:PORT (pilot-discovery --secureGRPCAddr, normally :15012)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the workload's cluster")
	fs.StringVar(&o.kubeContext, "context", "", "kubeconfig context (default: the current one)")
	fs.StringVar(&o.namespace, "namespace", "", "the workload's namespace")
	fs.StringVar(&o.serviceAccount, "service-account", "", "the workload's service account (must exist)")
	fs.StringVar(&o.trustDomain, "trust-domain", "", "the mesh's trust domain (mesh config trustDomain)")
	fs.StringVar(&o.clusterID, "cluster-id", "", "the cluster ID istiod knows the cluster by (sent as ClusterID)")
	fs.DurationVar(&o.ttl, "ttl", time.Hour, "requested certificate lifetime")
	fs.StringVar(&o.out, "out", "", "directory to write key.pem, cert-chain.pem and root-cert.pem to")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "overall timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fatalf("csr: unexpected arguments %q", fs.Args())
	}
	for name, v := range map[string]string{
		"--addr": o.addr, "--kubeconfig": o.kubeconfig, "--namespace": o.namespace,
		"--service-account": o.serviceAccount, "--trust-domain": o.trustDomain, "--out": o.out,
	} {
		if v == "" {
			fatalf("csr: %s is required", name)
		}
	}
	if o.ttl < time.Second {
		fatalf("csr: --ttl must be at least 1s")
	}

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	out, key, err := requestCertificate(ctx, o)
	if err != nil {
		fatalf("csr: %v", err)
	}
	if err := writeCertFiles(o.out, key, out); err != nil {
		fatalf("csr: %v", err)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		fatalf("csr: %v", err)
	}
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		fatalf("csr: writing output: %v", err)
	}
	return 0
}

// requestCertificate runs steps 1-3; it returns the certificate and the private key (PEM).
func requestCertificate(ctx context.Context, o csrOptions) (*csrOutput, []byte, error) {
	kube, err := kubeClient(o.kubeconfig, o.kubeContext)
	if err != nil {
		return nil, nil, err
	}

	// 1. The ServiceAccount token, as the kubelet projects istio-agent's istio-token.
	expiry := int64(tokenExpiry.Seconds())
	tr, err := kube.CoreV1().ServiceAccounts(o.namespace).CreateToken(ctx, o.serviceAccount, &authv1.TokenRequest{
		Spec: authv1.TokenRequestSpec{Audiences: security.TokenAudiences, ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("ServiceAccount %s/%s does not exist", o.namespace, o.serviceAccount)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("requesting a token for ServiceAccount %s/%s: %v", o.namespace, o.serviceAccount, err)
	}
	token := tr.Status.Token

	// The root istiod's serving certificate chains to, as published in the workload's namespace.
	cm, err := kube.CoreV1().ConfigMaps(o.namespace).Get(ctx, rootCertConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("ConfigMap %s/%s does not exist (istiod publishes it into every namespace once it runs)",
			o.namespace, rootCertConfigMap)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading ConfigMap %s/%s: %v", o.namespace, rootCertConfigMap, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(cm.Data[rootCertKey])) {
		return nil, nil, fmt.Errorf("ConfigMap %s/%s has no certificate under %s", o.namespace, rootCertConfigMap, rootCertKey)
	}

	// 2. The key and the CSR.
	spiffeID := spiffe.MustGenSpiffeURIForTrustDomain(o.trustDomain, o.namespace, o.serviceAccount)
	csrPEM, keyPEM, err := util.GenCSR(util.CertOptions{Host: spiffeID, ECSigAlg: util.EcdsaSigAlg, ECCCurve: util.P256Curve})
	if err != nil {
		return nil, nil, fmt.Errorf("generating the CSR: %v", err)
	}

	// 3. The call.
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		RootCAs:    roots,
		ServerName: istiodServerName,
		MinVersion: tls.VersionTLS12,
	})))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to %s: %v", o.addr, err)
	}
	defer conn.Close()
	callCtx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if o.clusterID != "" { // none: istiod assumes its own cluster
		callCtx = metadata.AppendToOutgoingContext(callCtx, "ClusterID", o.clusterID)
	}
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(callCtx, &pb.IstioCertificateRequest{
		Csr:              string(csrPEM),
		ValidityDuration: int64(o.ttl.Seconds()),
	})
	if err != nil {
		st := status.Convert(err)
		return nil, nil, fmt.Errorf("CreateCertificate at %s: %s: %s", o.addr, st.Code(), st.Message())
	}
	chain := resp.GetCertChain()
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("CreateCertificate at %s returned an empty certificate chain", o.addr)
	}
	if err := checkLeaf(chain[0], spiffeID); err != nil {
		return nil, nil, err
	}
	return &csrOutput{CertChain: chain, Root: chain[len(chain)-1], SpiffeID: spiffeID}, keyPEM, nil
}

// kubeClient builds a client for a kubeconfig file and context ("" = the current context).
func kubeClient(kubeconfig, kubeContext string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext},
	).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s (context %q): %v", kubeconfig, kubeContext, err)
	}
	return kubernetes.NewForConfig(cfg)
}

// checkLeaf makes sure the first certificate of the chain is the one we asked for.
func checkLeaf(leafPEM, spiffeID string) error {
	block, _ := pem.Decode([]byte(leafPEM))
	if block == nil {
		return fmt.Errorf("the returned leaf is not PEM")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parsing the returned leaf: %v", err)
	}
	var uris []string
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	if len(uris) != 1 || uris[0] != spiffeID {
		// istiod names the certificate after the token's identity in its own trust domain,
		// whatever the CSR asks for.
		return fmt.Errorf("the returned leaf has URI SANs %v, want [%s] (is --trust-domain istiod's mesh trustDomain?)",
			uris, spiffeID)
	}
	return nil
}

// writeCertFiles writes step 4's files; the key is readable by its owner only.
func writeCertFiles(dir string, key []byte, out *csrOutput) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var chain strings.Builder
	for _, c := range out.CertChain {
		chain.WriteString(c)
		if !strings.HasSuffix(c, "\n") {
			chain.WriteString("\n")
		}
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{"key.pem", key, 0o600},
		{"cert-chain.pem", []byte(chain.String()), 0o644},
		{"root-cert.pem", []byte(out.Root), 0o644},
	}
	for _, f := range files {
		if err := writeFileMode(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// writeFileMode writes a file through a temporary file in the same directory and renames it into
// place, so the file has exactly mode (even if it existed) and is never seen half-written.
func writeFileMode(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
