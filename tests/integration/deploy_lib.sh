# shellcheck shell=bash
# Helpers shared by deploy_test.sh and hostile_test.sh (sourced by them; not a test file itself).
# Artifacts come from tests/hostile/hostile_gen.cc, so no docker and no droot-pack are needed.

# gen CASE [ARG]: builds $TEST_TMP/art/CASE.tar.zst (or .tar.gz) and prints its path. The trusted key is
# $TEST_TMP/art/test.pub, made on first use.
gen() {
  "$DROOT_BUILD/tests/droot-hostile-gen" "$1" "$TEST_TMP/art" "${2:-}"
}

# deploy_ok ARTIFACT DEST [OPTIONS...]: a deploy that must succeed.
deploy_ok() {
  local artifact="$1" dest="$2"
  shift 2
  run "$EXEC" deploy -q -p "$TEST_TMP/art/test.pub" "$@" "$artifact" "$dest"
  assert_status 0
}

# The release `current` points to, as a name.
current_release() {
  readlink "$1/current" | sed 's|^releases/||'
}

release_count() {
  find "$1/releases" -mindepth 1 -maxdepth 1 -name '2*' | wc -l
}

assert_no_temp() {  # DEST: no half-built release, no half-made `current` link
  local left
  left=$(find "$1" "$1/releases" -maxdepth 1 \( -name '.tmp-*' -o -name '.current.tmp-*' \) 2>/dev/null)
  [ -z "$left" ] || fail "temporary files left in $1: $left"
}

# A DEST with one valid release deployed, for "nothing changed" checks: prints nothing.
deployed_dest() {  # DEST
  deploy_ok "$(gen valid)" "$1"
}
