#!/usr/bin/env python3
"""Stands in for terraform-provider-meshfed in `bench/plan-apply`'s dev_overrides directory:
runs the real provider ($MESHFED_BENCH_PROVIDER) as a child with the same arguments, stdin,
stdout and stderr (so Terraform's handshake goes to it directly), passes SIGINT and SIGTERM on,
and when it exits appends one line to $MESHFED_BENCH_RUSAGE: its peak RSS in KiB and its user and
system CPU seconds (from wait4). Exits with the provider's status."""

import os
import signal
import sys


def main() -> int:
    provider = os.environ["MESHFED_BENCH_PROVIDER"]
    out = os.environ["MESHFED_BENCH_RUSAGE"]
    pid = os.fork()
    if pid == 0:
        os.execv(provider, [provider, *sys.argv[1:]])
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    while True:
        try:
            _, status, usage = os.wait4(pid, 0)
            break
        except InterruptedError:
            continue
    with open(out, "a", encoding="utf-8") as f:
        f.write(f"{usage.ru_maxrss} {usage.ru_utime:.3f} {usage.ru_stime:.3f}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
