# droot-pack against the real dockerd started by tools/test.

payload_size() {  # artifact file: prints PAYLOAD's size (file size minus trailer), from droot-exec verify --json
  "$EXEC" verify --json -p "$TEST_TMP/k.pub" "$1" | sed -E 's/.*"payload_size":([0-9]+).*/\1/'
}

test_pack_signs_and_droot_exec_verifies() {
  make_test_key
  run "$PACK" -s k.sec -o app.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 0
  assert_file app.tar.zst.minisig
  assert_file app.tar.zst.sha256
  sha256sum -c app.tar.zst.sha256 >/dev/null || fail "sidecar sha256 does not match"
  run "$EXEC" verify -p k.pub app.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  assert_contains "$out" "$DROOT_TEST_IMAGE"
}

test_entry_order_config_first_manifest_last_and_plain_tools_read_it() {
  make_test_key
  "$PACK" -s k.sec -o app.tar.zst "$DROOT_TEST_IMAGE" -q
  zstd -dc app.tar.zst | tar -t >list
  assert_eq ".droot/config.json" "$(sed -n 1p list)"
  assert_eq ".drootenv" "$(sed -n 2p list)"
  assert_eq ".droot/manifest.mtree" "$(tail -n1 list)"
  grep -qx 'bin/busybox' list || fail "rootfs missing from the artifact"
  grep -q '^/' list && fail "absolute path in the artifact"
  grep -qx '.dockerenv' list && fail ".dockerenv kept"
  # every rootfs entry has exactly one manifest line
  zstd -dc app.tar.zst | tar -xO .droot/manifest.mtree | grep '^\./' | wc -l >n_manifest
  grep -vE '^\.droot/|^\.drootenv$' list | wc -l >n_tree
  assert_eq "$(cat n_tree)" "$(cat n_manifest)" "manifest entry count"
  mkdir x && zstd -dc app.tar.zst | tar -x -C x
  cmp x/bin/busybox /bin/busybox || fail "busybox differs after extraction"
}

test_gzip_and_none_compressions_are_readable_and_verify() {
  make_test_key
  "$PACK" -s k.sec -c gzip -o app.tar.gz "$DROOT_TEST_IMAGE" -q
  gzip -dc app.tar.gz | tar -t | grep -x 'bin/busybox' >/dev/null || fail "gzip -dc | tar -t cannot read the artifact"
  gzip -t app.tar.gz || fail "gzip -t rejects the trailer member"
  run "$EXEC" verify -p k.pub app.tar.gz
  assert_status 0
  "$PACK" -s k.sec -c none -o app.tar "$DROOT_TEST_IMAGE" -q
  tar -tf app.tar | grep -x 'bin/busybox' >/dev/null || fail "tar cannot read the uncompressed artifact"
  run "$EXEC" verify -p k.pub app.tar   # detached app.tar.minisig
  assert_status 0
}

test_two_packs_are_byte_identical() {
  make_test_key
  "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE" -q
  "$PACK" -s k.sec -o b.tar.zst "$DROOT_TEST_IMAGE" -q -T 1
  cmp a.tar.zst b.tar.zst || fail "two zstd packs differ"
  cmp a.tar.zst.minisig b.tar.zst.minisig || fail "signatures differ"
  "$PACK" -s k.sec -c gzip -o a.tar.gz "$DROOT_TEST_IMAGE" -q
  "$PACK" -s k.sec -c gzip -o b.tar.gz "$DROOT_TEST_IMAGE" -q
  cmp a.tar.gz b.tar.gz || fail "two gzip packs differ"
}

test_stdout_stream_equals_file_output() {
  make_test_key
  "$PACK" -s k.sec -o file.tar.zst "$DROOT_TEST_IMAGE" -q
  "$PACK" -s k.sec "$DROOT_TEST_IMAGE" -q | cat >piped.tar.zst
  cmp file.tar.zst piped.tar.zst || fail "stdout artifact differs from -o artifact"
  cat piped.tar.zst | "$EXEC" verify -p k.pub - >/dev/null || fail "verify from stdin failed"
}

test_minisign_verifies_our_detached_signature() {
  make_test_key
  "$PACK" -s k.sec -o app.tar.zst "$DROOT_TEST_IMAGE" -q
  head -c "$(payload_size app.tar.zst)" app.tar.zst >payload
  run minisign -Vm payload -x app.tar.zst.minisig -p k.pub
  assert_status 0
  assert_contains "$out" "droot-artifact 1 image=$DROOT_TEST_IMAGE"
  assert_contains "$out" "payload_sha256=$(sha256sum payload | cut -d' ' -f1)"
  # and the uncompressed form needs no stripping at all
  "$PACK" -s k.sec -c none -o app.tar "$DROOT_TEST_IMAGE" -q
  minisign -Vm app.tar -p k.pub -q || fail "minisign rejects the uncompressed artifact's signature"
}

test_keys_made_by_minisign_work_with_and_without_password() {
  minisign -G -W -p m.pub -s m.sec >/dev/null
  "$PACK" -s m.sec -o a.tar.zst "$DROOT_TEST_IMAGE" -q
  run "$EXEC" verify -p m.pub a.tar.zst
  assert_status 0
  assert_contains "$out" "$(sed -n 1p m.pub | awk '{print $NF}')"
  printf 'sekret\nsekret\n' | minisign -G -p e.pub -s e.sec >/dev/null
  DROOT_KEY_PASSWORD=sekret "$PACK" -s e.sec -o b.tar.zst "$DROOT_TEST_IMAGE" -q
  "$EXEC" verify -p e.pub b.tar.zst >/dev/null || fail "artifact signed with minisign's encrypted key does not verify"
}

test_our_password_keys_work_with_minisign_and_wrong_password_fails() {
  DROOT_KEY_PASSWORD=pw1 "$PACK" keygen -p k.pub -s k.sec 2>/dev/null
  grep -q 'RWRTY0Iy' k.sec || fail "secret key is not scrypt-encrypted"   # "EdScB2" in base64
  echo data >f
  echo pw1 | minisign -S -s k.sec -m f >/dev/null 2>&1 || fail "minisign cannot open our encrypted key"
  minisign -Vm f -p k.pub -q || fail "minisign signature with our key does not verify"
  DROOT_KEY_PASSWORD=wrong run "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "wrong password"
  assert_contains "$err" "k.sec"
  assert_no_file a.tar.zst
  assert_eq "0" "$(pack_container_count)"
}

test_env_with_equals_spaces_quotes_newline_round_trips_byte_exact() {
  local ref="droot-test/env:$$"
  local cid
  cid=$(engine_api POST /containers/create "{\"Image\":\"$DROOT_TEST_IMAGE\",\"Cmd\":[\"/bin/true\"]}" | sed -E 's/.*"Id":"([0-9a-f]+)".*/\1/')
  local cfg='{"Env":["PATH=/usr/bin:/bin","OPTS=a=b c","Q=\"quoted\" '"'"'single'"'"'","NL=line1\nline2","EMPTY="],"Cmd":["serve","--port=80"],"Entrypoint":["/bin/app"],"User":"app","WorkingDir":"/srv","Labels":{"org.example":"x=y"},"StopSignal":"SIGQUIT"}'
  engine_api POST "/commit?container=$cid&repo=droot-test/env&tag=$$" "$cfg" >/dev/null
  engine_api DELETE "/containers/$cid?force=1" >/dev/null
  make_test_key
  "$PACK" -s k.sec -o a.tar.zst "$ref" -q
  zstd -dc a.tar.zst | tar -xO .droot/config.json >config.json
  docker_cli image inspect -f '{{json .Config.Env}}' "$ref" >expected_env
  python3 - "$TEST_TMP" <<'PY'
import json, sys
d = sys.argv[1]
cfg = json.load(open(d + "/config.json"))["config"]
expected = json.loads(open(d + "/expected_env").read())
assert cfg["Env"] == expected, (cfg["Env"], expected)
assert "OPTS=a=b c" in cfg["Env"] and "NL=line1\nline2" in cfg["Env"]
assert cfg["User"] == "app" and cfg["WorkingDir"] == "/srv" and cfg["StopSignal"] == "SIGQUIT"
assert cfg["Entrypoint"] == ["/bin/app"] and cfg["Cmd"] == ["serve", "--port=80"]
assert cfg["Labels"] == {"org.example": "x=y"}
PY
  zstd -dc a.tar.zst | tar -xO .drootenv >drootenv
  printf 'PATH=/usr/bin:/bin\nOPTS=a=b c\nQ="quoted" '"'"'single'"'"'\nEMPTY=\n' >expected_drootenv
  cmp drootenv expected_drootenv || fail ".drootenv differs: $(cat -A drootenv)"
  docker_cli rmi "$ref" >/dev/null
}

test_image_without_shell_or_cmd_packs() {
  # one static binary, nothing else: no /bin/sh, no CMD, no ENTRYPOINT
  mkdir -p root
  cp /bin/busybox root/app
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/scratch:$$" >/dev/null
  make_test_key
  run "$PACK" -s k.sec -o s.tar.zst "droot-test/scratch:$$"
  assert_status 0
  zstd -dc s.tar.zst | tar -t | grep -x app >/dev/null || fail "binary missing"
  zstd -dc s.tar.zst | tar -t | grep '^bin/' >/dev/null && fail "unexpected /bin in a shell-less image"
  assert_eq "0" "$(pack_container_count)"
  docker_cli rmi "droot-test/scratch:$$" >/dev/null
}

test_whiteouts_from_later_layers_do_not_reappear() {
  ensure_built_image "droot-test/whiteout:$$" "FROM $DROOT_TEST_IMAGE
RUN rm /etc/group && rm -r /srv && mkdir /opt && echo new >/opt/file"
  make_test_key
  "$PACK" -s k.sec -o w.tar.zst "droot-test/whiteout:$$" -q
  zstd -dc w.tar.zst | tar -t >list
  grep -qx 'etc/group' list && fail "deleted file etc/group came back"
  grep -q '^srv' list && fail "deleted directory srv came back"
  grep -q '\.wh\.' list && fail "whiteout marker in the artifact"
  grep -qx 'opt/file' list || fail "file added by the later layer missing"
  zstd -dc w.tar.zst | tar -xO .droot/manifest.mtree | grep '^\./etc/group ' >/dev/null && fail "manifest lists a deleted file"
  docker_cli rmi "droot-test/whiteout:$$" >/dev/null
}

test_hard_links_stay_hard_links() {
  mkdir -p root/bin
  cp /bin/busybox root/bin/busybox
  ln root/bin/busybox root/bin/hardlinked
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/hardlink:$$" >/dev/null
  make_test_key
  "$PACK" -s k.sec -o h.tar.zst "droot-test/hardlink:$$" -q
  zstd -dc h.tar.zst | tar -tv | grep -E 'bin/(hardlinked|busybox) link to bin/(busybox|hardlinked)' >/dev/null \
    || fail "hard link not preserved: $(zstd -dc h.tar.zst | tar -tv | grep bin/)"
  mkdir x && zstd -dc h.tar.zst | tar -x -C x
  assert_eq "$(stat -c %i x/bin/busybox)" "$(stat -c %i x/bin/hardlinked)" "inode of the two links"
  # both names carry the content digest in the manifest
  zstd -dc h.tar.zst | tar -xO .droot/manifest.mtree | grep -E '^\./bin/(busybox|hardlinked) ' | grep -c "sha256digest=$(sha256sum /bin/busybox | cut -d' ' -f1)" >n
  assert_eq "2" "$(cat n)"
  docker_cli rmi "droot-test/hardlink:$$" >/dev/null
}

test_tampering_payload_trailer_or_sidecar_fails_verify() {
  make_test_key
  "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE" -q
  local size psize
  size=$(stat -c %s a.tar.zst)
  psize=$(payload_size a.tar.zst)
  flip() {  # offset: t.tar.zst is a.tar.zst with that byte changed, and no sidecar
    cp a.tar.zst t.tar.zst
    flip_byte t.tar.zst "$1"
  }
  flip $((psize / 2))
  run "$EXEC" verify -p k.pub t.tar.zst
  assert_status 125
  assert_contains "$err" "signature verification failed"
  flip $((psize + 150))   # inside the embedded signature text
  run "$EXEC" verify -p k.pub t.tar.zst
  assert_status 125
  flip $((size - 3))      # the DROOTSIG magic: no trailer found → unsigned
  run "$EXEC" verify -p k.pub t.tar.zst
  assert_status 125
  cp a.tar.zst t.tar.zst
  # Change the first hex digit to another one: forcing it to a fixed digit left the sidecar intact whenever
  # the hash already began with that digit (1 run in 16, since the signature makes every artifact's hash new).
  awk '{ c = substr($0, 1, 1); print (c == "0" ? "1" : "0") substr($0, 2) }' a.tar.zst.sha256 >t.tar.zst.sha256
  cmp -s a.tar.zst.sha256 t.tar.zst.sha256 && fail "the tampered sidecar is identical to the original"
  run "$EXEC" verify -p k.pub t.tar.zst
  assert_status 125
  assert_contains "$err" ".sha256"
}

test_unsigned_needs_explicit_flags_on_both_sides() {
  run "$PACK" -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "--unsigned"
  assert_no_file a.tar.zst
  "$PACK" --unsigned -o a.tar.zst "$DROOT_TEST_IMAGE" -q
  assert_no_file a.tar.zst.minisig
  make_test_key
  run "$EXEC" verify -p k.pub a.tar.zst
  assert_status 125
  assert_contains "$err" "not signed"
  run "$EXEC" verify --insecure-unsigned a.tar.zst
  assert_status 0
  assert_contains "$out" "UNSIGNED"
}

test_bad_inputs_give_clear_errors_and_leave_nothing() {
  make_test_key
  local before
  before=$(pack_container_count)
  run "$PACK" -s k.sec -o a.tar.zst droot-test/no-such-image:404
  assert_status 125
  assert_contains "$err" "droot-test/no-such-image:404 not found"
  run "$PACK" -H unix://$TEST_TMP/nothing.sock -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "unix://$TEST_TMP/nothing.sock"
  assert_contains "$err" "No such file or directory"
  run "$PACK" -s missing.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "missing.sec"
  printf 'untrusted comment: x\nnot base64!\n' >bad.sec
  run "$PACK" -s bad.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "bad.sec"
  run "$PACK" -s k.sec -o "$TEST_TMP/no/such/dir/a.tar.zst" "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "$TEST_TMP/no/such/dir"
  DOCKER_API_VERSION=1.12 run "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "1.12"
  run "$PACK" -s k.sec -c xz -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "xz"
  run "$PACK" -s k.sec -o a.tar.zst 'bad image name!'
  assert_status 125
  assert_contains "$err" "not an image reference"
  assert_no_file a.tar.zst
  assert_eq "" "$(ls -A | grep -E '\.tmp-' || true)"
  assert_eq "$before" "$(pack_container_count)"
}

test_permission_denied_on_the_socket_says_so() {
  make_test_key
  chmod 0644 k.sec
  chmod 0777 "$TEST_TMP"
  setpriv --reuid=65534 --regid=65534 --clear-groups "$PACK" -s k.sec -o "$TEST_TMP/a.tar.zst" "$DROOT_TEST_IMAGE" \
    >out 2>err && fail "nobody could use the root-only socket"
  assert_contains "$(cat err)" "permission denied"
  assert_contains "$(cat err)" "${DOCKER_HOST#unix://}"
}

test_read_only_output_dir_and_disk_full_leave_no_partial_file() {
  make_test_key
  mkdir ro full
  mount -t tmpfs -o ro,size=1m tmpfs ro
  run "$PACK" -s k.sec -o ro/a.tar.zst "$DROOT_TEST_IMAGE"
  umount ro
  assert_status 125
  assert_contains "$err" "Read-only file system"
  mount -t tmpfs -o size=256k tmpfs full
  run "$PACK" -s k.sec -o full/a.tar.zst "$DROOT_TEST_IMAGE"
  local listing
  listing=$(ls -A full)
  umount full
  assert_status 125
  assert_contains "$err" "No space left on device"
  assert_eq "" "$listing" "files left in the full filesystem"
  assert_eq "0" "$(pack_container_count)"
}

interrupt_mid_export() {  # signal
  ensure_big_image droot-test/big:1 512
  make_test_key
  "$PACK" -s k.sec -c none -o big.tar droot-test/big:1 -q &
  local pid=$! i
  for i in $(seq 1 200); do
    [ "$(pack_container_count)" -ge 1 ] && ls -A | grep -q '\.tmp-' && break
    sleep 0.05
  done
  kill -"$1" "$pid"
  set +e
  wait "$pid"
  status=$?
  set -e
}

test_sigint_mid_export_removes_container_and_temp_file() {
  interrupt_mid_export INT
  assert_eq "130" "$status" "exit status after SIGINT"
  assert_eq "0" "$(pack_container_count)" "containers left"
  assert_eq "" "$(ls -A | grep -E 'big|\.tmp-' || true)" "files left"
}

test_sigterm_mid_export_removes_container_and_temp_file() {
  interrupt_mid_export TERM
  assert_eq "143" "$status" "exit status after SIGTERM"
  assert_eq "0" "$(pack_container_count)" "containers left"
  assert_eq "" "$(ls -A | grep -E 'big|\.tmp-' || true)" "files left"
}

# Names that sort before dev/ are read ahead into $TMPDIR before anything is written (droot-artifact(5),
# "Special files"): an interrupt then still removes the container and leaves nothing, the spool included.
test_sigint_while_reading_ahead_to_dev_removes_container_and_leaves_nothing() {
  local image="droot-test/big-app:1"
  if ! docker_cli image inspect "$image" >/dev/null 2>&1; then
    build_busybox_rootfs root
    mkdir -p root/app
    local i
    for i in $(seq 1 24); do head -c $((16 << 20)) /dev/urandom >"root/app/blob$i"; done
    tar -C root --numeric-owner -cf - . | docker_cli import - "$image" >/dev/null
    rm -rf root
  fi
  make_test_key
  mkdir spool
  TMPDIR="$TEST_TMP/spool" "$PACK" -s k.sec -c none -o big.tar "$image" -q &
  local pid=$! i size=0
  # until droot-pack's unnamed spool in $TMPDIR holds 32 MiB of app/ (its fd points into spool/)
  for i in $(seq 1 400); do
    size=$(stat -L -c %s $(find /proc/$pid/fd -lname "$TEST_TMP/spool/*" 2>/dev/null) 2>/dev/null | sort -n | tail -n 1 || true)
    [ "${size:-0}" -ge $((32 << 20)) ] && break
    sleep 0.02
  done
  [ "${size:-0}" -ge $((32 << 20)) ] || fail "droot-pack never spooled app/ (largest spool: ${size:-none})"
  [ "$(stat -c %s .big.tar.tmp-* 2>/dev/null || echo 0)" -lt $((1 << 20)) ] || fail "the artifact was written before dev/ was read"
  kill -INT "$pid"
  set +e
  wait "$pid"
  status=$?
  set -e
  assert_eq "130" "$status" "exit status after SIGINT"
  assert_eq "0" "$(pack_container_count)" "containers left"
  assert_eq "" "$(ls -A | grep -E 'big|\.tmp-' || true)" "files left"
  assert_eq "" "$(ls -A spool)" "files left in TMPDIR"
}

test_container_count_unchanged_after_success_and_error() {
  make_test_key
  local before
  before=$(docker_cli ps -aq | wc -l)
  "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE" -q
  assert_eq "$before" "$(docker_cli ps -aq | wc -l)" "after success"
  mkdir full && mount -t tmpfs -o size=64k tmpfs full
  "$PACK" -s k.sec -o full/a.tar.zst "$DROOT_TEST_IMAGE" -q 2>/dev/null && { umount full; fail "pack into a full fs succeeded"; }
  umount full
  assert_eq "$before" "$(docker_cli ps -aq | wc -l)" "after an error mid-export"
}

test_json_summary_and_quiet() {
  make_test_key
  run "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE" --json
  assert_status 0
  python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["signed"] and j["artifact"]=="a.tar.zst" and j["sha256"]==open("a.tar.zst.sha256").read().split()[0], j' "$err"
  run "$PACK" -s k.sec -o b.tar.zst "$DROOT_TEST_IMAGE" -q
  assert_eq "" "$err$out" "quiet output"
  run "$PACK" --help
  assert_status 0
  assert_contains "$out" "--source-date-epoch"
}

test_source_date_epoch_clamps_times_and_changes_the_bytes() {
  make_test_key
  "$PACK" -s k.sec -o a.tar.zst "$DROOT_TEST_IMAGE" -q --source-date-epoch 1000000000
  zstd -dc a.tar.zst | tar -tv --full-time | awk '{print $4}' | sort -u >dates
  assert_eq "2001-09-09" "$(cat dates)"
  SOURCE_DATE_EPOCH=1000000000 "$PACK" -s k.sec -o b.tar.zst "$DROOT_TEST_IMAGE" -q
  cmp a.tar.zst b.tar.zst || fail "SOURCE_DATE_EPOCH and --source-date-epoch differ"
}

test_non_utf8_and_odd_file_names_pack_byte_exact() {
  mkdir -p root/etc
  cp /bin/busybox root/app
  printf 'latin1\n' >"root/etc/caf$(printf '\351')"     # not valid UTF-8
  printf 'utf8\n' >"root/etc/café"
  printf 'odd\n' >"root/etc/a b=c#d"
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/names:$$" >/dev/null
  make_test_key
  run "$PACK" -s k.sec -o n.tar.zst "droot-test/names:$$"
  docker_cli rmi "droot-test/names:$$" >/dev/null
  assert_status 0
  mkdir x && zstd -dc n.tar.zst | tar -x -C x
  assert_eq "latin1" "$(cat "x/etc/caf$(printf '\351')")"
  assert_eq "utf8" "$(cat x/etc/café)"
  assert_eq "odd" "$(cat 'x/etc/a b=c#d')"
  "$EXEC" deploy -q -p k.pub n.tar.zst dest || fail "deploy of odd names failed"
  "$EXEC" check dest >/dev/null || fail "check of odd names reports drift"
}

# Names as bytes, one tab-separated line per entry: path, type, symlink target, link count (hard links).
name_listing() { (cd "$1" && find n -printf '%p\t%y\t%l\t%n\n' | LC_ALL=C sort); }
# The same for a deployed release: its regular files have one link more, the object store's own name.
release_name_listing() {
  name_listing "$1" | awk -F'\t' 'BEGIN { OFS = "\t" } $2 == "f" { $4 = $4 - 1 } { print }'
}

# Every kind of name through droot-pack -> droot-exec deploy (and plain tar), byte for byte: ASCII, UTF-8 in
# NFC and NFD (a reader that normalises would rewrite the second), Latin-1 (not UTF-8), each also longer than
# the 100 bytes of a ustar name field, and as symlink targets and hard link targets. The payload carries a pax
# record only where ustar cannot say it, and `hdrcharset=BINARY` only for the entries whose name is not UTF-8:
# GNU tar warns about that keyword, so it may warn for those and nothing else.
test_names_of_every_encoding_deploy_byte_exact_and_tar_lists_them_quietly() {
  local latin1 nfc nfd long_ascii long_utf8 long_latin1
  latin1="caf$(printf '\351')"
  nfc="caf$(printf '\303\251')"
  nfd="cafe$(printf '\314\201')"
  long_ascii="$(printf 'a%.0s' {1..120})"
  long_utf8="$(printf '\303\251%.0s' {1..60})"     # 120 bytes
  long_latin1="$(printf '\351%.0s' {1..120})"
  mkdir -p root/n/sub
  for f in plain "$nfc" "$nfd" "$latin1" "$long_ascii" "$long_utf8" "$long_latin1" "$(printf '\346\227\245\346\234\254')"; do
    printf '%s\n' "$f" >"root/n/$f"
  done
  ln -s ../plain root/n/sub/l-ascii
  ln -s "../$nfd" root/n/sub/l-nfd
  ln -s "../$latin1" root/n/sub/l-latin1
  ln -s "../../n/../n/$long_ascii" root/n/sub/l-long-ascii     # link targets over 100 bytes
  ln -s "../../n/../n/$long_utf8" root/n/sub/l-long-utf8
  ln -s "../../n/../n/$long_latin1" root/n/sub/l-long-latin1
  ln "root/n/$nfc" root/n/sub/h-utf8
  ln "root/n/$latin1" root/n/sub/h-latin1
  ln "root/n/$long_latin1" root/n/sub/h-long-latin1
  ln "root/n/$long_utf8" "root/n/sub/$long_utf8"              # a long name whose hard link target is long too
  # Entries whose name or link target is not UTF-8, the only ones allowed a GNU tar warning: n/caf\351,
  # l-latin1, l-long-latin1, h-latin1 (-> n/caf\351), and the pair h-long-latin1 / n/\351...: the export walks
  # in byte order, so sub/h-long-latin1 is the file and the Latin-1 name the hard link to it (one entry, not two).
  local not_utf8=5
  # A file capability too: an extended attribute is a reason for a pax header, and must not add a warning.
  local cap='\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  python3 -c "import os,sys; os.setxattr('root/n/plain', 'security.capability', b'$cap')"
  tar -C root --numeric-owner --xattrs --xattrs-include='security.*' -cf - . |
    docker_cli import - "droot-test/names:$$" >/dev/null
  make_test_key
  run "$PACK" -q -s k.sec -o n.tar.zst "droot-test/names:$$"
  docker_cli rmi "droot-test/names:$$" >/dev/null
  assert_status 0
  assert_eq "" "$err" "droot-pack's stderr"

  zstd -dc n.tar.zst >n.tar
  tar -tf n.tar >/dev/null 2>gnu.err || fail "GNU tar cannot list the payload: $(cat gnu.err)"
  assert_eq "" "$(grep -v "Ignoring unknown extended header keyword 'hdrcharset'" gnu.err || true)" "GNU tar warnings"
  assert_eq "$not_utf8" "$(grep -c hdrcharset gnu.err || true)" "GNU tar hdrcharset warnings (one per non-UTF-8 entry)"
  if command -v bsdtar >/dev/null; then
    LC_ALL=C.UTF-8 bsdtar -tf n.tar >/dev/null 2>bsd.err || fail "bsdtar cannot list the payload: $(cat bsd.err)"
    assert_eq "" "$(cat bsd.err)" "bsdtar (C.UTF-8 locale) warnings"
  else
    fail "bsdtar is not installed (tools/setup installs libarchive-tools)"
  fi

  name_listing root >want
  "$EXEC" deploy -q -p k.pub n.tar.zst dest || fail "deploy failed"
  release_name_listing dest/current >got
  diff want got >&2 || fail "droot-exec deploy changed names (diff above)"
  "$EXEC" check dest >/dev/null || fail "check reports drift"
  python3 -c "import os,sys; sys.exit(os.getxattr('dest/current/n/plain', 'security.capability') != b'$cap')" ||
    fail "the file capability did not survive"
  for loc in C C.UTF-8; do
    rm -rf x && mkdir x
    LC_ALL=$loc tar -x -C x -f n.tar 2>/dev/null || fail "GNU tar -x ($loc) failed"
    name_listing x >got
    diff want got >&2 || fail "GNU tar -x in the $loc locale changed names (diff above)"
  done
}

test_long_window_finds_far_repeats_and_the_artifact_deploys() {
  # Two copies of 4 MiB of noise, at least 4 MiB apart whatever order the export walks them in: beyond the
  # default level's 2 MiB window, within --long's.
  mkdir -p root/data
  cp /bin/busybox root/busybox
  head -c 4M /dev/urandom >root/data/a
  head -c 3M /dev/urandom >root/data/b
  cp root/data/a root/data/c
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/far-repeat:$$" >/dev/null
  make_test_key
  "$PACK" -s k.sec -o plain.tar.zst "droot-test/far-repeat:$$" -q
  "$PACK" -s k.sec -o long.tar.zst --long "droot-test/far-repeat:$$" -q
  "$PACK" -s k.sec -o long2.tar.zst --long -T 1 "droot-test/far-repeat:$$" -q
  local plain long
  plain=$(stat -c %s plain.tar.zst)
  long=$(stat -c %s long.tar.zst)
  [ "$long" -lt $((plain - 3 * 1024 * 1024)) ] || fail "--long did not find the repeat: $long bytes vs $plain without"
  zstd -lv long.tar.zst 2>&1 | grep -q 'Window Size: 128 MiB' || fail "window not 128 MiB: $(zstd -lv long.tar.zst 2>&1)"
  cmp long.tar.zst long2.tar.zst || fail "two --long packs differ (1 and all worker threads)"
  # Frames (droot-artifact(5), "Frame index"): the default pack gives the content of every file of 1 MiB or more
  # a frame (data/a, b, c; busybox if it is that large), ends the frames of entries around them (the last one
  # holds dev/ .. sys/, after data/) and before the manifest, and indexes them; --long keeps one frame and no index. zstd -l counts them independently:
  # the data frames plus two skippable ones (the index, the trailer).
  local big=3 frames_expected
  [ "$(stat -c %s /bin/busybox)" -ge 1048576 ] && big=4
  frames_expected=$((2 * big + 2))
  run "$EXEC" verify -p k.pub plain.tar.zst
  assert_status 0
  assert_contains "$out" "zstd frames: $frames_expected, indexed ($big of them a large file's content)"
  read -r frames skips _ < <(zstd -l plain.tar.zst | sed -n 2p)
  assert_eq "$frames $skips" "$((frames_expected + 2)) 2" "zstd -l plain.tar.zst: frames and skippable frames"
  run "$EXEC" verify -p k.pub long.tar.zst
  assert_not_contains "$out" "zstd frames"
  read -r frames skips _ < <(zstd -l long.tar.zst | sed -n 2p)
  assert_eq "$frames $skips" "2 1" "zstd -l long.tar.zst: one data frame and the trailer"
  zstd -dc long.tar.zst | tar -t | grep -x 'data/c' >/dev/null || fail "zstd -dc | tar -t cannot read the --long artifact"
  run "$EXEC" deploy -q -p k.pub long.tar.zst dest
  assert_status 0
  cmp root/data/c dest/current/data/c || fail "deployed data/c differs"
  cmp root/data/a dest/current/data/a || fail "deployed data/a differs"
  docker_cli rmi "droot-test/far-repeat:$$" >/dev/null
}

# A full artifact deployed over a release that holds most of its files: the content frames of the large files
# DEST's store already has are not decoded (droot-artifact(5), "Frame index"), and the release is the same.
test_full_artifact_over_an_earlier_release_decodes_only_what_changed() {
  mkdir -p root/data root/bin
  cp /bin/busybox root/bin/busybox
  head -c 3M /dev/urandom >root/data/big
  head -c 2M /dev/urandom >root/data/changes
  echo v1 >root/data/version
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/frames:1-$$" >/dev/null
  head -c 2M /dev/urandom >root/data/changes
  echo v2 >root/data/version
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/frames:2-$$" >/dev/null
  make_test_key
  "$PACK" -q -s k.sec --source-date-epoch 1700000000 -o v1.tar.zst "droot-test/frames:1-$$"
  "$PACK" -q -s k.sec --source-date-epoch 1700000000 -o v2.tar.zst "droot-test/frames:2-$$"
  run "$EXEC" deploy -q -p k.pub v1.tar.zst dest
  assert_status 0
  run "$EXEC" deploy --json -p k.pub v2.tar.zst dest
  assert_status 0
  local unchanged=1  # data/big; busybox too when it has a content frame
  [ "$(stat -c %s /bin/busybox)" -ge 1048576 ] && unchanged=2
  assert_contains "$out" "\"not_decoded_files\":$unchanged,"
  grep -Eq '"stored_files":2[,}]' <<<"$out" || fail "not 2 files written (data/changes, data/version): $out"
  cmp root/data/big dest/current/data/big || fail "data/big (not decoded, linked) differs"
  cmp root/data/changes dest/current/data/changes || fail "data/changes differs"
  assert_eq "$(cat dest/current/data/version)" "v2"
  run "$EXEC" check dest
  assert_status 0
  # The same artifact into an empty DEST decodes everything, and gives the same tree.
  run "$EXEC" deploy --json -p k.pub v2.tar.zst empty
  assert_status 0
  assert_contains "$out" '"not_decoded_files":0,'
  assert_eq "$(cd dest/current && find . -mindepth 1 -path ./.droot -prune -o -printf '%p %m %U %G %s %T@\n' | sort)" \
    "$(cd empty/current && find . -mindepth 1 -path ./.droot -prune -o -printf '%p %m %U %G %s %T@\n' | sort)" "the two trees"
  run "$EXEC" deploy -v -p k.pub v2.tar.zst dest  # again: data/changes is in the store now too; the summary says it
  assert_status 0
  assert_contains "$out" "not decoded: $((unchanged + 1)) large files"
  docker_cli rmi "droot-test/frames:1-$$" "droot-test/frames:2-$$" >/dev/null
}

test_long_window_bad_uses_are_refused_and_write_nothing() {
  make_test_key
  run "$PACK" -s k.sec -c gzip --long -o a.tar.gz "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "--long applies to zstd compression only"
  run "$PACK" -s k.sec --long=28 -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "--long 28 is out of range 10-27"
  run "$PACK" -s k.sec --long=9 -o a.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "--long 9 is out of range"
  assert_no_file a.tar.gz
  assert_no_file a.tar.zst
  assert_eq "" "$(ls -A | grep -vE "^(k\.(pub|sec)|\.err|\.out)$" || true)"
}

# --- delta artifacts (droot-pack --base; droot-artifact(5), "Delta artifacts") ---

# entry_types ARTIFACT: one "TYPE NAME" line per tar entry, in archive order (TYPE: 0 file, 1 hard link,
# 2 symlink, 5 directory, ...).
entry_types() {
  zstd -dc "$1" | python3 -c '
import sys, tarfile
for m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|"):
    print(m.type.decode(), m.name)'
}

# delta_pair V1 V2: V1 is the busybox test image, V2 = FROM V1 with /etc/group changed and /srv/added added.
delta_pair() {
  ensure_built_image "$2" "FROM $1
RUN echo 'delta:x:4567:' >>/etc/group && echo added >/srv/added"
}

test_delta_ships_only_what_changed_with_the_full_manifest_and_verifies() {
  local v2="droot-test/delta-v2:$$"
  delta_pair "$DROOT_TEST_IMAGE" "$v2"
  make_test_key
  # One source date for both, as a CI with SOURCE_DATE_EPOCH has: every unchanged file keeps its key, even
  # the Engine's placeholders (etc/hostname, ...), whose mtime is the container's creation clamped to it.
  "$PACK" -s k.sec -q --source-date-epoch 1000000000 -o v1.tar.zst "$DROOT_TEST_IMAGE"
  "$PACK" -s k.sec -q --source-date-epoch 1000000000 -o v2.tar.zst "$v2"
  run "$PACK" -s k.sec --source-date-epoch 1000000000 --base v1.tar.zst -o d.tar.zst "$v2"
  assert_status 0
  assert_contains "$err" "delta against $DROOT_TEST_IMAGE (v1.tar.zst): 2 files shipped,"
  assert_contains "$err" "taken from the base"
  "$PACK" -s k.sec -q --source-date-epoch 1000000000 --base v1.tar.zst -T 1 -o d2.tar.zst "$v2"
  cmp d.tar.zst d2.tar.zst || fail "two delta packs differ"
  cmp d.tar.zst.minisig d2.tar.zst.minisig || fail "the delta's signatures differ"
  echo "sizes: delta $(stat -c %s d.tar.zst) bytes, full v2 $(stat -c %s v2.tar.zst) bytes"

  # The tar: every entry of the full artifact but the regular files the base has, and delta.mtree before the
  # manifest.
  entry_types v2.tar.zst >full.list
  entry_types d.tar.zst >delta.list
  assert_eq "$(printf '0 etc/group\n0 srv/added')" "$(grep '^0 ' delta.list | grep -v ' \.droot/\| \.drootenv$')" "regular files shipped"
  grep -v '^0 ' full.list >full.other
  grep -v '^0 ' delta.list >delta.other
  diff full.other delta.other >&2 || fail "directories, symlinks and other entries differ from the full artifact's"
  assert_eq "$(printf '0 .droot/delta.mtree\n0 .droot/manifest.mtree')" "$(tail -n 2 delta.list)" "the last two entries"
  assert_eq "$(printf '0 .droot/config.json\n0 .drootenv')" "$(head -n 2 delta.list)" "the first two entries"

  # The signed manifest describes the whole new tree, byte for byte as the full artifact's.
  zstd -dc v2.tar.zst | tar -xO .droot/manifest.mtree >full.mtree
  zstd -dc d.tar.zst | tar -xO .droot/manifest.mtree >delta-manifest.mtree
  cmp full.mtree delta-manifest.mtree || fail "the delta's manifest differs from the full artifact's"
  # delta.mtree: one line per left-out file, in archive order, the manifest's line plus time=
  zstd -dc d.tar.zst | tar -xO .droot/delta.mtree >delta.mtree
  assert_eq "#mtree" "$(head -n 1 delta.mtree)"
  grep '^0 ' full.list | grep -v ' \.droot/\| \.drootenv$\| etc/group$\| srv/added$' | sed 's/^0 /.\//' >want.names
  tail -n +2 delta.mtree | cut -d' ' -f1 >got.names
  diff want.names got.names >&2 || fail "delta.mtree does not list exactly the left-out files, in order"
  grep -qxE '\./bin/busybox type=file mode=0755 uid=0 gid=0 size=[0-9]+ time=1000000000\.000000000 sha256digest=[0-9a-f]{64}' delta.mtree ||
    fail "bin/busybox's delta.mtree line: $(grep busybox delta.mtree)"
  tail -n +2 delta.mtree | sed -E 's/ time=[0-9]+\.[0-9]{9}//' >delta-no-time
  grep -Ff delta-no-time full.mtree | wc -l >n
  assert_eq "$(wc -l <delta-no-time)" "$(cat n)" "delta.mtree lines without time= that are manifest lines"

  # config.json and the trusted comment name the base; minisign and droot-exec verify agree.
  local v1_sha v1_id
  v1_sha=$("$EXEC" verify --json -p k.pub v1.tar.zst | jq -r .payload_sha256)
  v1_id=$(docker_cli image inspect -f '{{.Id}}' "$DROOT_TEST_IMAGE")
  zstd -dc d.tar.zst | tar -xO .droot/config.json >config.json
  assert_eq "2" "$(jq .droot_artifact config.json)"
  assert_eq "[{\"id\":\"$v1_id\",\"image\":\"$DROOT_TEST_IMAGE\",\"payload_sha256\":\"$v1_sha\"}]" "$(jq -c .delta.bases config.json)"
  zstd -dc v2.tar.zst | tar -xO .droot/config.json >full-config.json
  assert_eq "1" "$(jq .droot_artifact full-config.json)"
  assert_eq "null" "$(jq .delta full-config.json)"
  head -c "$(payload_size d.tar.zst)" d.tar.zst >payload
  run minisign -Vm payload -x d.tar.zst.minisig -p k.pub
  assert_status 0
  assert_contains "$out" "droot-artifact 2 image=$v2 id="
  assert_contains "$out" " compression=zstd delta=$v1_sha"
  run "$EXEC" verify -p k.pub d.tar.zst
  assert_status 0
  assert_contains "$out" "OK, signed by key"
  assert_contains "$out" "delta artifact (format 2)"
  assert_contains "$out" "base $DROOT_TEST_IMAGE"
  assert_contains "$out" "id $v1_id"
  assert_contains "$out" "payload sha256 $v1_sha"
  run "$EXEC" verify --json -p k.pub d.tar.zst
  assert_status 0
  assert_eq "2" "$(jq .format <<<"$out")"
  assert_eq "$DROOT_TEST_IMAGE $v1_id $v1_sha" "$(jq -r '.delta.bases[0] | "\(.image) \(.id) \(.payload_sha256)"' <<<"$out")"
  run "$EXEC" verify --json -p k.pub v2.tar.zst
  assert_eq "1 null" "$(jq -r '"\(.format) \(.delta)"' <<<"$out")"

  # Plain tools still read it: the changed files, every directory and symlink, and delta.mtree.
  mkdir x && zstd -dc d.tar.zst | tar -x -C x
  assert_eq "added" "$(cat x/srv/added)"
  assert_contains "$(cat x/etc/group)" "delta:x:4567:"
  [ -L x/bin/sh ] || fail "symlink bin/sh missing from the extracted delta"
  assert_no_file x/bin/busybox
  assert_file x/.droot/delta.mtree

  # And on a server: the delta onto a DEST holding v1 gives the very tree of the full v2, writing only the
  # shipped files; onto an empty DEST it is refused, nothing deployed.
  run "$EXEC" deploy -p k.pub d.tar.zst empty
  assert_status 3
  assert_contains "$err" "is a delta against $DROOT_TEST_IMAGE"
  assert_contains "$err" "deploy the full artifact instead"
  [ ! -e empty/current ] || fail "a refused delta made empty/current"
  "$EXEC" deploy -q -p k.pub v1.tar.zst dest || fail "deploy of v1"
  run "$EXEC" deploy --json -p k.pub d.tar.zst dest
  assert_status 0
  assert_eq "true 2" "$(jq -r '"\(.delta) \(.stored_files)"' <<<"$out")"
  "$EXEC" deploy -q -p k.pub v2.tar.zst full || fail "deploy of the full v2"
  local a b
  a=$(cd dest/current/ && find . -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
  b=$(cd full/current/ && find . -printf '%p %y %m %U:%G %s %l\n' | LC_ALL=C sort && find . -type f -exec sha256sum {} + | LC_ALL=C sort)
  # (config.json differs by its "delta" object, and only a delta has delta.mtree)
  diff <(grep -v '\.droot/delta.mtree\|\.droot/config.json' <<<"$a") <(grep -v '\.droot/config.json' <<<"$b") >&2 ||
    fail "the delta's release differs from the full v2's"
  run "$EXEC" check dest
  assert_status 0
  docker_cli rmi "$v2" >/dev/null
}

test_delta_without_a_common_source_date_and_json_summary() {
  local v2="droot-test/delta-v2:$$"
  delta_pair "$DROOT_TEST_IMAGE" "$v2"
  make_test_key
  "$PACK" -s k.sec -q -o v1.tar.zst "$DROOT_TEST_IMAGE"
  "$PACK" -s k.sec -q -o v2.tar.zst "$v2"
  run "$PACK" -s k.sec --json --base v1.tar.zst -o d.tar.zst "$v2"
  assert_status 0
  local j="$err"
  # Each image's own Created time clamps the Engine's placeholders, so they may differ from v1's; the files
  # the image has from v1 keep their mtimes and are left out.
  entry_types d.tar.zst | grep '^0 ' | grep -v ' \.droot/\| \.drootenv$' | cut -d' ' -f2 >shipped
  grep -qx etc/group shipped || fail "the changed etc/group is not shipped"
  grep -qx srv/added shipped || fail "the added srv/added is not shipped"
  assert_eq "" "$(grep -vxE 'etc/group|srv/added|etc/hostname|etc/hosts|etc/resolv.conf|dev/console' shipped || true)" \
    "shipped files beyond the changed ones and the Engine's placeholders"
  assert_eq "$(wc -l <shipped)" "$(jq .delta.files_shipped <<<"$j")"
  assert_eq "$(($(zstd -dc d.tar.zst | tar -xO .droot/delta.mtree | wc -l) - 1))" "$(jq .delta.files_from_bases <<<"$j")"
  [ "$(jq .delta.bytes_from_bases <<<"$j")" -ge "$(stat -c %s /bin/busybox)" ] || fail "bytes_from_bases: $j"
  assert_eq "v1.tar.zst $DROOT_TEST_IMAGE" "$(jq -r '.delta.bases[0] | "\(.path) \(.image)"' <<<"$j")"
  cmp <(zstd -dc v2.tar.zst | tar -xO .droot/manifest.mtree) <(zstd -dc d.tar.zst | tar -xO .droot/manifest.mtree) ||
    fail "the delta's manifest differs from the full artifact's"
  # a full pack's --json has no delta object
  run "$PACK" -s k.sec --json -o f.tar.zst "$v2"
  assert_eq "null" "$(jq .delta <<<"$err")"
  docker_cli rmi "$v2" >/dev/null
}

test_delta_against_several_bases_and_against_a_delta() {
  local v2="droot-test/delta-v2:$$" v3="droot-test/delta-v3:$$"
  delta_pair "$DROOT_TEST_IMAGE" "$v2"
  ensure_built_image "$v3" "FROM $v2
RUN echo three >/srv/three"
  make_test_key
  local sde="--source-date-epoch 1000000000"
  "$PACK" -s k.sec -q $sde -o v1.tar.zst "$DROOT_TEST_IMAGE"
  "$PACK" -s k.sec -q $sde -c gzip --base v1.tar.zst -o d12.tar.gz "$v2"
  # A delta as the only base: what it ships and what it left out (its delta.mtree) both count.
  "$PACK" -s k.sec -q $sde --base d12.tar.gz -o d23.tar.zst "$v3"
  assert_eq "0 srv/three" "$(entry_types d23.tar.zst | grep '^0 ' | grep -v ' \.droot/\| \.drootenv$')" "shipped against a delta"
  # Two bases, in the order given: both named in config.json and in the trusted comment.
  "$PACK" -s k.sec -q $sde -c none --base d12.tar.gz --base v1.tar.zst -o d3.tar "$v3"
  local sha12 sha1
  sha12=$("$EXEC" verify --json -p k.pub d12.tar.gz | jq -r .payload_sha256)
  sha1=$("$EXEC" verify --json -p k.pub v1.tar.zst | jq -r .payload_sha256)
  run "$EXEC" verify --json -p k.pub d3.tar
  assert_status 0
  assert_eq "$v2 $DROOT_TEST_IMAGE" "$(jq -r '[.delta.bases[].image] | join(" ")' <<<"$out")"
  assert_contains "$(jq -r .trusted_comment <<<"$out")" "droot-artifact 2 "
  assert_contains "$(jq -r .trusted_comment <<<"$out")" " delta=$sha12,$sha1"
  tar -tf d3.tar >d3.list
  grep -qx srv/three d3.list || fail "srv/three missing from the uncompressed delta"
  grep -qx bin/busybox d3.list && fail "bin/busybox shipped although both bases have it"
  docker_cli rmi "$v3" "$v2" >/dev/null
}

test_delta_hard_links_follow_their_target_and_files_with_xattrs_are_always_shipped() {
  # v1: a hard-linked pair, a file with a capability, a plain file. v2: the same, plus a second pair whose
  # target changed: that pair ships as a file and a tar hard link to it.
  mkdir -p root/bin
  cp /bin/busybox root/bin/busybox
  ln root/bin/busybox root/bin/linked
  echo capable >root/bin/cap
  echo plain >root/bin/plain
  python3 -c "import os; os.setxattr('root/bin/cap', 'security.capability', b'\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00')"
  touch -d @1000000000 root/bin/*
  tar -C root --numeric-owner --xattrs --xattrs-include='security.*' -cf - . | docker_cli import - "droot-test/delta-links:1-$$" >/dev/null
  echo new >root/bin/newer
  ln root/bin/newer root/bin/newer-link
  touch -d @1000000000 root/bin/newer
  tar -C root --numeric-owner --xattrs --xattrs-include='security.*' -cf - . | docker_cli import - "droot-test/delta-links:2-$$" >/dev/null
  make_test_key
  "$PACK" -s k.sec -q --source-date-epoch 1500000000 -o v1.tar.zst "droot-test/delta-links:1-$$"
  "$PACK" -s k.sec -q --source-date-epoch 1500000000 -o v2.tar.zst "droot-test/delta-links:2-$$"
  "$PACK" -s k.sec -q --source-date-epoch 1500000000 --base v1.tar.zst -o d.tar.zst "droot-test/delta-links:2-$$"
  docker_cli rmi "droot-test/delta-links:1-$$" "droot-test/delta-links:2-$$" >/dev/null
  entry_types d.tar.zst | grep -E '^[01] bin/' >got
  # The export walks in byte order: bin/busybox is the file, bin/linked the link (both left out); bin/newer
  # is the file, bin/newer-link its tar hard link.
  assert_eq "$(printf '0 bin/cap\n0 bin/newer\n1 bin/newer-link')" "$(cat got)" "regular files and hard links in the delta"
  zstd -dc d.tar.zst | tar -xO .droot/delta.mtree | cut -d' ' -f1 | grep '^\./bin/' >omitted
  assert_eq "$(printf './bin/busybox\n./bin/linked\n./bin/plain')" "$(cat omitted)" "delta.mtree"
  cmp <(zstd -dc v2.tar.zst | tar -xO .droot/manifest.mtree) <(zstd -dc d.tar.zst | tar -xO .droot/manifest.mtree) ||
    fail "the delta's manifest differs from the full artifact's"
  mkdir x && zstd -dc d.tar.zst | tar -x -C x
  assert_eq "$(stat -c %i x/bin/newer)" "$(stat -c %i x/bin/newer-link)" "the shipped pair is one inode"
}

test_delta_bad_bases_are_refused_and_write_nothing() {
  make_test_key
  "$PACK" -s k.sec -q -o v1.tar.zst "$DROOT_TEST_IMAGE"
  local before size
  before=$(pack_container_count)
  size=$(stat -c %s v1.tar.zst)
  refused() {  # BASE TEXT...
    local base="$1"
    shift
    run "$PACK" -s k.sec --base "$base" -o d.tar.zst "$DROOT_TEST_IMAGE"
    assert_status 125
    local text
    for text in "$@"; do assert_contains "$err" "$text"; done
    assert_no_file d.tar.zst
    assert_no_file d.tar.zst.minisig
    assert_no_file d.tar.zst.sha256
  }
  refused missing.tar.zst "cannot open the base artifact missing.tar.zst (--base): No such file or directory"
  echo 'not an artifact' >text.tar.zst
  refused text.tar.zst "text.tar.zst: not a droot artifact"
  zstd -q -c /bin/busybox >notar.tar.zst
  refused notar.tar.zst "notar.tar.zst: not a droot artifact"
  refused v1.tar.zst.minisig "v1.tar.zst.minisig: not a droot artifact"
  head -c $((size / 2)) v1.tar.zst >half.tar.zst
  refused half.tar.zst "half.tar.zst: damaged or truncated artifact" "Truncated zstd input"
  head -c $((size - 20)) v1.tar.zst >trailer-cut.tar.zst
  refused trailer-cut.tar.zst "trailer-cut.tar.zst: truncated: its signature trailer is cut short"
  cp v1.tar.zst flipped.tar.zst
  flip_byte flipped.tar.zst $((size / 3))
  refused flipped.tar.zst "flipped.tar.zst: damaged or truncated artifact"
  cp v1.tar.zst stale.tar.zst
  echo "$(printf '0%.0s' {1..64})  stale.tar.zst" >stale.tar.zst.sha256
  refused stale.tar.zst "stale.tar.zst: checksum mismatch" "stale.tar.zst.sha256 says 0000"
  run "$PACK" -s k.sec --base v1.tar.zst --base v1.tar.zst -o d.tar.zst "$DROOT_TEST_IMAGE"
  assert_status 125
  assert_contains "$err" "are the same artifact"
  assert_no_file d.tar.zst
  assert_eq "" "$(ls -A | grep -E '\.tmp-' || true)" "temporary files left"
  assert_eq "$before" "$(pack_container_count)"
}

# --- special files (droot-artifact(5), "Special files") ---

# tar_special_under_dev ARTIFACT: the artifact's character/block devices and FIFOs under dev/ (a tar has no
# sockets), one "TYPE NAME" line each (none expected).
tar_special_under_dev() {
  zstd -dc "$1" | python3 -c '
import sys, tarfile
for m in tarfile.open(fileobj=sys.stdin.buffer, mode="r|"):
    if m.name.startswith("dev/") and (m.ischr() or m.isblk() or m.isfifo()):
        print(m.type.decode(), m.name)'
}

# A rootfs as debootstrap or a distribution tarball has it: device nodes and a FIFO under dev/. The image
# without a special file elsewhere deploys without --allow-devices and runs; with a FIFO in srv/ it warns.
test_special_files_under_dev_are_dropped_and_counted_elsewhere_kept_with_a_warning() {
  build_busybox_rootfs root
  mkdir -p root/dev/pts
  mknod root/dev/null c 1 3
  mknod root/dev/full c 1 7
  mkfifo root/dev/initctl
  mknod root/dev/pts/ptmx c 5 2
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/devnodes:$$" >/dev/null
  mkfifo root/srv/fifo
  tar -C root --numeric-owner -cf - . | docker_cli import - "droot-test/devnodes-fifo:$$" >/dev/null
  make_test_key

  # With a FIFO outside dev/: the summary counts what was dropped, a warning names what was kept.
  run "$PACK" -s k.sec -o fifo.tar.zst "droot-test/devnodes-fifo:$$"
  assert_status 0
  assert_contains "$err" "4 special files under dev/ dropped"
  assert_contains "$err" "1 special file elsewhere kept (deploy needs --allow-devices)"
  assert_contains "$err" "droot-pack: warning: srv/fifo is a FIFO outside dev/: kept in the artifact, but droot-exec deploy refuses it unless given --allow-devices"
  assert_eq "1" "$(grep -c 'warning' <<<"$err")" "warnings"
  assert_eq "" "$(tar_special_under_dev fifo.tar.zst)" "special files under dev/ in the tar"
  zstd -dc fifo.tar.zst | tar -tv >list
  grep -qE '^d.* dev/$' list || fail "dev/ itself is missing: $(grep dev/ list)"
  grep -qE '^d.* dev/pts/$' list || fail "dev/pts/ is missing"
  grep -qE '^p.* srv/fifo$' list || fail "srv/fifo is missing"
  zstd -dc fifo.tar.zst | tar -xO .droot/manifest.mtree >manifest
  grep -qE '^\./dev/(null|full|initctl|pts/ptmx) ' manifest && fail "the manifest lists a dropped entry: $(grep '^\./dev/' manifest)"
  grep -qx '\./dev type=dir mode=0755 uid=0 gid=0' manifest || fail "the manifest lacks dev"
  grep -q '^\./srv/fifo type=fifo ' manifest || fail "the manifest lacks srv/fifo"
  zstd -dc fifo.tar.zst | tar -xO .droot/config.json >config.json
  assert_eq "4" "$(jq .dropped_dev_special_files config.json)"
  # -q: nothing at all; --json: the count and the kept paths, no warning line.
  run "$PACK" -q -s k.sec -o fifo-q.tar.zst "droot-test/devnodes-fifo:$$"
  assert_status 0
  assert_eq "" "$err$out" "droot-pack -q's output"
  run "$PACK" --json -s k.sec -o fifo-json.tar.zst "droot-test/devnodes-fifo:$$"
  assert_status 0
  assert_eq "4 1 [\"srv/fifo\"]" "$(jq -c -r '"\(.dev_special_files_dropped) \(.special_files_kept) \(.special_files_kept_paths)"' <<<"$err")"
  # deploy refuses the FIFO outside dev/ as before, naming it
  run "$EXEC" deploy -p k.pub fifo.tar.zst refused
  assert_status 125
  assert_contains "$err" "entry 'srv/fifo': a FIFO (refused unless deploy is given --allow-devices)"
  assert_no_file refused/current

  # Without it: no warning; deploy needs no --allow-devices and run works with run's own /dev.
  run "$PACK" -s k.sec -o dev.tar.zst "droot-test/devnodes:$$"
  assert_status 0
  assert_contains "$err" "4 special files under dev/ dropped"
  assert_not_contains "$err" "warning"
  assert_not_contains "$err" "elsewhere kept"
  assert_eq "" "$(tar_special_under_dev dev.tar.zst)" "special files under dev/ in the tar"
  "$PACK" -q -s k.sec -T 1 -o dev2.tar.zst "droot-test/devnodes:$$"
  cmp dev.tar.zst dev2.tar.zst || fail "two packs of the image differ"
  run "$EXEC" deploy -p k.pub dev.tar.zst dest
  assert_status 0
  run "$EXEC" check dest
  assert_status 0
  run "$EXEC" run dest /bin/sh -c 'echo discarded >/dev/null && head -c 3 /dev/full | od -An -tx1 && test -c /dev/null && echo ok'
  assert_status 0
  assert_eq "$(printf ' 00 00 00\nok')" "$out" "run's output"

  # A delta of it against itself: the dropped entries stay dropped, counted in its config.json too, and it
  # deploys onto dest.
  run "$PACK" -s k.sec --base dev.tar.zst -o delta.tar.zst "droot-test/devnodes:$$"
  assert_status 0
  assert_contains "$err" "4 special files under dev/ dropped"
  assert_eq "" "$(tar_special_under_dev delta.tar.zst)"
  zstd -dc delta.tar.zst | tar -xO .droot/config.json >delta-config.json
  assert_eq "2 4" "$(jq -r '"\(.droot_artifact) \(.dropped_dev_special_files)"' delta-config.json)"
  cmp <(zstd -dc dev.tar.zst | tar -xO .droot/manifest.mtree) <(zstd -dc delta.tar.zst | tar -xO .droot/manifest.mtree) ||
    fail "the delta's manifest differs from the full artifact's"
  run "$EXEC" deploy -p k.pub delta.tar.zst dest
  assert_status 0

  # An image without special files: config.json has no such field (the same bytes as before the rule).
  "$PACK" -q -s k.sec -o plain.tar.zst "$DROOT_TEST_IMAGE"
  assert_eq "null" "$(zstd -dc plain.tar.zst | tar -xO .droot/config.json | jq .dropped_dev_special_files)"
  docker_cli rmi "droot-test/devnodes:$$" "droot-test/devnodes-fifo:$$" >/dev/null
}

# The issue's case: a Debian 12 rootfs made by debootstrap, `docker import`ed. The tree is the one
# fixtures.sh debootstraps and caches (/var/tmp/droot-test-systemd-bookworm, ~240 MiB); the image is
# imported once per dockerd. Packs, deploys without --allow-devices, and runs Debian's own dpkg and sh.
test_debootstrapped_debian_image_deploys_without_allow_devices_and_runs() {
  ensure_systemd_root
  local image="droot-test/bookworm-debootstrap:1"
  docker_cli image inspect "$image" >/dev/null 2>&1 ||
    tar --numeric-owner -C "$SYSTEMD_ROOT" -cf - . | docker_cli import - "$image" >/dev/null
  # What the export drops: the tree's special files under dev/, but dev/console, which dockerd's init layer
  # replaces with an empty regular file in every container.
  local expected
  expected=$(cd "$SYSTEMD_ROOT" && find dev \( -type c -o -type b -o -type p -o -type s \) ! -path dev/console | wc -l)
  [ "$expected" -ge 5 ] || fail "the debootstrapped tree has only $expected special files under dev/"
  make_test_key
  run "$PACK" -s k.sec -o deb.tar.zst "$image"
  assert_status 0
  assert_contains "$err" "$expected special files under dev/ dropped"
  assert_not_contains "$err" "warning"
  assert_eq "" "$(tar_special_under_dev deb.tar.zst)" "special files under dev/ in the tar"
  assert_eq "$expected" "$(zstd -dc deb.tar.zst | tar -xO .droot/config.json | jq .dropped_dev_special_files)"
  run "$EXEC" deploy -p k.pub deb.tar.zst dest
  assert_status 0
  run "$EXEC" run dest /usr/bin/dpkg --version
  assert_status 0
  assert_contains "$out" "Debian 'dpkg' package management program version"
  run "$EXEC" run dest /bin/sh -c 'echo ok >/dev/null && . /etc/os-release && echo "$VERSION_CODENAME"'
  assert_status 0
  assert_eq "bookworm" "$out"
}
