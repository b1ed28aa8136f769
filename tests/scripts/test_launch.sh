#!/usr/bin/env bash
# scripts/launch.sh: rank variables, the shared rendezvous folder, exit status forwarding and
# stopping the other ranks when one fails, in both launch modes (mpirun only where installed).
set -uo pipefail
launch=${1:?usage: test_launch.sh path/to/launch.sh}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Background processes: every rank gets its own rank, the world size, local rank = rank, and
# one rendezvous folder that exists while they run and is removed afterwards.
WSVIS_LAUNCHER=processes "$launch" 3 sh -c \
  'test -d "$WSVIS_RENDEZVOUS_DIR" && echo "$WSVIS_RANK $WSVIS_WORLD_SIZE $WSVIS_LOCAL_RANK $WSVIS_RENDEZVOUS_DIR" > '"$out"'/rank$WSVIS_RANK'
rc=$?
[[ $rc == 0 ]] || fail "processes: exit status $rc, expected 0"
dirs=()
for r in 0 1 2; do
  read -r rank world local dir < "$out/rank$r" || { fail "processes: rank $r did not run"; continue; }
  [[ "$rank $world $local" == "$r 3 $r" ]] || fail "processes: rank $r saw '$rank $world $local'"
  dirs+=("$dir")
done
[[ ${#dirs[@]} == 3 && ${dirs[0]} == "${dirs[1]}" && ${dirs[1]} == "${dirs[2]}" ]] ||
  fail "processes: ranks saw different rendezvous folders: ${dirs[*]}"
[[ ! -e ${dirs[0]:-/nonexistent} ]] || fail "processes: rendezvous folder ${dirs[0]} left behind"

# A failing rank: its status comes back, and the others (sleeping 60 s) are stopped at once.
start=$SECONDS
WSVIS_LAUNCHER=processes "$launch" 3 sh -c '[ "$WSVIS_RANK" = 1 ] && exit 7; sleep 60' 2>/dev/null
rc=$?
[[ $rc == 7 ]] || fail "processes: exit status $rc, expected the failing rank's 7"
((SECONDS - start < 30)) || fail "processes: the other ranks were not stopped"

# Bad command lines.
"$launch" 0 true 2>/dev/null; [[ $? == 2 ]] || fail "N = 0 accepted"
"$launch" 2 2>/dev/null; [[ $? == 2 ]] || fail "missing command accepted"
WSVIS_LAUNCHER=bogus "$launch" 1 true 2>/dev/null; [[ $? == 2 ]] || fail "bad WSVIS_LAUNCHER accepted"

# mpirun: ranks from Open MPI's variables, failure status forwarded.
if command -v mpirun >/dev/null 2>&1; then
  WSVIS_LAUNCHER=mpirun "$launch" 2 sh -c 'echo "$OMPI_COMM_WORLD_RANK $OMPI_COMM_WORLD_SIZE"' \
    > "$out/mpi" 2>&1 || fail "mpirun: exit status $?"
  [[ $(grep -c '^[01] 2$' "$out/mpi") == 2 ]] || fail "mpirun: ranks saw: $(cat "$out/mpi")"
  WSVIS_LAUNCHER=mpirun "$launch" 2 sh -c 'exit 5' >/dev/null 2>&1
  rc=$?
  [[ $rc != 0 ]] || fail "mpirun: a failing rank gave exit status 0"
else
  echo "mpirun not installed: mpirun mode not checked"
fi

if ((failures)); then
  echo "0 passed, $failures failed"
  exit 1
fi
echo "launch.sh: all checks passed"
