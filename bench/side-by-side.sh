#!/usr/bin/env bash
# Two builds of the gateway under the same load AT THE SAME TIME, so that both see the same host: on a shared
# 2-core machine the speed drifts by ±30 % within minutes, and runs one after another say little about a change.
#
#   bench/side-by-side.sh <build A> <build B> [rounds]     e.g. bench/side-by-side.sh /tmp/old-clone .
#
# A build is a checkout with `dist/` built (`node tools/build.js`). Each round runs this checkout's bench twice at
# once (`--skip-verify --skip-ledger`, 10 s, CONNECTIONS connections each, default 16), one against each build's
# dist/src/main.js, and prints one line per build: decisions/s, p99, gateway CPU per decision. Compare A and B within
# a round, never across rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: bench/side-by-side.sh <build A> <build B> [rounds]" >&2; exit 2; }
a=$(cd "$1" && pwd)/dist/src/main.js
b=$(cd "$2" && pwd)/dist/src/main.js
rounds=${3:-2}
connections=${CONNECTIONS:-16}
for f in "$a" "$b" dist/bench/run.js; do [ -f "$f" ] || { echo "missing $f: build it (node tools/build.js)" >&2; exit 2; }; done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
  node dist/bench/run.js --skip-verify --skip-ledger --duration=10 --connections="$connections" --gateway-main="$a" >"$out/a" 2>"$out/a.err" &
  pa=$!
  # A moment apart, so the two runs write their results to different files.
  sleep 0.3
  node dist/bench/run.js --skip-verify --skip-ledger --duration=10 --connections="$connections" --gateway-main="$b" >"$out/b" 2>"$out/b.err" &
  pb=$!
  wait "$pa" || { cat "$out/a.err" >&2; exit 1; }
  wait "$pb" || { cat "$out/b.err" >&2; exit 1; }
  for x in a b; do
    file=$(sed -n 's/^Results: //p' "$out/$x")
    node -e '
      const [file, label] = process.argv.slice(1);
      const g = JSON.parse(require("fs").readFileSync(file, "utf8")).gateway;
      const ms = (1000 * g.cpu.server) / g.load.requestsPerSecond;
      console.log(`${label}: ${Math.round(g.load.requestsPerSecond)} decisions/s, p99 ${g.load.p99Ms} ms, gateway CPU ${ms.toFixed(3)} ms per decision`);
    ' "$file" "round $r, $x"
  done
done
