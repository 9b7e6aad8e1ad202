#!/usr/bin/env bash
# Nightly fuzzing and simulation.
#
#   fuzz/nightly.sh DURATION        for example: fuzz/nightly.sh 10m
#
# 1. Runs every Fuzz target of ./fuzz for DURATION each:
#      go test ./fuzz -run '^$' -fuzz '^FuzzX$' -fuzztime DURATION
#    A target that fails leaves its minimized input in
#    fuzz/testdata/fuzz/FuzzX/<hash>; the script prints each such file and
#    the command that replays it. The remaining targets still run.
# 2. If the simulator package (./sim) exists, sweeps it over many seeds:
#      go test ./sim -run Sim -seeds=$SIM_SEEDS -timeout $SIM_TIMEOUT
#    (when ./sim defines a -seeds flag; otherwise one plain run of its Sim
#    tests).
# 3. Copies new failing inputs, any porcupine visualizations (*.html
#    written during the run, in the repository or in $TMPDIR) and the
#    simulator's event logs ($TMPDIR/chronik-sim/*.log) to
#    $NIGHTLY_ARTIFACTS (default: $TMPDIR/chronik-nightly-artifacts), for
#    CI to upload.
#
# Exits non-zero if any target or the simulator sweep failed.
#
# Environment: SIM_SEEDS (default 20000), SIM_TIMEOUT (default 60m),
# NIGHTLY_ARTIFACTS, FUZZ_TARGETS (space-separated subset of targets).
set -uo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 DURATION   (a go test -fuzztime value, e.g. 10m or 30s)" >&2
  exit 2
fi
duration=$1
cd "$(dirname "$0")/.."
root=$PWD
tmp=${TMPDIR:-/tmp}
artifacts=${NIGHTLY_ARTIFACTS:-$tmp/chronik-nightly-artifacts}
sim_seeds=${SIM_SEEDS:-20000}
sim_timeout=${SIM_TIMEOUT:-60m}
mkdir -p "$artifacts"
marker=$(mktemp)  # files newer than this were written by this run

failures=()
logdir=$(mktemp -d)
trap 'rm -rf "$marker" "$logdir"' EXIT

# The seed corpora must pass before anything else is worth running.
echo "=== seed corpora: go test ./fuzz"
if ! go test -count=1 ./fuzz; then
  failures+=("seed corpus (go test ./fuzz)")
fi

targets=${FUZZ_TARGETS:-$(go test ./fuzz -list '^Fuzz' | grep '^Fuzz' || true)}
if [ -z "$targets" ]; then
  echo "no Fuzz targets found in ./fuzz" >&2
  exit 1
fi

for t in $targets; do
  echo
  echo "=== $t for $duration ($(date -u +%H:%M:%S) UTC)"
  log="$logdir/$t.log"
  go test ./fuzz -run '^$' -fuzz "^${t}\$" -fuzztime "$duration" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  # The last progress line holds the totals; show it with the rate.
  grep -E '^fuzz: elapsed' "$log" | tail -n 1 | sed "s/^/$t totals: /"
  if [ "$status" -ne 0 ]; then
    failures+=("$t")
    # "Failing input written to testdata/fuzz/FuzzX/<hash>"
    grep -E 'Failing input written to|To re-run:|go test -run=' "$log" | sed 's/^/  /'
  fi
done

echo
if [ -d sim ] && ls sim/*.go >/dev/null 2>&1; then
  if grep -qE '"seeds"' sim/*.go 2>/dev/null; then
    echo "=== simulator sweep: go test ./sim -run Sim -seeds=$sim_seeds -timeout $sim_timeout"
    if ! go test -count=1 ./sim -run Sim -seeds="$sim_seeds" -timeout "$sim_timeout"; then
      failures+=("simulator sweep")
    fi
  else
    echo "=== ./sim has no -seeds flag yet: go test ./sim -run Sim -timeout $sim_timeout"
    if ! go test -count=1 ./sim -run Sim -timeout "$sim_timeout"; then
      failures+=("simulator")
    fi
  fi
else
  echo "=== no simulator package (./sim) yet: sweep skipped"
fi

# Collect what a human needs to reproduce a failure.
new_inputs=$(find fuzz/testdata/fuzz -type f -newer "$marker" 2>/dev/null | sort)
if [ -n "$new_inputs" ]; then
  echo
  echo "=== new failing inputs"
  for f in $new_inputs; do
    target=$(basename "$(dirname "$f")")
    echo "  $f"
    echo "    replay: go test ./fuzz -run '^$target/$(basename "$f")\$' -v"
    mkdir -p "$artifacts/testdata/fuzz/$target"
    cp "$f" "$artifacts/testdata/fuzz/$target/"
  done
fi
html=$( { find "$root" -name '*.html' -newer "$marker" -not -path '*/.git/*' -not -path "$artifacts/*" 2>/dev/null
          find "$tmp" -maxdepth 3 -name '*.html' -newer "$marker" -not -path "$artifacts/*" 2>/dev/null; } | sort -u)
if [ -n "$html" ]; then
  echo
  echo "=== porcupine visualizations"
  mkdir -p "$artifacts/html"
  for f in $html; do
    echo "  $f"
    cp "$f" "$artifacts/html/"
  done
fi

simlogs=$(find "$tmp/chronik-sim" -maxdepth 1 -name '*.log' -newer "$marker" 2>/dev/null | sort)
if [ -n "$simlogs" ]; then
  echo
  echo "=== simulator event logs"
  mkdir -p "$artifacts/sim"
  for f in $simlogs; do
    echo "  $f"
    cp "$f" "$artifacts/sim/"
  done
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "NIGHTLY FAILED: ${failures[*]}"
  echo "artifacts: $artifacts"
  exit 1
fi
echo "NIGHTLY PASSED: $(echo $targets | wc -w) fuzz targets for $duration each"
