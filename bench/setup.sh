#!/usr/bin/env bash
# What the benchmarks use beyond `npm ci`, from Debian's packages (run once on a new machine, as root or
# with sudo): nginx and wrk (the reference server and the load generator), Ceph's monitor, OSD and RADOS
# gateway (bench/peer.ts's S3 peer, bench/lib/ceph-rgw.ts), linux-perf (--perf profiles) and strace
# (--strace counts). None of it is in .ci/run: CI runs tests, not benchmarks.
set -euo pipefail
packages=(nginx wrk radosgw ceph-mon ceph-osd linux-perf strace)
as_root=()
if [ "$(id -u)" -ne 0 ]; then as_root=(sudo); fi
"${as_root[@]}" apt-get update -q
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -q "${packages[@]}"
