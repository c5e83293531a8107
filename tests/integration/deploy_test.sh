# shellcheck shell=bash
# droot-exec deploy, rollback, list, check on artifacts from droot-hostile-gen, and the faults of issue 5:
# disk full, SIGKILL and SIGTERM mid-deploy, concurrent deploys, truncated stdin. No docker needed.
source "$DROOT_SRC/tests/integration/deploy_lib.sh"

test_deploy_creates_a_release_and_current() {
  local art
  art=$(gen valid)
  run "$EXEC" deploy -p art/test.pub "$art" dest
  assert_status 0
  assert_contains "$out" "deployed hostile:valid"
  local rel
  rel=$(current_release dest)
  [[ "$rel" =~ ^[0-9]{8}T[0-9]{6}-[0-9a-f]{12}$ ]] || fail "release name $rel"
  # the name ends with the first 12 hex of the payload sha256 that verify reports
  local sha
  sha=$("$EXEC" verify --json -p art/test.pub "$art" | sed 's/.*"payload_sha256":"\([0-9a-f]*\)".*/\1/')
  assert_eq "${sha:0:12}" "${rel#*-}"
  local r="dest/releases/$rel"
  assert_eq "hello from droot" "$(sh "$r/bin/hello")"
  assert_eq "4755" "$(stat -c %a "$r/bin/su")"
  assert_eq "1777" "$(stat -c %a "$r/tmp")"
  assert_eq "750 1234:2345" "$(stat -c '%a %u:%g' "$r/home/app")"
  assert_eq "/etc/alternatives/editor" "$(readlink "$r/etc/editor")"
  assert_eq "$(stat -c %i "$r/etc/motd")" "$(stat -c %i "$r/etc/motd.hard")"
  assert_contains "$(getcap "$r/bin/ping")" "cap_net_raw=ep"
  assert_eq "755" "$(stat -c %a "$r")"
  assert_file "$r/.droot/config.json"
  assert_file "$r/.droot/manifest.mtree"
  assert_file "$r/.drootenv"
  assert_no_temp dest
  # every file matches its manifest
  run "$EXEC" check dest
  assert_status 0
}

test_deploy_from_a_pipe_spools_in_dest_and_leaves_nothing() {
  local art
  art=$(gen valid)
  run bash -c "cat '$art' | '$EXEC' deploy -q -p art/test.pub - dest"
  assert_status 0
  assert_eq 1 "$(release_count dest)"
  # the spool is an O_TMPFILE: no name, nothing to clean
  assert_eq "" "$(find dest/releases -mindepth 1 -maxdepth 1 ! -name '2*')"
  assert_no_temp dest
}

test_deploy_gzip_artifact() {
  deploy_ok "$(gen valid-gzip)" dest
  run "$EXEC" check dest
  assert_status 0
}

test_unsigned_artifact_needs_insecure_unsigned() {
  local art
  art=$(gen unsigned)
  run "$EXEC" deploy -p art/test.pub "$art" dest
  assert_status 125
  assert_contains "$err" "not signed"
  assert_eq 0 "$(release_count dest)"
  run "$EXEC" deploy --insecure-unsigned "$art" dest
  assert_status 0
  assert_contains "$err" "not signed (accepted because of --insecure-unsigned)"
  assert_eq 1 "$(release_count dest)"
}

test_artifact_signed_by_debian_minisign_is_accepted() {
  local art
  art=$(gen payload-only)
  minisign -G -W -f -p mk.pub -s mk.sec >/dev/null
  minisign -S -s mk.sec -m "$art" -t "droot-artifact 1 image=hostile:payload-only" >/dev/null
  assert_file "$art.minisig"
  # the sidecar next to the artifact is found by itself
  run "$EXEC" deploy -p mk.pub "$art" dest
  assert_status 0
  # and --signature works from a pipe
  run bash -c "cat '$art' | '$EXEC' deploy -q -p mk.pub --signature '$art.minisig' - dest2"
  assert_status 0
  # our test key did not sign it
  run "$EXEC" deploy -p art/test.pub "$art" dest3
  assert_status 125
  assert_contains "$err" "not a trusted key"
}

test_deploy_json_summary() {
  run "$EXEC" deploy --json -p art/test.pub "$(gen valid)" dest
  assert_status 0
  local rel
  rel=$(current_release dest)
  assert_eq "$rel" "$(jq -r .release <<<"$out")"
  assert_eq "hostile:valid" "$(jq -r .image <<<"$out")"
  assert_eq "null" "$(jq -r .previous <<<"$out")"
  assert_eq "true" "$(jq -r .signed <<<"$out")"
}

test_rollback_to_previous_and_named_release() {
  deploy_ok "$(gen valid v1)" dest
  local first second
  first=$(current_release dest)
  deploy_ok "$(gen valid v2)" dest
  second=$(current_release dest)
  assert_ne "$first" "$second"
  assert_eq "v2" "$(cat dest/current/srv/version)"
  run "$EXEC" rollback dest
  assert_status 0
  assert_contains "$out" "releases/$first (was $second)"
  assert_eq "v1" "$(cat dest/current/srv/version)"
  # nothing older than the first
  run "$EXEC" rollback dest
  assert_status 125
  assert_contains "$err" "oldest release"
  # by unique prefix of the name
  run "$EXEC" rollback dest "${second:0:20}"
  assert_status 0
  assert_eq "$second" "$(current_release dest)"
  run "$EXEC" rollback dest 1999
  assert_status 125
  assert_contains "$err" "no release '1999'"
  assert_no_temp dest
}

test_keep_prunes_old_releases_but_never_current_or_its_predecessor() {
  local v names=()
  for v in 1 2 3 4; do
    deploy_ok "$(gen valid "v$v")" dest
    names+=("$(current_release dest)")
  done
  assert_eq 3 "$(release_count dest)"  # default --keep 3
  [ ! -e "dest/releases/${names[0]}" ] || fail "oldest release not pruned"
  # Roll back to v2, then deploy v5 with --keep 1. Kept: v5 (newest, current), v4 (its predecessor: what
  # `rollback` goes back to) and v2 (what was running before this deploy). v3 goes.
  "$EXEC" rollback -q dest "${names[1]}"
  deploy_ok "$(gen valid v5)" dest --keep 1
  assert_eq 3 "$(release_count dest)"
  assert_no_file "dest/releases/${names[2]}"
  assert_file "dest/releases/${names[1]}"
  assert_file "dest/releases/${names[3]}"
  assert_eq "v5" "$(cat dest/current/srv/version)"
  run "$EXEC" deploy -q --keep 0 -p art/test.pub "$(gen valid v6)" dest
  assert_status 125
  assert_contains "$err" "--keep must be at least 1"
}

test_list_shows_releases_image_and_current() {
  deploy_ok "$(gen valid v1)" dest
  deploy_ok "$(gen valid v2)" dest
  run "$EXEC" list --json dest
  assert_status 0
  assert_eq 2 "$(jq '.releases | length' <<<"$out")"
  assert_eq "$(current_release dest)" "$(jq -r .current <<<"$out")"
  assert_eq "false true" "$(jq -r '[.releases[].current] | join(" ")' <<<"$out")"
  assert_eq "hostile:valid" "$(jq -r '.releases[1].image' <<<"$out")"
  assert_contains "$(jq -r '.releases[1].id' <<<"$out")" "sha256:"
  [ "$(jq -r '.releases[1].size' <<<"$out")" -gt 0 ] || fail "size not reported"
  [[ "$(jq -r '.releases[0].deployed' <<<"$out")" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] || fail "deployed time"
  run "$EXEC" list dest
  assert_status 0
  assert_contains "$out" "*  $(current_release dest)"
  run "$EXEC" list nowhere
  assert_status 125
}

test_check_reports_drift_with_exit_1() {
  deploy_ok "$(gen valid)" dest
  run "$EXEC" check dest
  assert_status 0
  local r
  r="dest/releases/$(current_release dest)"
  echo tampered >>"$r/etc/passwd"
  chmod 0600 "$r/etc/motd"
  rm "$r/etc/editor"
  touch "$r/srv/planted"
  chown 1:1 "$r/srv/version"
  run "$EXEC" check dest
  assert_status 1
  assert_contains "$out" "modified etc/passwd"
  assert_contains "$out" "mode     etc/motd: mode 0600, manifest says 0644"
  assert_contains "$out" "missing  etc/editor"
  assert_contains "$out" "extra    srv/planted"
  assert_contains "$out" "owner    srv/version: owner 1:1, manifest says 0:0"
  # a ROOT directly, and JSON
  run "$EXEC" check --json "$r"
  assert_status 1
  assert_eq "false" "$(jq -r .clean <<<"$out")"
  assert_contains "$(jq -r '.differences[].kind' <<<"$out" | sort -u | tr '\n' ' ')" "extra missing mode modified owner"
  assert_eq "null" "$(jq -c .release <<<"$out")" "a ROOT is no release"
  # a DEST: which release, which image, and the differences counted by kind (what a fleet report shows)
  run "$EXEC" check --json dest
  assert_status 1
  assert_eq "$(current_release dest)" "$(jq -r .release <<<"$out")"
  assert_eq "hostile:valid" "$(jq -r .image.ref <<<"$out")"
  assert_contains "$(jq -r .image.id <<<"$out")" "sha256:"
  # counts agree with the list (etc/motd.hard is a hard link to etc/motd in the image: its mode drifted too)
  assert_eq "$(jq -cS '[.differences[].kind] | group_by(.) | map({(.[0]): length}) | add' <<<"$out")" "$(jq -cS .counts <<<"$out")"
  assert_eq "extra missing mode modified owner" "$(jq -r '.counts | keys | join(" ")' <<<"$out")"
  assert_eq "1 1 2 1 1" "$(jq -r '[.counts.extra, .counts.missing, .counts.mode, .counts.modified, .counts.owner] | map(tostring) | join(" ")' <<<"$out")"
  # a DEST where nothing was deployed, and a tree that was not deployed: errors, not drift
  mkdir -p empty/releases
  run "$EXEC" check empty
  assert_status 125
  assert_contains "$err" "has no current release"
  mkdir plain
  run "$EXEC" check plain
  assert_status 125
  assert_contains "$err" "manifest.mtree does not exist"
}

test_disk_full_leaves_current_and_no_temp() {
  mkdir small
  mount -t tmpfs -o size=3m tmpfs small
  trap 'umount -l "$TEST_TMP/small"' EXIT
  deployed_dest small/dest
  local before
  before=$(snapshot small/dest)
  run "$EXEC" deploy -p art/test.pub "$(gen big 8)" small/dest
  assert_status 125
  assert_contains "$err" "No space left on device"
  assert_eq "$before" "$(snapshot small/dest)" "DEST changed by a failed deploy"
  assert_no_temp small/dest
  # the same from stdin: the spool itself runs out of space
  run bash -c "cat '$TEST_TMP/art/big.tar.zst' | '$EXEC' deploy -p art/test.pub - small/dest"
  assert_status 125
  assert_eq "$before" "$(snapshot small/dest)"
  # and the filesystem is empty again apart from the release: nothing leaked
  [ "$(df --output=used -k small | tail -1)" -lt 1024 ] || fail "space not given back: $(df -k small)"
}

# Starts a deploy of a big artifact in the background and waits until it is extracting (a .tmp- dir exists),
# then stops it with SIGSTOP so the test can act at that exact point. Sets DEPLOY_PID.
start_deploy_and_catch_it_extracting() {  # ARTIFACT DEST
  "$EXEC" deploy -q -p art/test.pub "$1" "$2" 2>deploy.err &
  DEPLOY_PID=$!
  # Polls by time, not by a number of tries: verification of the 96 MiB artifact comes first, and how many
  # polls fit in it depends on how busy the machine is.
  local until=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$until" ]; do
    if compgen -G "$2/releases/.tmp-*" >/dev/null; then
      kill -STOP "$DEPLOY_PID"
      return 0
    fi
    kill -0 "$DEPLOY_PID" 2>/dev/null || break
  done
  fail "the deploy finished before it could be caught extracting"
}

test_sigkill_mid_deploy_then_next_deploy_cleans_up() {
  deployed_dest dest
  local before art
  before=$(readlink dest/current)
  art=$(gen big 96)
  start_deploy_and_catch_it_extracting "$art" dest
  kill -KILL "$DEPLOY_PID"
  wait "$DEPLOY_PID" || true
  assert_eq "$before" "$(readlink dest/current)"
  compgen -G "dest/releases/.tmp-*" >/dev/null || fail "expected the killed deploy's temp dir"
  run "$EXEC" deploy -p art/test.pub "$(gen valid v2)" dest
  assert_status 0
  assert_contains "$err" "left by an interrupted deploy"
  assert_no_temp dest
  assert_eq "v2" "$(cat dest/current/srv/version)"
  # and what the killed deploy had stored (linked only from its temporary tree) is gone with it
  assert_eq "" "$(find dest/objects -type f -links 1)"
}

test_sigterm_mid_deploy_cleans_up_and_exits_143() {
  deployed_dest dest
  local before
  before=$(snapshot dest)
  start_deploy_and_catch_it_extracting "$(gen big 96)" dest
  kill -TERM "$DEPLOY_PID"
  kill -CONT "$DEPLOY_PID"
  local rc=0
  wait "$DEPLOY_PID" || rc=$?
  assert_eq 143 "$rc"
  assert_contains "$(cat deploy.err)" "interrupted by signal 15"
  assert_eq "$before" "$(snapshot dest)"
  assert_no_temp dest
}

test_concurrent_deploys_are_serialised_and_current_is_always_complete() {
  deployed_dest dest
  local a b
  a=$(gen big 48)
  b=$(gen valid v2)
  "$EXEC" deploy -p art/test.pub "$a" dest >a.out 2>a.err &
  local pa=$!
  "$EXEC" deploy -p art/test.pub "$b" dest >b.out 2>b.err &
  local pb=$!
  # While they run, `current` must always name a complete release (its manifest is written last).
  while kill -0 "$pa" 2>/dev/null || kill -0 "$pb" 2>/dev/null; do
    local target
    target=$(readlink dest/current)
    [ -f "dest/$target/.droot/manifest.mtree" ] || fail "current -> $target is not a complete release"
  done
  wait "$pa" || fail "first deploy failed: $(cat a.err)"
  wait "$pb" || fail "second deploy failed: $(cat b.err)"
  assert_eq 3 "$(release_count dest)"
  assert_no_temp dest
  run "$EXEC" check dest
  assert_status 0
}

test_truncated_stdin_is_refused_and_nothing_is_extracted() {
  deployed_dest dest
  local before art size
  before=$(snapshot dest)
  art=$(gen valid v2)
  size=$(stat -c %s "$art")
  run bash -c "head -c $((size - 100)) '$art' | '$EXEC' deploy -p art/test.pub - dest"
  assert_status 125
  assert_contains "$err" "stdin"
  assert_eq "$before" "$(snapshot dest)"
  run bash -c "head -c 0 '$art' | '$EXEC' deploy -p art/test.pub - dest"
  assert_status 125
  assert_contains "$err" "empty"
  assert_eq "$before" "$(snapshot dest)"
}

# droot-exec never links an HTTP client, nor libseccomp (its filter is compiled in at build time). With the
# default -Dembed_libarchive=true, libarchive's code is inside the binary and none of the ten libraries the
# shared libarchive drags in (libxml2, ICU, nettle…) is loaded; libcrypto stays the system's shared library
# (for its security updates), opened when first needed with the default -Dlazy_libcrypto=true.
test_droot_exec_links_only_what_it_needs() {
  if ! ldd "$EXEC" >ldd.out 2>&1; then
    assert_contains "$(cat ldd.out)" "not a dynamic executable"
    return 0
  fi
  assert_not_contains "$(cat ldd.out)" "libcurl"
  assert_not_contains "$(cat ldd.out)" "libseccomp"
  if grep -q "libcrypto.so" ldd.out; then
    echo "libcrypto is loaded at start-up in this build (-Dlazy_libcrypto=false)"
  else
    # loaded by name when first needed (libcrypto_lazy.cc), OpenSSL 3's shared library and nothing else
    assert_contains "$(strings "$EXEC" | grep -x 'libcrypto.so.3' || true)" "libcrypto.so.3"
  fi
  if grep -q "libarchive.so" ldd.out; then
    echo "libarchive is shared in this build (-Dembed_libarchive=false)"
  else
    assert_not_contains "$(cat ldd.out)" "libxml2"
    assert_not_contains "$(cat ldd.out)" "libicu"
    assert_not_contains "$(cat ldd.out)" "libnettle"
    assert_contains "$(strings "$EXEC" | grep '^libarchive 3' || true)" "libarchive 3"
  fi
}

# With -Dlazy_libcrypto (the default), a server without libcrypto still runs releases, and the commands that
# verify say what is missing before they write anything. (A build that links libcrypto at start-up cannot
# start at all there: that is checked instead. The static build has its own copy and is not concerned.)
test_without_libcrypto_run_works_and_verify_deploy_fail_clearly() {
  if ! ldd "$EXEC" >ldd.out 2>&1; then
    assert_contains "$(cat ldd.out)" "not a dynamic executable"
    return 0
  fi
  local lazy=1
  grep -q "libcrypto.so" ldd.out && lazy=0
  deployed_dest dest
  build_busybox_rootfs root
  mkdir -p root/proc root/dev
  local before lib
  before=$(current_release dest)
  lib=$(readlink -f "$(ldconfig -p | awk '/libcrypto\.so\.3 .*x86-64/ {print $NF; exit}')")
  [ -f "$lib" ] || fail "cannot find the system's libcrypto.so.3 ($lib)"
  # A private mount namespace where libcrypto.so.3 is /dev/null; the host's stays as it is.
  cat >nocrypto.sh <<EOS
mount --make-rprivate / || exit 1
mount --bind /dev/null '$lib' || exit 1
'$EXEC' run root sh -c 'echo ran without libcrypto' >run.out 2>run.err; echo \$? >run.rc
'$EXEC' verify -p art/test.pub '$(gen valid v2)' >verify.out 2>verify.err; echo \$? >verify.rc
'$EXEC' deploy -p art/test.pub '$(gen valid v2)' dest >deploy.out 2>deploy.err; echo \$? >deploy.rc
EOS
  unshare -m bash nocrypto.sh || fail "the namespace script failed"
  if [ $lazy = 1 ]; then
    assert_eq "0" "$(cat run.rc)"
    assert_eq "ran without libcrypto" "$(cat run.out)"
    assert_eq "125" "$(cat verify.rc)"
    assert_contains "$(cat verify.err)" "droot-exec: error: cannot load libcrypto.so.3"
    assert_contains "$(cat verify.err)" "install the libssl3 package"
    assert_eq "125" "$(cat deploy.rc)"
    assert_contains "$(cat deploy.err)" "cannot load libcrypto.so.3"
  else
    # the dynamic loader refuses to start droot-exec at all, whatever the command
    assert_eq "127" "$(cat run.rc)"
    assert_contains "$(cat run.err)" "libcrypto.so.3"
    assert_eq "127" "$(cat deploy.rc)"
  fi
  assert_eq "$before" "$(current_release dest)"
  assert_eq "1" "$(ls dest/releases | wc -l)"
  assert_no_temp dest
  # and with the library back, the same binary verifies
  run "$EXEC" verify -q -p art/test.pub "$(gen valid v2)"
  assert_status 0
}

test_planted_symlinks_in_dest_are_never_followed() {
  deployed_dest dest
  mkdir victim && echo keep >victim/keep
  # a "stale temp dir" that is really a symlink to somewhere else, and a real one holding a symlink out
  ln -s "$TEST_TMP/victim" dest/releases/.tmp-planted
  mkdir dest/releases/.tmp-real && ln -s "$TEST_TMP/victim" dest/releases/.tmp-real/out
  deploy_ok "$(gen valid v2)" dest
  assert_eq "keep" "$(cat victim/keep)"
  assert_no_temp dest
  # DEST/releases itself as a symlink is refused, and the lock file is never created through a symlink
  mkdir other
  mkdir dest2 && ln -s "$TEST_TMP/other" dest2/releases
  run "$EXEC" deploy -p art/test.pub "$(gen valid v3)" dest2
  assert_status 125
  assert_contains "$err" "dest2/releases is not a directory"
  mkdir dest3 && ln -s "$TEST_TMP/victim/lockfile" dest3/.droot.lock
  run "$EXEC" deploy -p art/test.pub "$(gen valid v3)" dest3
  assert_status 125
  assert_contains "$err" "lock file"
  assert_no_file victim/lockfile
}

# The object store (droot-exec(1), "deploy layout"): every regular file once, releases hard-link it.
inode() { stat -c %i "$1"; }

test_releases_share_unchanged_files_through_the_store() {
  deploy_ok "$(gen valid v1)" dest
  local r1 r2
  r1=dest/releases/$(current_release dest)
  run "$EXEC" deploy --json -p art/test.pub "$(gen valid v2)" dest
  assert_status 0
  assert_contains "$out" '"stored_files":1}'  # only srv/version is new
  r2=dest/releases/$(current_release dest)
  assert_eq "$(inode "$r1/bin/hello")" "$(inode "$r2/bin/hello")"
  assert_eq "$(inode "$r1/bin/ping")" "$(inode "$r2/bin/ping")"  # the capability is part of the key: same one
  [ "$(inode "$r1/srv/version")" != "$(inode "$r2/srv/version")" ] || fail "srv/version differs but is one inode"
  assert_eq "v2" "$(cat "$r2/srv/version")"
  assert_contains "$(getcap "$r2/bin/ping")" "cap_net_raw=ep"
  assert_eq "4755 0:0" "$(stat -c '%a %u:%g' "$r2/bin/su")"
  assert_eq "3" "$(stat -c %h "$r2/bin/su")"  # the store's name and the two releases'
  # objects are named by their key and not reachable for others
  assert_eq "700" "$(stat -c %a dest/objects)"
  assert_eq "9" "$(find dest/objects -type f | wc -l)"  # 7 shared (motd and its hard link: one), 2 srv/version
  local sha
  sha=$(sha256sum "$r2/bin/hello" | cut -c1-64)
  assert_file "dest/objects/${sha:0:2}/${sha:2}-0755-0-0-1700000000.000000000"
  run "$EXEC" list --json dest
  assert_status 0
  assert_contains "$out" '"store":{"bytes":153,"objects":9}'
  run "$EXEC" list dest
  assert_contains "$out" "store: 9 objects, 153 bytes"
  run "$EXEC" check dest
  assert_status 0
}

test_prune_removes_the_objects_nothing_links_any_more() {
  local v
  for v in v1 v2 v3 v4; do deploy_ok "$(gen valid $v)" dest --keep 1; done
  assert_eq 2 "$(release_count dest)"  # v4 and its predecessor v3
  # 7 shared objects and the srv/version of v3 and v4; those of v1 and v2 are gone with their releases
  assert_eq "9" "$(find dest/objects -type f | wc -l)"
  assert_eq "0" "$(find dest/objects -type f -links 1 | wc -l)"
  local versions
  versions=$(cat $(find dest/objects -type f -size -4c) | sort | tr -d '\n')
  assert_eq "v3v4" "$versions"
}

test_a_refused_deploy_leaves_no_object_behind() {
  deploy_ok "$(gen valid v1)" dest
  local before
  before=$(find dest/objects | sort)
  run "$EXEC" deploy -q -p art/test.pub "$(gen content-differs v9)" dest
  assert_status 125
  assert_eq "$before" "$(find dest/objects | sort)"
}

test_delta_onto_its_base_gives_the_tree_of_the_full_artifact() {
  deploy_ok "$(gen valid v1)" dest
  run "$EXEC" deploy --json -p art/test.pub "$(gen delta v2)" dest
  assert_status 0
  assert_contains "$out" '"delta":true'
  assert_contains "$out" '"from_base":4'
  assert_contains "$out" '"stored_files":1}'
  deploy_ok "$(gen valid v2)" full
  local a b
  tree() { (cd "$1" && find . -path ./.droot -prune -o -printf '%p %y %m %U:%G %s %l\n' | sort && find . -type f ! -path './.droot/*' -exec sha256sum {} + | sort); }
  a=$(tree "dest/releases/$(current_release dest)")
  b=$(tree "full/releases/$(current_release full)")
  assert_eq "$b" "$a"
  assert_contains "$(getcap "dest/releases/$(current_release dest)/bin/ping")" "cap_net_raw=ep"
  run "$EXEC" check dest
  assert_status 0
  assert_contains "$out" "clean"
  # verify says what it is
  run "$EXEC" verify -p art/test.pub art/delta.tar.zst
  assert_contains "$out" "delta"
  assert_contains "$out" "base test:1"
}

test_delta_into_an_empty_dest_is_refused_and_names_the_way_out() {
  run "$EXEC" deploy -p art/test.pub "$(gen delta v2)" dest
  assert_status 3  # its own status: a rollout tool falls back to the full artifact on it
  assert_contains "$err" "is a delta against test:1"
  assert_contains "$err" "does not hold 4 of the 4 files it takes from there"
  assert_contains "$err" "deploy the full artifact instead"
  assert_eq "0" "$(release_count dest)"
  [ ! -e dest/current ] || fail "current made by a refused delta"
  assert_eq "" "$(find dest/objects -type f)"
}

test_a_damaged_object_is_never_linked_again() {
  deploy_ok "$(gen valid v1)" dest
  local r1 sha obj
  r1=dest/releases/$(current_release dest)
  sha=$(sha256sum "$r1/etc/passwd" | cut -c1-64)
  obj=$(echo dest/objects/${sha:0:2}/${sha:2}-*)
  echo "evil::0:0::/:/bin/sh" >>"$obj"  # root on the server writes into the store
  run "$EXEC" check dest
  assert_status 1
  assert_contains "$out" "etc/passwd"
  # check --objects reads the whole store: the object is named, with the sha256 it has now
  run "$EXEC" check --objects dest
  assert_status 1
  assert_contains "$out" "damaged  objects/${sha:0:2}/${sha:2}-0644-0-0-1700000000.000000000: content differs (sha256 $(sha256sum <"$obj" | cut -c1-64))"
  assert_contains "$out" "objects: 8 checked"
  run "$EXEC" check --objects --json dest
  assert_eq "false 1" "$(jq -r '"\(.clean) \(.objects.damaged | length)"' <<<"$out")"
  # a delta that needs it is refused, naming it
  run "$EXEC" deploy -p art/test.pub "$(gen delta v2)" dest
  assert_status 3
  assert_contains "$err" "and dest holds 1 of the 4 files it takes from there damaged on disk (run droot-exec check --objects dest)"
  # a full artifact brings the content: a fresh object, the damaged one loses its name
  deploy_ok "$(gen valid v2)" dest
  local r2
  r2=dest/releases/$(current_release dest)
  # the object's name now holds the fresh content; r1 keeps the damaged inode (check reports it there)
  assert_eq "$sha" "$(sha256sum <"$obj" | cut -c1-64)"
  [ "$(sha256sum <"$r1/etc/passwd" | cut -c1-64)" != "$sha" ] || fail "r1 lost its damaged inode"
  [ "$(inode "$r1/etc/passwd")" != "$(inode "$r2/etc/passwd")" ] || fail "the damaged object was linked into the new release"
  assert_eq "$sha" "$(sha256sum "$r2/etc/passwd" | cut -c1-64)"
  run "$EXEC" check dest
  assert_status 0
  run "$EXEC" check --objects dest  # the store is whole again: the damaged inode has no object name any more
  assert_status 0
  assert_contains "$out" "0 damaged"
  run "$EXEC" check "$r1"
  assert_status 1
}

test_an_older_image_is_refused_unless_allow_downgrade() {
  deploy_ok "$(gen valid v1)" dest
  local cur
  cur=$(current_release dest)
  run "$EXEC" deploy -p art/test.pub "$(gen older)" dest
  assert_status 125
  assert_contains "$err" "(created 2022-11-14T22:13:20Z) is older than the current release's hostile:valid (created 2023-11-14T22:13:20Z"
  assert_contains "$err" "droot-exec rollback dest"
  assert_contains "$err" "--allow-downgrade"
  assert_eq "$cur" "$(current_release dest)"
  assert_eq 1 "$(release_count dest)"
  deploy_ok art/older.tar.zst dest --allow-downgrade
  [ "$(current_release dest)" != "$cur" ] || fail "--allow-downgrade did not deploy"
}
