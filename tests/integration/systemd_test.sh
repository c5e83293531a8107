# shellcheck shell=bash
# contrib/systemd/droot@.service under a real systemd. This machine's PID 1 is not systemd, so each test boots
# one: a Debian 12 tree made with debootstrap (once per machine, cached), started with systemd-nspawn -b
# (--volatile=overlay: the cached tree is never written), with this build's droot-exec, the unit file and a
# test DEST bound in. systemctl is reached with nsenter. Nothing is registered with a host systemd
# (--register=no --keep-unit), so it runs on hosts without one.

# A deploy destination $TEST_TMP/srv/app whose current release runs COMMAND (a /bin/sh -c script) as Cmd.
# The deploy directory is on the host, bound into the container at /srv: the test reads what the service writes,
# in the release's state ($TEST_TMP/srv/app/state/r1/upper: run never writes into a release).
service_dest() {
  local rel="$TEST_TMP/srv/app/releases/r1"
  build_busybox_rootfs "$rel"
  mkdir -p "$rel/proc" "$rel/dev" "$rel/.droot"
  : >"$rel/etc/resolv.conf"
  : >"$rel/etc/hosts"
  python3 -c 'import json,sys; print(json.dumps({"droot_artifact": 1, "image": {"ref": "droot-test/svc:1"},
    "config": {"Cmd": ["/bin/sh", "-c", sys.argv[1]]}}))' "$1" >"$rel/.droot/config.json"
  ln -s releases/r1 "$TEST_TMP/srv/app/current"
}

# Boots the container; sets NSPAWN_PID and INIT_PID (its systemd, PID 1 inside) and waits until it is up.
boot_systemd() {
  ensure_systemd_root
  systemd-nspawn -q -D "$SYSTEMD_ROOT" -b --register=no --keep-unit --volatile=overlay \
    --bind="$TEST_TMP/srv:/srv" --bind-ro="$EXEC:/usr/local/bin/droot-exec" \
    --bind-ro="$DROOT_SRC/contrib/systemd/droot@.service:/etc/systemd/system/droot@.service" \
    >"$TEST_TMP/nspawn.log" 2>&1 </dev/null &
  NSPAWN_PID=$!
  trap 'stop_systemd' EXIT
  INIT_PID=""
  for _ in $(seq 100); do
    # nspawn forks helpers on the way; the container's PID 1 is the child that became systemd.
    INIT_PID=$(pgrep -P "$NSPAWN_PID" -x systemd | head -n 1 || true)
    [ -n "$INIT_PID" ] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$TEST_TMP/nspawn.log" >&2; fail "systemd-nspawn exited at boot"; }
    sleep 0.1
  done
  [ -n "$INIT_PID" ] || fail "systemd-nspawn started no init"
  # Until systemd listens on its socket, systemctl says "Failed to connect to bus" or "offline".
  local state=""
  for _ in $(seq 300); do
    state=$(timeout 60 nsenter -t "$INIT_PID" -m -u -i -n -p systemctl is-system-running --wait 2>&1 || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.2
  done
  case "$state" in
    running) ;;
    degraded) echo "note: the container booted degraded: $(in_container systemctl --failed --no-legend --plain | tr '\n' ' ')" ;;
    *) tail -n 30 "$TEST_TMP/nspawn.log" >&2; fail "the container's systemd is '$state', not running" ;;
  esac
}

stop_systemd() {
  [ -n "${NSPAWN_PID:-}" ] || return 0
  kill -TERM "$NSPAWN_PID" 2>/dev/null || true  # nspawn asks the container's systemd to power off
  for _ in $(seq 150); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$NSPAWN_PID" 2>/dev/null || true
  wait "$NSPAWN_PID" 2>/dev/null || true
  NSPAWN_PID=""
}

in_container() { nsenter -t "$INIT_PID" -m -u -i -n -p "$@"; }
unit_prop() { in_container systemctl show droot@app -p "$1" --value; }
prop_is() { [ "$(unit_prop "$1")" = "$2" ]; }
# The PIDs of droot-exec's processes and the service's shell in droot@app's cgroup, one a line.
unit_pids() {
  in_container systemctl status droot@app --no-pager | grep -E '(droot-exec run|/bin/sh -c)' |
    sed -E 's/^[^0-9]*([0-9]+) .*/\1/'
}

# wait_for CONDITION-COMMAND...: up to 10 s.
wait_for() {
  for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done
  return 1
}

test_systemd_unit_runs_the_release_and_stop_reaches_the_command() {
  service_dest "trap 'echo got TERM >>/state; exit 0' TERM; echo started >>/state; while :; do sleep 1 & wait \$!; done"
  boot_systemd
  run in_container systemctl start droot@app
  assert_status 0
  wait_for grep -q started "$TEST_TMP/srv/app/state/r1/upper/state" || fail "the service never started: $(in_container systemctl status droot@app --no-pager)"
  assert_eq active "$(unit_prop ActiveState)"
  # droot-exec is the main process; the command runs below it, in the jail.
  local main
  main=$(unit_prop MainPID)
  assert_eq "droot-exec" "$(in_container cat "/proc/$main/comm")"
  assert_contains "$(in_container systemctl status droot@app --no-pager)" "/bin/sh -c \"trap 'echo got TERM"

  run in_container systemctl stop droot@app
  assert_status 0
  assert_eq "started
got TERM" "$(cat "$TEST_TMP/srv/app/state/r1/upper/state")"
  assert_eq inactive "$(unit_prop ActiveState)"
  assert_eq success "$(unit_prop Result)"
  assert_eq 0 "$(unit_prop ExecMainStatus)"
}

test_systemd_restart_on_failure_gets_the_commands_exit_status() {
  # Fails with status 3 the first time, runs the second.
  service_dest 'n=$(cat /count 2>/dev/null || echo 0); n=$((n + 1)); echo $n >/count; [ $n -ge 2 ] || exit 3; while :; do sleep 1 & wait $!; done'
  boot_systemd
  run in_container systemctl start droot@app
  assert_status 0
  wait_for grep -qx 2 "$TEST_TMP/srv/app/state/r1/upper/count" || fail "no restart: $(in_container systemctl status droot@app --no-pager)"
  wait_for prop_is ActiveState active || fail "not active after the restart"
  assert_eq 1 "$(unit_prop NRestarts)"
  assert_contains "$(in_container journalctl -u droot@app --no-pager)" "status=3"
  run in_container systemctl stop droot@app
  assert_status 0
}

test_systemd_killed_droot_exec_is_restarted_and_no_process_of_the_old_jail_stays() {
  service_dest 'echo started >>/state; while :; do sleep 1 & wait $!; done'
  boot_systemd
  run in_container systemctl start droot@app
  assert_status 0
  wait_for grep -q started "$TEST_TMP/srv/app/state/r1/upper/state" || fail "the service never started"
  # SIGKILL to droot-exec alone: systemd sees the main process killed, KillMode=mixed sends SIGKILL to what is
  # left of the unit (the jail's init and command also have parent-death signals), Restart=on-failure starts
  # a new one.
  local before after pid
  before=$(unit_pids)
  [ -n "$before" ] || fail "no process of droot-exec or the command in the unit"
  run in_container systemctl kill --kill-whom=main -s SIGKILL droot@app
  assert_status 0
  wait_for prop_is NRestarts 1 || fail "no restart after droot-exec was killed"
  wait_for prop_is ActiveState active || fail "not active after the restart"
  wait_for bash -c "[ \$(grep -c started '$TEST_TMP/srv/app/state/r1/upper/state') -ge 2 ]" ||
    fail "the restarted service never started"
  # None of the old run's processes (droot-exec, the overlay's holder, init, the command) is left in the unit's
  # cgroup: only the new run's — droot-exec, its init and the command, and the holder of its overlay once made.
  after=$(unit_pids)
  for pid in $before; do
    grep -qx "$pid" <<<"$after" && fail "process $pid of the killed run is still in the unit: $(in_container systemctl status droot@app --no-pager)"
  done
  local procs
  procs=$(grep -c . <<<"$after" || true)
  [ "$procs" -ge 3 ] && [ "$procs" -le 4 ] || fail "expected 3 or 4 processes of the new run in the unit, got $procs: $after"
  assert_contains "$(in_container journalctl -u droot@app --no-pager)" "Main process exited, code=killed, status=9/KILL"
  run in_container systemctl stop droot@app
  assert_status 0
}
