# shellcheck shell=bash
# Hostile artifacts (tests/hostile/hostile_gen.cc builds each from scratch and signs it with the test key):
# for each, the exit status of verify and deploy, the error naming the entry or the check that failed, and
# DEST byte-for-byte as before with no temporary directory left. No docker needed.
source "$DROOT_SRC/tests/integration/deploy_lib.sh"

# refused CASE VERIFY_STATUS TEXT...: verify exits VERIFY_STATUS (0 when the signature is fine and only
# extraction can tell), deploy exits REFUSED_STATUS (default 125) naming every TEXT, and DEST (with a release
# already live) is unchanged.
refused() {
  local case="$1" verify_status="$2" deploy_status="${REFUSED_STATUS:-125}"
  shift 2
  deployed_dest dest
  local art before
  art=$(gen "$case")
  before=$(snapshot dest)
  run "$EXEC" verify -p art/test.pub "$art"
  assert_status "$verify_status"
  run "$EXEC" deploy -p art/test.pub "$art" dest
  assert_status "$deploy_status"
  local text
  for text in "$@"; do assert_contains "$err" "$text"; done
  assert_contains "$err" "droot-exec: error: "
  assert_eq "$before" "$(snapshot dest)" "DEST changed by a refused deploy of $case"
  assert_no_temp dest
  # from a pipe, the same
  run bash -c "cat '$art' | '$EXEC' deploy -p art/test.pub - dest"
  assert_status "$deploy_status"
  assert_eq "$before" "$(snapshot dest)"
}

test_dotdot_entry() { refused dotdot 0 "entry '../escape': path has a '..' component"; }
test_dotdot_inside_a_path() { refused dotdot-inner 0 "entry 'bin/../../escape'" "'..'"; }
test_absolute_path() {
  refused absolute 0 "entry '/tmp/droot-hostile-absolute': absolute path"
  assert_no_file /tmp/droot-hostile-absolute
}
test_write_through_symlinked_directory() {
  refused symlink-dir-write 0 "entry 'evil/pwned'" "a symlink is in the way"
  assert_no_file /tmp/droot-hostile-victim/pwned
}
test_write_through_symlink_that_stays_inside() {
  refused symlink-inner-write 0 "entry 'etc/lib/x'" "a symlink is in the way"
}
test_file_over_earlier_symlink() {
  refused symlink-file-write 0 "entry 'zz': a second entry for the same path"
  assert_no_file /tmp/droot-hostile-victim/file
}
test_metadata_directory_as_symlink() { refused metadata-symlink 0 "entry '.droot': the name is reserved"; }
test_hardlink_to_absolute_path() { refused hardlink-outside 0 "entry 'zz-shadow'" "'/etc/shadow': absolute path"; }
test_hardlink_escaping_with_dotdot() { refused hardlink-dotdot 0 "entry 'zz-shadow'" "'..' component"; }
test_hardlink_to_later_entry() { refused hardlink-later 0 "entry 'bin/early'" "not an earlier entry"; }
test_hardlink_to_symlink() { refused hardlink-symlink 0 "entry 'etc/editor.hard'" "not a regular file"; }
test_char_device() { refused device-char 0 "entry 'zz-null': a device node" "--allow-devices"; }
test_block_device() { refused device-block 0 "entry 'zz-sda': a device node"; }
test_fifo() { refused fifo 0 "entry 'zz-fifo': a FIFO"; }
# An artifact of a droot-pack that did not drop the special files under dev/ yet: still refused, and told why.
test_device_under_dev_from_an_older_droot_pack() {
  refused device-under-dev 0 "entry 'dev/full': a device node under dev/, where droot-exec run mounts its own /dev" \
    "droot-pack now drops these, so re-pack the image" "--allow-devices"
  deploy_ok "$(gen device-under-dev)" dest2 --allow-devices
  [ -c dest2/current/dev/full ] && [ -p dest2/current/dev/initctl ] || fail "dev/full or dev/initctl not created"
}
test_duplicate_file() { refused duplicate-file 0 "entry 'etc/passwd': a second entry for the same path"; }
test_duplicate_directory() { refused duplicate-dir 0 "entry 'etc/': a second entry"; }
test_file_bytes_differ_from_manifest() { refused content-differs 0 "modified 'etc/passwd': content differs"; }
test_entry_missing_from_manifest() { refused not-in-manifest 0 "extra 'zz-extra': in the archive but not in the manifest"; }
test_manifest_entry_missing_from_archive() { refused missing-from-archive 0 "missing 'zz-missing'"; }
test_mode_differs_from_manifest() { refused mode-differs 0 "mode 'bin/su': mode 4755, manifest says 0755"; }
test_no_manifest() { refused no-manifest 0 "no .droot/manifest.mtree"; }
test_entry_after_manifest() { refused after-manifest 0 "entry 'zz-late': comes after .droot/manifest.mtree"; }
# A frame index (droot-artifact(5)) is read only once the payload is verified; a malformed one is refused by
# verify and deploy alike, a well-formed one changes nothing about what is deployed.
test_malformed_frame_index() {
  refused bad-frame-index 125 "bad-frame-index.tar.zst: the payload's frame index is malformed (its frames are larger than the payload)" \
    "pack it again"
}
test_frame_index_is_accepted() {
  local art
  art=$(gen frame-index)
  run "$EXEC" verify -p art/test.pub "$art"
  assert_status 0
  assert_contains "$out" "zstd frames: 1, indexed"
  run "$EXEC" verify --json -p art/test.pub "$art"
  assert_contains "$out" '"frames":1'
  deploy_ok "$art" dest
  assert_eq "$(cat dest/current/srv/version)" "v1"
}
# Content frames (droot-artifact(5), "Frame index"): a large file's content frame whose object DEST already
# holds is not decoded. An index that lies about one is refused whether DEST holds the object (the frame is
# skipped) or not (it is decoded), and DEST is left as it was.
test_content_frame_of_a_stored_object_is_not_decoded() {
  deploy_ok "$(gen framed v1)" dest
  local before
  before=$(readlink -f dest/current)
  run "$EXEC" deploy --json -p art/test.pub "$(gen framed v2)" dest
  assert_status 0
  assert_contains "$out" '"not_decoded_files":1,'
  assert_eq "$(cat dest/current/srv/version)" "v2"
  cmp "$before/srv/big" dest/current/srv/big || fail "srv/big differs between the releases"
  [ "$(stat -c %i "$before/srv/big")" = "$(stat -c %i dest/current/srv/big)" ] ||
    fail "srv/big is not the stored object of the first release"
  run "$EXEC" check dest
  assert_status 0
}
# refused_over BASE CASE TEXT...: CASE (variant v2) refused by a deploy into a DEST holding BASE (v1), naming
# every TEXT, and DEST unchanged.
refused_over() {
  local base="$1" case="$2" art before text
  shift 2
  rm -rf dest
  deploy_ok "$(gen "$base" v1)" dest
  art=$(gen "$case" v2)
  before=$(snapshot dest)
  run "$EXEC" deploy -p art/test.pub "$art" dest
  assert_status 125
  for text in "$@"; do assert_contains "$err" "$text"; done
  assert_eq "$before" "$(snapshot dest)" "DEST changed by a refused deploy of $case"
  assert_no_temp dest
}
test_content_frame_keyed_as_other_content() {
  # skipped (DEST holds the object it names): the manifest comparison catches it
  refused_over framed framed-lies-content "modified 'srv/big': content differs"
  # decoded (DEST does not): the content is checked against the key
  refused_over valid framed-lies-content "entry 'srv/big': its content (sha256" "is not what the frame index's key for it says"
}
test_content_frame_keyed_with_another_mode() {
  refused_over framed framed-lies-header "entry 'srv/big': its tar header does not match the frame index's key" "mode 0644"
  refused_over valid framed-lies-header "entry 'srv/big': its tar header does not match the frame index's key"
}
test_flipped_byte_in_payload() { refused flip-payload 125 "flip-payload.tar.zst: signature verification failed"; }
test_flipped_byte_in_trailer_signature() { refused flip-trailer 125 "signature verification failed"; }
test_flipped_byte_in_trusted_comment() { refused flip-comment 125 "trusted comment"; }
test_signed_by_untrusted_key() { refused wrong-key 125 "which is not a trusted key"; }
test_key_id_of_trusted_key_on_foreign_signature() { refused keyid-mismatch 125 "signature verification failed"; }
test_truncated_file() { refused truncated 125 "truncated.tar.zst"; }
test_truncated_tail() { refused truncated-tail 125 "truncated-tail.tar.zst"; }
test_unsigned() { refused unsigned 125 "not signed"; }

test_devices_extract_with_allow_devices() {
  deploy_ok "$(gen device-char)" dest --allow-devices
  assert_eq "character special file 1:3" "$(stat -c '%F %t:%T' dest/current/zz-null)"
  deploy_ok "$(gen fifo)" dest2 --allow-devices
  [ -p dest2/current/zz-fifo ] || fail "fifo not created"
}

test_dot_entry_does_not_chmod_the_release_root() {
  deploy_ok "$(gen dot-entry)" dest
  assert_eq "755" "$(stat -c %a "dest/releases/$(current_release dest)")"
}

test_a_key_file_in_the_keys_dir_is_used_without_p() {
  local art
  art=$(gen valid)
  mkdir keys && cp art/test.pub keys/
  DROOT_KEYS_DIR="$TEST_TMP/keys" run "$EXEC" deploy "$art" dest
  assert_status 0
  mkdir nokeys
  DROOT_KEYS_DIR="$TEST_TMP/nokeys" run "$EXEC" deploy "$art" dest2
  assert_status 125
  assert_contains "$err" "no trusted public keys"
  assert_no_file dest2/current
}

# Deltas (droot-artifact(5), "Delta artifacts"): DEST holds "valid" v1, the base every delta case names.
test_delta_whose_base_objects_are_missing() {
  REFUSED_STATUS=3 refused delta-missing-base 0 "is a delta against test:1" "does not hold 1 of the 5 files it takes from there" \
    "'zz-nowhere'" "deploy the full artifact instead"
}
test_delta_that_ships_a_file_it_also_takes_from_the_base() {
  refused delta-ships-listed 0 "entry 'etc/passwd': a second entry for the same path"
}
test_delta_list_in_an_artifact_that_is_not_a_delta() {
  refused delta-unannounced 0 "entry '.droot/delta.mtree'" "does not say this is a delta"
}
test_delta_signed_by_untrusted_key() { refused delta-wrong-key 125 "which is not a trusted key"; }
