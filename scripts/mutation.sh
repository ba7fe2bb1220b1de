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
#   BYFILE               1: run gremlins once per file, each time with only
#                        the tests that execute that file (found by running
#                        each test alone with coverage first). A test that
#                        never executes a file cannot fail on a mutant in
#                        it, so the fates are the same; the daemon and
#                        gossip, whose tests wait on timers, run 3-5 times
#                        faster. Logs are <pkg>__<file>.log and .json.
#
# Tests run with -count=1 (a cached result would make gremlins' timeout,
# a multiple of the unmutated run's time, a fraction of a real run), with
# -failfast (a mutant is dead at its first failing test; the rest would
# only wait out their deadlines), and with -short (rapid's property tests then run 100 cases each; the
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

export RAPID_SHRINKTIME=1s RAPID_NOFAILFILE=true

# unleash PKG LOGNAME RUN-REGEXP EXCLUDE-REGEXP: one gremlins run.
unleash() {
  local pkg=$1 name=$2 run=$3 exclude=()
  if [ -n "$4" ]; then exclude=(-E "$4"); fi
  echo "+ gremlins unleash ./$pkg (log: $OUT/$name.log)"
  GOFLAGS="-short -count=1 -failfast -parallel=8 -run=$run" gremlins unleash \
    --workers "$WORKERS" --timeout-coefficient "$TIMEOUT_COEFFICIENT" "${exclude[@]}" \
    "${mutators[@]}" --output "$OUT/$name.json" "./$pkg" >"$OUT/$name.log" 2>&1 || {
      echo "gremlins failed on $pkg; see $OUT/$name.log" >&2
      exit 1
    }
  grep -E '^ *LIVED' "$OUT/$name.log" || true
}

# coverage_map PKG DIR: runs each test of PKG alone with coverage and writes
# DIR/covers, lines of "TestName file.go" for every file the test executes.
coverage_map() {
  local pkg=$1 dir=$2
  go test -c -cover -o "$dir/pkg.test" "./$pkg"
  (cd "$pkg" && "$dir/pkg.test" -test.list '.*' 2>/dev/null) | grep -E '^(Test|Example|Fuzz)' >"$dir/tests"
  : >"$dir/covers"
  while read -r t; do
    (cd "$pkg" && "$dir/pkg.test" -test.short -test.parallel=8 -test.run "^$t\$" \
      -test.coverprofile "$dir/$t.cov" >/dev/null 2>&1) || echo "  ($t failed alone; its coverage still counts)"
    awk -v t="$t" 'NR > 1 && $NF > 0 { sub(/:.*/, "", $1); n = split($1, p, "/"); print t, p[n] }' \
      "$dir/$t.cov" | sort -u >>"$dir/covers"
  done <"$dir/tests"
}

# tally LOG...: sums gremlins' counts over logs.
tally() {
  awk '/^Killed:/ { gsub(/,/, ""); k += $2; l += $4; n += $7 }
       /^Timed out:/ { gsub(/,/, ""); t += $3; v += $6 }
       END { e = k + l ? 100 * k / (k + l) : 0; c = k + l + n ? 100 * (k + l) / (k + l + n) : 0
             printf "killed %d, lived %d, timed out %d, not covered %d, not viable %d; efficacy %.1f%%; mutant coverage %.1f%%", k, l, t, n, v, e, c }' "$@"
}

mkdir -p "$OUT"
summary=()
for pkg in "${packages[@]}"; do
  name="${pkg//\//_}"
  start=$(date +%s)
  if [ "${BYFILE:-}" != 1 ]; then
    unleash "$pkg" "$name" . "${EXCLUDE:-}"
    summary+=("$pkg: $(tally "$OUT/$name.log"); $(( $(date +%s) - start ))s")
    continue
  fi
  covdir=$(mktemp -d)
  echo "+ running each test of ./$pkg alone with coverage"
  coverage_map "$pkg" "$covdir"
  mapfile -t files < <(cd "$pkg" && ls -- *.go | grep -v '_test\.go$')
  logs=()
  for f in "${files[@]}"; do
    if [ -n "${EXCLUDE:-}" ] && [[ $f =~ $EXCLUDE ]]; then continue; fi
    others=$(printf '%s\n' "${files[@]}" | grep -vxF -- "$f" | sed 's/\.go$//' | paste -sd'|')
    tests=$(awk -v f="$f" '$2 == f { print $1 }' "$covdir/covers" | sort -u | paste -sd'|')
    echo "  $f: executed by $(awk -v f="$f" '$2 == f' "$covdir/covers" | wc -l) of $(wc -l <"$covdir/tests") tests"
    unleash "$pkg" "${name}__${f%.go}" "^(${tests:-NoTestExecutesThisFile})\$" "(^|/)($others)\.go\$"
    logs+=("$OUT/${name}__${f%.go}.log")
  done
  rm -rf "$covdir"
  summary+=("$pkg: $(tally "${logs[@]}"); $(( $(date +%s) - start ))s")
done

echo
echo "Summary:"
printf '  %s\n' "${summary[@]}"
