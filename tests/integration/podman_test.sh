# droot-pack against podman's Docker-compatible API (`podman system service` on a private socket).
# And (the last test) droot-pack reading what `podman save` writes, without any Engine.
# Each test starts its own podman service with all state under $TEST_TMP/pm (tools/podman-service) and stops
# it whatever happens; the harness's dockerd is used only by the comparison test, under an image name of its
# own that it removes again.
#
# What podman 4.3's export gives compared with dockerd 20.10's, for the same imported tar (measured here, and
# asserted by test_podman_and_dockerd_artifacts_of_the_same_tar):
#   identical: every entry of the image (names, order, types, modes, owners, sizes, link targets, contents),
#              so the manifest lines of the image's files; the image config ("config" in config.json);
#              image.ref, os, architecture, source_date_epoch, packer.
#   dockerd only: the container-init entries dockerd's export adds — dev/, dev/console, dev/pts/, dev/shm/,
#              etc/hostname, etc/hosts, etc/resolv.conf (empty, 0755), etc/mtab -> /proc/mounts, proc/, sys/
#              (and .dockerenv, which droot-pack drops). podman's export is the image's tree alone.
#   different: image.id and image.created (each daemon writes its own image config at import time, so
#              mtimes also differ unless --source-date-epoch is given); image.repo_digests is [] on dockerd
#              and ["localhost/NAME@sha256:…"] on podman (podman names local images localhost/NAME).

PODMAN_IMAGE=droot-test/podman:1
# The container-init entries only dockerd's export has (manifest paths).
DOCKERD_ONLY_ENTRIES='./dev
./dev/console
./dev/pts
./dev/shm
./etc/hostname
./etc/hosts
./etc/mtab
./etc/resolv.conf
./proc
./sys'

# start_podman: a private podman service; sets PM_DIR and PM_HOST.
start_podman() {
  PM_DIR="$TEST_TMP/pm"
  trap '"$DROOT_SRC/tools/podman-service" stop "$PM_DIR"' EXIT
  trap 'exit 143' TERM
  PM_HOST=$("$DROOT_SRC/tools/podman-service" start "$PM_DIR") || fail "could not start podman system service"
}

pm() { "$DROOT_SRC/tools/podman-service" podman "$PM_DIR" "$@"; }

# The busybox tree of ensure_busybox_image, as one tar (the same bytes are imported into both daemons), with
# a config both daemons' `import --change` understand alike. VOLUME makes create add an anonymous volume,
# which droot-pack's DELETE …?v=1 must remove.
IMPORT_CHANGES=(-c 'ENV PATH=/bin:/usr/bin' -c 'ENV OPTS="a=b c"' -c 'USER app' -c 'WORKDIR /srv'
  -c 'ENTRYPOINT ["/bin/sh","-c"]' -c 'CMD ["echo hello from $OPTS in $(pwd) as $(id -un)"]'
  -c 'LABEL org.example=x=y' -c 'EXPOSE 8080' -c 'VOLUME /data')

make_busybox_tar() {  # prints the tar's path
  build_busybox_rootfs "$TEST_TMP/root"
  tar -C "$TEST_TMP/root" --numeric-owner -cf "$TEST_TMP/busybox.tar" .
  echo "$TEST_TMP/busybox.tar"
}

podman_container_count() { pm ps -aq | wc -l; }
podman_volume_count() { pm volume ls -q | wc -l; }

test_podman_pack_verifies_deploys_runs_and_removes_its_container() {
  start_podman
  pm import -q "${IMPORT_CHANGES[@]}" "$(make_busybox_tar)" "$PODMAN_IMAGE" >/dev/null
  # a container of the user's own must survive droot-pack's clean-up
  pm create --name keep-me "$PODMAN_IMAGE" >/dev/null
  local containers volumes
  containers=$(podman_container_count)
  volumes=$(podman_volume_count)
  assert_eq 1 "$containers" "the user's container exists"
  make_test_key
  DOCKER_HOST="$PM_HOST" run "$PACK" -s k.sec -o app.tar.zst "$PODMAN_IMAGE"
  assert_status 0
  assert_contains "$err" "packed $PODMAN_IMAGE"
  sha256sum -c app.tar.zst.sha256 >/dev/null || fail "sidecar sha256 does not match"
  assert_eq "$containers" "$(podman_container_count)" "podman's container count after droot-pack"
  assert_eq "$volumes" "$(podman_volume_count)" "podman's volume count after droot-pack (anonymous VOLUME)"
  assert_eq 0 "$(pm ps -aq --filter label=org.droot.pack | wc -l)" "droot-pack containers left in podman"
  pm container exists keep-me || fail "droot-pack removed a container it did not create"

  run "$EXEC" verify -p k.pub app.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  assert_contains "$out" "image $PODMAN_IMAGE"
  assert_contains "$out" "id sha256:$(pm image inspect -f '{{.Id}}' "$PODMAN_IMAGE")"  # the CLI omits the prefix
  zstd -dc app.tar.zst | tar -xO .droot/config.json >config.json
  python3 - <<'PY' || fail "config.json does not carry podman's image config"
import json
c = json.load(open("config.json"))["config"]
assert c["Env"] == ["PATH=/bin:/usr/bin", "OPTS=a=b c"], c["Env"]
assert c["User"] == "app" and c["WorkingDir"] == "/srv", c
assert c["Entrypoint"] == ["/bin/sh", "-c"], c["Entrypoint"]
assert c["Labels"] == {"org.example": "x=y"}, c["Labels"]
assert c["Volumes"] == {"/data": {}}, c["Volumes"]
PY

  run "$EXEC" deploy -p k.pub app.tar.zst dest
  assert_status 0
  cmp dest/current/bin/busybox /bin/busybox || fail "busybox differs after deploy"
  run "$EXEC" check dest
  assert_status 0
  run "$EXEC" run dest
  assert_status 0
  assert_eq "hello from a=b c in /srv as app" "$out"
  # podman's export has no container placeholders (/dev, /proc, /etc/hosts…): run made them over the release, in
  # its state, and check --changes knows them; the release itself is as deployed.
  run "$EXEC" check --changes dest
  assert_status 0
  assert_contains "$out" "clean, matches its manifest"
  assert_contains "$out" "  note     proc: empty mount point made by droot-exec run"
}

test_podman_and_dockerd_artifacts_of_the_same_tar() {
  local tar ref="droot-test/podman-cmp:$$"
  tar=$(make_busybox_tar)
  start_podman
  pm import -q "${IMPORT_CHANGES[@]}" "$tar" "$PODMAN_IMAGE" >/dev/null
  trap '"$DROOT_SRC/tools/podman-service" stop "$PM_DIR"; docker_cli rmi -f "'"$ref"'" >/dev/null 2>&1 || true' EXIT
  docker_cli import "${IMPORT_CHANGES[@]}" "$tar" "$ref" >/dev/null
  make_test_key
  # Same source date: otherwise each image's own Created time (its import time) clamps the mtimes.
  "$PACK" -s k.sec -q -c none --source-date-epoch 1700000000 -o d.tar "$ref"
  DOCKER_HOST="$PM_HOST" "$PACK" -s k.sec -q -c none --source-date-epoch 1700000000 -o p.tar "$PODMAN_IMAGE"
  assert_eq 0 "$(pack_container_count)" "droot-pack containers left in dockerd"
  "$EXEC" verify -p k.pub p.tar >/dev/null || fail "podman's artifact does not verify"

  # The manifests: podman's lines are dockerd's minus exactly the container-init entries.
  tar -xOf d.tar .droot/manifest.mtree 2>/dev/null | grep '^\./' >d.mtree
  tar -xOf p.tar .droot/manifest.mtree 2>/dev/null | grep '^\./' >p.mtree
  grep -q '^\./bin/busybox ' p.mtree || fail "podman's manifest has no bin/busybox"
  grep -vxFf p.mtree d.mtree | cut -d' ' -f1 >dockerd_only
  assert_eq "$DOCKERD_ONLY_ENTRIES" "$(cat dockerd_only)" "entries only dockerd's export has"
  assert_eq "" "$(grep -vxFf d.mtree p.mtree || true)" "entries only podman's export has"
  assert_eq "$(grep -vF -f <(sed 's/$/ /' dockerd_only) d.mtree)" "$(cat p.mtree)" "the image's entries, in order"

  # The tar entries themselves (order, type, mode, owner, size, mtime, link), apart from config.json, the
  # manifest (their sizes differ by the lines above) and dockerd's container-init entries.
  list() {
    tar -tvf "$1" --full-time --numeric-owner 2>/dev/null | grep -vE ' \.droot/(config\.json|manifest\.mtree)$' |
      grep -vE ' (dev/|dev/console|dev/pts/|dev/shm/|etc/hostname|etc/hosts|etc/mtab -> /proc/mounts|etc/resolv\.conf|proc/|sys/)$'
  }
  assert_eq "$(list d.tar)" "$(list p.tar)" "tar listings of the image's entries"
  # …and their contents: the rootfs extracted from both (without the dockerd-only entries) is the same tree.
  mkdir d p
  tar -xf d.tar -C d 2>/dev/null
  tar -xf p.tar -C p 2>/dev/null
  rm -rf d/.droot p/.droot d/dev d/proc d/sys d/etc/hostname d/etc/hosts d/etc/mtab d/etc/resolv.conf
  assert_eq "$(snapshot d)" "$(snapshot p)" "extracted trees"

  tar -xOf d.tar .droot/config.json >d.json
  tar -xOf p.tar .droot/config.json >p.json
  python3 - "$ref" "$PODMAN_IMAGE" <<'PY' || fail "config.json: the parts that must be identical differ"
import json, sys
d, p = json.load(open("d.json")), json.load(open("p.json"))
assert d["config"] == p["config"], (d["config"], p["config"])
for k in ("os", "architecture"):
    assert d["image"][k] == p["image"][k], k
assert d["image"]["ref"] == sys.argv[1] and p["image"]["ref"] == sys.argv[2]
assert d["source_date_epoch"] == p["source_date_epoch"] == 1700000000
assert d["packer"] == p["packer"]
assert sorted(d) == sorted(p) and sorted(d["image"]) == sorted(p["image"]), (sorted(d), sorted(p))
# Different by nature: each daemon wrote its own image config at import time.
assert d["image"]["id"] != p["image"]["id"]
assert d["image"]["repo_digests"] == [] and p["image"]["repo_digests"][0].startswith("localhost/droot-test/podman@sha256:")
PY
}

test_podman_image_not_found_is_a_clear_error() {
  start_podman
  local before
  before=$(podman_container_count)
  make_test_key
  DOCKER_HOST="$PM_HOST" run "$PACK" -s k.sec -o a.tar.zst droot-test/not-there:1
  assert_status 125
  assert_contains "$err" "droot-pack: error: image droot-test/not-there:1 not found on the Engine at $PM_HOST"
  assert_eq 1 "$(printf '%s\n' "$err" | wc -l)" "one error line"
  assert_no_file a.tar.zst
  assert_no_file a.tar.zst.minisig
  assert_no_file a.tar.zst.sha256
  assert_eq "" "$(ls -A | grep -E 'tar|tmp' || true)" "files left behind"
  assert_eq "$before" "$(podman_container_count)" "podman's container count"
  # tools/podman-service stop leaves nothing running and nothing on disk
  local pid
  pid=$(cat "$PM_DIR/podman.pid")
  [ "$(cat "/proc/$pid/comm")" = podman ] || fail "podman.pid is not podman's own pid"
  "$DROOT_SRC/tools/podman-service" stop "$PM_DIR"
  ! kill -0 "$pid" 2>/dev/null || fail "podman system service still running after stop"
  assert_no_file "$PM_DIR"
}

test_podman_sigint_mid_export_removes_container_and_writes_nothing() {
  start_podman
  build_busybox_rootfs "$TEST_TMP/root"
  mkdir "$TEST_TMP/root/data"
  head -c $((32 << 20)) /dev/urandom >"$TEST_TMP/root/data/blob"
  tar -C "$TEST_TMP/root" --numeric-owner -cf - . | pm import -q - droot-test/podman-big:1 >/dev/null
  local before pid i
  before=$(podman_container_count)
  make_test_key
  # zstd -19 on one thread keeps the export running for seconds: the signal lands mid-stream.
  DOCKER_HOST="$PM_HOST" "$PACK" -s k.sec -l 19 -T 1 -o big.tar.zst droot-test/podman-big:1 -q &
  pid=$!
  for i in $(seq 1 400); do
    [ -n "$(find . -maxdepth 1 -name '*.tmp-*' -size +64k)" ] && break
    sleep 0.05
  done
  [ -n "$(find . -maxdepth 1 -name '*.tmp-*' -size +64k)" ] || fail "the export never started writing"
  assert_eq $((before + 1)) "$(podman_container_count)" "droot-pack's container exists mid-export"
  kill -INT "$pid"
  set +e
  wait "$pid"
  status=$?
  set -e
  assert_eq 130 "$status" "exit status after SIGINT"
  assert_eq "$before" "$(podman_container_count)" "containers left in podman"
  assert_eq "" "$(ls -A | grep -E 'big|tmp' || true)" "files left"
}

# podman's export, like dockerd's, walks the tree in name order, which droot-pack's count of the special
# files under dev/ relies on (its archive endpoint leaves /dev out, so it cannot be asked instead).
test_podman_special_files_under_dev_are_dropped_and_counted() {
  build_busybox_rootfs root
  mkdir -p root/dev
  mknod root/dev/null c 1 3
  mknod root/dev/full c 1 7
  mkfifo root/dev/initctl
  tar -C root --numeric-owner -cf devnodes.tar .
  start_podman
  pm import -q devnodes.tar droot-test/podman-devnodes:1 >/dev/null
  make_test_key
  DOCKER_HOST="$PM_HOST" run "$PACK" -s k.sec -o app.tar.zst droot-test/podman-devnodes:1
  assert_status 0
  assert_contains "$err" "3 special files under dev/ dropped"
  assert_not_contains "$err" "warning"
  zstd -dc app.tar.zst | tar -tv >list
  grep -E '^[cbp].* dev/' list && fail "special files under dev/ in the artifact"
  grep -qE '^d.* dev/$' list || fail "dev/ itself is missing"
  assert_eq "3" "$(zstd -dc app.tar.zst | tar -xO .droot/config.json | jq .dropped_dev_special_files)"
  run "$EXEC" deploy -p k.pub app.tar.zst dest
  assert_status 0
}

# Issue 18's sources from podman's own writers: `podman save` as docker-archive, oci-archive and oci-dir, of a
# two-layer image `podman build` made (a COPY over an imported base, a file of the base overwritten, a config of
# its own). Packing each gives the tree and the config that droot-pack reads from podman's Engine API for the
# same image, and the same manifest (podman's export has no container placeholders, so nothing differs).
test_podman_saved_archives_and_layouts_give_the_engine_tree() {
  start_podman
  build_busybox_rootfs root
  echo base >root/etc/motd
  tar -C root --numeric-owner -cf base.tar .
  pm import -q base.tar droot-test/podman-base:1 >/dev/null
  mkdir ctx
  echo "from podman build" >ctx/motd
  head -c 300000 /dev/urandom >ctx/blob
  printf '%s\n' 'FROM droot-test/podman-base:1' 'COPY motd /etc/motd' 'COPY blob /srv/data/blob' \
    'ENV A=1 B="x y"' 'WORKDIR /srv' 'USER 1234:2345' 'ENTRYPOINT ["/bin/sh", "-c"]' 'CMD ["echo hi"]' \
    'LABEL org.example.l=v' 'STOPSIGNAL SIGINT' >ctx/Containerfile
  pm build -q -t droot-test/podman-layers:1 ctx >/dev/null
  local image=localhost/droot-test/podman-layers:1
  [ "$(pm image inspect --format '{{len .RootFS.Layers}}' "$image")" -ge 2 ] || fail "podman build made one layer"
  pm save -q --format docker-archive -o saved-docker.tar "$image"
  pm save -q --format oci-archive -o saved-oci.tar "$image"
  pm save -q --format oci-dir -o saved-oci-dir "$image"
  make_test_key
  local common=(-s k.sec -q --source-date-epoch 1700000000)
  DOCKER_HOST="$PM_HOST" "$PACK" "${common[@]}" -o engine.tar.zst "$image"
  "$PACK" "${common[@]}" -o docker.tar.zst docker-archive:saved-docker.tar
  "$PACK" "${common[@]}" -o ociar.tar.zst oci-archive:saved-oci.tar
  "$PACK" "${common[@]}" -o ocidir.tar.zst oci:saved-oci-dir

  local m
  m=$(zstd -qdc engine.tar.zst | tar -xO .droot/manifest.mtree)
  grep -q '^\./srv/data/blob ' <<<"$m" || fail "the COPY layer's file is missing from the Engine's manifest"
  run_config() { zstd -qdc "$1" | tar -xO .droot/config.json | jq -cS '.config | {Env, User, WorkingDir, Entrypoint, Cmd, Labels, StopSignal}'; }
  assert_contains "$(run_config engine.tar.zst)" '"StopSignal":"SIGINT"'
  local a
  for a in docker ociar ocidir; do
    "$EXEC" verify -p k.pub "$a.tar.zst" >/dev/null || fail "$a.tar.zst does not verify"
    assert_eq "$m" "$(zstd -qdc "$a.tar.zst" | tar -xO .droot/manifest.mtree)" "manifest of $a vs podman's Engine API"
    assert_eq "$(run_config engine.tar.zst)" "$(run_config "$a.tar.zst")" "run's config of $a vs podman's Engine API"
  done
  # The upper layer's motd replaced the base's, in every artifact.
  mkdir dest
  run "$EXEC" deploy -p k.pub ocidir.tar.zst dest
  assert_status 0
  assert_eq "from podman build" "$(cat dest/current/etc/motd)" "etc/motd of the deployed release"
}
