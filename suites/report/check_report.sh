#!/usr/bin/env bash
# check_report.sh IPCBENCH DATA_DIR - the ctest entry "report": runs
# `ipcbench report` on a copy of DATA_DIR/results.json (a real quick-suite run
# of pipe, mqueue and inproc with a short min_time) in a temporary folder and
# checks that every chart was drawn as a non-empty SVG and PNG, that
# index.html and report.md reference only data: URIs or files that exist,
# that the replot script redraws, that --compare draws, and that unreadable
# or foreign JSON is refused with exit status 2 and the file's name.
set -euo pipefail

bin=$1
data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

run=$tmp/run
mkdir "$run"
cp "$data/results.json" "$run/"
"$bin" report "$run" || fail "ipcbench report $run exited $?"

charts=(throughput-same-pu throughput-cross-core latency-64 latency-4096 latency-65536
        cdf-64-cross-core heatmap-64 heatmap-4096 heatmap-65536 efficiency)
for c in "${charts[@]}"; do
  for ext in svg png dat; do
    [[ -s $run/report/$c.$ext ]] || fail "$run/report/$c.$ext is missing or empty"
  done
  [[ $(head -c 4 "$run/report/$c.png" | tail -c 3) == PNG ]] || fail "$c.png is not a PNG file"
  grep -q '<svg' "$run/report/$c.svg" || fail "$c.svg is not an SVG file"
done

# Self-contained: every src/href of index.html is a data: URI or a file in the folder.
mapfile -t refs < <(grep -oE '(src|href)="[^"]*"' "$run/index.html" | sed -E 's/^(src|href)="//; s/"$//')
embedded=0
for ref in "${refs[@]}"; do
  case $ref in
    data:image/svg+xml\;base64,*) embedded=$((embedded + 1)) ;;
    data:*) ;;
    /* | *://*) fail "index.html references $ref: not relative, the page breaks when the folder is copied" ;;
    *) [[ -s $run/$ref ]] || fail "index.html references $ref, which does not exist" ;;
  esac
done
[[ $embedded -eq ${#charts[@]} ]] || fail "index.html embeds $embedded charts, expected ${#charts[@]}"
mapfile -t mdrefs < <(grep -oE '\]\(report/[^)]*\)' "$run/report.md" | sed -E 's/^\]\(//; s/\)$//')
for ref in "${mdrefs[@]}"; do
  [[ -s $run/$ref ]] || fail "report.md references $ref, which does not exist"
done
# Versus peers: the fixed run has pipe, so every mechanism is held against it (pipe itself at 1.00x).
grep -q '^| mqueue | process | [0-9.]*× | [0-9.]*× |$' "$run/report.md" ||
  fail "report.md has no 'Versus peers' row for mqueue against pipe"
grep -q '^| pipe | process | 1.00× | 1.00× |$' "$run/report.md" || fail "pipe against itself is not 1.00x in report.md"
grep -q 'No data: run a suite with the cpu workload' "$run/report.md" ||
  fail "report.md does not say that the cpu pool chart has no data"
grep -q '^## Reproduce' "$run/report.md" || fail "report.md has no Reproduce section"
grep -q 'ipcbench run --suite quick' "$run/report.md" || fail "report.md does not give the command that made the run"

grep -q 'No data: this run has no peer' "$run/report.md" ||
  fail "report.md does not say that the peers chart has no data"

# The peers chart: the fixed run plus a peer made for this test (pipe's
# 64 B cross-core rows renamed py-mp-queue, its figures halved).
peers=$tmp/peers
mkdir "$peers"
python3 - "$run/results.json" "$peers/results.json" <<'PY' || fail "could not write the peers fixture"
import json, sys
d = json.load(open(sys.argv[1]))
extra = []
for b in d["benchmarks"]:
    for wl in ("pingpong", "stream"):
        if b["name"] == wl + "/pipe/process/cross-core/size:64":
            c = dict(b)
            for k in ("name", "run_name"):
                if k in c:
                    c[k] = c[k].replace("/pipe/", "/py-mp-queue/")
            for k in ("rtt_p50_ns", "items_per_second"):
                if k in c:
                    c[k] = c[k] * (2 if k == "rtt_p50_ns" else 0.5)
            extra.append(c)
assert len(extra) >= 2, "the fixed run lacks pipe's 64 B cross-core rows"
d["benchmarks"] += extra
json.dump(d, open(sys.argv[2], "w"))
PY
"$bin" report "$peers" >/dev/null || fail "ipcbench report $peers exited $?"
for ext in svg png dat; do
  [[ -s $peers/report/peers.$ext ]] || fail "$peers/report/peers.$ext is missing or empty"
done
grep -q '"py-mp-queue" [0-9.e+]* "[^"]*" [0-9.e+]* "[^"]*" 1$' "$peers/report/peers.dat" ||
  fail "peers.dat does not mark py-mp-queue as a peer"
grep -q '"mqueue" [0-9.e+]* "[^"]*" [0-9.e+]* "[^"]*" 0$' "$peers/report/peers.dat" ||
  fail "peers.dat does not list mqueue as one of ours"
grep -q '^| pipe | process | 1.00× | 1.00× | 2.00× | 2.00× |$' "$peers/report.md" ||
  fail "report.md does not hold pipe at 2.00x its halved copy"

# The data files and scripts redraw by hand.
rm "$run/report/efficiency.svg"
(cd "$run/report" && sh replot.sh) || fail "report/replot.sh failed"
[[ -s $run/report/efficiency.svg ]] || fail "replot.sh did not redraw efficiency.svg"

# Limit rows taken while the machine ran faster than for the rest of the run
# (limit/ring cut to 1/100, limit/c2c made 10000x slower): the report must warn
# that its ratios to them are not to be trusted - and must not warn otherwise.
grep -q '^- Warning: .* limit/' "$run/report.md" && fail "report.md warns about the limit rows of a steady run"
slow=$tmp/slow-limits
mkdir "$slow"
python3 - "$data/results.json" "$slow/results.json" <<'PY' || fail "could not write the slow-limits fixture"
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["benchmarks"]:
    if b["name"].startswith("limit/ring/"):
        b["items_per_second"] /= 100
    if b["name"].startswith("limit/c2c/"):
        for k in ("real_time", "cpu_time", "rtt_mean_ns"):
            b[k] *= 10000
json.dump(d, open(sys.argv[2], "w"))
PY
"$bin" report "$slow" >/dev/null || fail "ipcbench report $slow exited $?"
grep -q '^- Warning: .*stream .* is above limit/ring' "$slow/report.md" ||
  fail "report.md does not warn about a stream above limit/ring"
grep -q '^- Warning: .*p50 .* is below limit/c2c' "$slow/report.md" ||
  fail "report.md does not warn about a p50 below limit/c2c"

# The host watch: the same figures with host probes - apart between the rows
# and their limit rows must warn, alike must not.
for probe in apart alike; do
  mkdir "$tmp/host-$probe"
  python3 - "$data/results.json" "$tmp/host-$probe/results.json" "$probe" <<'PY' || fail "could not write the host fixture"
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["benchmarks"]:
    b["host_c2c_ns"] = 450.0 if sys.argv[3] == "apart" and b["name"].startswith("limit/") else 60.0
json.dump(d, open(sys.argv[2], "w"))
PY
  "$bin" report "$tmp/host-$probe" >/dev/null || fail "ipcbench report $tmp/host-$probe exited $?"
done
grep -q '^- Warning: .*ratio to limit/ring mixes host states' "$tmp/host-apart/report.md" ||
  fail "report.md does not warn about a stream and limit/ring run in different host states"
grep -q '^- Warning: .*ratio to limit/c2c mixes host states' "$tmp/host-apart/report.md" ||
  fail "report.md does not warn about a pingpong and limit/c2c run in different host states"
grep -q 'mixes host states' "$tmp/host-alike/report.md" && fail "report.md warns about host states that agree"
# Past its limit with probes that agree: a note that the limit fell short, not a warning about the host.
mkdir "$tmp/host-past"
python3 - "$slow/results.json" "$tmp/host-past/results.json" <<'PY' || fail "could not write the host-past fixture"
import json, sys
d = json.load(open(sys.argv[1]))
for b in d["benchmarks"]:
    b["host_c2c_ns"] = 60.0
json.dump(d, open(sys.argv[2], "w"))
PY
"$bin" report "$tmp/host-past" >/dev/null || fail "ipcbench report $tmp/host-past exited $?"
grep -q '^- Note: .*stream .* is above limit/ring .* same state' "$tmp/host-past/report.md" ||
  fail "report.md does not note a stream above limit/ring in one host state"
grep -q '^- Warning: .*limit/' "$tmp/host-past/report.md" &&
  fail "report.md blames the host for rows past their limits whose probes agree"

# Two runs on the same charts.
mkdir "$tmp/run2"
cp "$data/results.json" "$tmp/run2/"
"$bin" report --compare "$run" "$tmp/run2" || fail "ipcbench report --compare exited $?"
for c in compare-throughput-cross-core compare-latency-64; do
  [[ -s $tmp/run2/compare/report/$c.svg && -s $tmp/run2/compare/report/$c.png ]] ||
    fail "--compare did not draw $c"
done
[[ -s $tmp/run2/compare/index.html ]] || fail "--compare wrote no index.html"

# Unreadable or foreign JSON: exit 2, the message names the file.
expect2() {
  local file=$1 what=$2 rc=0
  "$bin" report "$file" 2>"$tmp/err" || rc=$?
  [[ $rc -eq 2 ]] || fail "ipcbench report on $what exited $rc, expected 2"
  grep -qF "$file" "$tmp/err" || fail "the error for $what does not name $file: $(cat "$tmp/err")"
}
printf '{"name": "left-pad", "version": "1.3.0"}\n' >"$tmp/foreign.json"
expect2 "$tmp/foreign.json" "a foreign JSON file"
printf '{"context": {}, "benchmarks": [{"name": "BM_memcpy/8", "real_time": 1}]}\n' >"$tmp/gbench.json"
expect2 "$tmp/gbench.json" "another program's Google Benchmark JSON"
printf '{"benchmarks": [' >"$tmp/truncated.json"
expect2 "$tmp/truncated.json" "truncated JSON"
mkdir "$tmp/empty"
expect2 "$tmp/empty/results.json" "a folder without results.json"

# The page in a real browser, when one is installed (ci/setup does not pull
# Chromium's ~300 MB in): every image decoded after the load event.
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -n $browser ]]; then
  sed 's|</body>|<script>addEventListener("load", () => { const i = [...document.images]; document.body.dataset.loaded = i.filter(x => x.complete \&\& x.naturalWidth > 0).length + "/" + i.length; });</script></body>|' \
    "$run/index.html" >"$run/browser-check.html"
  got=$(timeout 90 "$browser" --headless=new --no-sandbox --disable-gpu --virtual-time-budget=5000 \
          --dump-dom "file://$run/browser-check.html" 2>/dev/null | grep -oE 'data-loaded="[0-9]+/[0-9]+"' || true)
  [[ $got == "data-loaded=\"${#charts[@]}/${#charts[@]}\"" ]] ||
    fail "$(basename "$browser") headless: images loaded ${got:-unknown}, expected ${#charts[@]}/${#charts[@]}"
  echo "report: $(basename "$browser") headless loaded every image of index.html (${#charts[@]}/${#charts[@]})"
else
  echo "report: no chromium installed: the headless browser check is skipped (apt-get install chromium)"
fi

echo "report: ${#charts[@]} charts drawn, index.html self-contained, compare drawn, foreign JSON refused"
