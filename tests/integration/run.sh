#!/usr/bin/env bash
# Runs integration tests: every test_* function of the given *_test.sh files (default: all), each in its own
# bash process with a fresh TEST_TMP and a time limit. Prints one line per test and, last,
# "integration: N passed, N failed". Needs DROOT_BUILD and DOCKER_HOST.
#
# File-level fixture (optional): a file that defines `suite_setup` gets one SUITE_TMP directory, and
# `suite_setup` runs once, in its own bash process like a test (same shell options, time limit, TEST_TMP=SUITE_TMP,
# cwd SUITE_TMP), before the file's first selected test; every test then sees SUITE_TMP. `suite_teardown`, if
# defined, runs once after the file's last test — also when suite_setup failed or run.sh is interrupted — and
# SUITE_TMP is removed. Setup and tests are separate processes: what suite_setup leaves running (servers,
# machines) it must record under SUITE_TMP for the tests and for suite_teardown (fleet_test.sh does). If
# suite_setup fails, it is reported as "FAIL file:suite_setup" and the file's tests are not run (each counts as
# failed). Tests run in `declare -F` order: sorted by name.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
: "${DROOT_BUILD:?set DROOT_BUILD to the meson build directory}"
# DROOT_TEST_EXEC: a wrapper that runs droot-exec (tests/kernel/ starts each one in its own systemd scope).
export DROOT_BUILD PACK="$DROOT_BUILD/src/pack/droot-pack" EXEC="${DROOT_TEST_EXEC:-$DROOT_BUILD/src/exec/droot-exec}"
export DROOT_SRC="$(cd "$here/../.." && pwd)"
export DROOT_TEST_IMAGE="${DROOT_TEST_IMAGE:-droot-test/busybox:1}"
export DOCKER_BUILDKIT=0
filter="${DROOT_TEST_FILTER:-}"
# DROOT_TEST_LABEL: appended to each file's name in the results ("run_test-userns:test_…"), for a second pass
# of a file under other settings (tools/test runs run_test.sh again with DROOT_USERNS=auto).
label="${DROOT_TEST_LABEL:+-$DROOT_TEST_LABEL}"
per_test_timeout="${DROOT_TEST_TIMEOUT:-300}"

files=("$@")
[ ${#files[@]} -eq 0 ] && files=("$here"/*_test.sh)

source "$here/lib.sh"
source "$here/fixtures.sh"
if [ -n "${DOCKER_HOST:-}" ]; then
  ensure_busybox_image "$DROOT_TEST_IMAGE" || { echo "cannot build the busybox test image" >&2; exit 1; }
fi

passed=0
failed=0
failures=()

# run_fn FILE FN TMP LOG: runs function FN of FILE in its own bash with TEST_TMP=TMP, output in LOG; sets rc.
run_fn() {
  # set -e ends a test at a failing command; the ERR trap (-E: in functions too) says which one, so that a
  # test never fails with an empty log.
  TEST_TMP="$3" timeout -k 10 "$timeout_here" bash -c \
    "set -eEuo pipefail; trap 'echo \"(\\\"\$BASH_COMMAND\\\" returned \$?, line \$LINENO of \${BASH_SOURCE[0]##*/})\" >&2' ERR; source '$here/lib.sh'; source '$here/fixtures.sh'; source '$1'; cd \"\$TEST_TMP\"; $2" \
    >"$4" 2>&1 </dev/null
  rc=$?
}

# The file-level fixture's teardown (see the header); also on SIGINT/SIGTERM of run.sh.
suite_file="" suite_teardown=0
suite_end() {
  [ -n "${SUITE_TMP:-}" ] || return 0
  if [ "$suite_teardown" = 1 ]; then
    run_fn "$suite_file" suite_teardown "$SUITE_TMP" "$SUITE_TMP.teardown.log"
    [ "$rc" -eq 0 ] || { echo "     (suite_teardown of $(basename "$suite_file") failed, exit $rc)"; sed 's/^/     | /' "$SUITE_TMP.teardown.log" | tail -n 20; }
  fi
  grep -o " ${SUITE_TMP}[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$SUITE_TMP" "$SUITE_TMP".*.log
  unset SUITE_TMP
}
trap 'suite_end; exit 130' INT TERM

for file in "${files[@]}"; do
  name="$(basename "$file" .sh)$label"
  # A file may ask for a longer limit per test with a line "# test-timeout: SECONDS"; DROOT_TEST_TIMEOUT, when
  # larger, still wins.
  file_timeout="$(sed -n 's/^# test-timeout: \([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)"
  timeout_here="$per_test_timeout"
  [ -n "$file_timeout" ] && [ "$file_timeout" -gt "$timeout_here" ] && timeout_here="$file_timeout"
  declared="$(bash -c "source '$here/lib.sh'; source '$file'; declare -F" | awk '{print $3}')"
  fns=()
  for fn in $(grep '^test_' <<<"$declared"); do
    [ -n "$filter" ] && [[ "$name:$fn" != *$filter* ]] && continue
    fns+=("$fn")
  done
  suite_failed=0
  if [ ${#fns[@]} -gt 0 ] && grep -qx suite_setup <<<"$declared"; then
    suite_file="$file"
    suite_teardown=0
    grep -qx suite_teardown <<<"$declared" && suite_teardown=1
    SUITE_TMP="$(mktemp -d /tmp/droot-it-suite.XXXXXX)"
    export SUITE_TMP
    start=$(date +%s%N)
    run_fn "$file" suite_setup "$SUITE_TMP" "$SUITE_TMP.setup.log"
    ms=$((($(date +%s%N) - start) / 1000000))
    if [ $rc -eq 0 ]; then
      echo "     $name:suite_setup ($((ms / 1000)).$(((ms % 1000) / 100))s)"
    else
      suite_failed=1
      [ $rc -eq 124 ] && echo "FAIL $name:suite_setup (timed out after ${timeout_here}s)" || echo "FAIL $name:suite_setup (exit $rc)"
      sed 's/^/     | /' "$SUITE_TMP.setup.log" | tail -n 40
    fi
  fi
  for fn in "${fns[@]}"; do
    if [ $suite_failed = 1 ]; then
      failed=$((failed + 1))
      failures+=("$name:$fn")
      echo "FAIL $name:$fn (not run: suite_setup failed)"
      continue
    fi
    tmp="$(mktemp -d /tmp/droot-it.XXXXXX)"
    log="$tmp.log"
    start=$(date +%s%N)
    run_fn "$file" "$fn" "$tmp" "$log"
    ms=$((($(date +%s%N) - start) / 1000000))
    secs="$((ms / 1000)).$(((ms % 1000) / 100))"
    if [ $rc -eq 0 ]; then
      passed=$((passed + 1))
      echo "ok   $name:$fn (${secs}s)"
    else
      failed=$((failed + 1))
      failures+=("$name:$fn")
      [ $rc -eq 124 ] && echo "FAIL $name:$fn (timed out after ${timeout_here}s)" || echo "FAIL $name:$fn (exit $rc, ${secs}s)"
      sed 's/^/     | /' "$log" | tail -n 40
    fi
    # Tests may leave mounts (e.g. a tmpfs) under TEST_TMP if they failed half-way.
    grep -o " $tmp[^ ]*" /proc/self/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$tmp" "$log"
  done
  suite_end
done
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
