#!/usr/bin/env python3
"""Start-up and idle-memory probe for bench/handshake (run by it; standard library only).

usage: handshake_probe.py --provider BIN --terraform BIN --tf-config FILE --runs N [--client-cert PEM]

Each round runs every variant once, in turn (so a slow patch of a shared machine hits all of them):
  /bin/true            exec to exit
  terraform version    exec to exit (Terraform's own start-up; checkpoint disabled, empty CLI config)
  provider             exec to the first stdout line (the go-plugin handshake line)
  provider AutoMTLS    the same with PLUGIN_CLIENT_CERT set (skipped without --client-cert)
For the provider variants it then sleeps 1 s, reads VmRSS and VmHWM from /proc/PID/status, sends
SIGTERM and waits for the exit. One warm-up round is run first and discarded.
"""
import argparse
import math
import os
import signal
import statistics
import subprocess
import sys
import time

MAGIC = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"


def exec_to_exit(argv, env):
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rc = p.wait()
    t1 = time.perf_counter()
    if rc != 0:
        sys.exit(f"handshake_probe: {argv} exited with {rc}")
    return t1 - t0


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} missing in /proc/{pid}/status")


def provider_run(binary, env, want_cert):
    """Returns (seconds to the handshake line, VmRSS KiB, VmHWM KiB) after 1 s idle."""
    t0 = time.perf_counter()
    # stdin stays an open pipe, as go-plugin gives the plugin Terraform's own stdin.
    p = subprocess.Popen([binary], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = p.stdout.readline()
    t1 = time.perf_counter()
    try:
        fields = line.decode().strip().split("|")
        if len(fields) < 5 or fields[0] != "1" or fields[1] != "6":
            raise RuntimeError(f"unexpected handshake line {line!r}")
        has_cert = len(fields) >= 6 and fields[5] != ""
        if has_cert != want_cert:
            raise RuntimeError(f"handshake line {'has' if has_cert else 'lacks'} a server "
                               f"certificate (AutoMTLS expected: {want_cert}): {line[:120]!r}")
        time.sleep(1.0)
        if p.poll() is not None:
            raise RuntimeError(f"provider exited ({p.returncode}) while idle")
        rss, hwm = status_kib(p.pid, "VmRSS"), status_kib(p.pid, "VmHWM")
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise RuntimeError("provider ignored SIGTERM for 10 s")
        p.stdin.close()
        p.stdout.close()
    return t1 - t0, rss, hwm


def pct(xs, q):
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--provider", required=True)
    ap.add_argument("--terraform", required=True)
    ap.add_argument("--tf-config", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--client-cert")
    a = ap.parse_args()

    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("TF_", "PLUGIN_"))}
    tf_env = dict(base, CHECKPOINT_DISABLE="1", TF_CLI_CONFIG_FILE=a.tf_config)
    plain_env = dict(base, TF_PLUGIN_MAGIC_COOKIE=MAGIC, PLUGIN_PROTOCOL_VERSIONS="6",
                     PLUGIN_MIN_PORT="10000", PLUGIN_MAX_PORT="25000")
    variants = [("/bin/true (exec to exit)", "true"),
                ("terraform version (exec to exit)", "tfver"),
                ("provider (exec to handshake)", "plain")]
    mtls_env = None
    if a.client_cert:
        with open(a.client_cert) as f:
            mtls_env = dict(plain_env, PLUGIN_CLIENT_CERT=f.read())
        variants.append(("provider AutoMTLS (exec to handshake)", "mtls"))

    times = {k: [] for _, k in variants}
    rss = {"plain": [], "mtls": []}
    hwm = {"plain": [], "mtls": []}
    for i in range(a.runs + 1):
        warm = i == 0
        for _, k in variants:
            if k == "true":
                t = exec_to_exit(["/bin/true"], base)
            elif k == "tfver":
                t = exec_to_exit([a.terraform, "version"], tf_env)
            else:
                t, r, h = provider_run(a.provider, plain_env if k == "plain" else mtls_env,
                                       k == "mtls")
                if not warm:
                    rss[k].append(r)
                    hwm[k].append(h)
            if not warm:
                times[k].append(t)
        if not warm:
            print(f"  round {i}/{a.runs} done", file=sys.stderr)

    ms = lambda x: f"{x * 1000:9.2f}"
    print(f"runs: {a.runs} (after 1 warm-up round)")
    print(f"{'what':40} {'median ms':>9} {'p90 ms':>9} {'min ms':>9} {'RSS MiB':>8} {'HWM MiB':>8}")
    for label, k in variants:
        xs = times[k]
        mem = ""
        if k in rss:
            mem = (f" {statistics.median(rss[k]) / 1024:8.1f}"
                   f" {statistics.median(hwm[k]) / 1024:8.1f}")
        print(f"{label:40} {ms(statistics.median(xs))} {ms(pct(xs, 0.9))} {ms(min(xs))}{mem}")
    tfv = statistics.median(times["tfver"])
    print()
    for label, k in variants:
        if k in ("plain", "mtls"):
            r = statistics.median(times[k]) / tfv
            print(f"ratio {label} / terraform version (medians): {r:.3f}")
    if not a.client_cert:
        print("AutoMTLS variant skipped: no client certificate (see above)")


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as e:
        sys.exit(f"handshake_probe: {e}")
