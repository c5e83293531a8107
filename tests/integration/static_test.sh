# shellcheck shell=bash
# The statically linked droot-exec (meson -Dstatic_exec=true): one file, no dynamic loader, no NSS, and the
# same verify, deploy and run behaviour as the dynamic build. tools/test builds only DROOT_BUILD, so the
# static build directory (DROOT_STATIC_BUILD, default build-static beside the sources) is configured and built
# here when it is missing or stale: from scratch ~100 s of CPU (under 3 minutes on a busy 2-core VM), seconds
# after. The whole file then takes ~2 minutes, most of it in the run tests.

# static_exec: prints the path of the static droot-exec, building it first if needed.
static_exec() {
  local dir="${DROOT_STATIC_BUILD:-$DROOT_SRC/build-static}"
  (
    # Tests of one run may start this at the same time; one build, the others wait for it.
    flock 9
    if [ ! -f "$dir/build.ninja" ]; then
      meson setup "$dir" "$DROOT_SRC" -Dstatic_exec=true -Dbuildtype=release >"$TEST_TMP/static-setup.log" 2>&1 ||
        { tail -n 30 "$TEST_TMP/static-setup.log" >&2; fail "cannot configure $dir"; }
    fi
    meson introspect "$dir" --buildoptions | grep -q '"name": "static_exec", "value": true' ||
      fail "$dir is configured without -Dstatic_exec=true (meson configure $dir -Dstatic_exec=true)"
    ninja -C "$dir" src/exec/droot-exec >"$TEST_TMP/static-build.log" 2>&1 ||
      { tail -n 30 "$TEST_TMP/static-build.log" >&2; fail "cannot build the static droot-exec in $dir"; }
  ) 9>/tmp/droot-static-build.lock >&2 || return 1
  echo "$dir/src/exec/droot-exec"
}

# What a jailed shell sees that must not depend on how droot-exec was linked.
# /dev's listing without its times: each jail's /dev is a tmpfs made at its start, so two runs a second apart
# across a minute's end differ there.
# The mounts sorted: since Linux 6.8 mountinfo lists a namespace's mounts in the order they were created
# (mnt_id_unique), not attached, and the overlay root is made by the holder while init makes /dev and /proc
# (jail.cc), so / lands before, between or after those from one run to the next. 6.1 lists them as attached.
jail_probe='grep -E "^(Cap|NoNewPrivs|Seccomp)" /proc/self/status; id;
  ls -l /dev /dev/pts | cut -c1-10,35- | sed -E "s/ [A-Z][a-z][a-z] +[0-9]+ [0-9]+:[0-9]+ / /";
  awk "{print \$5, \$6}" /proc/self/mountinfo | sort; echo "pid=$$ ppid=$PPID"'

test_static_droot_exec_is_one_file_without_loader_or_nss() {
  local s
  s="$(static_exec)"
  run file -L "$s"
  assert_contains "$out" "ELF 64-bit LSB executable, x86-64"
  assert_contains "$out" "statically linked"
  run ldd "$s"
  assert_contains "$out$err" "not a dynamic executable"
  readelf -l "$s" | grep -q INTERP && fail "$s has a program interpreter (PT_INTERP)"
  # No glibc NSS code at all: nothing that could read /etc/nsswitch.conf or load libnss_*.so of the host or
  # of an image (user.h); the link fails on glibc's static-NSS warnings, this checks the result.
  strings "$s" >strings.txt
  grep -q 'nsswitch.conf' strings.txt && fail "the static droot-exec contains glibc's NSS code (nsswitch.conf)"
  grep -q 'libnss_' strings.txt && fail "the static droot-exec can load NSS modules (libnss_)"
  # and still no HTTP client
  grep -qi 'libcurl' strings.txt && fail "the static droot-exec contains libcurl"
  echo "static droot-exec: $(stat -c %s "$s") bytes" >&2
}

test_static_verify_deploy_run_a_packed_image_as_the_dynamic_one_does() {
  local s
  s="$(static_exec)"
  make_test_key
  "$PACK" -s k.sec -o app.tar.zst "$DROOT_TEST_IMAGE" -q
  run "$s" verify -p k.pub app.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  assert_contains "$out" "$DROOT_TEST_IMAGE"
  assert_eq "$("$EXEC" verify --json -p k.pub app.tar.zst)" "$("$s" verify --json -p k.pub app.tar.zst)" "verify --json"
  # One flipped payload byte: refused, as by the dynamic build.
  cp app.tar.zst bad.tar.zst
  flip_byte bad.tar.zst 200
  run "$s" verify -p k.pub bad.tar.zst
  assert_status 125
  assert_contains "$err" "droot-exec: error:"

  run "$s" deploy -q -p k.pub app.tar.zst dest
  assert_status 0
  [ -L dest/current ] || fail "deploy made no current link"
  cmp dest/current/bin/busybox /bin/busybox || fail "busybox differs after the static deploy"
  run "$s" check dest
  assert_status 0
  # Deployed from stdin too (spooled, verified, extracted), then the dynamic build checks it.
  run "$s" deploy -q -p k.pub - dest2 <app.tar.zst
  assert_status 0
  run "$EXEC" check dest2
  assert_status 0

  # The jail: the same view from inside, whichever binary built it.
  run "$s" run dest sh -c "$jail_probe"
  assert_status 0
  local static_view="$out"
  run "$EXEC" run dest sh -c "$jail_probe"
  assert_status 0
  assert_eq "$out" "$static_view" "what the command sees in the static and the dynamic jail"
  assert_contains "$static_view" "NoNewPrivs:	1"
  assert_contains "$static_view" "pid=2"
  # Users from the image's own files, exit statuses, limits and --net none.
  run "$s" run -u 1234 --pids-limit 20 --net none dest sh -c 'id -u; id -g; id -G; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; exit 7'
  assert_status 7
  assert_eq "1234
2345
2345 3456
lo" "$out"
  run "$s" run dest no-such-command
  assert_status 127
  run "$s" run -u ghost dest true
  assert_status 125
  assert_contains "$err" "ghost"
}

test_static_binary_alone_in_an_empty_directory() {
  local s
  s="$(static_exec)"
  make_test_key
  "$PACK" -s k.sec -o app.tar.zst "$DROOT_TEST_IMAGE" -q
  mkdir lone
  cp "$s" lone/droot-exec
  cp k.pub app.tar.zst lone/
  # Nothing from the build tree or the environment: no LD_LIBRARY_PATH, no PATH.
  run env -i -C lone ./droot-exec --version
  assert_status 0
  assert_contains "$out" "droot-exec "
  run env -i -C lone ./droot-exec verify -p k.pub app.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  # A root filesystem with nothing but these three files (and the /proc, /dev, /etc/hosts the jail adds) — no
  # /lib, no ld.so, no shell — as a server without a compatible libc would be: the static binary still runs,
  # verifies and deploys there.
  run "$s" run lone /droot-exec --version
  assert_status 0
  assert_contains "$out" "droot-exec "
  [ ! -e lone/lib ] && [ ! -e lone/lib64 ] && [ ! -e lone/usr ] && [ ! -e lone/bin ] || fail "the lone root got more files"
  run "$s" run lone /droot-exec verify -p /k.pub /app.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  run "$s" run --tmpfs /srv lone sh -c true
  assert_status 127
  run "$s" run --tmpfs /srv lone \
    /droot-exec deploy -q -p /k.pub /app.tar.zst /srv/app
  assert_status 0
}

# Tests of run_test.sh again, with the static binary as EXEC: the same expectations as the dynamic build, one
# test per isolation concern (all of run_test.sh would take minutes; its other tests exercise code that does
# not depend on how droot-exec is linked).
static_run_tests() {  # test_function...
  local s fn dir failed=()
  s="$(static_exec)"
  # shellcheck source=run_test.sh
  source "$DROOT_SRC/tests/integration/run_test.sh"
  for fn in "$@"; do
    declare -F "$fn" >/dev/null || fail "run_test.sh has no $fn"
    dir="$TEST_TMP/$fn"
    mkdir "$dir"
    if ! (cd "$dir" && TEST_TMP="$dir" EXEC="$s" "$fn") >"$dir.log" 2>&1; then
      sed "s/^/  $fn | /" "$dir.log" | tail -n 20 >&2
      failed+=("$fn")
    fi
  done
  [ ${#failed[@]} -eq 0 ] || fail "with the static droot-exec: ${failed[*]}"
}

test_static_run_tests_image_config_dev_proc_caps_users() {
  static_run_tests test_run_default_command_user_env_workdir_from_image_config \
    test_run_dev_has_the_standard_nodes_and_a_private_devpts test_run_proc_is_fresh_and_hides_the_host \
    test_run_capabilities_are_the_keep_list_with_no_new_privs test_run_user_that_exists_only_in_the_image
}

test_static_run_tests_signals_breakout_binds_limits_seccomp() {
  static_run_tests test_run_exit_statuses test_run_sigterm_to_droot_exec_reaches_the_command \
    test_run_breakout_program_cannot_reach_a_host_marker test_run_bind_through_a_symlink_stays_inside_the_rootfs \
    test_run_pids_limit_stops_a_fork_loop_and_the_cgroup_goes_away test_run_seccomp_denies_the_list_and_none_turns_it_off \
    test_run_closes_inherited_fds_and_hides_init
}
