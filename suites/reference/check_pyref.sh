#!/usr/bin/env bash
# check_pyref.sh IPCBENCH - the ctest entry "pyref": runs the Python
# multiprocessing reference rows through `ipcbench run` on the nearest two
# cores and checks that every row came back with a positive figure and the
# reference label; then that without python3 on PATH the rows are skipped
# with a line that says how to get them, and that the script refuses wrong
# arguments. Skips (exit 0, with a line) when python3 is absent.
set -euo pipefail

bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
if ! command -v python3 >/dev/null; then
  echo "pyref: python3 is not installed; skipping (apt-get install python3)"
  exit 0
fi
script=$(dirname "$0")/py_mp.py

cat >"$tmp/py.suite" <<'SUITE'
# pyref check: every reference row once, briefly
pyref  placements=cross  sizes=8,64  workers=1,2  min_time=0.05
SUITE
rc=0
"$bin" run --suite "$tmp/py.suite" --out "$tmp/res" >"$tmp/run.log" 2>&1 || rc=$?
[[ $rc == 0 ]] || { cat "$tmp/run.log" >&2; fail "ipcbench run exited $rc"; }
json=$tmp/res/latest/results.json
python3 - "$json" <<'PY' || fail "results.json rows (above)"
import json, sys
rows = json.load(open(sys.argv[1]))["benchmarks"]
names = {r["name"]: r for r in rows}
places = sorted({n.split("/")[3] for n in names})
want = []
for pl in places:
    for mech in ("py-mp-queue", "py-mp-pipe"):
        for size in (8, 64):
            want += ["pingpong/%s/process/%s/size:%d" % (mech, pl, size), "stream/%s/process/%s/size:%d" % (mech, pl, size)]
    want += ["cpu/py-mp-pool/process/%s/grain:0us/workers:%d" % (pl, w) for w in (1, 2)]
bad = []
for n in want:
    r = names.get(n)
    if r is None:
        bad.append("missing " + n); continue
    if r.get("error_occurred"):
        bad.append("%s: %s" % (n, r.get("error_message"))); continue
    if not r.get("label", "").startswith("reference: Python"):
        bad.append("%s: label %r" % (n, r.get("label")))
    key = "rtt_p50_ns" if n.startswith("pingpong") else "items_per_second" if n.startswith("stream") else "tasks_per_second"
    if not r.get(key, 0) > 0:
        bad.append("%s: %s = %r" % (n, key, r.get(key)))
if len(places) != 1 or bad:
    print("placements %s; %s" % (places, "; ".join(bad)), file=sys.stderr)
    sys.exit(1)
print("pyref: %d reference rows ok on %s" % (len(want), ", ".join(places)))
PY

# No python3 on PATH: a skip line naming the package, and nothing to run.
mkdir "$tmp/empty"
if PATH=$tmp/empty "$(command -v env)" "$bin" run --suite "$tmp/py.suite" --out "$tmp/res2" >"$tmp/nopy.log" 2>&1; then
  fail "a run with only pyref rows and no python3 exited 0"
fi
grep -q "skip: pyref.*python3 is not on PATH (apt-get install python3)" "$tmp/nopy.log" || { cat "$tmp/nopy.log" >&2; fail "no skip line without python3"; }

# The script refuses bad arguments with a message (exit 2 from argparse).
if python3 "$script" --kind queue --workload pingpong --cpus 0 >"$tmp/bad.log" 2>&1; then
  fail "py_mp.py accepted --cpus 0"
fi
grep -q "two CPUs" "$tmp/bad.log" || fail "py_mp.py --cpus 0 said: $(cat "$tmp/bad.log")"
echo "pyref: ok"
