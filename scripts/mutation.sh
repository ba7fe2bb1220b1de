#!/usr/bin/env bash
# Mutation testing with go-gremlins: gremlins changes the code one small
# mutation at a time (a flipped comparison, an off-by-one bound, a negated
# condition, an inverted assignment...) and runs the package's tests against
# each mutant. A mutant the tests fail on is KILLED; one they pass is LIVED:
# a change to the code that no test notices. Efficacy is
# killed / (killed + lived); mutant coverage is the share of mutants that
# some test at least executes.
#
# Too slow for CI (each mutant is a `go test` run: about an hour for crdt on
# two cores), so run it by hand after changing a package or its tests:
#
#   scripts/mutation.sh                      # crdt cart internal/store internal/daemon gossip
#   scripts/mutation.sh cart internal/store  # some packages
#
# Environment (all optional):
#   WORKERS              parallel mutants (default 1; each runs go test)
#   TIMEOUT_COEFFICIENT  a mutant's test run may take this many times the
#                        unmutated run before it counts as TIMED OUT
#                        (default 20: mutants that loop forever end there)
#   OUT                  directory for results (default mutation-results/):
#                        <pkg>.log, the full listing, and <pkg>.json
#   GREMLINS_VERSION     version to install if gremlins is not on PATH
#                        (default v0.6.0)
#   EXCLUDE              a regexp of files to leave out (gremlins -E), to
#                        finish a run that stopped part way, by file
#
# Tests run with -short (rapid's property tests then run 100 cases each; the
# process-level suites are skipped), and rapid does not shrink a failing
# case for more than a second or write fail files: a mutant is killed as
# soon as a property fails, and shrinking (30 s by default) would spend
# most of the run on mutants already known dead. Tests that wait on timers
# (gossip, the daemon) run eight at a time (-parallel=8). Every mutator gremlins has is enabled,
# not just its defaults: the defaults never invert a logical operator or a
# loop's break and continue, and those are the mutants that find missing
# tests. No mutator deletes a call or reorders statements, so a suite can
# score 100% here and still miss a skipped fsync; docs/testing.md lists the
# hand-planted bugs that cover that.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${WORKERS:=1}"
: "${TIMEOUT_COEFFICIENT:=20}"
: "${OUT:=$PWD/mutation-results}"
: "${GREMLINS_VERSION:=v0.6.0}"

if ! command -v gremlins >/dev/null 2>&1; then
  echo "+ go install github.com/go-gremlins/gremlins/cmd/gremlins@${GREMLINS_VERSION}"
  go install "github.com/go-gremlins/gremlins/cmd/gremlins@${GREMLINS_VERSION}"
  PATH="$(go env GOPATH)/bin:$PATH"
fi

packages=("$@")
if [ ${#packages[@]} -eq 0 ]; then
  packages=(crdt cart internal/store internal/daemon gossip)
fi

mutators=(
  --arithmetic-base --conditionals-boundary --conditionals-negation
  --increment-decrement --invert-negatives
  --invert-assignments --invert-bitwise --invert-bwassign --invert-logical
  --invert-loopctrl --remove-self-assignments
)

mkdir -p "$OUT"
summary=()
for pkg in "${packages[@]}"; do
  name="${pkg//\//_}"
  echo "+ gremlins unleash ./$pkg (log: $OUT/$name.log)"
  start=$(date +%s)
  exclude=()
  if [ -n "${EXCLUDE:-}" ]; then exclude=(-E "$EXCLUDE"); fi
  RAPID_SHRINKTIME=1s RAPID_NOFAILFILE=true GOFLAGS="-short -parallel=8" gremlins unleash \
    --workers "$WORKERS" --timeout-coefficient "$TIMEOUT_COEFFICIENT" "${exclude[@]}" \
    "${mutators[@]}" --output "$OUT/$name.json" "./$pkg" >"$OUT/$name.log" 2>&1 || {
      echo "gremlins failed on $pkg; see $OUT/$name.log" >&2
      exit 1
    }
  counts=$(grep -E '^Killed:' "$OUT/$name.log" | tail -1)
  efficacy=$(grep -E '^Test efficacy:' "$OUT/$name.log" | tail -1)
  coverage=$(grep -E '^Mutator coverage:' "$OUT/$name.log" | tail -1)
  summary+=("$pkg: $counts; $efficacy; $coverage; $(( $(date +%s) - start ))s")
  grep -E '^ *LIVED' "$OUT/$name.log" || true
done

echo
echo "Summary:"
printf '  %s\n' "${summary[@]}"
