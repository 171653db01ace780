#!/usr/bin/env bash
# check_wake.sh IPCBENCH - the ctest entry "run.wake": runs the wake workload
# (first round trip after an idle gap, CPU used while blocked) over pipe and
# shmring in processes and threads with a 20 ms gap, and checks every row's
# figures and the finding line; then runs shmring with its spin stretched past
# the gap (IPCQ_SHMRING_SPIN_NS=1s), where the blocked consumer must show as
# busy: the CPU share is measured, not assumed. Every row must carry the
# host probe (host_c2c_ns) and the context its range.
set -euo pipefail

bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cat >"$tmp/wake.suite" <<'SUITE'
# wake check: 3 gaps of 20 ms per row
wake  mechanisms=pipe,shmring  modes=process,thread  placements=cross  idle=20ms  min_time=0.06
SUITE
run() { # run OUTDIR [ENV...]
  local out=$1 rc=0
  shift
  env "$@" "$bin" run --suite "$tmp/wake.suite" --out "$out" >"$out.log" 2>&1 || rc=$?
  [[ $rc == 0 ]] || { cat "$out.log" >&2; fail "ipcbench run exited $rc"; }
}
run "$tmp/a"
run "$tmp/spin" IPCQ_SHMRING_SPIN_NS=1000000000

python3 - "$tmp/a/latest/results.json" "$tmp/spin/latest/results.json" <<'PY' || fail "results (above)"
import json, sys
bad = []
def rows(path):
    d = json.load(open(path))
    return {r["name"]: r for r in d["benchmarks"]}, d["context"].get("findings", "")
a, findings = rows(sys.argv[1])
# the host watch: a probe before the rows, its range in the context
ctx = json.load(open(sys.argv[1]))["context"]
if not ctx.get("host_c2c", "").startswith("cache-line round trip on CPUs"):
    bad.append("context host_c2c: %r" % ctx.get("host_c2c"))
for n, r in a.items():
    if not r.get("host_c2c_ns", 0) > 0:
        bad.append("%s: host_c2c_ns = %r" % (n, r.get("host_c2c_ns")))
spin, _ = rows(sys.argv[2])
places = sorted({n.split("/")[3] for n in a})
for pl in places:
    for mech in ("pipe", "shmring"):
        for mode in ("process", "thread"):
            n = "wake/%s/%s/%s/size:64/idle:20ms" % (mech, mode, pl)
            r = a.get(n)
            if r is None:
                bad.append("missing " + n); continue
            if r.get("error_occurred"):
                bad.append("%s: %s" % (n, r.get("error_message"))); continue
            if not (r.get("samples") == 3 and abs(r.get("idle_s", 0) - 0.02) < 1e-9):
                bad.append("%s: samples %r idle_s %r" % (n, r.get("samples"), r.get("idle_s")))
            for k in ("wake_rtt_p50_ns", "wake_rtt_max_ns", "busy_rtt_p50_ns"):
                if not r.get(k, 0) > 0:
                    bad.append("%s: %s = %r" % (n, k, r.get(k)))
            if not r.get("wake_rtt_max_ns", 0) >= r.get("wake_rtt_p50_ns", 1):
                bad.append("%s: max below p50" % n)
            if not 0 <= r.get("idle_cpu_pct", -1) <= 100.5:
                bad.append("%s: idle_cpu_pct %r" % (n, r.get("idle_cpu_pct")))
            if mech == "shmring":
                s = spin.get(n)
                if s is None or s.get("error_occurred"):
                    bad.append("spinning run: %s missing or failed" % n); continue
                # spinning through each 20 ms gap: the blocked side was on the CPU. It yields
                # to other runnable tasks between tries, so a loaded CPU cuts its share (ctest
                # runs this test alone): required are the issue's 2 % and 5x the sleeping figure.
                busy, idle = s.get("idle_cpu_pct", 0), r.get("idle_cpu_pct", 100)
                if not (busy > 2 and busy > 5 * idle):
                    bad.append("%s: spinning through the gap used %r%% of a CPU, sleeping %r%%: "
                               "expected over 2%% and 5x sleeping" % (n, busy, idle))
    if "After 20ms idle (process, %s)" % pl not in findings:
        bad.append("no finding line for %s; findings: %r" % (pl, findings[:300]))
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
echo "run.wake: pipe and shmring, processes and threads: figures, finding and host probes present; a spinning consumer shows as busy"
