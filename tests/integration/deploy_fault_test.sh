# shellcheck shell=bash
# Server-side faults beyond deploy_test.sh (issue 8): the artifact file replaced while a deploy reads it,
# DEST on a read-only filesystem, `current` pointing at a deleted release, a release directory that cannot be
# read. Artifacts come from droot-hostile-gen (deploy_lib.sh); no docker needed.
source "$DROOT_SRC/tests/integration/deploy_lib.sh"

# two validly signed artifacts of the same size that differ in content: art/v1.tar.zst, art/v2.tar.zst
make_v1_v2() {
  cp "$(gen valid v1)" art/v1.tar.zst
  cp "$(gen valid v2)" art/v2.tar.zst
  assert_eq "$(stat -c %s art/v1.tar.zst)" "$(stat -c %s art/v2.tar.zst)" "v1 and v2 sizes"
  ! cmp -s art/v1.tar.zst art/v2.tar.zst || fail "v1 and v2 are the same bytes"
}

payload_sha() {  # ARTIFACT: the payload sha256 droot-exec verify reports
  "$EXEC" verify --json -p art/test.pub "$1" | jq -r .payload_sha256
}

# deploy_held_at_sidecar ARTIFACT DEST: starts a deploy of ARTIFACT whose ARTIFACT.sha256 is a FIFO and returns
# once droot-exec has opened it. droot-exec reads the sidecar after the signature and checksums were verified
# and before extraction begins, so the deploy is now held exactly between "verified" and "extracted" — no sleep,
# no test hook in droot-exec. release_sidecar then writes the sum and lets it go on. Sets DEPLOY_PID.
deploy_held_at_sidecar() {
  local artifact="$1" dest="$2"
  SIDECAR_SUM="$(sha256sum "$artifact" | cut -d' ' -f1)  $(basename "$artifact")"
  rm -f "$artifact.sha256"
  mkfifo "$artifact.sha256"
  "$EXEC" deploy -p art/test.pub "$artifact" "$dest" >deploy.out 2>deploy.err &
  DEPLOY_PID=$!
  # Opening a FIFO for writing blocks until its reader opens it: droot-exec is at the sidecar when this returns.
  hold_fifo "$artifact.sha256" "$DEPLOY_PID"
}

# hold_fifo FIFO PID: opens FIFO for writing on fd 3, which returns once PID has opened it for reading. If PID
# dies before it gets there, a watchdog opens the FIFO itself, so the test fails on PID's error instead of
# hanging until its time limit.
hold_fifo() {
  trap '' PIPE
  ( while kill -0 "$2" 2>/dev/null; do sleep 0.1; done; [ -p "$1" ] && exec 4<>"$1" && sleep 2 ) &
  WATCHDOG_PID=$!
  exec 3>"$1"
}

unhold_fifo() {  # closes fd 3 and ends the watchdog
  exec 3>&-
  kill "$WATCHDOG_PID" 2>/dev/null || true
  wait "$WATCHDOG_PID" 2>/dev/null || true
}

release_sidecar() {  # sets $status, $out, $err from the deploy
  printf '%s\n' "$SIDECAR_SUM" >&3 || true
  unhold_fifo
  set +e
  wait "$DEPLOY_PID"
  status=$?
  set -e
  out="$(cat deploy.out)"
  err="$(cat deploy.err)"
}

test_artifact_renamed_over_after_verification_deploys_what_was_verified() {
  make_v1_v2
  deployed_dest dest
  cp art/v1.tar.zst art/app.tar.zst
  deploy_held_at_sidecar art/app.tar.zst dest
  # someone renames another (validly signed) artifact over the path while droot-exec holds it
  mv art/v2.tar.zst art/app.tar.zst
  release_sidecar
  assert_status 0
  # what was opened and verified (v1) is what went live; the file now at the path (v2) was never read
  assert_eq "v1" "$(cat dest/current/srv/version)"
  local sha
  sha=$(payload_sha art/v1.tar.zst)
  assert_eq "${sha:0:12}" "$(current_release dest | sed 's/.*-//')"
  run "$EXEC" check dest
  assert_status 0
  assert_no_temp dest
}

test_artifact_overwritten_in_place_after_verification_is_refused() {
  make_v1_v2
  deployed_dest dest
  local before
  before=$(snapshot dest)
  cp art/v1.tar.zst art/app.tar.zst
  deploy_held_at_sidecar art/app.tar.zst dest
  # the same inode rewritten with v2's bytes: a well-formed, signed artifact, just not the one verified
  dd if=art/v2.tar.zst of=art/app.tar.zst conv=notrunc status=none
  release_sidecar
  assert_status 125
  assert_contains "$err" "droot-exec: error: art/app.tar.zst: the payload read for extraction"
  assert_contains "$err" "is not the one verified"
  assert_eq "$before" "$(snapshot dest)" "DEST changed by a refused deploy"
  assert_no_temp dest
}

# The same swaps before the payload is hashed: droot-exec opened the file and read its trailer, and now
# blocks on the --signature FIFO. Renamed over: the opened file is verified and deployed. Rewritten in place:
# the signature no longer matches what is read, and nothing is extracted. Rewritten shorter: refused as such.
test_artifact_swapped_before_hashing_is_verified_as_read() {
  cp "$(gen payload-only v1)" p1.tar.zst
  cp "$(gen payload-only v2)" p2.tar.zst
  minisign -G -W -f -p mk.pub -s mk.sec >/dev/null
  minisign -S -s mk.sec -m p1.tar.zst -t "droot-artifact 1 image=hostile:payload-only" >/dev/null
  deployed_dest dest
  local before way
  for way in rename in-place shorter; do
    before=$(snapshot dest)
    cp p1.tar.zst app.tar.zst
    mkfifo sig.fifo
    "$EXEC" deploy -q -p mk.pub --signature sig.fifo app.tar.zst dest >deploy.out 2>deploy.err &
    DEPLOY_PID=$!
    hold_fifo sig.fifo "$DEPLOY_PID"
    if [ "$way" = rename ]; then
      cp p2.tar.zst p2.copy && mv p2.copy app.tar.zst
    elif [ "$way" = in-place ]; then
      dd if=p2.tar.zst of=app.tar.zst conv=notrunc status=none  # same inode, same size, other bytes
    else
      truncate -s 100 app.tar.zst
    fi
    cat p1.tar.zst.minisig >&3 || true
    unhold_fifo
    set +e
    wait "$DEPLOY_PID"
    status=$?
    set -e
    err="$(cat deploy.err)"
    rm -f sig.fifo
    if [ "$way" = rename ]; then
      assert_status 0
      assert_eq "v1" "$(cat dest/current/srv/version)"
    else
      assert_status 125
      if [ "$way" = in-place ]; then
        assert_contains "$err" "app.tar.zst: signature verification failed"
      else
        assert_contains "$err" "app.tar.zst: the file shrank while it was being verified"
      fi
      assert_eq "$before" "$(snapshot dest)" "DEST changed by a refused deploy"
    fi
    assert_no_temp dest
  done
}

test_stdin_whose_source_is_rewritten_mid_stream_is_refused() {
  make_v1_v2
  deployed_dest dest
  local before first
  before=$(snapshot dest)
  # the first byte where v1 and v2 differ: the stream carries v1 up to and including it, then v2's rest
  first=$( (cmp art/v1.tar.zst art/v2.tar.zst || true) | sed 's/.*byte \([0-9]*\).*/\1/')
  [[ "$first" =~ ^[0-9]+$ ]] || fail "no differing byte found: $first"
  cp art/v1.tar.zst app.tar.zst
  run bash -c "exec 3<app.tar.zst
    { head -c $first <&3; dd if=art/v2.tar.zst of=app.tar.zst conv=notrunc status=none; cat <&3; } \
      | '$EXEC' deploy -p art/test.pub - dest"
  assert_status 125
  assert_contains "$err" "stdin: signature verification failed"
  assert_eq "$before" "$(snapshot dest)"
  assert_no_temp dest
}

# ro_bind SRC DST: DST is a read-only view of SRC (a bind mount), undone when the test ends.
ro_bind() {
  mkdir -p "$2"
  mount --bind "$1" "$2"
  mount -o remount,bind,ro "$2"
  RO_MOUNTS+=("$2")
  trap 'for m in "${RO_MOUNTS[@]}"; do umount -l "$m"; done' EXIT
}
RO_MOUNTS=()

test_dest_on_a_read_only_filesystem() {
  deploy_ok "$(gen valid v1)" dest
  deploy_ok "$(gen valid v2)" dest
  local before
  before=$(snapshot dest)
  ro_bind dest ro
  run touch ro/probe
  assert_status 1  # really read-only
  local art
  art=$(gen valid v3)
  run "$EXEC" deploy -p art/test.pub "$art" ro
  assert_status 125
  assert_contains "$err" "droot-exec: error: cannot open the lock file ro/.droot.lock: Read-only file system"
  assert_contains "$err" "read-only filesystem"
  # pruning only ever happens inside a deploy: a deploy that would prune is refused the same way
  run "$EXEC" deploy --keep 1 -p art/test.pub "$art" ro
  assert_status 125
  assert_contains "$err" "ro/.droot.lock: Read-only file system"
  run "$EXEC" rollback ro
  assert_status 125
  assert_contains "$err" "ro/.droot.lock: Read-only file system"
  run bash -c "cat '$art' | '$EXEC' deploy -p art/test.pub - ro"
  assert_status 125
  assert_contains "$err" "Read-only file system"
  assert_eq "$before" "$(snapshot dest)" "DEST changed"
  # reading works
  run "$EXEC" list ro
  assert_status 0
  assert_contains "$out" "*  $(current_release dest)"
  run "$EXEC" check ro
  assert_status 0
  assert_contains "$out" "clean"
  run "$EXEC" verify -p art/test.pub "$art"
  assert_status 0
  # a new DEST below a read-only mount
  run "$EXEC" deploy -p art/test.pub "$art" ro/sub
  assert_status 125
  assert_contains "$err" "cannot create ro/sub: Read-only file system"
}

test_releases_on_a_read_only_filesystem_refuses_deploy_but_rollback_works() {
  deploy_ok "$(gen valid v1)" dest
  deploy_ok "$(gen valid v2)" dest
  local releases_before
  releases_before=$(snapshot dest/releases)
  ro_bind dest/releases dest/releases
  run "$EXEC" deploy -p art/test.pub "$(gen valid v3)" dest
  assert_status 125
  assert_contains "$err" "dest/releases: Read-only file system"
  assert_eq "v2" "$(cat dest/current/srv/version)"
  # rollback writes only DEST/current
  run "$EXEC" rollback dest
  assert_status 0
  assert_eq "v1" "$(cat dest/current/srv/version)"
  assert_eq "$releases_before" "$(snapshot dest/releases)"
  assert_no_temp dest
}

# `current` pointing at a release removed by hand: list shows it and fails, run and check fail naming the
# link and its target, rollback goes to the newest release older than the missing one (as if it were there)
# with a warning, and the next deploy repairs DEST.
test_current_pointing_at_a_deleted_release() {
  deploy_ok "$(gen valid v1)" dest
  local first
  first=$(current_release dest)
  deploy_ok "$(gen valid v2)" dest
  local gone
  gone=$(current_release dest)
  rm -rf "dest/releases/$gone"
  local text="dest/current points to releases/$gone, which does not exist"
  run "$EXEC" list dest
  assert_status 125
  assert_contains "$out" "*  $gone"
  assert_contains "$out" "(missing: $text"
  assert_contains "$out" "   $first"
  assert_contains "$err" "droot-exec: error: list: dest is damaged: $gone: missing"
  run "$EXEC" list --json dest
  assert_status 125
  assert_eq "$gone" "$(jq -r .current <<<"$out")"
  assert_eq "true" "$(jq -r ".releases[] | select(.name == \"$gone\") | .current" <<<"$out")"
  assert_contains "$(jq -r ".releases[] | select(.name == \"$gone\") | .error" <<<"$out")" "does not exist"
  run "$EXEC" check dest
  assert_status 125
  assert_contains "$err" "droot-exec: error: check: $text"
  run "$EXEC" run dest /bin/hello
  assert_status 125
  assert_contains "$err" "droot-exec: error: run: $text"
  assert_contains "$err" "droot-exec rollback dest"
  # rollback: to the release before the missing one
  cp -a dest dest2
  run "$EXEC" rollback dest
  assert_status 0
  assert_contains "$err" "warning: dest/current pointed to releases/$gone, which does not exist"
  assert_eq "$first" "$(current_release dest)"
  run "$EXEC" check dest
  assert_status 0
  # nothing older than a missing oldest release: a clear error, current untouched
  rm -rf "dest2/releases/$first"
  ln -sfn "releases/$first" dest2/current
  run "$EXEC" rollback dest2
  assert_status 125
  assert_contains "$err" "dest2/current points to releases/$first, which does not exist"
  assert_contains "$err" "no release is older"
  assert_eq "releases/$first" "$(readlink dest2/current)"
  # deploy repairs it
  ln -sfn "releases/$gone" dest2/current
  deploy_ok "$(gen valid v3)" dest2
  assert_eq "v3" "$(cat dest2/current/srv/version)"
  run "$EXEC" list dest2
  assert_status 0
  run "$EXEC" check dest2
  assert_status 0
}

# Root reads everything (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): droot-exec runs here as root without those
# two capabilities, so a mode-000 release is really unreadable to it, as it would be to a non-root operator or
# under an LSM denial.
without_dac() {
  setpriv --bounding-set=-dac_override,-dac_read_search --inh-caps=-dac_override,-dac_read_search "$@"
}

test_unreadable_release_gives_clear_errors_naming_it() {
  deploy_ok "$(gen valid v1)" dest
  local old
  old=$(current_release dest)
  deploy_ok "$(gen valid v2)" dest
  local cur
  cur=$(current_release dest)
  # control: without DAC capabilities, a readable DEST lists fine
  run without_dac "$EXEC" list dest
  assert_status 0
  # and check names the directory of the release it cannot read (the image's 0750 /home/app)
  run without_dac "$EXEC" check dest
  assert_status 125
  assert_contains "$err" "dest/releases/$cur/home/app: Permission denied"
  chmod 000 "dest/releases/$cur"
  trap 'chmod 755 "$TEST_TMP/dest/releases/"*' EXIT
  run without_dac "$EXEC" check dest
  assert_status 125
  assert_contains "$err" "droot-exec: error: check: cannot open the current release dest/releases/$cur: Permission denied"
  run without_dac "$EXEC" list dest
  assert_status 125
  assert_contains "$out" "   $old"  # the readable release is still listed, with its image
  assert_contains "$out" "*  $cur"
  assert_contains "$out" "(cannot open dest/releases/$cur/.droot/config.json: Permission denied)"
  assert_contains "$err" "droot-exec: error: list: dest is damaged: $cur"
  run without_dac "$EXEC" run dest /bin/hello
  assert_status 125
  assert_contains "$err" "droot-exec: error: run: cannot read the current release $TEST_TMP/dest/releases/$cur: Permission denied"
  # an unreadable release that is not current: list fails naming it, check of current is unaffected
  chmod 755 "dest/releases/$cur"
  chmod 000 "dest/releases/$old"
  run without_dac "$EXEC" list dest
  assert_status 125
  assert_contains "$err" "dest is damaged: $old: cannot open dest/releases/$old/.droot/config.json: Permission denied"
  assert_not_contains "$err" "$cur"
  # a rootfs given directly (ROOT), and a control that the same run works once it is readable
  build_busybox_rootfs bb
  chmod 000 bb
  run without_dac "$EXEC" run bb /bin/true
  assert_status 125
  assert_contains "$err" "droot-exec: error: run: cannot read the rootfs $TEST_TMP/bb: Permission denied"
  chmod 755 bb
  run without_dac "$EXEC" run bb /bin/sh -c 'echo ran'
  assert_status 0
  assert_eq "ran" "$out"
}
