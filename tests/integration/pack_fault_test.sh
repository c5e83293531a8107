# droot-pack against a fault-injecting fake Engine (tests/fake_engine/fake_engine.py), issue 8.
# No dockerd needed: every test starts its own fake on $TEST_TMP/fake.sock with one broken step.

FAKE_ENGINE="$DROOT_SRC/tests/fake_engine/fake_engine.py"
FAKE_SOCK="$TEST_TMP/fake.sock"

# start_fake SCENARIO: starts the fake Engine in the background, stops it when the test exits.
start_fake() {
  start_socket_server fake-engine "$FAKE_SOCK" python3 "$FAKE_ENGINE" "$FAKE_SOCK" "$1"
  FAKE_PID=$SERVER_PID
}

stop_fake() {
  kill "$FAKE_PID" 2>/dev/null || true
  wait "$FAKE_PID" 2>/dev/null || true
  trap - EXIT
}

# pack_against_fake SCENARIO: runs droot-pack against the fake with that scenario (sets $status/$out/$err).
pack_against_fake() {
  make_test_key
  start_fake "$1"
  run "$PACK" -H "unix://$FAKE_SOCK" -s k.sec -o a.tar.zst --timeout 2 some/image:1
  stop_fake
}

fake_log() { cat "$FAKE_SOCK.log" 2>/dev/null || true; }

assert_no_artifact() {
  assert_no_file a.tar.zst
  assert_no_file a.tar.zst.minisig
  assert_no_file a.tar.zst.sha256
  local left
  left="$(find . -maxdepth 1 \( -name '.a.tar.zst.tmp-*' -o -name 'a.tar.zst*' \) | head -n1)"
  [ -z "$left" ] || fail "partial artifact left behind: $left"
}

# assert_failed_cleanly NEEDLE: exit 125, NEEDLE in stderr, no (partial) artifact, no crash report.
assert_failed_cleanly() {
  assert_status 125
  assert_contains "$err" "$1"
  assert_contains "$err" "droot-pack"
  assert_not_contains "$err" "terminate called"
  assert_no_artifact
}

assert_container_removed() {
  assert_contains "$(fake_log)" "DELETE /v1.41/containers/" "the container was not removed"
  assert_contains "$(fake_log)" "?force=1&v=1"
}

assert_no_container_created() {
  assert_not_contains "$(fake_log)" "POST /v1.41/containers/create"
  assert_not_contains "$(fake_log)" "DELETE"
}

test_fake_ok_packs_and_verifies() {
  pack_against_fake ok
  assert_status 0
  assert_file a.tar.zst
  assert_container_removed
  run "$EXEC" verify -p k.pub a.tar.zst
  assert_status 0
  assert_contains "$out" "some/image:1"
  zstd -dc a.tar.zst | tar -t >list
  grep -qx 'bin/hello' list || fail "bin/hello missing from the artifact"
  grep -qx 'etc/motd' list || fail "etc/motd missing from the artifact"
  [ -z "$(find . -maxdepth 1 -name '.a.tar.zst.tmp-*')" ] || fail "temporary file left behind"
}

test_fake_close_mid_export() {
  pack_against_fake close-mid-export
  assert_failed_cleanly "closed the connection in the middle of its answer to GET /containers/"
  assert_contains "$err" "/export"
  assert_contains "$err" "$FAKE_SOCK"
  assert_container_removed
}

test_fake_truncated_tar() {
  pack_against_fake truncated-tar
  assert_failed_cleanly "export of some/image:1"
  assert_contains "$err" "bin/hello"
  assert_container_removed
}

test_fake_garbage_json() {
  pack_against_fake garbage-json
  assert_failed_cleanly "malformed JSON"
  assert_contains "$err" "$FAKE_SOCK"
  assert_no_container_created
}

test_fake_inspect_500() {
  pack_against_fake inspect-500
  assert_failed_cleanly "boom from fake"
  assert_contains "$err" "500"
  assert_no_container_created
}

test_fake_inspect_500_without_body() {
  pack_against_fake inspect-500-nobody
  assert_failed_cleanly "answered 500"
  assert_contains "$err" "$FAKE_SOCK"
  assert_no_container_created
}

test_fake_create_409() {
  pack_against_fake create-409
  assert_failed_cleanly "Conflict. fake"
  assert_contains "$err" "409"
  assert_not_contains "$(fake_log)" "DELETE"  # no container id was ever handed out
}

test_fake_export_404() {
  pack_against_fake export-404
  assert_failed_cleanly "No such container: fake"
  assert_container_removed
}

test_fake_stall_export_times_out() {
  local t0=$SECONDS
  pack_against_fake stall-export
  assert_failed_cleanly "stopped answering"
  assert_contains "$err" "--timeout"
  assert_contains "$err" "for 2s"
  [ $((SECONDS - t0)) -lt 30 ] || fail "droot-pack took $((SECONDS - t0))s to give up with --timeout 2"
  assert_container_removed
}

test_fake_huge_header() {
  pack_against_fake huge-header
  assert_failed_cleanly "oversized"
  assert_contains "$err" "$FAKE_SOCK"
  assert_no_container_created
}

test_fake_old_api() {
  pack_against_fake old-api
  assert_failed_cleanly "1.12"
  assert_contains "$err" "upgrade the daemon"
  assert_no_container_created
}

test_fake_no_engine_names_the_socket() {
  make_test_key
  run "$PACK" -H "unix://$FAKE_SOCK" -s k.sec -o a.tar.zst --timeout 2 some/image:1
  assert_failed_cleanly "$FAKE_SOCK"
  assert_contains "$err" "cannot connect"
}
