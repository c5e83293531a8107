# droot-pack --pull against a real registry: Debian's docker-registry binary, started by each test with its own
# config (storage under TEST_TMP, 127.0.0.1 on a free port; never the package's systemd service or its
# /etc/docker/registry config) and stopped afterwards. dockerd treats 127.0.0.0/8 registries as insecure
# (plain http) by default, so neither the daemon nor the CLI needs TLS set up to push and pull.
# The registry's htpasswd auth works over plain http too (distribution only warns), so auth is tested without TLS.

# free_port, start_registry [htpasswd-file] and remove_registry_images are in fixtures.sh (pack_sources_test.sh
# uses them too).

# push_unique_image NAME:TAG: an image that exists nowhere else (busybox plus a marker file with random
# content), pushed to $REG and then removed from the Engine entirely, so --pull has to download it.
# Sets MARKER to the marker's content.
push_unique_image() {
  local ref="$REG/$1"
  MARKER="droot-pull-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  local tmp="$TEST_TMP/rootfs"
  build_busybox_rootfs "$tmp"
  echo "$MARKER" >"$tmp/marker"
  tar -C "$tmp" --numeric-owner -cf - . | docker_cli import - "$ref" >/dev/null
  rm -rf "$tmp"
  docker_cli push -q "$ref" >/dev/null || fail "docker push $ref failed"
  docker_cli rmi "$ref" >/dev/null
  docker_cli image inspect "$ref" >/dev/null 2>&1 && fail "$ref is still on the Engine after rmi"
  return 0
}

# The artifact verifies and carries the pushed marker: what was packed is what was pushed.
assert_artifact_has_marker() {  # artifact
  "$EXEC" verify -p k.pub "$1" >/dev/null || fail "the artifact of the pulled image does not verify"
  local got
  got=$(zstd -dc "$1" | tar --warning=no-unknown-keyword -xOf - marker)
  assert_eq "$MARKER" "$got" "marker file in the artifact"
}

test_pull_missing_image_from_registry_then_pack() {
  start_registry
  push_unique_image app:1
  make_test_key
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"  # no credentials needed, none read from root's home
  run "$PACK" --pull -s k.sec -o a.tar.zst --json "$REG/app:1"
  assert_status 0
  assert_contains "$err" '"pulled":true'
  docker_cli image inspect "$REG/app:1" >/dev/null || fail "the image is not on the Engine after --pull"
  assert_artifact_has_marker a.tar.zst
  [ "$(pack_container_count)" -eq 0 ] || fail "a container was left behind"
  # --pull (= missing) does not pull what is already there; --pull=always does (and says so)
  run "$PACK" --pull -s k.sec -o b.tar.zst --json "$REG/app:1"
  assert_status 0
  assert_contains "$err" '"pulled":false'
  run "$PACK" --pull=always -s k.sec -o c.tar.zst "$REG/app:1"
  assert_status 0
  assert_contains "$err" "pulled $REG/app:1 (sha256:"
  assert_contains "$err" "Image is up to date for $REG/app:1"
  # the same image, packed after a pull or not, gives the same bytes
  assert_eq "$(sha256sum <a.tar.zst | cut -c1-64)" "$(sha256sum <c.tar.zst | cut -c1-64)" "artifact after --pull=always"
}

test_pull_by_digest() {
  start_registry
  push_unique_image app:2
  local digest
  digest=$(curl -fsS -o /dev/null -D - -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/app/manifests/2" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
  [[ "$digest" == sha256:* ]] || fail "no digest from the registry: [$digest]"
  make_test_key
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"
  run "$PACK" --pull -q -s k.sec -o a.tar.zst "$REG/app@$digest"
  assert_status 0
  assert_eq "" "$err" "-q prints nothing"
  assert_artifact_has_marker a.tar.zst
}

test_pull_missing_tag_fails_clearly_without_artifact() {
  start_registry
  push_unique_image app:1
  make_test_key
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"
  run "$PACK" --pull -s k.sec -o a.tar.zst "$REG/app:nope"
  assert_status 125
  assert_contains "$err" "droot-pack: error: pulling $REG/app:nope from $REG failed"
  assert_contains "$err" "not found"
  assert_no_file a.tar.zst
  assert_no_file a.tar.zst.minisig
  assert_no_file a.tar.zst.sha256
  [ -z "$(ls -A . | grep 'a\.tar')" ] || fail "temporary files left behind: $(ls -A)"
  # a repository that does not exist at all, and a registry nobody listens on
  run "$PACK" --pull -s k.sec -o a.tar.zst "$REG/nothing/here:1"
  assert_status 125
  assert_contains "$err" "pulling $REG/nothing/here:1 from $REG failed"
  local dead
  dead="127.0.0.1:$(free_port)"
  run "$PACK" --pull -s k.sec -o a.tar.zst "$dead/app:1"
  assert_status 125
  assert_contains "$err" "pulling $dead/app:1 from $dead failed"
  assert_no_file a.tar.zst
}

test_pull_refuses_what_cannot_be_pulled_before_asking_the_engine() {
  make_test_key
  # -H points nowhere: these must fail on the name alone
  run "$PACK" --pull -H unix:///nonexistent/sock -s k.sec -o a.tar.zst "Registry.Example.com/App:1"
  assert_status 125
  assert_contains "$err" "'Registry.Example.com/App:1' is not an image reference that can be pulled: repository names must be lower-case"
  run "$PACK" --pull=always -H unix:///nonexistent/sock -s k.sec -o a.tar.zst "app@sha256:1234"
  assert_status 125
  assert_contains "$err" "is not a digest"
  run "$PACK" --pull=sometimes -s k.sec -o a.tar.zst "app:1"
  assert_status 125
  assert_contains "$err" "--pull=sometimes"
  # an image id can only be found locally
  local id
  id=$(docker_cli image inspect -f '{{.Id}}' "$DROOT_TEST_IMAGE")
  run "$PACK" --pull=always -s k.sec -o a.tar.zst "$id"
  assert_status 125
  assert_contains "$err" "image id"
  run "$PACK" --pull -s k.sec -o a.tar.zst "$id"
  assert_status 0
}

# htpasswd auth: no credentials → a clear error naming the registry; DOCKER_CONFIG written by `docker login`
# (auths[REG].auth) → works; a credential helper in PATH (credHelpers) → works; a configured helper that is
# not installed → a clear error.
test_pull_with_registry_auth() {
  command -v htpasswd >/dev/null || fail "htpasswd is not installed (Debian package apache2-utils; tools/setup installs it)"
  htpasswd -Bbc "$TEST_TMP/htpasswd" droot 's3cret:pw' >/dev/null 2>&1
  start_registry "$TEST_TMP/htpasswd"
  export DOCKER_CONFIG="$TEST_TMP/login"
  mkdir -p "$DOCKER_CONFIG"
  printf '%s' 's3cret:pw' | docker_cli login -u droot --password-stdin "$REG" >/dev/null 2>&1 ||
    fail "docker login to $REG failed"
  grep -q "\"$REG\"" "$DOCKER_CONFIG/config.json" || fail "docker login did not write auths[$REG]: $(cat "$DOCKER_CONFIG/config.json")"
  push_unique_image private:1
  make_test_key

  DOCKER_CONFIG="$TEST_TMP/nobody" run "$PACK" --pull -s k.sec -o a.tar.zst "$REG/private:1"
  assert_status 125
  assert_contains "$err" "pulling $REG/private:1 from $REG failed"
  assert_contains "$err" "no credentials for $REG in $TEST_TMP/nobody/config.json"
  assert_no_file a.tar.zst

  # wrong password: the registry refuses, and the message says whose credentials were refused
  mkdir -p wrong
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf 'droot:nope' | base64)" >wrong/config.json
  DOCKER_CONFIG="$TEST_TMP/wrong" run "$PACK" --pull -s k.sec -o a.tar.zst "$REG/private:1"
  assert_status 125
  assert_contains "$err" "refused the credentials for $REG from $TEST_TMP/wrong/config.json"

  run "$PACK" --pull -s k.sec -o a.tar.zst "$REG/private:1"
  assert_status 0
  assert_artifact_has_marker a.tar.zst

  # credHelpers: a helper found in PATH, asked with the server address on stdin
  docker_cli rmi "$REG/private:1" >/dev/null
  mkdir -p bin helper
  cat >bin/docker-credential-drootfake <<SH
#!/bin/sh
[ "\$1" = get ] || exit 2
read -r server
echo "\$server" >>"$TEST_TMP/helper/asked"
printf '{"ServerURL":"%s","Username":"droot","Secret":"s3cret:pw"}\n' "\$server"
SH
  chmod +x bin/docker-credential-drootfake
  printf '{"credHelpers":{"%s":"drootfake"}}' "$REG" >helper/config.json
  PATH="$TEST_TMP/bin:$PATH" DOCKER_CONFIG="$TEST_TMP/helper" run "$PACK" --pull -s k.sec -o b.tar.zst "$REG/private:1"
  assert_status 0
  assert_eq "$REG" "$(cat helper/asked)" "what the helper was asked"
  assert_artifact_has_marker b.tar.zst

  printf '{"credsStore":"droot-not-installed"}' >helper/config.json
  docker_cli rmi "$REG/private:1" >/dev/null
  DOCKER_CONFIG="$TEST_TMP/helper" run "$PACK" --pull -s k.sec -o c.tar.zst "$REG/private:1"
  assert_status 125
  assert_contains "$err" "docker-credential-droot-not-installed is not installed"
  assert_contains "$err" "credsStore in $TEST_TMP/helper/config.json"
  assert_no_file c.tar.zst
}
