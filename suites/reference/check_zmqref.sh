#!/usr/bin/env bash
# check_zmqref.sh IPCBENCH - the ctest entry "zmqref": runs the plain-libzmq
# reference rows through `ipcbench run` on the nearest two cores at two
# sizes and checks every row came back with a positive figure and the
# reference label, and that no ipc:// socket file was left in /tmp.
# Skips (exit 0, with a line) when ipcbench was built without libzmq.
set -euo pipefail

bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
cat >"$tmp/z.suite" <<'SUITE'
# zmqref check: both rows at two sizes, briefly
zmqref  placements=cross  sizes=64,4K  min_time=0.05
SUITE
rc=0
"$bin" run --suite "$tmp/z.suite" --out "$tmp/res" >"$tmp/run.log" 2>&1 || rc=$?
if grep -q "skip: zmqref" "$tmp/run.log"; then
  echo "zmqref: $(grep -o 'skip: zmqref.*' "$tmp/run.log"); skipping"
  exit 0
fi
[[ $rc == 0 ]] || { cat "$tmp/run.log" >&2; fail "ipcbench run exited $rc"; }
python3 - "$tmp/res/latest/results.json" <<'PY' || fail "results.json rows (above)"
import json, sys
rows = {r["name"]: r for r in json.load(open(sys.argv[1]))["benchmarks"]}
places = sorted({n.split("/")[3] for n in rows})
bad = []
for pl in places:
    for size in (64, 4096):
        for wl, key in (("pingpong", "rtt_p50_ns"), ("stream", "items_per_second")):
            n = "%s/zeromq-native/process/%s/size:%d" % (wl, pl, size)
            r = rows.get(n)
            if r is None:
                bad.append("missing " + n); continue
            if r.get("error_occurred"):
                bad.append("%s: %s" % (n, r.get("error_message"))); continue
            if not r.get(key, 0) > 0:
                bad.append("%s: %s = %r" % (n, key, r.get(key)))
            if not r.get("label", "").startswith("reference: libzmq"):
                bad.append("%s: label %r" % (n, r.get("label")))
if not places:
    bad.append("no rows at all")
if bad:
    print("\n".join(bad)); sys.exit(1)
PY
left=$(find /tmp -maxdepth 1 -name "ipcb-zmqref-*" 2>/dev/null | wc -l)
[[ $left == 0 ]] || fail "$left ipc:// socket files left in /tmp (ipcb-zmqref-*)"
echo "zmqref: pingpong and stream at 64 B and 4 KiB measured, labelled as a reference, nothing left in /tmp"
