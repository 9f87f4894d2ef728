package main

// meshfed-istio istiod: runs one istiod (pilot-discovery) against one test cluster, set up the way
// Istio's Helm chart sets up a primary cluster on a network of its own, minus the Pod:
//
//   - the `istio` ConfigMap in istio-system (mesh config: trustDomain = the cluster's name,
//     rootNamespace istio-system) and the network label on the istio-system namespace;
//   - the environment of the chart's Deployment plus meshfed's documented settings
//     (ISTIO_MULTIROOT_MESH=true, SHARED_MESH_CONFIG=meshfed-mesh-config);
//   - the `cacerts` Secret reaches istiod the way the kubelet's optional Secret volume does: its
//     keys are written to ROOT_CA_DIR with the kubelet's atomic writer layout (files are symlinks
//     into `..data`, which is swapped in one rename), before istiod starts and on every change;
//     a deleted Secret empties the directory.
//
// Every listener binds a free port on 127.0.0.1. Once istiod answers /ready, DIR/istiod.json holds
// its addresses and DIR/istiod.pid this runner's pid; istiod's output goes to DIR/istiod.log.
// SIGHUP restarts istiod on the same ports (what `kubectl rollout restart deployment/istiod`
// does to a real one); SIGTERM/SIGINT, or the --owner-pid process going away, stops it.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	istioNamespace   = "istio-system"
	sharedMeshConfig = "meshfed-mesh-config"
	cacertsSecret    = "cacerts"
	networkLabel     = "topology.istio.io/network"
)

// istiodAddrs is DIR/istiod.json: where the running istiod listens.
type istiodAddrs struct {
	XDS        string `json:"xds"`        // plaintext xDS (a real istiod's 15010)
	XDSTLS     string `json:"xds_tls"`    // xDS and the CA's CSR API over TLS (15012)
	Debug      string `json:"debug"`      // HTTP debug API and /ready (8080)
	Monitoring string `json:"monitoring"` // metrics (15014)
	Webhook    string `json:"webhook"`    // injection/validation webhooks (15017)
	Cluster    string `json:"cluster"`
	Network    string `json:"network"`
	CADir      string `json:"ca_dir"`
	PID        int    `json:"pid"`    // pilot-discovery's pid
	Starts     int    `json:"starts"` // 1 after the first start, +1 per restart
}

func runIstiod(args []string) int {
	fs := flag.NewFlagSet("istiod", flag.ExitOnError)
	dir := fs.String("dir", "", "state directory of this istiod (istiod.json, istiod.log, cacerts/)")
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster (its current context is used)")
	cluster := fs.String("cluster", "", "cluster name: istiod's cluster ID, domain suffix and trust domain")
	network := fs.String("network", "", "network of the cluster (default: net-<cluster>)")
	pilot := fs.String("pilot-discovery", "", "path of the pilot-discovery binary")
	owner := fs.Int("owner-pid", 0, "stop when this process is gone (0: no owner)")
	timeout := fs.Duration("timeout", 3*time.Minute, "give up when istiod is not ready within this time")
	_ = fs.Parse(args)
	if *dir == "" || *kubeconfig == "" || *cluster == "" || *pilot == "" {
		fs.Usage()
		return 2
	}
	if *network == "" {
		*network = "net-" + *cluster
	}
	r := &runner{dir: *dir, cluster: *cluster, network: *network, pilot: *pilot, kubeconfig: *kubeconfig}
	return r.run(*owner, *timeout)
}

type runner struct {
	dir, cluster, network, pilot, kubeconfig string
	client                                   kubernetes.Interface
	addrs                                    istiodAddrs
}

func (r *runner) run(owner int, timeout time.Duration) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx = withOwner(ctx, owner)
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	_ = os.Remove(filepath.Join(r.dir, "istiod.json"))
	if err := os.WriteFile(filepath.Join(r.dir, "istiod.pid"), []byte(fmt.Sprintf("%d\n", os.Getpid())), 0o644); err != nil {
		fatalf("%v", err)
	}
	defer os.Remove(filepath.Join(r.dir, "istiod.pid"))

	config, err := clientcmd.BuildConfigFromFlags("", r.kubeconfig)
	if err != nil {
		fatalf("%s: %v", r.kubeconfig, err)
	}
	r.client = kubernetes.NewForConfigOrDie(config)
	setupCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.installMeshConfig(setupCtx); err != nil {
		fatalf("cluster %s: %v", r.cluster, err)
	}
	caDir := filepath.Join(r.dir, "cacerts")
	synced, err := startSecretVolume(ctx, r.client, caDir)
	if err != nil {
		fatalf("cluster %s: %v", r.cluster, err)
	}
	if !cache.WaitForCacheSync(setupCtx.Done(), synced) {
		fatalf("cluster %s: the cacerts Secret did not sync", r.cluster)
	}
	r.addrs, err = freeAddrs(r.cluster, r.network, caDir)
	if err != nil {
		fatalf("%v", err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	for start := 1; ; start++ {
		proc, exited, err := r.start(setupCtx, start)
		if err != nil {
			logf("cluster %s: istiod did not start: %v", r.cluster, err)
			return 1
		}
		select {
		case <-ctx.Done():
			logf("cluster %s: stopping istiod (%v)", r.cluster, context.Cause(ctx))
			stopProcess(proc, exited)
			_ = os.Remove(filepath.Join(r.dir, "istiod.json"))
			return 0
		case <-hup:
			logf("cluster %s: restarting istiod", r.cluster)
			_ = os.Remove(filepath.Join(r.dir, "istiod.json"))
			stopProcess(proc, exited)
			setupCtx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		case err := <-exited:
			logf("cluster %s: istiod exited by itself: %v (see istiod.log)", r.cluster, err)
			_ = os.Remove(filepath.Join(r.dir, "istiod.json"))
			return 1
		}
	}
}

// installMeshConfig writes what Helm's istiod chart installs for a primary cluster of its own
// network: the `istio` ConfigMap and the network label on istio-system.
func (r *runner) installMeshConfig(ctx context.Context) error {
	mesh := fmt.Sprintf("trustDomain: %s\nrootNamespace: %s\ndefaultConfig:\n  discoveryAddress: istiod.%s.svc:15012\n",
		r.cluster, istioNamespace, istioNamespace)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio", Namespace: istioNamespace,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "meshfed-testbed"}},
		Data: map[string]string{"mesh": mesh, "meshNetworks": "networks: {}\n"},
	}
	cms := r.client.CoreV1().ConfigMaps(istioNamespace)
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("updating ConfigMap %s/istio: %w", istioNamespace, err)
		}
	} else if err != nil {
		return fmt.Errorf("creating ConfigMap %s/istio: %w", istioNamespace, err)
	}
	ns, err := r.client.CoreV1().Namespaces().Get(ctx, istioNamespace, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading namespace %s: %w", istioNamespace, err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[networkLabel] = r.network
	if _, err := r.client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("labelling namespace %s: %w", istioNamespace, err)
	}
	return nil
}

// start runs pilot-discovery and waits until it answers /ready, then writes istiod.json.
func (r *runner) start(ctx context.Context, n int) (*exec.Cmd, <-chan error, error) {
	a := r.addrs
	logFile, err := os.OpenFile(filepath.Join(r.dir, "istiod.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "=== meshfed-istio: start %d of istiod for %s at %s\n", n, r.cluster, time.Now().Format(time.RFC3339))
	cmd := exec.Command(r.pilot, "discovery",
		"--kubeconfig", r.kubeconfig,
		"--clusterID", r.cluster,
		"--domain", r.cluster,
		"--grpcAddr", a.XDS,
		"--secureGRPCAddr", a.XDSTLS,
		"--httpAddr", a.Debug,
		"--monitoringAddr", a.Monitoring,
		"--httpsAddr", a.Webhook,
		"--ctrlz_port", "0",
		"--keepaliveMaxServerConnectionAge", "30m",
		"--log_output_level", "default:info",
	)
	cmd.Env = append(os.Environ(), istiodEnv(r.cluster, r.network, a.CADir)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := waitReady(ctx, "http://"+a.Debug+"/ready", exited); err != nil {
		stopProcess(cmd, exited)
		return nil, nil, err
	}
	a.PID, a.Starts = cmd.Process.Pid, n
	data, _ := json.MarshalIndent(a, "", "  ")
	if err := writeAtomically(filepath.Join(r.dir, "istiod.json"), append(data, '\n')); err != nil {
		stopProcess(cmd, exited)
		return nil, nil, err
	}
	logf("cluster %s: istiod ready (start %d): xds %s, xds_tls %s, debug %s", r.cluster, n, a.XDS, a.XDSTLS, a.Debug)
	return cmd, exited, nil
}

// istiodEnv is the environment of Helm's istiod Deployment that matters outside a Pod, plus the
// multi-root settings meshfed's docs tell users to set.
func istiodEnv(cluster, network, caDir string) []string {
	return []string{
		"POD_NAMESPACE=" + istioNamespace,
		"POD_NAME=istiod-0",
		"REVISION=default",
		"CLUSTER_ID=" + cluster,
		"NETWORK=" + network,
		"PILOT_CERT_PROVIDER=istiod",
		"ROOT_CA_DIR=" + caDir,
		"ISTIO_MULTIROOT_MESH=true",
		"SHARED_MESH_CONFIG=" + sharedMeshConfig,
		"ISTIOD_CUSTOM_HOST=",
		"PILOT_ENABLE_ANALYSIS=false",
		"ENABLE_CA_SERVER=true",
		// Outside a Pod there is no projected token: the CA's TokenReview uses the kubeconfig.
		"JWT_POLICY=third-party-jwt",
	}
}

func waitReady(ctx context.Context, url string, exited <-chan error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("pilot-discovery exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("not ready at %s: %w", url, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func stopProcess(cmd *exec.Cmd, exited <-chan error) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// freeAddrs picks five free loopback ports.
func freeAddrs(cluster, network, caDir string) (istiodAddrs, error) {
	var addrs []string
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return istiodAddrs{}, err
		}
		listeners = append(listeners, l)
		addrs = append(addrs, l.Addr().String())
	}
	return istiodAddrs{XDS: addrs[0], XDSTLS: addrs[1], Debug: addrs[2], Monitoring: addrs[3], Webhook: addrs[4],
		Cluster: cluster, Network: network, CADir: caDir}, nil
}

// withOwner cancels ctx when the owner process is gone.
func withOwner(ctx context.Context, owner int) context.Context {
	if owner <= 0 {
		return ctx
	}
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(500 * time.Millisecond)
			if err := syscall.Kill(owner, 0); errors.Is(err, syscall.ESRCH) {
				cancel(fmt.Errorf("owner process %d is gone", owner))
			}
		}
	}()
	return ctx
}

func writeAtomically(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// startSecretVolume keeps dir in step with the cacerts Secret of istio-system, as the kubelet
// keeps an optional Secret volume.
func startSecretVolume(ctx context.Context, client kubernetes.Interface, dir string) (cache.InformerSynced, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lw := cache.NewListWatchFromClient(client.CoreV1().RESTClient(), "secrets", istioNamespace,
		fields.OneTermEqualSelector("metadata.name", cacertsSecret))
	write := func(obj any) {
		data := map[string][]byte{}
		if s, ok := obj.(*corev1.Secret); ok {
			data = s.Data
		}
		if err := writeVolume(dir, data); err != nil {
			logf("writing the cacerts volume %s: %v", dir, err)
			return
		}
		logf("cacerts volume %s now holds %s", dir, keysOf(data))
	}
	_, controller := cache.NewInformerWithOptions(cache.InformerOptions{
		ListerWatcher: lw,
		ObjectType:    &corev1.Secret{},
		Handler: cache.ResourceEventHandlerFuncs{
			AddFunc:    write,
			UpdateFunc: func(_, obj any) { write(obj) },
			DeleteFunc: func(any) { write(nil) },
		},
	})
	go controller.Run(ctx.Done())
	return controller.HasSynced, nil
}

func keysOf(data map[string][]byte) string {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return "nothing"
	}
	return strings.Join(keys, ", ")
}

// writeVolume lays data out as the kubelet's atomic writer does: the files go into a new
// timestamped directory, the symlink `..data` is switched to it by one rename, each key is a
// symlink `key -> ..data/key`, and keys no longer present lose their symlink.
func writeVolume(dir string, data map[string][]byte) error {
	tsDir := fmt.Sprintf("..%s", time.Now().UTC().Format("2006_01_02_15_04_05.000000000"))
	if err := os.Mkdir(filepath.Join(dir, tsDir), 0o755); err != nil {
		return err
	}
	for k, v := range data {
		if err := os.WriteFile(filepath.Join(dir, tsDir, k), v, 0o600); err != nil {
			return err
		}
	}
	old, _ := os.Readlink(filepath.Join(dir, "..data"))
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(tsDir, tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, "..data")); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, "..") {
			continue
		}
		if _, keep := data[name]; !keep {
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	for k := range data {
		link := filepath.Join(dir, k)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join("..data", k) {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join("..data", k), link); err != nil {
			return err
		}
	}
	if old != "" && old != tsDir {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return nil
}
