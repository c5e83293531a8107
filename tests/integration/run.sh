#!/usr/bin/env bash
# Runs integration tests: every test_* function of the given *_test.sh files (default: all), each in its own
# bash process with a fresh TEST_TMP and a time limit. Prints one line per test and, last,
# "integration: N passed, N failed". Needs DROOT_BUILD and DOCKER_HOST.
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
for file in "${files[@]}"; do
  name="$(basename "$file" .sh)$label"
  # A file may ask for a longer limit per test with a line "# test-timeout: SECONDS" (fleet_test.sh boots a
  # fleet per test); DROOT_TEST_TIMEOUT, when larger, still wins.
  file_timeout="$(sed -n 's/^# test-timeout: \([0-9][0-9]*\)$/\1/p' "$file" | head -n 1)"
  timeout_here="$per_test_timeout"
  [ -n "$file_timeout" ] && [ "$file_timeout" -gt "$timeout_here" ] && timeout_here="$file_timeout"
  for fn in $(bash -c "source '$here/lib.sh'; source '$file'; declare -F" | awk '{print $3}' | grep '^test_'); do
    [ -n "$filter" ] && [[ "$name:$fn" != *$filter* ]] && continue
    tmp="$(mktemp -d /tmp/droot-it.XXXXXX)"
    log="$tmp.log"
    start=$(date +%s%N)
    # set -e ends a test at a failing command; the ERR trap (-E: in functions too) says which one, so that a
    # test never fails with an empty log.
    TEST_TMP="$tmp" timeout -k 10 "$timeout_here" bash -c \
      "set -eEuo pipefail; trap 'echo \"(\\\"\$BASH_COMMAND\\\" returned \$?, line \$LINENO of \${BASH_SOURCE[0]##*/})\" >&2' ERR; source '$here/lib.sh'; source '$here/fixtures.sh'; source '$file'; cd \"\$TEST_TMP\"; $fn" \
      >"$log" 2>&1 </dev/null
    rc=$?
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
done
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "integration: $passed passed, $failed failed"
[ $failed -eq 0 ]
