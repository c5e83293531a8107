# Helpers for integration tests. Each test is a bash function named test_* in tests/integration/*_test.sh,
# run by tests/integration/run.sh in its own bash process with `set -euo pipefail`, in a fresh $TEST_TMP.
# Environment: DROOT_BUILD (build dir), PACK, EXEC, DOCKER_HOST, DROOT_TEST_IMAGE (busybox image ref).

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run CMD...: runs it without stopping the test; sets $status, $out (stdout) and $err (stderr).
run() {
  local o="$TEST_TMP/.out" e="$TEST_TMP/.err"
  # A list, not set +e: the expected failure of "$@" neither ends the test nor trips run.sh's ERR trap.
  "$@" >"$o" 2>"$e" && status=0 || status=$?
  out="$(cat "$o")"
  err="$(cat "$e")"
}

assert_eq() {  # expected actual [message]
  [ "$1" == "$2" ] || fail "${3:-values differ}: expected [$1], got [$2]"
}

assert_ne() {
  [ "$1" != "$2" ] || fail "${3:-values are equal}: both [$1]"
}

assert_contains() {  # haystack needle [message]
  [[ "$1" == *"$2"* ]] || fail "${3:-missing text}: [$2] not in [$1]"
}

assert_not_contains() {
  [[ "$1" != *"$2"* ]] || fail "${3:-unexpected text}: [$2] found in [$1]"
}

assert_status() {  # expected (after `run`)
  [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status; stderr: $err; stdout: $out"
}

assert_file() { [ -e "$1" ] || fail "expected file $1"; }
assert_no_file() { [ ! -e "$1" ] || fail "unexpected file $1"; }

# Flips the lowest bit of the byte at OFFSET in FILE, in place: the byte always changes, whatever it was.
flip_byte() {  # file offset
  local b
  b=$(od -An -tu1 -j "$2" -N 1 "$1" | tr -d ' ')
  [ -n "$b" ] || fail "flip_byte: $1 has no byte at offset $2"
  printf "$(printf '\\%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# A tree's full state (names, types, modes, owners, sizes, link targets, content hashes), for
# "nothing was written or changed" checks: snapshot DIR > before; ...; assert_eq "$before" "$(snapshot DIR)".
snapshot() {
  (cd "$1" && find . -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort
   find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

docker_cli() { DOCKER_BUILDKIT=0 docker --host "$DOCKER_HOST" "$@"; }

# Containers created by droot-pack carry this label; tests check none is left behind.
pack_container_count() {
  docker_cli ps -aq --filter label=org.droot.pack | wc -l
}

# A test key pair without password: $TEST_TMP/k.pub, $TEST_TMP/k.sec.
make_test_key() {
  "$PACK" keygen -p "$TEST_TMP/k.pub" -s "$TEST_TMP/k.sec" --no-password >/dev/null
}

# start_socket_server NAME SOCK COMMAND...: runs COMMAND in the background (stderr in $TEST_TMP/NAME.stderr),
# waits until it has created the unix socket SOCK, and stops it when the test exits. Its pid: $SERVER_PID.
start_socket_server() {
  local name="$1" sock="$2"
  shift 2
  "$@" 2>"$TEST_TMP/$name.stderr" &
  SERVER_PID=$!
  trap 'kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true' EXIT
  local i
  for i in $(seq 200); do
    [ -S "$sock" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "$name died: $(cat "$TEST_TMP/$name.stderr")"
    sleep 0.05
  done
  fail "$name did not create $sock"
}
