# droot-pack without the Engine (issue 18): docker-archive: (`docker save`), oci: and oci-archive: (skopeo copy,
# umoci), docker:// (a registry), layer flattening, --platform, and droot-exec deploy's architecture check.

LAYERS_IMAGE=droot-test/layers:2

# A three-layer image: a deleted file, an opaque directory (rm -rf + mkdir), hard links across layers with
# the original name deleted, and Env / User / WorkingDir / Entrypoint / Cmd / Labels / StopSignal.
ensure_layers_image() {
  ensure_built_image "$LAYERS_IMAGE" 'FROM droot-test/busybox:1
RUN mkdir -p /srv/opq/sub /srv/del && echo a > /srv/opq/sub/a && echo keep > /srv/del/keep && echo gone > /srv/del/gone && echo hl > /srv/hl1 && ln /srv/hl1 /srv/hl2 && echo x > /etc/motd
RUN rm -rf /srv/opq && mkdir -p /srv/opq && echo new > /srv/opq/new && rm /srv/del/gone && rm /srv/hl1 && ln /srv/hl2 /srv/hl3
ENV A=1 B="x=y z"
USER 1234:2345
WORKDIR /home/app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo hi"]
LABEL org.example.l="v" other=2
STOPSIGNAL SIGINT'
}

manifest_of() { zstd -qdc "$1" | tar -xO .droot/manifest.mtree; }
config_of() { zstd -qdc "$1" | tar -xO .droot/config.json; }
# What `run` reads from config.json, the same whatever the source.
run_config_of() { config_of "$1" | jq -cS '.config | {Env, User, WorkingDir, Entrypoint, Cmd, Labels, StopSignal}'; }

host_arch() {
  case "$(uname -m)" in x86_64) echo amd64 ;; aarch64) echo arm64 ;; *) uname -m ;; esac
}

# put_blob LAYOUT FILE: moves FILE into LAYOUT/blobs/sha256/, prints its digest.
put_blob() {
  local hex
  hex=$(sha256sum "$2" | cut -d' ' -f1)
  mkdir -p "$1/blobs/sha256"
  mv "$2" "$1/blobs/sha256/$hex"
  echo "sha256:$hex"
}

# make_oci_layout DIR ARCH LAYER.tar...: a one-image OCI layout, uncompressed layers, by hand (no tool would
# write the hostile layers the tests feed it). Prints the manifest's digest.
make_oci_layout() {
  local dir="$1" arch="$2"
  shift 2
  mkdir -p "$dir"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$dir/oci-layout"
  local layers="" diffs="" l d
  for l in "$@"; do
    cp "$l" "$dir/l.tmp"
    d=$(put_blob "$dir" "$dir/l.tmp")
    layers="$layers${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$d\",\"size\":$(stat -c %s "$l")}"
    diffs="$diffs${diffs:+,}\"$d\""
  done
  printf '{"created":"2024-01-02T03:04:05Z","architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$arch" "$diffs" >"$dir/c.tmp"
  local csize cd
  csize=$(stat -c %s "$dir/c.tmp")
  cd=$(put_blob "$dir" "$dir/c.tmp")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[%s]}' \
    "$cd" "$csize" "$layers" >"$dir/m.tmp"
  local msize md
  msize=$(stat -c %s "$dir/m.tmp")
  md=$(put_blob "$dir" "$dir/m.tmp")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s}]}' \
    "$md" "$msize" >"$dir/index.json"
  echo "$md"
}

# py_tar OUT NAME[=CONTENT]...: an uncompressed tar whose members have exactly these names (tar(1) would
# refuse or rewrite the hostile ones). NAME ending in / is a directory.
py_tar() {
  python3 - "$@" <<'PY'
import io, sys, tarfile
out = sys.argv[1]
with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for spec in sys.argv[2:]:
        name, _, data = spec.partition("=")
        ti = tarfile.TarInfo(name.rstrip("/") if name.endswith("/") else name)
        ti.mtime = 1700000000
        if name.endswith("/"):
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        else:
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data.encode()))
PY
}

# make_two_arch_layout [attestation]: an OCI layout L whose index (ref "multi") holds two single-layer images,
# one for this host's architecture and one for another (its content need not run; bin/which names its arch),
# and with "attestation" also an os "unknown" entry as buildx writes for provenance. Sets host and other.
make_two_arch_layout() {
  host=$(host_arch)
  [ "$host" = amd64 ] && other=arm64 || other=amd64
  mkdir -p root/bin && echo "$host" >root/bin/which && tar -C root --numeric-owner -cf l-host.tar .
  echo "$other" >root/bin/which && tar -C root --numeric-owner -cf l-other.tar .
  local mh mo entry entries attest=""
  mh=$(make_oci_layout L "$host" l-host.tar)
  mo=$(make_oci_layout L "$other" l-other.tar)
  entry() {  # digest os arch
    printf '{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":%s,"platform":{"os":"%s","architecture":"%s"}}' \
      "$1" "$(stat -c %s "L/blobs/sha256/${1#sha256:}")" "$2" "$3"
  }
  [ "${1:-}" = attestation ] && attest=",$(entry "$mo" unknown unknown)"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[%s,%s%s]}' \
    "$(entry "$mh" linux "$host")" "$(entry "$mo" linux "$other")" "$attest" >idx.tmp
  local isize id
  isize=$(stat -c %s idx.tmp)
  id=$(put_blob L idx.tmp)
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"multi"}}]}' \
    "$id" "$isize" >L/index.json
}

# Refusal checks: exit 125, the error says $1, and no artifact or sidecar (nor a temp file) is left.
assert_refused_nothing_written() {
  assert_status 125
  assert_contains "$err" "$1"
  assert_no_file out.tar.zst
  assert_no_file out.tar.zst.minisig
  assert_no_file out.tar.zst.sha256
  [ -z "$(ls -A | grep '^out\.tar\.zst' || true)" ] || fail "left behind: $(ls -A | grep '^out')"
}

test_docker_archive_gives_the_engine_tree_minus_its_placeholders_and_the_same_config() {
  ensure_layers_image
  make_test_key
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  run "$PACK" -s k.sec -o engine.tar.zst "$LAYERS_IMAGE"
  assert_status 0
  run "$PACK" -s k.sec -o saved.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  assert_status 0
  assert_contains "$err" "packed docker-archive:$TEST_TMP/saved.tar"
  # The exact difference: what dockerd's export adds for a container (droot-pack(1), SOURCES).
  diff <(manifest_of saved.tar.zst) <(manifest_of engine.tar.zst) | grep '^[<>]' | awk '{print $1, $2}' >difference || true
  assert_eq "> ./dev
> ./dev/console
> ./dev/pts
> ./dev/shm
> ./etc/hostname
> ./etc/hosts
> ./etc/mtab
> ./etc/resolv.conf
> ./proc
> ./sys" "$(cat difference)" "docker-archive vs Engine manifest"
  # Whiteouts, the opaque directory and the hard links, flattened as the Engine did.
  manifest_of saved.tar.zst >m
  grep -q '^\./srv/del/keep ' m || fail "srv/del/keep missing"
  grep -q '^\./srv/del/gone ' m && fail "srv/del/gone (whited out) is in the tree"
  grep -q '^\./srv/opq/sub' m && fail "srv/opq/sub (under an opaque directory) is in the tree"
  grep -q '^\./srv/hl1 ' m && fail "srv/hl1 (deleted) is in the tree"
  zstd -qdc saved.tar.zst | tar -tv >listing   # (not piped into grep -q: pipefail would see tar's SIGPIPE)
  grep -q 'srv/hl3 link to srv/hl2' listing || fail "srv/hl3 is not a hard link to srv/hl2"
  # config.json: the same bytes but for image.ref (docker save keeps the Engine's config blob as is).
  diff <(config_of saved.tar.zst | jq -S 'del(.image.ref)') <(config_of engine.tar.zst | jq -S 'del(.image.ref)') ||
    fail "config.json differs beyond image.ref"
  assert_eq '{"Cmd":["echo hi"],"Entrypoint":["/bin/sh","-c"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1","B=x=y z"],"Labels":{"org.example.l":"v","other":"2"},"StopSignal":"SIGINT","User":"1234:2345","WorkingDir":"/home/app"}' \
    "$(run_config_of saved.tar.zst)"
  assert_eq "$(host_arch)" "$(config_of saved.tar.zst | jq -r .image.architecture)"
  # Reproducible: the same input twice gives the same bytes.
  "$PACK" -s k.sec -q -o again.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  cmp saved.tar.zst again.tar.zst || fail "two packs of the same docker-archive differ"
  # And it is an artifact like any other: verified, deployed, run.
  run "$EXEC" deploy -p k.pub saved.tar.zst dest
  assert_status 0
  run "$EXEC" run dest -- 'cat /srv/hl3 /srv/opq/new; id -u; pwd; echo "$B"'
  assert_status 0
  assert_eq $'hl\nnew\n1234\n/home/app\nx=y z' "$out"
}

test_oci_layouts_and_archives_from_skopeo_and_umoci_give_the_same_tree() {
  ensure_layers_image
  make_test_key
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  "$PACK" -s k.sec -q -o saved.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  skopeo copy -q docker-archive:saved.tar oci:layout:gz                                  # gzip layers
  skopeo copy -q --dest-compress-format zstd docker-archive:saved.tar oci:layout:zst     # zstd layers
  skopeo copy -q --dest-compress=false docker-archive:saved.tar oci:layout:plain 2>/dev/null ||
    skopeo copy -q docker-archive:saved.tar oci:layout:plain
  skopeo copy -q docker-archive:saved.tar oci-archive:archive.tar:v1
  local src
  for src in oci:layout:gz oci:layout:zst oci:layout:plain oci-archive:archive.tar oci-archive:archive.tar:v1; do
    run "$PACK" -s k.sec -o "x.tar.zst" "$src"
    assert_status 0
    diff <(manifest_of saved.tar.zst) <(manifest_of x.tar.zst) || fail "$src: tree differs from docker-archive's"
    # skopeo writes a new config blob without the Engine's zero-valued fields; what run reads is the same.
    assert_eq "$(run_config_of saved.tar.zst)" "$(run_config_of x.tar.zst)" "$src: config"
    "$PACK" -s k.sec -q -o y.tar.zst "$src"
    cmp x.tar.zst y.tar.zst || fail "$src: two packs differ"
    rm -f x.tar.zst* y.tar.zst*
  done
  # Several images and no REF: say which to choose.
  run "$PACK" -s k.sec -o out.tar.zst oci:layout
  assert_refused_nothing_written "name one as oci:layout:REF (it names: gz, zst, plain)"
  run "$PACK" -s k.sec -o out.tar.zst oci:layout:nope
  assert_refused_nothing_written "has no image named nope"
  # umoci's own layer (unpack, change, repack): a file added, a directory deleted, a new hard link.
  umoci unpack --image layout:gz bundle >/dev/null
  echo umoci >bundle/rootfs/srv/from-umoci
  rm -rf bundle/rootfs/srv/del
  ln bundle/rootfs/srv/hl2 bundle/rootfs/srv/hl4
  umoci repack --image layout:gz bundle >/dev/null
  "$PACK" -s k.sec -q -o u.tar.zst oci:layout:gz
  manifest_of u.tar.zst >m
  grep -q '^\./srv/from-umoci ' m || fail "umoci's added file is missing"
  grep -q '^\./srv/del' m && fail "umoci's whiteout of srv/del did not delete it"
  zstd -qdc u.tar.zst | tar -tv >listing
  grep -q 'srv/hl4 link to srv/hl2' listing || fail "umoci's srv/hl4 is not a hard link to srv/hl2"
  true
}

test_delta_against_an_engine_artifact_from_a_docker_archive() {
  ensure_layers_image
  make_test_key
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  "$PACK" -s k.sec -q --source-date-epoch 1700000000 -o base.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  run "$PACK" -s k.sec --json --source-date-epoch 1700000000 --base base.tar.zst -o delta.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  assert_status 0
  assert_eq 0 "$(echo "$err" | jq .delta.files_shipped)" "a delta against the same image ships nothing"
  "$EXEC" deploy -q -p k.pub base.tar.zst dest
  run "$EXEC" deploy -p k.pub delta.tar.zst dest
  assert_status 0
}

test_platform_selects_from_a_multi_arch_index_and_deploy_refuses_another_arch() {
  make_test_key
  local host other
  make_two_arch_layout attestation
  # No --platform: this host's.
  "$PACK" -s k.sec -q -o host.tar.zst oci:L:multi
  assert_eq "$host" "$(zstd -qdc host.tar.zst | tar -xO bin/which)"
  assert_eq "$host" "$(config_of host.tar.zst | jq -r .image.architecture)"
  "$PACK" -s k.sec -q --platform "linux/$other" -o other.tar.zst oci:L:multi
  assert_eq "$other" "$(zstd -qdc other.tar.zst | tar -xO bin/which)"
  assert_eq "$other" "$(config_of other.tar.zst | jq -r .image.architecture)"
  run "$PACK" -s k.sec --platform linux/s390x -o out.tar.zst oci:L:multi
  assert_refused_nothing_written "has no image for --platform linux/s390x; it holds: linux/$host, linux/$other"
  run "$PACK" -s k.sec --platform linux -o out.tar.zst oci:L:multi
  assert_refused_nothing_written "--platform linux: expected OS/ARCH"
  # Deploy: another architecture is refused, naming both and the flag, and DEST is left as it was.
  "$EXEC" deploy -q -p k.pub host.tar.zst dest
  local before
  before=$(snapshot dest)
  run "$EXEC" deploy -p k.pub other.tar.zst dest
  assert_status 125
  assert_contains "$err" "the image is for architecture $other, this host is $host"
  assert_contains "$err" "--any-arch"
  assert_eq "$before" "$(snapshot dest)" "DEST changed by a refused deploy"
  run "$EXEC" deploy -p k.pub --any-arch other.tar.zst dest
  assert_status 0
  assert_eq "$other" "$(cat dest/current/bin/which)"
}

test_engine_gets_the_platform_on_create() {
  make_test_key
  run "$PACK" -s k.sec --platform "linux/$(host_arch)" -o ok.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 0
  local other
  [ "$(host_arch)" = amd64 ] && other=arm64 || other=amd64
  run "$PACK" -s k.sec --platform "linux/$other" -o out.tar.zst "$DROOT_TEST_IMAGE"
  assert_refused_nothing_written "is not for --platform linux/$other"
  assert_eq 0 "$(pack_container_count)" "container left behind"
}

test_hostile_tampered_layer_blob_is_refused_naming_its_digest() {
  make_test_key
  mkdir -p root/etc && echo hi >root/etc/hi && tar -C root -cf l.tar .
  make_oci_layout L "$(host_arch)" l.tar >/dev/null
  local blob
  blob=$(sha256sum l.tar | cut -d' ' -f1)
  flip_byte "L/blobs/sha256/$blob" 1000
  run "$PACK" -s k.sec -o out.tar.zst oci:L
  assert_refused_nothing_written "not the sha256:$blob the manifest names"
  # docker-archive: a layer.tar rewritten inside the save.
  ensure_layers_image
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  mkdir s && tar -C s -xf saved.tar
  local layer
  layer=$(cd s && ls */layer.tar | head -n1)
  flip_byte "s/$layer" 700
  tar -C s -cf bad.tar .
  run "$PACK" -s k.sec -o out.tar.zst "docker-archive:$TEST_TMP/bad.tar"
  assert_refused_nothing_written "the manifest names: the image is corrupt or was tampered with"
}

test_hostile_missing_blob_and_bad_manifest_json_are_refused() {
  make_test_key
  mkdir -p root/etc && echo hi >root/etc/hi && tar -C root -cf l.tar .
  make_oci_layout L "$(host_arch)" l.tar >/dev/null
  cp -a L L2
  rm "L/blobs/sha256/$(sha256sum l.tar | cut -d' ' -f1)"
  run "$PACK" -s k.sec -o out.tar.zst oci:L
  assert_refused_nothing_written "has no blobs/sha256/$(sha256sum l.tar | cut -d' ' -f1)"
  echo '{"schemaVersion":2,"manifests":[' >L2/index.json
  run "$PACK" -s k.sec -o out.tar.zst oci:L2
  assert_refused_nothing_written "oci:L2: index.json is not valid JSON"
  ensure_layers_image
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  mkdir s && tar -C s -xf saved.tar && echo '[{"Config": 1' >s/manifest.json && tar -C s -cf bad.tar .
  run "$PACK" -s k.sec -o out.tar.zst "docker-archive:bad.tar"
  assert_refused_nothing_written "docker-archive:bad.tar: manifest.json is not valid JSON"
  run "$PACK" -s k.sec -o out.tar.zst "docker-archive:nonexistent.tar"
  assert_refused_nothing_written "nonexistent.tar"
}

test_hostile_path_traversal_and_whiteout_of_dotdot_are_refused() {
  make_test_key
  py_tar trav.tar "etc/" "etc/../../escaped=boom"
  make_oci_layout T "$(host_arch)" trav.tar >/dev/null
  run "$PACK" -s k.sec -o out.tar.zst oci:T
  assert_refused_nothing_written "entry 'etc/../../escaped' has a '..' component (path traversal)"
  py_tar wh.tar "etc/" "etc/.wh..."
  make_oci_layout W "$(host_arch)" wh.tar >/dev/null
  run "$PACK" -s k.sec -o out.tar.zst oci:W
  assert_refused_nothing_written "whiteout 'etc/.wh...' deletes '..', which is not a name"
  py_tar abs.tar "/etc/"
  py_tar up.tar "../up=x"
  make_oci_layout U "$(host_arch)" abs.tar up.tar >/dev/null
  run "$PACK" -s k.sec -o out.tar.zst oci:U
  assert_refused_nothing_written "path traversal"
}

test_file_capabilities_are_kept_as_the_engine_keeps_them() {
  make_test_key
  mkdir -p root/bin
  cp /bin/busybox root/bin/ping
  setcap cap_net_raw+ep root/bin/ping
  tar -C root --numeric-owner --xattrs --xattrs-include='security.capability' -cf - . |
    docker_cli import - droot-test/caps:1 >/dev/null
  docker_cli save droot-test/caps:1 -o caps.tar
  "$PACK" -s k.sec -q --source-date-epoch 1700000000 -o engine.tar.zst droot-test/caps:1
  "$PACK" -s k.sec -q --source-date-epoch 1700000000 -o saved.tar.zst "docker-archive:$TEST_TMP/caps.tar"
  # The same entry for bin/ping, extended attribute included, in both artifacts' tar streams.
  zstd -qdc engine.tar.zst | python3 -c '
import sys, tarfile
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
for m in t:
    if m.name == "bin/ping": print(sorted(m.pax_headers.items()))' >engine.ping
  zstd -qdc saved.tar.zst | python3 -c '
import sys, tarfile
t = tarfile.open(fileobj=sys.stdin.buffer, mode="r|")
for m in t:
    if m.name == "bin/ping": print(sorted(m.pax_headers.items()))' >saved.ping
  assert_contains "$(cat saved.ping)" "security.capability"
  assert_eq "$(cat engine.ping)" "$(cat saved.ping)" "bin/ping's pax headers"
  run "$EXEC" deploy -p k.pub saved.tar.zst dest
  assert_status 0
  assert_contains "$(getcap dest/current/bin/ping)" "cap_net_raw"
  docker_cli rmi droot-test/caps:1 >/dev/null
}

# --- docker://: the registry itself, without the Engine -------------------------------------------------------
# Debian's docker-registry (start_registry, fixtures.sh) for what the docker CLI and skopeo push, and
# tests/fake_engine/fake_registry.py for what a broken or hostile registry sends. Each pack runs with TMPDIR
# in TEST_TMP, so that what droot-pack leaves there (nothing) can be checked.

FAKE_REGISTRY="$DROOT_SRC/tests/fake_engine/fake_registry.py"

registry_tmpdir() {
  export TMPDIR="$TEST_TMP/tmp"
  mkdir -p "$TMPDIR"
}

assert_no_pull_leftovers() {
  local left
  left=$(ls -A "$TMPDIR" | grep '^droot-pack-pull' || true)
  [ -z "$left" ] || fail "droot-pack left in TMPDIR: $left"
}

# The digest of REF's manifest as the registry serves it (Accept: whatever the push stored).
registry_digest() {  # REPO REFERENCE
  curl -fsS -o /dev/null -D - \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://$REG/v2/$1/manifests/$2" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}'
}

test_registry_source_gives_the_docker_archive_tree_by_tag_and_by_digest() {
  ensure_layers_image
  make_test_key
  registry_tmpdir
  start_registry
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"
  docker_cli tag "$LAYERS_IMAGE" "$REG/team/layers:2"
  docker_cli push -q "$REG/team/layers:2" >/dev/null
  docker_cli save "$LAYERS_IMAGE" -o saved.tar
  "$PACK" -s k.sec -q -o saved.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  run "$PACK" -s k.sec --json -o reg.tar.zst "docker://$REG/team/layers:2"
  assert_status 0
  assert_eq "docker://$REG/team/layers:2" "$(echo "$err" | jq -r .image)"
  assert_eq "$(docker_cli image inspect -f '{{.Id}}' "$LAYERS_IMAGE")" "$(echo "$err" | jq -r .id)" "image id"
  diff <(manifest_of saved.tar.zst) <(manifest_of reg.tar.zst) || fail "docker:// tree differs from docker-archive's"
  # docker push sends the Engine's config blob as is: config.json is the same but for image.ref.
  diff <(config_of saved.tar.zst | jq -S 'del(.image.ref)') <(config_of reg.tar.zst | jq -S 'del(.image.ref)') ||
    fail "config.json differs beyond image.ref"
  assert_eq "docker://$REG/team/layers:2" "$(config_of reg.tar.zst | jq -r .image.ref)"
  "$PACK" -s k.sec -q -o again.tar.zst "docker://$REG/team/layers:2"
  cmp reg.tar.zst again.tar.zst || fail "two packs of the same docker:// image differ"
  # By digest: the same tree.
  local digest
  digest=$(registry_digest team/layers 2)
  [[ "$digest" == sha256:* ]] || fail "no digest from the registry: [$digest]"
  run "$PACK" -s k.sec -o digest.tar.zst "docker://$REG/team/layers@$digest"
  assert_status 0
  diff <(manifest_of saved.tar.zst) <(manifest_of digest.tar.zst) || fail "docker://…@digest tree differs"
  run "$EXEC" deploy -p k.pub digest.tar.zst dest
  assert_status 0
  run "$EXEC" run dest -- 'cat /srv/hl3 /srv/opq/new; id -u'
  assert_status 0
  assert_eq $'hl\nnew\n1234' "$out"
  # What is not there: a tag, a digest, a repository; a registry nobody listens on.
  run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/team/layers:nope"
  assert_refused_nothing_written "docker://$REG/team/layers:nope: the registry $REG has no manifest nope in repository team/layers"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/team/layers@sha256:$(printf '%064d' 0)"
  assert_refused_nothing_written "has no manifest sha256:$(printf '%064d' 0)"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/nothing/here:1"
  assert_refused_nothing_written "in repository nothing/here"
  local dead
  dead="127.0.0.1:$(free_port)"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$dead/x:1"
  assert_refused_nothing_written "the registry $dead: cannot connect to http://$dead"
  # Engine-only flags are refused for it, --plain-http for other sources.
  run "$PACK" -s k.sec --pull -o out.tar.zst "docker://$REG/team/layers:2"
  assert_refused_nothing_written "--pull applies to Engine images, not to docker:// sources"
  run "$PACK" -s k.sec --plain-http -o out.tar.zst "docker-archive:$TEST_TMP/saved.tar"
  assert_refused_nothing_written "--plain-http applies to docker:// sources only"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/Team/x:1"
  assert_refused_nothing_written "repository names must be lower-case"
  assert_no_pull_leftovers
}

test_registry_source_with_htpasswd_auth() {
  htpasswd -Bbc "$TEST_TMP/htpasswd" droot 's3cret:pw' >/dev/null 2>&1
  make_test_key
  registry_tmpdir
  start_registry "$TEST_TMP/htpasswd"
  export DOCKER_CONFIG="$TEST_TMP/login"
  mkdir -p "$DOCKER_CONFIG"
  printf '%s' 's3cret:pw' | docker_cli login -u droot --password-stdin "$REG" >/dev/null 2>&1 || fail "docker login to $REG failed"
  docker_cli tag "$DROOT_TEST_IMAGE" "$REG/private:1"
  docker_cli push -q "$REG/private:1" >/dev/null
  DOCKER_CONFIG="$TEST_TMP/nobody" run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/private:1"
  assert_refused_nothing_written "docker://$REG/private:1: the registry $REG requires authentication"
  assert_contains "$err" "no credentials for $REG in $TEST_TMP/nobody/config.json: run \`docker login $REG\`"
  mkdir -p wrong
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf 'droot:nope' | base64)" >wrong/config.json
  DOCKER_CONFIG="$TEST_TMP/wrong" run "$PACK" -s k.sec -o out.tar.zst "docker://$REG/private:1"
  assert_refused_nothing_written "the registry $REG refused the credentials for $REG from $TEST_TMP/wrong/config.json"
  assert_contains "$err" "docker login $REG"
  run "$PACK" -s k.sec -o a.tar.zst "docker://$REG/private:1"
  assert_status 0
  "$PACK" -s k.sec -q -o engine.tar.zst "$DROOT_TEST_IMAGE"
  diff <(manifest_of engine.tar.zst | grep -v -e '^\./dev' -e '^\./proc' -e '^\./sys' -e '^\./etc/hosts ' -e '^\./etc/hostname ' \
           -e '^\./etc/resolv.conf ' -e '^\./etc/mtab ') <(manifest_of a.tar.zst) || fail "the tree differs from the Engine's"
  assert_no_pull_leftovers
}

test_registry_source_multi_arch_index_by_platform() {
  make_test_key
  registry_tmpdir
  start_registry
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"
  local host other
  make_two_arch_layout
  skopeo copy -q --all --dest-tls-verify=false oci:L:multi "docker://$REG/multi:1" || fail "skopeo could not push the index"
  run "$PACK" -s k.sec -o host.tar.zst "docker://$REG/multi:1"
  assert_status 0
  assert_eq "$host" "$(zstd -qdc host.tar.zst | tar -xO bin/which)"
  "$PACK" -s k.sec -q --platform "linux/$other" -o other.tar.zst "docker://$REG/multi:1"
  assert_eq "$other" "$(zstd -qdc other.tar.zst | tar -xO bin/which)"
  assert_eq "$other" "$(config_of other.tar.zst | jq -r .image.architecture)"
  # The index by its digest (skopeo writes its own copy of the index).
  local pushed
  pushed=$(registry_digest multi 1)
  [[ "$pushed" == sha256:* ]] || fail "no digest from the registry: [$pushed]"
  "$PACK" -s k.sec -q --platform "linux/$other" -o bydigest.tar.zst "docker://$REG/multi@$pushed"
  diff <(manifest_of other.tar.zst) <(manifest_of bydigest.tar.zst) || fail "by digest: another tree"
  # The same as oci:, which reads the same index with the same selection code.
  "$PACK" -s k.sec -q --platform "linux/$other" -o oci.tar.zst oci:L:multi
  diff <(manifest_of oci.tar.zst) <(manifest_of other.tar.zst) || fail "oci: and docker:// differ"
  run "$PACK" -s k.sec --platform linux/s390x -o out.tar.zst "docker://$REG/multi:1"
  assert_refused_nothing_written "has no image for --platform linux/s390x; it holds: linux/$host, linux/$other"
  assert_no_pull_leftovers
}

# start_fake_registry SCENARIO: tests/fake_engine/fake_registry.py; sets FAKE_REG (127.0.0.1:PORT).
start_fake_registry() {
  rm -f "$TEST_TMP/fake.port" "$TEST_TMP/fake.port.log"
  python3 "$FAKE_REGISTRY" "$TEST_TMP/fake.port" "$1" 2>>"$TEST_TMP/fake.stderr" &
  FAKE_PID=$!
  trap 'kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true' EXIT
  local i
  for i in $(seq 200); do
    [ -s "$TEST_TMP/fake.port" ] && FAKE_REG="127.0.0.1:$(cat "$TEST_TMP/fake.port")" && return 0
    kill -0 "$FAKE_PID" 2>/dev/null || fail "fake_registry.py died: $(cat "$TEST_TMP/fake.stderr")"
    sleep 0.05
  done
  fail "fake_registry.py did not start"
}

stop_fake_registry() {
  kill "$FAKE_PID" 2>/dev/null || true
  wait "$FAKE_PID" 2>/dev/null || true
}

test_registry_source_hostile_registries_are_refused_naming_digest_and_registry() {
  make_test_key
  registry_tmpdir
  export DOCKER_CONFIG="$TEST_TMP/empty-docker-config"
  local layer
  layer=$(python3 -c "
import importlib.util, sys
spec = importlib.util.spec_from_file_location('f', '$FAKE_REGISTRY'); f = importlib.util.module_from_spec(spec)
sys.argv = ['x']; spec.loader.exec_module(f); print(f.digest(f.LAYER))")
  # What works: Bearer tokens (with the docker CLI's credentials) and redirected blobs.
  start_fake_registry bearer
  mkdir -p creds
  printf '{"auths":{"%s":{"auth":"%s"}}}' "$FAKE_REG" "$(printf 'droot:pw' | base64)" >creds/config.json
  DOCKER_CONFIG="$TEST_TMP/creds" run "$PACK" -s k.sec -o ok.tar.zst "docker://$FAKE_REG/x:1"
  assert_status 0
  assert_contains "$(cat "$TEST_TMP/fake.port.log")" "GET /v2/x/manifests/1 auth=Bearer tok-123"
  assert_eq "hi from the fake registry" "$(zstd -qdc ok.tar.zst | tar -xO etc/hi)"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$FAKE_REG/x:1"
  assert_refused_nothing_written "requires authentication for manifest 1"
  stop_fake_registry
  start_fake_registry redirect
  run "$PACK" -s k.sec -o redirected.tar.zst "docker://$FAKE_REG/x:1"
  assert_status 0
  stop_fake_registry

  local scenario expect
  while IFS='|' read -r scenario expect; do
    start_fake_registry "$scenario"
    printf '{"auths":{"%s":{"auth":"%s"}}}' "$FAKE_REG" "$(printf 'droot:pw' | base64)" >creds/config.json
    expect="${expect//@REG@/$FAKE_REG}"
    expect="${expect//@LAYER@/$layer}"
    DOCKER_CONFIG="$TEST_TMP/creds" run "$PACK" -s k.sec --timeout 2 -o out.tar.zst "docker://$FAKE_REG/x:1"
    assert_refused_nothing_written "$expect"
    assert_contains "$err" "docker://$FAKE_REG/x:1: the registry $FAKE_REG" "$scenario: image and registry named"
    assert_no_pull_leftovers
    # A 401 is answered once, then retried once: never a loop.
    case "$scenario" in unauthorized | basic-forever)
      assert_eq 2 "$(grep -c '^GET /v2/x/manifests/1 ' "$TEST_TMP/fake.port.log")" "$scenario: requests for the manifest" ;;
    esac
    stop_fake_registry
  done <<'CASES'
size-lie|sent more than the 10230 bytes the manifest gives for layer @LAYER@
length-lie|says layer @LAYER@ is 10230 bytes (Content-Length), but the manifest says 10240
truncated|closed the connection in the middle of layer @LAYER@
tampered|sent layer @LAYER@ with sha256:
redirect-loop|redirected the request for config sha256:
unauthorized|refused the credentials for @REG@ from
basic-forever|refused the credentials for @REG@ from
huge-manifest|sent more than droot-pack accepts for manifest 1
stall|sent nothing for 2s while droot-pack fetched layer @LAYER@
CASES
  # A manifest asked for by digest that hashes to something else.
  start_fake_registry wrong-manifest
  local want="sha256:$(printf '%064d' 0 | tr 0 a)"
  run "$PACK" -s k.sec -o out.tar.zst "docker://$FAKE_REG/x@$want"
  assert_refused_nothing_written "sent a manifest whose sha256 is sha256:"
  assert_contains "$err" "not the $want asked for"
  stop_fake_registry
  # Interrupted in the middle of a blob: 130, nothing written, nothing left in TMPDIR.
  start_fake_registry stall
  "$PACK" -s k.sec -o out.tar.zst "docker://$FAKE_REG/x:1" 2>int.err &
  local pid=$!
  for _ in $(seq 100); do grep -q "GET /v2/x/blobs/$layer" "$TEST_TMP/fake.port.log" 2>/dev/null && break; sleep 0.05; done
  sleep 0.3
  kill -INT "$pid"
  local rc=0
  wait "$pid" || rc=$?
  assert_eq 130 "$rc" "exit status after SIGINT"
  assert_contains "$(cat int.err)" "interrupted by signal 2; nothing written"  # no container to speak of
  status=130 err="$(cat int.err)"
  assert_no_file out.tar.zst
  assert_no_pull_leftovers
}
