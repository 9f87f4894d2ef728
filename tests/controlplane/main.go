// ! meshfed-controlplane: real, local Kubernetes control planes with Istio's CRDs, for tests,
// ! the demo and CI. Test tooling only: nothing here is meant for production.
// !
// ! Usage:
// !
// !	meshfed-controlplane --dir DIR [--owner-pid PID] NAME...
// !
// ! starts one kube-apiserver with its own embedded etcd per cluster NAME, all on 127.0.0.1 with free
// ! ports, installs Istio's CRDs in each and waits until every CRD is Established, creates the
// ! namespace istio-system, writes DIR/kubeconfig (one cluster, user and context per NAME, each
// ! named NAME; the current context is the first NAME), then writes DIR/ready and prints one line
// ! "ready DIR/kubeconfig" on stdout. SIGTERM or SIGINT stops everything, removes the servers'
// ! temporary data and exits 0.
// !
// ! Design: one OS process per cluster, so that a test can stop ONE cluster and see real
// ! connection errors. The command above is the supervisor; it runs itself once per cluster as
// ! "--dir DIR --name NAME" (the cluster process), with stdout and stderr going to DIR/NAME.log.
// !
// !	DIR/pid              the supervisor's pid
// !	DIR/NAME.pid         the pid of cluster NAME's process (kill it to take that cluster down)
// !	DIR/NAME.log         that cluster's log (apiserver, etcd, this program)
// !	DIR/NAME.kubeconfig  that cluster's kubeconfig alone; DIR/kubeconfig merges them
// !	DIR/NAME.d/          that cluster's temporary data (etcd data dir, certificates); TMPDIR
// !	DIR/ready            written once every cluster is ready; removed on shutdown
// !
// ! A cluster process that dies (e.g. killed by a test) is reaped by the supervisor, which removes
// ! its data and pid file and keeps serving the others. Cluster processes stop when the supervisor
// ! goes away (SIGTERM by the kernel on parent death, and a parent watchdog); the supervisor stops
// ! when the process named by --owner-pid goes away, so a crashed test leaves nothing behind.
// !
// ! The servers are the ones Kubernetes' own integration tests use:
// ! k8s.io/kubernetes/cmd/kube-apiserver/app/testing.StartTestServer with the embedded etcd of
// ! k8s.io/apiserver/pkg/storage/etcd3/testserver. Both want a testing.TB; tb.go provides one that
// ! logs to stderr and runs the cleanups on shutdown. Each cluster serves its own freshly generated
// ! self-signed certificate (so clusters do not trust each other's servers), and the kubeconfig
// ! authenticates with the apiserver's loopback bearer token, whose user is in system:masters
// ! (admin). Istio's CRDs are read from the istio.io/api module in the Go module cache; the path is
// ! baked in at build time by scripts/setup-controlplane (-X main.istioCRDs=...), and --istio-crds
// ! overrides it.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	// Keeps istio.io/api (the source of the CRD file) in go.mod; the package itself is tiny.
	_ "istio.io/api/label"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// istioCRDs is the default path of istio.io/api's kubernetes/customresourcedefinitions.gen.yaml,
// set at build time with -ldflags "-X main.istioCRDs=PATH".
var istioCRDs = ""

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)

func main() {
	dir := flag.String("dir", "", "state directory (kubeconfig, pid files, logs, temporary data)")
	name := flag.String("name", "", "serve this one cluster (the supervisor starts one process per cluster with it)")
	crds := flag.String("istio-crds", istioCRDs, "path of Istio's customresourcedefinitions.gen.yaml")
	owner := flag.Int("owner-pid", 0, "stop everything when this process is gone (0: no owner)")
	timeout := flag.Duration("timeout", 3*time.Minute, "give up when the clusters are not ready within this time")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s --dir DIR [--owner-pid PID] NAME...\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()

	if *dir == "" || *crds == "" {
		flag.Usage()
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fatalf("--dir: %v", err)
	}
	if _, err := os.Stat(*crds); err != nil {
		fatalf("Istio CRDs: %v (rebuild with scripts/setup-controlplane or pass --istio-crds)", err)
	}

	if *name != "" {
		os.Exit(serve(abs, *name, *crds, *timeout))
	}
	names := flag.Args()
	if len(names) == 0 {
		flag.Usage()
		os.Exit(2)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if !validName.MatchString(n) || seen[n] {
			fatalf("invalid or repeated cluster name %q (lower-case letters, digits, '.' and '-')", n)
		}
		seen[n] = true
	}
	os.Exit(supervise(abs, names, *crds, *owner, *timeout))
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "meshfed-controlplane: "+format+"\n", args...)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s meshfed-controlplane: "+format+"\n",
		append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// cluster is one cluster process, as seen by the supervisor.
type cluster struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	err    error         // its exit status, valid once exited is closed
}

func supervise(dir string, names []string, crds string, owner int, timeout time.Duration) int {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	for _, f := range []string{"ready", "kubeconfig"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
	if err := os.WriteFile(filepath.Join(dir, "pid"), fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644); err != nil {
		fatalf("%v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	self, err := os.Executable()
	if err != nil {
		fatalf("%v", err)
	}
	var clusters []*cluster
	for _, name := range names {
		c, err := startCluster(dir, self, name, crds, timeout)
		if err != nil {
			logf("%v", err)
			shutdown(dir, clusters)
			return 1
		}
		clusters = append(clusters, c)
	}

	// Wait until every cluster process has written its ready file.
	deadline := time.After(timeout)
	for pending := names; len(pending) > 0; {
		var still []string
		for _, n := range pending {
			if _, err := os.Stat(filepath.Join(dir, n+".ready")); err != nil {
				still = append(still, n)
			}
		}
		pending = still
		if len(pending) == 0 {
			break
		}
		if c := firstExited(clusters); c != nil {
			logf("cluster %s exited during start-up (%v); see %s", c.name, c.err, filepath.Join(dir, c.name+".log"))
			shutdown(dir, clusters)
			return 1
		}
		select {
		case <-ctx.Done():
			logf("interrupted during start-up")
			shutdown(dir, clusters)
			return 0
		case <-deadline:
			logf("clusters %v not ready after %v; see their logs in %s", pending, timeout, dir)
			shutdown(dir, clusters)
			return 1
		case <-time.After(100 * time.Millisecond):
		}
	}

	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := mergeKubeconfigs(dir, names, kubeconfig); err != nil {
		logf("writing %s: %v", kubeconfig, err)
		shutdown(dir, clusters)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), []byte(kubeconfig+"\n"), 0o644); err != nil {
		logf("%v", err)
		shutdown(dir, clusters)
		return 1
	}
	fmt.Printf("ready %s\n", kubeconfig)
	logf("ready: %v in %s", names, kubeconfig)

	// Serve until told to stop, reaping clusters that die on the way.
	reaped := map[string]bool{}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			logf("stopping")
			shutdown(dir, clusters)
			return 0
		case <-tick.C:
		}
		for _, c := range clusters {
			select {
			case <-c.exited:
				if !reaped[c.name] {
					reaped[c.name] = true
					logf("cluster %s stopped (%v); the others keep running", c.name, c.err)
					removeClusterState(dir, c.name)
				}
			default:
			}
		}
		if owner > 0 && !alive(owner) {
			logf("owner process %d is gone; stopping", owner)
			shutdown(dir, clusters)
			return 0
		}
	}
}

// startCluster runs this program as the process serving cluster name.
func startCluster(dir, self, name, crds string, timeout time.Duration) (*cluster, error) {
	for _, suffix := range []string{".ready", ".kubeconfig", ".pid"} {
		_ = os.Remove(filepath.Join(dir, name+suffix))
	}
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer log.Close() // the child holds its own copy
	cmd := exec.Command(self, "--dir", dir, "--name", name, "--istio-crds", crds, "--timeout", timeout.String())
	cmd.Stdout, cmd.Stderr = log, log
	// The kernel sends SIGTERM to the child when this process dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", name, err)
	}
	c := &cluster{name: name, cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	if err := os.WriteFile(filepath.Join(dir, name+".pid"), fmt.Appendf(nil, "%d\n", cmd.Process.Pid), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return nil, err
	}
	logf("cluster %s: pid %d, log %s", name, cmd.Process.Pid, log.Name())
	return c, nil
}

func firstExited(clusters []*cluster) *cluster {
	for _, c := range clusters {
		select {
		case <-c.exited:
			return c
		default:
		}
	}
	return nil
}

// shutdown stops every cluster process (SIGTERM, then SIGKILL after 30s), waits until all are
// reaped, and removes their temporary data and the pid and ready files.
func shutdown(dir string, clusters []*cluster) {
	_ = os.Remove(filepath.Join(dir, "ready"))
	for _, c := range clusters {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
	}
	kill := time.After(30 * time.Second)
	for _, c := range clusters {
		select {
		case <-c.exited:
		case <-kill:
			logf("cluster %s did not stop within 30s; killing it", c.name)
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
		removeClusterState(dir, c.name)
	}
	_ = os.Remove(filepath.Join(dir, "pid"))
	logf("stopped")
}

func removeClusterState(dir, name string) {
	_ = os.RemoveAll(filepath.Join(dir, name+".d"))
	for _, suffix := range []string{".ready", ".pid"} {
		_ = os.Remove(filepath.Join(dir, name+suffix))
	}
}

// alive reports whether process pid exists and is not a zombie. (A killed multi-threaded
// process shows its main thread as a zombie while the other threads still exit.)
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may contain spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || (stat[i+2] != 'Z' && stat[i+2] != 'X') {
		return true
	}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	return len(tasks) > 1
}

// mergeKubeconfigs joins the per-cluster kubeconfigs into one; the first name is current.
func mergeKubeconfigs(dir string, names []string, out string) error {
	merged := clientcmdapi.NewConfig()
	for _, n := range names {
		c, err := clientcmd.LoadFromFile(filepath.Join(dir, n+".kubeconfig"))
		if err != nil {
			return err
		}
		for k, v := range c.Clusters {
			merged.Clusters[k] = v
		}
		for k, v := range c.AuthInfos {
			merged.AuthInfos[k] = v
		}
		for k, v := range c.Contexts {
			merged.Contexts[k] = v
		}
	}
	merged.CurrentContext = names[0]
	if len(merged.Contexts) != len(names) {
		return errors.New("the per-cluster kubeconfigs do not have one context each")
	}
	return writeAtomically(out, func(tmp string) error { return clientcmd.WriteToFile(*merged, tmp) })
}

// writeAtomically lets write fill a temporary file, then renames it to path, so readers never
// see a half-written file.
func writeAtomically(path string, write func(tmp string) error) error {
	tmp := path + ".tmp"
	if err := write(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
