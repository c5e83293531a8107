# droot-pack against daemons of its own: TLS over tcp, a daemon killed mid-export, a daemon that stalls.
# Each test starts a private dockerd (tools/dockerd) and stops it, whatever happens.

start_own_dockerd() {  # sets OWN_DIR and OWN_HOST; imports the busybox test image into it
  OWN_DIR="$TEST_TMP/d"
  trap 'DOCKER_HOST= "$DROOT_SRC/tools/dockerd" stop "$OWN_DIR"' EXIT
  OWN_HOST=$(DROOT_PRIVATE_DOCKERD=1 "$DROOT_SRC/tools/dockerd" start "$OWN_DIR")
  DOCKER_HOST="$OWN_HOST" ensure_busybox_image "$DROOT_TEST_IMAGE"
}

make_tls_certs() {  # DIR: a CA, a server cert for 127.0.0.1 and a client cert, as docker's TLS guide makes them
  local d="$1"
  mkdir -p "$d"
  (
    cd "$d"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca-key.pem -out ca.pem -days 2 -subj /CN=droot-test-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server-key.pem -out server.csr -subj /CN=127.0.0.1 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -days 2 -extfile server.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout key.pem -out client.csr -subj /CN=client 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -days 2 -extfile client.ext 2>/dev/null
  )
}

test_tcp_with_tls_verify_and_cert_path() {
  make_tls_certs "$TEST_TMP/certs"
  local port
  port=$(free_port)
  local c="$TEST_TMP/certs"
  DROOT_DOCKERD_ARGS="--tlsverify --tlscacert $c/ca.pem --tlscert $c/server-cert.pem --tlskey $c/server-key.pem -H tcp://127.0.0.1:$port" \
    start_own_dockerd
  make_test_key
  DOCKER_HOST="tcp://127.0.0.1:$port" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$c" run "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 0
  "$EXEC" verify -p k.pub a.tar.zst >/dev/null || fail "artifact packed over TLS does not verify"
  # without client certificates the daemon refuses us, and we say where we tried
  mkdir nocerts && cp "$c/ca.pem" nocerts/ && DOCKER_HOST="tcp://127.0.0.1:$port" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=nocerts \
    run "$PACK" -s k.sec -o b.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "nocerts/cert.pem"
  # plain http to a TLS port fails clearly
  DOCKER_HOST="tcp://127.0.0.1:$port" run "$PACK" -s k.sec -o b.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "tcp://127.0.0.1:$port"
  assert_no_file b.tar.zst
}

# Runs droot-pack into a pipe whose reader waits, so the export is reliably half-way when $1 happens.
pack_with_slow_reader() {  # action-on-dockerd
  start_own_dockerd
  DOCKER_HOST="$OWN_HOST" ensure_big_image droot-test/big:1 128
  make_test_key
  local pidfile="$OWN_DIR/dockerd.pid"
  { ( set +e; DOCKER_HOST="$OWN_HOST" "$PACK" --unsigned -c none --timeout 3 droot-test/big:1 2>pack.err; echo $? >pack.rc ) \
      | ( sleep 4; cat >/dev/null ); } &
  local writer=$!
  for _ in $(seq 1 100); do
    [ "$(DOCKER_HOST="$OWN_HOST" pack_container_count)" -ge 1 ] && break
    sleep 0.1
  done
  sleep 1
  case "$1" in
    kill) kill -KILL "$(cat "$pidfile")" ;;
    stop) kill -STOP "$(cat "$pidfile")" ;;
  esac
  wait "$writer" || true
  [ "$1" = stop ] && kill -CONT "$(cat "$pidfile")"
  status=$(cat pack.rc)
  err=$(cat pack.err)
}

test_dockerd_killed_mid_export_fails_clearly() {
  pack_with_slow_reader kill
  assert_eq "125" "$status" "exit status"
  assert_contains "$err" "export"
  assert_not_contains "$err" "Segmentation"
  assert_eq "" "$(ls -A | grep -E '\.tmp-' || true)"
}

test_stalled_dockerd_hits_the_timeout_and_says_so() {
  pack_with_slow_reader stop
  assert_eq "125" "$status" "exit status"
  assert_contains "$err" "stopped answering"
  assert_contains "$err" "--timeout"
  # the daemon did not answer the removal either: droot-pack tried, and says which container is left
  assert_contains "$err" "could not remove container"
  assert_eq "" "$(ls -A | grep -E '\.tmp-' || true)"
}

test_slow_consumer_is_not_a_stall() {
  start_own_dockerd
  make_test_key
  # the reader sleeps longer than --timeout before consuming: that is our side being slow, not the daemon
  DOCKER_HOST="$OWN_HOST" "$PACK" -s k.sec --timeout 1 "$DROOT_TEST_IMAGE" | (sleep 3; cat >slow.tar.zst)
  "$EXEC" verify -p k.pub slow.tar.zst >/dev/null || fail "artifact from a slow pipe does not verify"
}
