# shellcheck shell=bash
# cgroup v2 delegation (docs/run.md, Cgroups): what only a pure cgroup v2 host shows, so run by
# tests/kernel/run-guest inside the Debian 12 guests, never on the v1-hybrid development machine.
# Each test starts droot-exec in a cgroup of its own: a new child of the root cgroup (v2-root guest), or a
# transient scope with Delegate=yes (systemd guest: `systemd-run --scope`, what an operator types).

v2_root() {
  build_busybox_rootfs "$1"
  mkdir -p "$1/proc" "$1/dev"
  : >"$1/etc/resolv.conf"
  : >"$1/etc/hosts"
}

# in_own_cgroup FILE CMD...: runs CMD as the first process of a fresh, delegated cgroup (with the memory, pids
# and cpu controllers available to it) and writes that cgroup's directory to FILE before CMD starts.
in_own_cgroup() {
  local file="$1"
  shift
  local record='echo "/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)" >"$0"; exec "$@"'
  if [ "$(cat /proc/self/cgroup)" = "0::/" ]; then
    local dir="/sys/fs/cgroup/droot-t.$$.$RANDOM"
    echo "+memory +pids +cpu" >/sys/fs/cgroup/cgroup.subtree_control
    mkdir "$dir"
    trap "rmdir '$dir' 2>/dev/null || true" EXIT
    sh -c 'echo $$ >"$0/cgroup.procs"; r="$1"; shift; exec sh -c "$r" "$@"' "$dir" "$record" "$file" "$@"
  else
    systemd-run --scope --quiet --collect -p Delegate=yes -- sh -c "$record" "$file" "$@"
  fi
}

test_v2_droot_exec_alone_in_a_delegated_cgroup_moves_itself_into_a_leaf() {
  v2_root root
  in_own_cgroup cg "$EXEC" run --memory 32m --pids-limit 50 root sh -c 'touch /started; sleep 60' \
    >out.txt 2>err.txt &
  local pid=$! i dir
  for i in $(seq 600); do [ -e root/started ] && break; sleep 0.05; done
  assert_file root/started
  dir="$(cat cg)"
  # droot-exec (the process the wrapper became) left its own cgroup for the leaf; the jail is beside it.
  local drootexec
  drootexec="$(cat "$dir/supervisor/cgroup.procs")"
  assert_ne "" "$drootexec" "droot-exec is in $dir/supervisor"
  assert_eq "droot-exec" "$(cat "/proc/$drootexec/comm")"
  assert_eq "" "$(cat "$dir/cgroup.procs")" "no process is left in $dir itself"
  assert_contains "$(cat "$dir/cgroup.subtree_control")" "memory"
  assert_contains "$(cat "$dir/cgroup.subtree_control")" "pids"
  local run="$dir/droot-run-$drootexec"
  assert_eq "33554432" "$(cat "$run/memory.max")"
  assert_eq "50" "$(cat "$run/pids.max")"
  assert_ne "" "$(cat "$run/cgroup.procs")" "the jail's processes are in $run"
  kill -TERM "$drootexec"
  local status=0
  wait "$pid" || status=$?
  assert_eq 143 "$status" "SIGTERM reached the command: $(cat err.txt)"
  assert_no_file "$run"
}

test_v2_other_processes_in_the_cgroup_are_named_and_nothing_is_made() {
  v2_root root
  # The shell stays in the cgroup while droot-exec runs beside it: cgroup v2 cannot delegate from there.
  run in_own_cgroup cg sh -c 'echo "shell=$$"; "$0" run --memory 32m root true; echo "rc=$?"' "$EXEC"
  local dir shell
  dir="$(cat cg)"
  shell="$(echo "$out" | sed -n 's/^shell=//p')"
  assert_contains "$out" "rc=125"
  assert_contains "$err" "droot-exec: error: run: --memory: cgroup v2 lets $dir hand the memory controller"
  assert_contains "$err" "holds process $shell besides droot-exec"
  assert_contains "$err" "Delegate=yes"
  # Nothing was made: no leaf, no run cgroup, no controller enabled (the scope may already be gone).
  if [ -d "$dir" ]; then
    assert_no_file "$dir/supervisor"
    assert_eq "" "$(ls -d "$dir"/droot-run-* 2>/dev/null)"
    assert_eq "" "$(cat "$dir/cgroup.subtree_control")"
  fi
}

test_v2_from_the_root_cgroup_no_leaf_is_made() {
  v2_root root
  # The root cgroup is exempt from the no-internal-processes rule: droot-exec stays where it is.
  run sh -c 'echo $$ >/sys/fs/cgroup/cgroup.procs && "$0" run --memory 32m --pids-limit 20 root sh -c "cat /proc/self/cgroup"' "$EXEC"
  assert_status 0
  assert_eq "0::/" "$out" "the jail sees its own cgroup as / (cgroup namespace)"
  assert_no_file /sys/fs/cgroup/supervisor
  assert_eq "" "$(ls -d /sys/fs/cgroup/droot-run-* 2>/dev/null)" "the run cgroup is removed"
}
