#!/usr/bin/env bash
# Starts N ranks of a command on this machine and exits with their status.
#
#   scripts/launch.sh N CMD [ARGS...]
#
# With Open MPI's mpirun present: `mpirun -np N --oversubscribe CMD...` (plus --allow-run-as-root
# as root); each rank reads its rank from OMPI_COMM_WORLD_* and MPI carries the NCCL id, so CPU
# (MPI) and GPU (NCCL) training both work. Without it (or with WSVIS_LAUNCHER=processes): N
# background processes with WSVIS_RANK, WSVIS_WORLD_SIZE, WSVIS_LOCAL_RANK (= rank: one machine)
# and WSVIS_RENDEZVOUS_DIR (a fresh temporary folder, removed afterwards), enough for NCCL; CPU
# collectives need MPI and refuse to start that way. If one rank fails, the others (which would
# wait for it in their next collective) are stopped and the failing rank's status is returned.
set -euo pipefail

usage() {
  echo "usage: scripts/launch.sh N CMD [ARGS...]   (N >= 1 ranks of CMD)" >&2
  exit 2
}
(($# >= 2)) || usage
ranks=$1
shift
[[ $ranks =~ ^[1-9][0-9]*$ ]] || usage

launcher=${WSVIS_LAUNCHER:-auto}
case $launcher in
  auto | mpirun | processes) ;;
  *) echo "launch.sh: WSVIS_LAUNCHER must be auto, mpirun or processes, got '$launcher'" >&2; exit 2 ;;
esac
if [[ $launcher == auto ]]; then
  launcher=processes
  if command -v mpirun >/dev/null 2>&1; then launcher=mpirun; fi
fi

if [[ $launcher == mpirun ]]; then
  command -v mpirun >/dev/null 2>&1 || { echo "launch.sh: mpirun not found" >&2; exit 2; }
  args=(-np "$ranks")
  # Open MPI's own flags: more ranks than cores, and root (containers).
  if mpirun --version 2>&1 | grep -q "Open MPI"; then
    args+=(--oversubscribe)
    if [[ $(id -u) -eq 0 ]]; then args+=(--allow-run-as-root); fi
  fi
  exec mpirun "${args[@]}" "$@"
fi

rendezvous=$(mktemp -d "${TMPDIR:-/tmp}/wsvis_rendezvous.XXXXXX")
live=()  # process ids of the ranks not yet seen to exit
cleanup() {
  # Each rank is the leader of its own process group (set -m below): stopping the group stops
  # whatever the rank started too.
  for pid in "${live[@]+"${live[@]}"}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  rm -rf "$rendezvous"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

set -m  # job control: every background rank gets a process group of its own
for ((rank = 0; rank < ranks; ++rank)); do
  WSVIS_RANK=$rank WSVIS_WORLD_SIZE=$ranks WSVIS_LOCAL_RANK=$rank \
    WSVIS_RENDEZVOUS_DIR=$rendezvous "$@" &
  live+=($!)
done

status=0
while ((${#live[@]})); do
  rc=0
  if ((BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1))); then
    wait -n -p finished "${live[@]}" || rc=$?  # whichever rank ends first
  else
    finished=${live[0]}  # older bash: in rank order (a later rank's failure is seen late)
    wait "$finished" || rc=$?
  fi
  if ((rc != 0)); then
    status=$rc
    echo "launch.sh: a rank exited with status $rc; stopping the others" >&2
    break
  fi
  remaining=()
  for pid in "${live[@]}"; do [[ $pid == "$finished" ]] || remaining+=("$pid"); done
  live=("${remaining[@]+"${remaining[@]}"}")
done
exit "$status"
