#!/usr/bin/env bash
# Demo-load comparison: builds <commit> (Release, in a temporary worktree) and this checkout, then runs
# `seed-demo --events N --days 90` alternately with each, every run on a fresh project-local cluster,
# and prints each run's "Loaded ..." line with the 1-minute load average at its start. Alternating
# keeps a shared machine's drift from landing on one side.
# Usage: bash tests/bench/load-pair.sh <commit> [events=1000000] [pairs=2]
set -euo pipefail
cd "$(dirname "$0")/../.."
commit=${1:?usage: load-pair.sh <commit> [events] [pairs]}
events=${2:-1000000}
pairs=${3:-2}
old=$(mktemp -d)
trap 'git worktree remove --force "$old" >/dev/null 2>&1 || true; rm -rf .data/pair-old .data/pair-new' EXIT
git worktree add -q --detach "$old" "$commit"
dotnet build "$old/src/UsageDashboard" -c Release -v q -nologo >/dev/null
dotnet build src/UsageDashboard -c Release -v q -nologo >/dev/null
for _ in $(seq "$pairs"); do
  for side in old new; do
    [ "$side" = old ] && app=$old/src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll || app=src/UsageDashboard/bin/Release/net10.0/UsageDashboard.dll
    rm -rf ".data/pair-$side"
    sleep 5
    load=$(cut -d' ' -f1 /proc/loadavg)
    line=$(Database__LocalFolder=".data/pair-$side" dotnet "$app" seed-demo --events "$events" --days 90 | grep -E '^Loaded' || true)
    echo "$(date -u +%H:%M:%S) $side ($([ "$side" = old ] && echo "$commit" || git rev-parse --short HEAD)) load $load: $line"
    rm -rf ".data/pair-$side"
  done
done
