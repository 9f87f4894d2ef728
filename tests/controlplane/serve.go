package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	etcdserver "k8s.io/apiserver/pkg/storage/etcd3/testserver"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	certutil "k8s.io/client-go/util/cert"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
)

// serve runs cluster name's etcd and kube-apiserver in this process until SIGTERM/SIGINT or
// until the supervisor (the parent process) is gone. It returns the exit code.
func serve(dir, name, crds string, timeout time.Duration) int {
	start := time.Now()
	state := filepath.Join(dir, name+".d")
	_ = os.RemoveAll(state)
	if err := os.MkdirAll(state, 0o700); err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(state)
	// Everything the servers put in temporary directories lands in the cluster's data directory.
	_ = os.Setenv("TMPDIR", state)
	// StartTestServer finds its package directory from its source file name, which -trimpath
	// makes relative; for that case it honours bazel's variables. It only reads fixture
	// certificates from there, and we give it certificates of our own (see below).
	_ = os.Setenv("TEST_SRCDIR", state)
	_ = os.Setenv("TEST_WORKSPACE", "src")

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx = withParentWatch(ctx)

	tb := newProcessTB(name)
	defer tb.runCleanups()

	etcdClient := etcdserver.RunEtcd(tb, etcdserver.NewTestConfig(tb))
	storageConfig := storagebackend.NewDefaultConfig("/registry", nil)
	storageConfig.Transport.ServerList = etcdClient.Endpoints()
	logf("etcd for %s serves %v", name, etcdClient.Endpoints())

	// A serving certificate of this cluster's own: the test server's fixture certificate is the
	// same for every server, and a client should not trust cluster-b because it trusts cluster-a.
	servingCert, servingKey, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", []net.IP{net.ParseIP("127.0.0.1")}, []string{"localhost"})
	if err != nil {
		tb.Fatalf("generating serving certificate: %v", err)
	}
	certFile, keyFile := filepath.Join(state, "serving.crt"), filepath.Join(state, "serving.key")
	if err := os.WriteFile(certFile, servingCert, 0o600); err != nil {
		tb.Fatalf("%v", err)
	}
	if err := os.WriteFile(keyFile, servingKey, 0o600); err != nil {
		tb.Fatalf("%v", err)
	}

	server := kubeapiservertesting.StartTestServerOrDie(tb, nil, []string{
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		// Real clusters enforce RBAC (the test server defaults to AlwaysAllow); the loopback
		// token's group system:masters is still allowed everything.
		"--authorization-mode=RBAC",
		// The peer proxy (beta, on by default in 1.36) is for several apiservers of different
		// versions in one cluster; it wants its CA where the test server's generated
		// certificate would be, and we bring our own certificate.
		"--feature-gates=UnknownVersionInteroperabilityProxy=false",
	}, storageConfig)
	tb.Cleanup(server.TearDownFn)
	logf("kube-apiserver for %s serves %s", name, server.ClientConfig.Host)

	// The loopback client config carries the server's privileged bearer token (user
	// system:apiserver, group system:masters); outside the process we reach the server by its
	// address and real certificate instead of the loopback SNI name.
	kc := clientcmdapi.NewConfig()
	kc.Clusters[name] = &clientcmdapi.Cluster{Server: server.ClientConfig.Host, CertificateAuthorityData: servingCert}
	kc.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: server.ClientConfig.BearerToken}
	kc.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	kc.CurrentContext = name
	kubeconfig := filepath.Join(dir, name+".kubeconfig")
	if err := writeAtomically(kubeconfig, func(tmp string) error { return clientcmd.WriteToFile(*kc, tmp) }); err != nil {
		tb.Fatalf("writing %s: %v", kubeconfig, err)
	}

	// Set the cluster up through the kubeconfig just written, which proves that it works.
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	config.QPS, config.Burst = 100, 200
	setupCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := installCRDs(setupCtx, config, crds); err != nil {
		tb.Fatalf("installing Istio's CRDs: %v", err)
	}
	if err := createNamespace(setupCtx, config, "istio-system"); err != nil {
		tb.Fatalf("creating namespace istio-system: %v", err)
	}

	if err := os.WriteFile(filepath.Join(dir, name+".ready"), nil, 0o644); err != nil {
		tb.Fatalf("%v", err)
	}
	logf("cluster %s ready in %v", name, time.Since(start).Round(time.Millisecond))

	<-ctx.Done()
	logf("cluster %s stopping: %v", name, context.Cause(ctx))
	tb.runCleanups()
	logf("cluster %s stopped", name)
	return 0
}

// withParentWatch cancels ctx when the parent process (the supervisor) is gone, in case the
// kernel's parent-death signal was missed.
func withParentWatch(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancelCause(ctx)
	parent := os.Getppid()
	go func() {
		for ctx.Err() == nil {
			time.Sleep(500 * time.Millisecond)
			if os.Getppid() != parent {
				cancel(errors.New("the supervisor is gone"))
			}
		}
	}()
	return ctx
}

// installCRDs creates every CRD of the multi-document YAML file path and waits until all are
// Established (served).
func installCRDs(ctx context.Context, config *rest.Config, path string) error {
	client, err := apiextensionsclient.NewForConfig(config)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	decoder := yaml.NewYAMLOrJSONDecoder(f, 64*1024)
	var names []string
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := decoder.Decode(&crd); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if crd.Name == "" {
			continue // an empty document
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("%s holds no CRD", path)
	}
	return wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			if !established(crd) {
				return false, nil
			}
		}
		logf("%d Istio CRDs established", len(names))
		return true, nil
	})
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true
		}
	}
	return false
}

func createNamespace(ctx context.Context, config *rest.Config, name string) error {
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return err
	}
	_, err = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return err
}
