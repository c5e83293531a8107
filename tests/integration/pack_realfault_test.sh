# shellcheck shell=bash
# droot-pack against the REAL dockerd when someone else interferes at an exact moment (issue 8, "Real-daemon
# faults"): the container removed before and during its export, the image removed between inspect and create.
# The moment is made deterministic by tests/fake_engine/engine_proxy.py, a byte-forwarding proxy in front of
# $DOCKER_HOST that runs a docker command when droot-pack's request arrives (or after N bytes of the answer).
# dockerd killed with SIGKILL mid-export is in pack_daemon_test.sh.

PROXY="$DROOT_SRC/tests/fake_engine/engine_proxy.py"
PROXY_SOCK="$TEST_TMP/proxy.sock"

# start_proxy 'METHOD PATH-REGEX' AFTER_BYTES COMMAND: the proxy on $PROXY_SOCK, stopped when the test exits.
start_proxy() {
  [[ "$DOCKER_HOST" == unix://* ]] || fail "these tests need a unix-socket DOCKER_HOST, not $DOCKER_HOST"
  start_socket_server engine-proxy "$PROXY_SOCK" python3 "$PROXY" "$PROXY_SOCK" "${DOCKER_HOST#unix://}" "$1" "$2" "$3"
}

proxy_log() { cat "$PROXY_SOCK.log" 2>/dev/null || true; }

# The docker CLI command the proxy runs, against the real daemon.
docker_cmd() { echo "docker --host $DOCKER_HOST $*"; }

# containers droot-pack made for IMAGE (its label org.droot.pack.image, engine_client/packer)
pack_containers_of() { docker_cli ps -aq --filter "label=org.droot.pack.image=$1"; }

# A throw-away image of our own (a LABEL makes its id unique), so removing it touches no other test's image.
make_victim_image() {  # REF
  ensure_built_image "$1" "FROM $DROOT_TEST_IMAGE
LABEL org.droot.test.victim=$RANDOM$RANDOM"
  docker_cli image inspect "$1" >/dev/null || fail "could not build $1"
}

assert_no_artifact_at() {  # PATH
  assert_no_file "$1"
  assert_no_file "$1.minisig"
  assert_no_file "$1.sha256"
  local left
  left="$(find "$(dirname "$1")" -maxdepth 1 -name ".$(basename "$1").tmp-*" | head -n1)"
  [ -z "$left" ] || fail "partial artifact left behind: $left"
}

test_image_removed_between_inspect_and_create_fails_clearly() {
  local image="droot-test/victim-create:$$"
  make_victim_image "$image"
  local id
  id=$(docker_cli image inspect -f '{{.Id}}' "$image")
  make_test_key
  # `docker rmi -f` runs when droot-pack's create request reaches the proxy, before dockerd sees it: droot-pack
  # has inspected the image and asks for a container of its id, which no longer exists.
  start_proxy 'POST /containers/create$' 0 "$(docker_cmd rmi -f "$image")"
  run "$PACK" -H "unix://$PROXY_SOCK" -s k.sec -o a.tar.zst "$image"
  assert_contains "$(proxy_log)" "GET /v1.41/images/$image/json"
  assert_contains "$(proxy_log)" "rmi -f $image -> exit 0"
  ! docker_cli image inspect "$id" >/dev/null 2>&1 || fail "the image was not removed by the proxy"
  assert_status 125
  assert_contains "$err" "droot-pack: error: packing $image: image $id was removed from the Engine"
  assert_contains "$err" "before its container could be created"
  assert_contains "$err" "No such image"
  assert_not_contains "$err" "terminate called"
  assert_no_artifact_at a.tar.zst
  assert_eq "" "$(pack_containers_of "$image")" "a container was left behind"
}

test_container_removed_before_its_export_begins_fails_clearly() {
  local image="droot-test/victim-export:$$"
  make_victim_image "$image"
  make_test_key
  # dockerd sees the export request only after the container is gone
  start_proxy 'GET /containers/[0-9a-f]+/export$' 0 \
    "$(docker_cmd rm -f '$('"$(docker_cmd ps -aq --filter "label=org.droot.pack.image=$image")"')')"
  run "$PACK" -H "unix://$PROXY_SOCK" -s k.sec -o a.tar.zst "$image"
  [[ "$(proxy_log)" =~ rm\ -f.*-\>\ exit\ 0:\ [0-9a-f]{12} ]] || fail "the proxy removed no container: $(proxy_log)"
  assert_status 125
  assert_contains "$err" "droot-pack: error: exporting $image: container "
  assert_contains "$err" "was removed before its export began"
  assert_contains "$err" "No such container"
  assert_not_contains "$err" "terminate called"
  assert_no_artifact_at a.tar.zst
  # droot-pack still tried to remove it (a 404 for that is success) and nothing is left
  assert_contains "$(proxy_log)" "DELETE /v1.41/containers/"
  assert_eq "" "$(pack_containers_of "$image")" "a container was left behind"
  docker_cli rmi -f "$image" >/dev/null
}

# dockerd's export holds its own reference on the container's layer (daemon/export.go mounts the RW layer for
# the stream and releases it when the stream ends), so `docker rm -f` mid-export does not cut the stream: the
# export runs to its end and the artifact is the whole image, byte for byte what an undisturbed pack gives.
# What droot-pack must not do is fail on, or complain about, its own removal then answering 404.
test_container_removed_mid_export_still_gives_the_whole_image() {
  local image="droot-test/big64:1"
  ensure_big_image "$image" 64
  make_test_key
  "$PACK" -q -s k.sec -o ref.tar.zst "$image" || fail "reference pack failed"
  # after 4 MiB of the export answer, forwarding pauses while the container is removed, then resumes
  start_proxy 'GET /containers/[0-9a-f]+/export$' $((4 << 20)) \
    "$(docker_cmd rm -f '$('"$(docker_cmd ps -aq --filter "label=org.droot.pack.image=$image")"')')"
  run "$PACK" -H "unix://$PROXY_SOCK" -s k.sec -o a.tar.zst "$image"
  [[ "$(proxy_log)" =~ rm\ -f.*-\>\ exit\ 0:\ [0-9a-f]{12} ]] || fail "the proxy removed no container: $(proxy_log)"
  assert_status 0
  cmp ref.tar.zst a.tar.zst || fail "artifact packed while its container was removed differs from the reference"
  "$EXEC" verify -p k.pub a.tar.zst >/dev/null || fail "artifact does not verify"
  assert_eq "" "$(pack_containers_of "$image")" "a container was left behind"
  # the removal happened while the export was streaming, before droot-pack's own removal at the end
  assert_eq "GET RAN DELETE" "$(proxy_log | awk '/export HTTP/{print "GET"} /^RAN /{print "RAN"} /^DELETE /{print "DELETE"}' | tr '\n' ' ' | sed 's/ $//')"
}
