# shellcheck shell=bash
# droot-exec run: the jail, with real namespaces, mounts and cgroups (run as root; no docker needed).
# Helpers written in C live in tests/jail/ and are compiled statically at test time.

# jail_root DIR [CONFIG]: a busybox rootfs; CONFIG is the inside of config.json's "config" object.
jail_root() {
  build_busybox_rootfs "$1"
  mkdir -p "$1/proc" "$1/dev" "$1/mnt"
  : >"$1/etc/resolv.conf"
  : >"$1/etc/hosts"
  if [ $# -ge 2 ]; then
    mkdir -p "$1/.droot"
    printf '{"droot_artifact":1,"image":{"ref":"droot-test/run:1"},"config":{%s}}\n' "$2" >"$1/.droot/config.json"
  fi
}

# jail_helper NAME DEST: tests/jail/NAME.c, static, at DEST; a prebuilt copy from $DROOT_JAIL_HELPERS if set
# (tests/kernel/run-guest builds them on the host: a guest may have no compiler).
jail_helper() {
  if [ -n "${DROOT_JAIL_HELPERS:-}" ]; then
    cp "$DROOT_JAIL_HELPERS/$1" "$2"
  else
    cc -static -O1 -o "$2" "$DROOT_SRC/tests/jail/$1.c"
  fi
}

# The matrix: tools/test runs this file once as it is and once more with DROOT_USERNS=auto, so every test here
# also holds for `run --userns` (own user namespace, idmapped release). Where the two must differ, a test
# asks userns_on and says why.
userns_on() { [ -n "${DROOT_USERNS:-}" ] && [ "$DROOT_USERNS" != off ] && [ "$DROOT_USERNS" != none ]; }
# Each test its own registry of ranges (userns_registry.h), so tests never see each other's.
export DROOT_USERNS_REGISTRY="$TEST_TMP/userns-ranges"

# jail_root_id TARGET: the host uid (and gid) of the jail's root in runs of TARGET: 0, or with --userns the
# BASE of its range — from DEST/userns or the registry; a first run chooses it.
jail_root_id() {
  userns_on || { echo 0; return; }
  local key id registry="${DROOT_USERNS_REGISTRY:-/var/lib/droot/userns-ranges}"
  key="$(realpath "$1")"
  for _ in 1 2; do
    if [ -f "$key/userns" ]; then cut -d: -f1 "$key/userns"; return; fi
    id="$(awk -v k="$key" '{ p = substr($0, index($0, " ") + 1) } p == k { split($1, a, ":"); print a[1] }' "$registry" 2>/dev/null)"
    [ -n "$id" ] && { echo "$id"; return; }
    "$EXEC" run --read-only "$1" true >/dev/null 2>&1 || true
  done
  fail "no --userns range recorded for $1"
}

# jail_owns PATH TARGET: hands the host's PATH to the jail's root of TARGET, as an operator does for a --bind
# source the service writes (nothing to do without --userns: the jail's root is the host's).
jail_owns() {
  local id
  id="$(jail_root_id "$2")"
  chown -R "$id:$id" "$1"
}

# The host's mount table without the lines of other test runs that may be going on at the same time.
host_mounts() {
  awk -v mine="$TEST_TMP" 'index($0, "/tmp/droot-it.") == 0 || index($0, mine) > 0' /proc/self/mountinfo
}

run_cgroups_left() {
  { find /sys/fs/cgroup -maxdepth 6 -type d -name 'droot-run-*' 2>/dev/null || true; } | wc -l
}

# status_line FIELD: "FIELD: value" from /proc/self/status of the command, printed by `grep`.
cap_lines() {
  run "$EXEC" run "$@" sh -c 'grep -E "^(Cap|NoNewPrivs)" /proc/self/status'
  assert_status 0
  echo "$out" | tr -s '\t ' ' '
}

test_run_default_command_user_env_workdir_from_image_config() {
  jail_root root '"Env":["PATH=/usr/bin:/bin","GREETING=hello world","OPTS=a=b c"],"User":"app","WorkingDir":"/srv",
    "Entrypoint":["/bin/sh","-c"],"Cmd":["echo \"$GREETING|$OPTS|$(pwd)|$(id -un)|$HOME\""]'
  run "$EXEC" run root
  assert_status 0
  assert_eq "hello world|a=b c|/srv|app|/home/app" "$out"
  # COMMAND replaces Cmd and keeps the Entrypoint, as with docker run.
  run "$EXEC" run root -- 'echo replaced $GREETING'
  assert_status 0
  assert_eq "replaced hello world" "$out"
  # -w and -u override the image's choices.
  run "$EXEC" run -w /tmp -u root root 'echo $(pwd) $(id -u)'
  assert_eq "/tmp 0" "$out"
  run "$EXEC" run -w /does-not-exist root 'true'
  assert_status 125
  assert_contains "$err" "cannot enter the working directory /does-not-exist"
}

test_run_env_overrides_env_file_and_host_values() {
  jail_root root '"Env":["A=image","B=image","C=image","GONE=image"]'
  printf '# comment\nB=file\nC=file\n' >env.list
  export FROM_HOST="host value"
  unset GONE || true
  run "$EXEC" run --env-file env.list -e C=flag -e FROM_HOST -e GONE root sh -c 'env | grep -E "^(A|B|C|GONE|FROM_HOST|HOME|PATH)=" | sort'
  assert_status 0
  assert_eq "A=image
B=file
C=flag
FROM_HOST=host value
HOME=/root
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$out"
  run "$EXEC" run -e HOME=/elsewhere -u app root sh -c 'echo $HOME'
  assert_eq "/elsewhere" "$out"
  run "$EXEC" run -e '=x' root true
  assert_status 125
  assert_contains "$err" "droot-exec: error: run: -e '=x': expected KEY=VALUE"
}

test_run_drootenv_fallback_and_missing_default_command() {
  jail_root root
  printf 'FOO=from drootenv\nBAR=x=y\n' >root/.drootenv
  run "$EXEC" run root sh -c 'echo "$FOO|$BAR"'
  assert_status 0
  assert_eq "from drootenv|x=y" "$out"
  run "$EXEC" run root
  assert_status 125
  assert_contains "$err" "has no .droot/config.json, so there is no default command; give a COMMAND"
  jail_root root2 '"Env":["X=1"]'
  run "$EXEC" run root2
  assert_status 125
  assert_contains "$err" "neither Entrypoint nor Cmd"
}

test_run_dest_with_current_runs_that_release() {
  mkdir -p dest/releases
  jail_root dest/releases/r1
  jail_root dest/releases/r2
  echo r1 >dest/releases/r1/release
  echo r2 >dest/releases/r2/release
  ln -s releases/r1 dest/current
  run "$EXEC" run dest cat /release
  assert_status 0
  assert_eq "r1" "$out"
  ln -sfn releases/r2 dest/current
  run "$EXEC" run dest cat /release
  assert_eq "r2" "$out"
  # A deploy directory without `current`, or with a dangling one, is refused rather than run as a rootfs.
  rm dest/current
  run "$EXEC" run dest true
  assert_status 125
  assert_contains "$err" "without a \`current\` link"
  ln -s releases/gone dest/current
  run "$EXEC" run dest true
  assert_status 125
  assert_contains "$err" "dest/current points to releases/gone, which does not exist"
  run "$EXEC" run "$TEST_TMP/missing" true
  assert_status 125
  assert_contains "$err" "$TEST_TMP/missing (DEST or ROOT): No such file or directory"
}

# An image without /dev, /proc, /etc/hosts… (podman's export, hostile_gen's "valid" artifact) or a --bind to a
# path it lacks: run creates the mount points. In a release they are made over it, in its state's upper layer
# (listed by check --changes as notes), so the release stays as deployed; --read-only, which has no upper layer,
# creates them in the release itself, records them in .droot/run-mountpoints, and check does not report those
# empty placeholders as drift — but does as soon as one holds something.
test_run_mountpoints_the_image_lacks_are_recorded_and_not_drift() {
  source "$DROOT_SRC/tests/integration/deploy_lib.sh"
  deployed_dest dest
  jail_helper probe probe
  mkdir data
  run "$EXEC" check dest
  assert_status 0
  local before
  before="$(snapshot dest/current/)"
  run "$EXEC" run --bind "$TEST_TMP/data:/data" --tmpfs /scratch --ro-bind "$TEST_TMP/probe:/bin/probe" dest /bin/probe ids
  assert_status 0
  assert_contains "$out" "uid=0 euid=0"
  assert_eq "$before" "$(snapshot dest/current/)" "the default run wrote into the release"
  local state="dest/state/$(current_release dest)/upper"
  assert_eq "bin/probe
data
dev
etc/hosts
etc/resolv.conf
proc
scratch" "$(sort "$state/.droot/run-mountpoints")"
  run "$EXEC" check --changes dest
  assert_status 0
  assert_contains "$out" "clean, matches its manifest"
  assert_contains "$out" "nothing written over the release"
  assert_contains "$out" "  note     dev: empty mount point made by droot-exec run (not counted)"
  assert_contains "$out" "  note     etc/hosts: empty mount point made by droot-exec run (not counted)"
  run "$EXEC" check --changes --json dest
  assert_status 0
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["clean"] and r["run_mountpoints"] == [], r; s=r["state"]; assert s["exists"] and s["changes"] == [], s; assert s["run_mountpoints"] == ["bin/probe","data","dev","etc/hosts","etc/resolv.conf","proc","scratch"], s' "$out" ||
    fail "check --changes --json: $out"

  # --read-only: the release itself, so the mount points are made there.
  run "$EXEC" run --read-only --bind "$TEST_TMP/data:/data" --tmpfs /scratch --ro-bind "$TEST_TMP/probe:/bin/probe" dest /bin/probe ids
  assert_status 0
  assert_eq "bin/probe
data
dev
etc/hosts
etc/resolv.conf
proc
scratch" "$(sort dest/current/.droot/run-mountpoints)"
  run "$EXEC" check dest
  assert_status 0
  assert_contains "$out" "note     dev: empty mount point made by droot-exec run (not counted)"
  assert_contains "$out" "note     etc/hosts: empty mount point made by droot-exec run (not counted)"
  assert_contains "$out" "clean, matches its manifest"
  run "$EXEC" check --json dest
  assert_status 0
  python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["clean"] and r["differences"] == [], r; assert r["run_mountpoints"] == ["bin/probe","data","dev","etc/hosts","etc/resolv.conf","proc","scratch"], r; assert "state" not in r, r' "$out" ||
    fail "check --json: $out"
  # A second run finds them there and records nothing new.
  run "$EXEC" run --read-only --bind "$TEST_TMP/data:/data" --tmpfs /scratch --ro-bind "$TEST_TMP/probe:/bin/probe" dest /bin/probe ids
  assert_status 0
  assert_eq 7 "$(wc -l <dest/current/.droot/run-mountpoints)"
  # Something written into a placeholder (here on the host, under the bind) is drift again.
  echo x >dest/current/data/x
  run "$EXEC" check dest
  assert_status 1
  assert_contains "$out" "extra    data: "
  assert_contains "$out" "extra    data/x: "
}

# Releases are immutable (issue 16): their files are hard links shared with other releases, so run never writes
# into one. tests/hostile's "valid" image has no shell: a static busybox is bound at /bb for the commands.
# overlay_dest DEST [VARIANT]: deploys it; bb_run [RUN-OPTIONS...] TARGET SCRIPT: `sh -c SCRIPT` in the jail.
overlay_dest() {
  source "$DROOT_SRC/tests/integration/deploy_lib.sh"
  deploy_ok "$(gen valid "${2:-v1}")" "$1"
  if [ ! -e "$TEST_TMP/bb/busybox" ]; then
    mkdir -p "$TEST_TMP/bb"
    cp /bin/busybox "$TEST_TMP/bb/busybox"
    "$TEST_TMP/bb/busybox" --list | (cd "$TEST_TMP/bb" && perl -lne '-e $_ or symlink("busybox", $_) or die "$_: $!\n"')
  fi
}
bb_run() {
  run "$EXEC" run --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb "${@:1:$#-1}" /bb/sh -c "${@: -1}"
}
# Everything check compares, and every inode's number, mtime and ctime: a write through any name changes it.
release_fingerprint() {
  snapshot "$1"
  (cd "$1" && find . -printf '%p %i %n %T@ %C@\n' | LC_ALL=C sort)
}

test_run_writes_persist_in_the_release_state_and_the_release_is_unchanged() {
  overlay_dest dest
  local rel before
  rel="$(current_release dest)"
  before="$(release_fingerprint "dest/releases/$rel")"
  # etc/motd and etc/motd.hard are one inode in the release (hard links, as every file of the store is).
  assert_eq "$(stat -c %i "dest/releases/$rel/etc/motd")" "$(stat -c %i "dest/releases/$rel/etc/motd.hard")"
  bb_run dest 'echo persisted >/srv/new-file && echo changed >/etc/motd && cat /etc/motd /etc/motd.hard && rm /srv/version &&
    grep " / " /proc/self/mountinfo'
  assert_status 0
  # The copy-up took the written name only: the other link still shows the image's content, as separate files would.
  assert_contains "$out" "changed
welcome"
  assert_contains "$out" " / rw,nodev,relatime - overlay droot rw,"
  assert_eq "$before" "$(release_fingerprint "dest/releases/$rel")" "the release changed on disk"
  assert_eq "welcome" "$(cat "dest/releases/$rel/etc/motd")"
  local upper="dest/state/$rel/upper"
  assert_eq "persisted" "$(cat "$upper/srv/new-file")"
  assert_eq "changed" "$(cat "$upper/etc/motd")"
  assert_eq "character special file 0:0" "$(stat -c '%F %t:%T' "$upper/srv/version")" "a deleted file is a whiteout"
  assert_eq "700 0 700 700" "$(stat -c %a dest/state) $(stat -c %u "dest/state/$rel") $(stat -c %a "dest/state/$rel") $(stat -c %a "dest/state/$rel/work")"
  # With --userns its owner is the release root's as the jail sees it: shifted to the jail's host ids.
  local id
  id="$(jail_root_id dest)"
  assert_eq "$(stat -c '%a' "dest/releases/$rel") $(($(stat -c %u "dest/releases/$rel") + id)) $(($(stat -c %g "dest/releases/$rel") + id))" \
    "$(stat -c '%a %u %g' "$upper")" "upper is the jail's /: the release root's mode"
  # The next run of the release sees what the last one wrote; a non-root user can still walk "/".
  bb_run dest 'cat /srv/new-file /etc/motd; ls /srv'
  assert_status 0
  assert_eq "persisted
changed
new-file" "$out"
  bb_run -u app dest 'cat /srv/new-file'
  assert_eq "persisted" "$out"
  # A release directory given as ROOT is the same release: its state, never the directory.
  bb_run "dest/releases/$rel" 'cat /srv/new-file; echo via-root >/srv/via-root'
  assert_eq "persisted" "$out"
  assert_eq "via-root" "$(cat "$upper/srv/via-root")"
  assert_eq "$before" "$(release_fingerprint "dest/releases/$rel")" "the release changed on disk"
  # The overlay and the release's read-only bind lived in the jail's mount namespace only.
  assert_not_contains "$(cat /proc/self/mountinfo)" "$TEST_TMP/dest" "a mount of the run is left in the host's namespace"
  run "$EXEC" check dest
  assert_status 0
  assert_contains "$out" "clean, matches its manifest"
  # Reads in the jail leave the release's atimes alone: overlayfs reads its lower layer through a private clone
  # that is read-only and noatime (the holder gives it the release itself, overlay_holder.h). A plain read does not.
  touch -a -d 2020-01-01 "dest/releases/$rel/etc/motd.hard"
  bb_run dest 'cat /etc/motd.hard >/dev/null'
  assert_status 0
  assert_eq "2020-01-01" "$(stat -c %x "dest/releases/$rel/etc/motd.hard" | cut -c1-10)" "a read in the jail changed the release's atime"
  cat "dest/releases/$rel/etc/motd.hard" >/dev/null
  assert_not_contains "$(stat -c %x "dest/releases/$rel/etc/motd.hard")" "2020-01-01" "the check above could not fail"
}

test_check_changes_lists_whiteouts_and_the_release_has_no_drift() {
  overlay_dest dest
  local rel
  rel="$(current_release dest)"
  run "$EXEC" check --changes dest
  assert_status 0
  assert_contains "$out" "dest/state/$rel/upper: nothing written (no state: the release has not run with a persistent root)"
  bb_run dest 'rm /etc/motd.hard && echo 12345 >/srv/new && echo more >>/etc/passwd && rm -r /etc/alternatives && mkdir /etc/alternatives &&
    mkdir -p /var/log && chmod 700 /srv'
  assert_status 0
  run "$EXEC" check --changes dest
  assert_status 0
  assert_contains "$out" "clean, matches its manifest"
  assert_contains "$out" "dest/state/$rel/upper: 7 change(s) written over the release by run (not drift):
  replaced etc/alternatives: dir (made again: the release's content below is hidden)
  deleted  etc/motd.hard: file (whiteout)
  modified etc/passwd: file, 70 bytes
  modified srv: dir
  added    srv/new: file, 6 bytes
  added    var: dir
  added    var/log: dir
  note     bb: empty mount point made by droot-exec run (not counted)
  note     dev: empty mount point made by droot-exec run (not counted)"
  run "$EXEC" check --changes --json dest
  assert_status 0
  python3 - "$out" <<'PY' || fail "check --changes --json: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["clean"] is True and r["differences"] == [] and r["run_mountpoints"] == [], r
s = r["state"]
assert s["exists"] and s["upper"].endswith("/state/" + r["root"].rsplit("/", 1)[1] + "/upper"), s
changes = {c["path"]: c for c in s["changes"]}
assert changes["etc/motd.hard"] == {"change": "deleted", "path": "etc/motd.hard", "type": "file"}, changes
assert changes["srv/new"] == {"change": "added", "path": "srv/new", "type": "file", "size": 6}, changes
assert changes["etc/alternatives"]["change"] == "replaced", changes
assert s["run_mountpoints"] == ["bb", "dev", "etc/hosts", "etc/resolv.conf", "proc"], s
PY
  # Drift in the release itself is still drift, whatever the state holds.
  echo tampered >>"dest/releases/$rel/etc/motd"
  run "$EXEC" check --changes dest
  assert_status 1
  assert_contains "$out" "modified etc/motd: "
  assert_contains "$out" "deleted  etc/motd.hard: file (whiteout)"
  # A plain ROOT has no state to list.
  jail_root root
  run "$EXEC" check --changes root
  assert_status 125
  assert_contains "$err" "is not a release of a deploy directory"
}

test_run_a_new_release_starts_clean_and_each_release_keeps_its_own_state() {
  overlay_dest dest v1
  local v1 v2
  v1="$(current_release dest)"
  bb_run dest 'echo from-v1 >/srv/marker'
  assert_status 0
  sleep 1  # release names are made of the deploy time, to the second
  deploy_ok "$(gen valid v2)" dest
  v2="$(current_release dest)"
  assert_ne "$v1" "$v2"
  bb_run dest 'cat /srv/version; cat /srv/marker 2>&1 || true'
  assert_status 0
  assert_eq "v2
cat: can't open '/srv/marker': No such file or directory" "$out"
  assert_eq "from-v1" "$(cat "dest/state/$v1/upper/srv/marker")"
  assert_no_file "dest/state/$v2/upper/srv/marker"
  run "$EXEC" rollback -q dest
  assert_status 0
  bb_run dest 'cat /srv/version /srv/marker'
  assert_eq "v1
from-v1" "$out"
}

test_prune_removes_a_pruned_releases_state_with_it() {
  overlay_dest dest v1
  local v1
  v1="$(current_release dest)"
  bb_run dest 'echo from-v1 >/srv/marker'
  assert_status 0
  assert_file "dest/state/$v1/upper/srv/marker"
  local v
  for v in v2 v3 v4; do
    sleep 1
    deploy_ok "$(gen valid $v)" dest --keep 1
  done
  [ ! -e "dest/releases/$v1" ] || fail "v1 was not pruned"
  [ ! -e "dest/state/$v1" ] || fail "v1's state outlived its release"
  assert_eq "" "$(find dest/objects -type f -links 1)"
}

test_run_volatile_forgets_and_read_only_stays_erofs() {
  overlay_dest dest
  local rel before
  rel="$(current_release dest)"
  before="$(release_fingerprint "dest/releases/$rel")"
  bb_run --volatile dest 'echo gone >/srv/volatile && cat /srv/volatile && rm /etc/motd && echo ok'
  assert_status 0
  assert_eq "gone
ok" "$out"
  assert_no_file dest/state
  assert_eq "$before" "$(release_fingerprint "dest/releases/$rel")" "--volatile wrote into the release"
  # --volatile starts from the release, not from the state a default run keeps.
  bb_run dest 'echo kept >/srv/kept'
  bb_run --volatile dest 'cat /srv/kept 2>&1; cat /etc/motd'
  assert_eq "cat: can't open '/srv/kept': No such file or directory
welcome" "$out"
  assert_eq "kept" "$(cat "dest/state/$rel/upper/srv/kept")"
  assert_no_file "dest/state/$rel/upper/srv/volatile"
  # --volatile on a plain ROOT leaves the directory as it was; without it, a plain ROOT is written in place.
  jail_root root
  "$EXEC" run root true
  local root_before
  root_before="$(snapshot root)"
  run "$EXEC" run --volatile root sh -c 'echo x >/written && cat /written'
  assert_eq "x" "$out"
  assert_eq "$root_before" "$(snapshot root)"
  run "$EXEC" run root sh -c 'echo x >/written'
  assert_eq "x" "$(cat root/written)"
  # --read-only: the release itself, read-only; nothing reaches the state either.
  bb_run --read-only dest 'touch /srv/new'
  assert_ne 0 "$status"
  assert_contains "$err" "Read-only file system"
  assert_no_file "dest/state/$rel/upper/srv/new"
  assert_no_file "dest/releases/$rel/srv/new"
  bb_run --read-only --volatile dest 'true'
  assert_status 125
  assert_contains "$err" "--read-only and --volatile contradict each other"
}

test_run_two_runs_of_one_release_do_not_share_its_state() {
  overlay_dest dest
  bb_run dest 'true'  # makes the state
  "$EXEC" run --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb dest /bb/sh -c 'touch /srv/started; sleep 30' &
  first=$!
  trap 'kill $first 2>/dev/null || true' EXIT
  local rel i
  rel="$(current_release dest)"
  for i in $(seq 200); do [ -e "dest/state/$rel/upper/srv/started" ] && break; sleep 0.05; done
  assert_file "dest/state/$rel/upper/srv/started"
  bb_run dest 'echo second >/srv/second'
  assert_status 125
  assert_contains "$err" "the state of release $rel ($TEST_TMP/dest/state/$rel) is in use by another run of it"
  assert_contains "$err" "--volatile"
  assert_no_file "dest/state/$rel/upper/srv/second"
  # A --volatile run beside it has no upper layer on disk to share.
  bb_run --volatile dest 'cat /srv/version'
  assert_status 0
  assert_eq "v1" "$out"
  kill "$first"
  wait "$first" || true
  bb_run dest 'echo second >/srv/second'
  assert_status 0
}

# The overlay is taken down after run returns, by a process of droot-exec's own (src/exec/jail/overlay_holder.h): run's
# output still ends with run (the process keeps none of droot-exec's fds), a run right after the previous one
# waits for its overlay instead of finding the state in use, each write persists, and the process removes
# overlayfs's work/work once the superblock is gone.
test_run_back_to_back_runs_of_a_release_each_find_the_state_free() {
  overlay_dest dest
  local rel i
  rel="$(current_release dest)"
  for i in $(seq 20); do
    bb_run dest "echo $i >>/srv/count; echo ran-$i"
    assert_status 0
    assert_eq "ran-$i" "$out"
  done
  assert_eq "20" "$(wc -l <"dest/state/$rel/upper/srv/count")"
  for i in $(seq 100); do [ ! -e "dest/state/$rel/work/work" ] && break; sleep 0.05; done
  assert_no_file "dest/state/$rel/work/work"
  # prune's test of the state waits for a teardown still under way, then finds it free: a release run by hand
  # (neither current nor its predecessor) right before a deploy that prunes it goes, state and all
  local v
  for v in v2 v3; do
    sleep 1  # release names are made of the deploy time, to the second
    deploy_ok "$(gen valid $v)" dest
  done
  sleep 1
  bb_run "dest/releases/$rel" 'true'
  assert_status 0
  deploy_ok "$(gen valid v4)" dest --keep 1
  [ ! -e "dest/releases/$rel" ] || fail "the release run last was not pruned"
  [ ! -e "dest/state/$rel" ] || fail "its state outlived it"
}

# A process outside the jail that keeps a directory of its overlay (here its root, opened through
# /proc/PID/root; an fd the service passes out over a socket does the same) keeps the overlay's superblock
# after the jail is gone. The next run of the release waits for it, saying why after a second, instead of
# mounting a second overlay on the same upper layer (overlayfs only warns, "upperdir is in-use"); prune meanwhile
# keeps the release.
test_run_waits_while_something_outside_keeps_the_previous_overlay() {
  overlay_dest dest
  local rel i pid keeper second
  rel="$(current_release dest)"
  "$EXEC" run --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb dest /bb/sh -c 'echo one >/srv/one; exec /bb/sleep 1.357' &
  local first=$!
  for i in $(seq 100); do pid="$(pgrep -xf '/bb/sleep 1.357' || true)"; [ -n "$pid" ] && break; sleep 0.05; done
  [ -n "$pid" ] || fail "the first run's command did not start"
  sleep 30 9<"/proc/$pid/root" &
  keeper=$!
  trap "kill $keeper 2>/dev/null || true" EXIT
  wait "$first" || fail "the first run failed"
  "$EXEC" run --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb dest /bb/sh -c 'cat /srv/one; echo two >/srv/two' \
    >"$TEST_TMP/second.out" 2>"$TEST_TMP/second.err" &
  second=$!
  sleep 1.5
  kill -0 "$second" 2>/dev/null || fail "the second run did not wait for the first one's overlay"
  assert_contains "$(cat "$TEST_TMP/second.err")" "waiting for the previous overlay of release $rel to be taken down"
  assert_no_file "dest/state/$rel/upper/srv/two"
  kill "$keeper"
  wait "$keeper" 2>/dev/null || true
  wait "$second" || fail "the second run failed: $(cat "$TEST_TMP/second.err")"
  assert_eq "one" "$(cat "$TEST_TMP/second.out")"
  assert_eq "two" "$(cat "dest/state/$rel/upper/srv/two")"
}

# DEST on a filesystem overlayfs cannot write its upper layer on (an overlayfs itself: a container's root, the
# systemd guest's): a clear error naming it and the way out, never a write into the release. Built in a
# private mount namespace, so the host never sees the mounts.
test_run_dest_where_overlayfs_cannot_keep_state_fails_clearly() {
  # Deployed outside and copied in (cp -a keeps the hard links): deploy's own needs are not what is tested here.
  overlay_dest plain
  mkdir -p ov/lower ov/upper ov/work ov/merged
  run unshare -m --propagation private bash -c "
    set -e
    mount -t overlay -o lowerdir=ov/lower,upperdir=ov/upper,workdir=ov/work droot-test ov/merged
    cp -a plain ov/merged/dest
    rel=\$(readlink ov/merged/dest/current)
    (cd ov/merged/dest/\$rel && find . -printf '%p %i %T@ %C@\n' | sort) >before
    set +e
    '$EXEC' run --ro-bind '$TEST_TMP/bb:/bb' -e PATH=/bb ov/merged/dest /bb/sh -c 'echo x >/srv/x'; echo \"default: \$?\"
    '$EXEC' run --ro-bind '$TEST_TMP/bb:/bb' -e PATH=/bb --volatile ov/merged/dest /bb/sh -c 'echo x >/srv/x && cat /srv/version'; echo \"volatile: \$?\"
    (cd ov/merged/dest/\$rel && find . -printf '%p %i %T@ %C@\n' | sort) >after
    cmp -s before after && echo 'release unchanged'"
  if userns_on; then
    # overlayfs takes no idmapped mount: --userns stops before anything is mounted, naming it, never falling back.
    assert_contains "$err" "droot-exec: error: cannot present the release $TEST_TMP/ov/merged/dest/releases/"
    assert_contains "$err" "cannot make an idmapped mount of overlay; keep releases on ext4, xfs or btrfs"
    assert_contains "$err" "or run without --userns (--userns=off)"
    assert_contains "$out" "default: 125"
    assert_contains "$out" "volatile: 125"
  else
    assert_contains "$err" "droot-exec: error: cannot mount the jail's root (overlayfs over the release $TEST_TMP/ov/merged/dest/releases/"
    assert_contains "$err" "$TEST_TMP/ov/merged/dest is on overlay, and run keeps a release's state there with overlayfs"
    assert_contains "$err" "run with --volatile (the service's writes in memory, forgotten at exit) or, if that fails too, --read-only"
    assert_contains "$out" "default: 125"
    assert_contains "$out" "v1
volatile: 0"
  fi
  assert_contains "$out" "release unchanged"
}

test_run_dev_has_the_standard_nodes_and_a_private_devpts() {
  jail_root root
  run "$EXEC" run root sh -c 'head -c 16 /dev/zero | od -An -tx1 | tr -d " \n"; echo'
  assert_status 0
  assert_eq "00000000000000000000000000000000" "$out" "/dev/zero must read zeros"
  run "$EXEC" run root sh -c 'echo x >/dev/full'
  assert_ne 0 "$status"
  assert_contains "$err" "No space left on device"
  run "$EXEC" run root sh -c 'for d in null zero full random urandom tty; do echo "$d $(stat -c %t:%T /dev/$d)"; done'
  assert_eq "null 1:3
zero 1:5
full 1:7
random 1:8
urandom 1:9
tty 5:0" "$out"
  run "$EXEC" run root sh -c 'ls /dev | tr "\n" " "; echo; for l in ptmx fd stdin stdout stderr; do readlink /dev/$l; done | tr "\n" " "'
  assert_eq "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero 
pts/ptmx /proc/self/fd /proc/self/fd/0 /proc/self/fd/1 /proc/self/fd/2 " "$out"
  # A new devpts instance: none of the host's ptys, and the mode/ptmxmode asked for.
  run "$EXEC" run root sh -c 'ls /dev/pts; grep " /dev/pts " /proc/self/mountinfo'
  assert_contains "$out" "ptmx"
  assert_not_contains "$out" "0
"
  assert_contains "$out" "mode=620,ptmxmode=666"
  run "$EXEC" run root sh -c 'echo shared >/dev/shm/x && cat /dev/shm/x'
  assert_eq "shared" "$out"
}

test_run_proc_is_fresh_and_hides_the_host() {
  jail_root root
  run "$EXEC" run root sh -c 'echo $$; tr "\0" " " </proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"'
  assert_status 0
  local lines
  mapfile -t lines <<<"$out"
  assert_eq "2" "${lines[0]}" "the command is PID 2, after droot-exec's init"
  assert_contains "${lines[1]}" "droot-exec"
  [ "${lines[2]}" -le 4 ] || fail "the jail sees ${lines[2]} processes: the host's are visible"
  # /proc/sys is read-only (root owns it by uid alone), the leaky files are masked.
  run "$EXEC" run root sh -c 'cat /proc/sys/kernel/core_pattern >/proc/sys/kernel/core_pattern'
  assert_ne 0 "$status"
  assert_contains "$err" "Read-only file system"
  # /proc/timer_list (host-wide timers, with kernel addresses) reads as /dev/null; on the host it does not.
  [ "$(wc -c </proc/timer_list)" -gt 0 ] || fail "the host's /proc/timer_list is empty: the check below proves nothing"
  run "$EXEC" run root sh -c 'wc -c </proc/timer_list'
  assert_status 0
  assert_eq "0" "$(echo "$out" | tr -d ' ')"
}

test_run_capabilities_are_the_keep_list_with_no_new_privs() {
  jail_root root
  assert_eq "CapInh: 0000000000000000
CapPrm: 00000000000004cf
CapEff: 00000000000004cf
CapBnd: 00000000000004cf
CapAmb: 0000000000000000
NoNewPrivs: 1" "$(cap_lines root)"
  assert_eq "CapInh: 0000000000000000
CapPrm: 0000000000000400
CapEff: 0000000000000400
CapBnd: 0000000000000400
CapAmb: 0000000000000000
NoNewPrivs: 1" "$(cap_lines --cap-drop ALL --cap-add NET_BIND_SERVICE root)"
  # A non-root user: nothing effective (docker's behaviour), the keep-list only bounds.
  assert_eq "CapInh: 0000000000000000
CapPrm: 0000000000000000
CapEff: 0000000000000000
CapBnd: 00000000000004cf
CapAmb: 0000000000000000
NoNewPrivs: 1" "$(cap_lines -u app root)"
  # ... unless a capability is asked for by name: it becomes ambient, so it survives execve.
  assert_eq "CapInh: 0000000000000400
CapPrm: 0000000000000400
CapEff: 0000000000000400
CapBnd: 00000000000004cf
CapAmb: 0000000000000400
NoNewPrivs: 1" "$(cap_lines -u app --cap-add cap_net_bind_service root)"
  # Dropping CHOWN really takes it away.
  run "$EXEC" run root sh -c 'touch /tmp/f && chown 5 /tmp/f'
  assert_status 0
  run "$EXEC" run --cap-drop chown root sh -c 'touch /tmp/f && chown 6 /tmp/f'
  assert_ne 0 "$status"
  assert_contains "$err" "Operation not permitted"
  run "$EXEC" run --cap-add SYS_GODMODE root true
  assert_status 125
  assert_contains "$err" "--cap-add SYS_GODMODE: unknown capability"
}

test_run_setuid_binaries_gain_nothing() {
  jail_root root
  jail_helper probe root/bin/probe-suid
  chmod 4755 root/bin/probe-suid
  # Control: on the host the set-uid bit works, so the assertion below can fail.
  cp root/bin/probe-suid suid-on-host
  chmod 4755 suid-on-host
  chmod 755 "$TEST_TMP"
  run setpriv --reuid=1234 --regid=2345 --clear-groups ./suid-on-host ids
  assert_contains "$out" "euid=0"
  run "$EXEC" run -u app root /bin/probe-suid ids
  assert_status 0
  assert_eq "uid=1234 euid=1234 gid=2345 egid=2345" "$out"
}

test_run_user_that_exists_only_in_the_image() {
  jail_root root
  if getent passwd app >/dev/null || getent passwd 1234 >/dev/null; then
    echo "note: the host has a user app or uid 1234; the test still checks the image's values"
  fi
  run "$EXEC" run -u app root sh -c 'grep -E "^(Uid|Gid|Groups)" /proc/self/status | tr -s "\t " " "; id -un; echo $HOME'
  assert_status 0
  assert_eq "Uid: 1234 1234 1234 1234
Gid: 2345 2345 2345 2345
Groups: 2345 3456 
app
/home/app" "$out"
  run "$EXEC" run -u app:extra root sh -c 'id -g; id -G'
  assert_eq "3456
3456" "$out"
  run "$EXEC" run -u 4242:4343 root sh -c 'id -u; id -g; echo $HOME'
  assert_eq "4242
4343
/" "$out"
  run "$EXEC" run -u ghost root true
  assert_status 125
  assert_contains "$err" "user 'ghost' not found in the image's /etc/passwd"
  run "$EXEC" run -u app:ghosts root true
  assert_status 125
  assert_contains "$err" "group 'ghosts' not found in the image's /etc/group"
}

test_run_exit_statuses() {
  jail_root root
  touch root/not-executable
  run "$EXEC" run root sh -c 'exit 7'
  assert_status 7
  run "$EXEC" run root sh -c 'kill -TERM $$'
  assert_status 143
  run "$EXEC" run root sh -c 'kill -KILL $$'
  assert_status 137
  run "$EXEC" run root no-such-command
  assert_status 127
  assert_contains "$err" "droot-exec: error: cannot run 'no-such-command' (searched PATH="
  run "$EXEC" run root /bin/nope
  assert_status 127
  run "$EXEC" run root /not-executable
  assert_status 126
  assert_contains "$err" "Permission denied"
  run "$EXEC" run root /tmp
  assert_status 126
}

test_run_sigterm_to_droot_exec_reaches_the_command() {
  jail_root root
  mkdir out
  jail_owns out root
  "$EXEC" run --bind "$TEST_TMP/out:/out" root sh -c \
    'trap "echo USR1 >>/out/seen" USR1; trap "echo TERM >>/out/seen; exit 143" TERM; echo ready >/out/ready; while :; do sleep 0.1; done' &
  local pid=$! i
  for i in $(seq 100); do [ -e out/ready ] && break; sleep 0.1; done
  assert_file out/ready
  kill -USR1 "$pid"
  for i in $(seq 50); do grep -q USR1 out/seen 2>/dev/null && break; sleep 0.1; done
  kill -TERM "$pid"
  set +e
  wait "$pid"
  status=$?
  set -e
  assert_eq 143 "$status"
  assert_eq "USR1
TERM" "$(cat out/seen)"
  # Without a handler the command dies of the signal and droot-exec reports 128+15.
  "$EXEC" run root sleep 100 &
  pid=$!
  sleep 0.5
  kill -TERM "$pid"
  local start=$SECONDS
  set +e
  wait "$pid"
  status=$?
  set -e
  assert_eq 143 "$status"
  [ $((SECONDS - start)) -lt 5 ] || fail "the command did not stop promptly"
}

test_run_init_reaps_fifty_orphans() {
  jail_root root
  # Waits by polling, not fixed sleeps: under qemu's TCG (tests/kernel/) a fork takes tens of milliseconds.
  run "$EXEC" run root sh -c '
    for i in $(seq 50); do (sleep 4 &); done
    for t in $(seq 100); do
      n=$(grep -l "^PPid:[[:space:]]*1$" /proc/[0-9]*/status 2>/dev/null | wc -l); [ "$n" -ge 51 ] && break; sleep 0.05
    done
    echo "orphans=$n"
    # Until no sleep is left: reaped ones vanish, unreaped ones would stay (as zombies) and be counted.
    for t in $(seq 300); do grep -qx sleep /proc/[0-9]*/comm 2>/dev/null || break; sleep 0.05; done
    z=0
    for s in /proc/[0-9]*/stat; do read -r l <"$s" 2>/dev/null; case "$l" in *") Z "*) z=$((z+1));; esac; done
    echo "zombies=$z"'
  assert_status 0
  # Orphans were really reparented to the jail's init (≥ 50 plus the command itself) ...
  local orphans
  orphans="$(echo "$out" | sed -n 's/^orphans=//p')"
  [ "$orphans" -ge 50 ] || fail "expected ≥ 50 processes reparented to PID 1, got $orphans"
  # ... and init reaped them all.
  assert_contains "$out" "zombies=0"
}

test_run_breakout_program_cannot_reach_a_host_marker() {
  jail_root root
  jail_helper breakout root/bin/breakout
  echo droot-host-marker >"$TEST_TMP/host-marker"
  # Control: from the host, the program does find the marker.
  run root/bin/breakout "$TEST_TMP/host-marker"
  assert_status 1
  assert_contains "$out" "ESCAPED via direct open"
  # A directory of the host and the marker itself left open by the caller must not survive into the jail.
  exec 7<"$TEST_TMP" 8<"$TEST_TMP/host-marker"
  local opts
  for opts in "" "--cap-add SYS_CHROOT" "--cap-add ALL"; do
    # shellcheck disable=SC2086
    run "$EXEC" run $opts root /bin/breakout "$TEST_TMP/host-marker"
    assert_not_contains "$out" "ESCAPED" "breakout with '$opts'"
    assert_status 0
    assert_contains "$out" "blocked: open_by_handle_at: Operation not permitted"
  done
  exec 7<&- 8<&-
  # With CAP_SYS_CHROOT the classic chroot + chdir("..") trick runs, and ends at the jail's own root.
  run "$EXEC" run --cap-add SYS_CHROOT root /bin/breakout "$TEST_TMP/host-marker"
  assert_contains "$out" "blocked: chroot + chdir(..): No such file or directory"
  assert_contains "$out" "blocked: /proc/1/exe: Permission denied"
}

test_run_bind_through_a_symlink_stays_inside_the_rootfs() {
  jail_root root
  mkdir data
  echo from-host >data/file
  ln -s /etc root/srv/abs
  ln -s ../../../../../../../../.. root/srv/up
  local probe=droot-run-test-$$
  [ ! -e "/etc/$probe" ] || fail "/etc/$probe exists before the test"
  run "$EXEC" run --bind "$TEST_TMP/data:/srv/abs/$probe" --tmpfs "/srv/abs/$probe-tmp" root \
    sh -c "cat /etc/$probe/file; ls -d /etc/$probe-tmp"
  assert_status 0
  assert_eq "from-host
/etc/$probe-tmp" "$out"
  assert_no_file "/etc/$probe"
  assert_no_file "/etc/$probe-tmp"
  assert_file "root/etc/$probe"
  # A symlink that climbs out of the rootfs is refused outright.
  run "$EXEC" run --bind "$TEST_TMP/data:/srv/up/$probe" root true
  assert_status 125
  assert_contains "$err" "leads out of the rootfs"
  assert_no_file "/$probe"
  assert_no_file "$TEST_TMP/$probe"
}

test_run_ro_bind_is_read_only_even_below_submounts() {
  jail_root root
  mkdir -p data/sub
  echo content >data/file
  run "$EXEC" run --ro-bind "$TEST_TMP/data:/data" root sh -c 'cat /data/file; touch /data/new'
  assert_ne 0 "$status"
  assert_eq "content" "$out"
  assert_contains "$err" "Read-only file system"
  assert_no_file data/new
  jail_owns data root
  run "$EXEC" run -b "$TEST_TMP/data:/data" root sh -c 'echo written >/data/new'
  assert_status 0
  assert_eq "written" "$(cat data/new)"
  # A mount below the source (nosuid, nodev, noexec) is read-only too, and keeps its flags. The host-side
  # mount is made in a private namespace so it never appears on the host.
  run unshare -m --propagation private sh -c "mount -t tmpfs -o nosuid,nodev,noexec none '$TEST_TMP/data/sub' &&
    '$EXEC' run --ro-bind '$TEST_TMP/data:/data' root sh -c 'grep \" /data/sub \" /proc/self/mountinfo; touch /data/sub/x'"
  assert_ne 0 "$status"
  assert_contains "$out" " ro,nosuid,nodev,noexec"
  assert_contains "$err" "Read-only file system"
  run "$EXEC" run --bind /nonexistent-droot-source root true
  assert_status 125
  assert_contains "$err" "--bind /nonexistent-droot-source: the source: No such file or directory"
}

test_run_read_only_root_and_tmpfs() {
  jail_root root
  "$EXEC" run root true  # first run creates nothing more; snapshot after it
  local before
  before="$(snapshot root)"
  run "$EXEC" run --read-only root sh -c 'touch /new'
  assert_ne 0 "$status"
  assert_contains "$err" "Read-only file system"
  run "$EXEC" run --read-only --tmpfs /tmp root sh -c 'echo ok >/tmp/x && cat /tmp/x && echo dev >/dev/shm/y && grep " /tmp " /proc/self/mountinfo'
  assert_status 0
  assert_contains "$out" "ok"
  assert_contains "$out" "nosuid,nodev"
  assert_eq "$before" "$(snapshot root)" "the rootfs changed"
}

test_run_copies_are_private_and_not_bind_mounts_of_the_host() {
  jail_root root
  echo "nameserver 192.0.2.53" >resolv.test
  local host_sum
  host_sum="$(sha256sum /etc/hosts)"
  run "$EXEC" run root sh -c 'cat /etc/hosts; echo junk >>/etc/hosts'
  assert_status 0
  assert_eq "$(cat /etc/hosts)" "$out"
  assert_eq "$host_sum" "$(sha256sum /etc/hosts)" "a write in the jail reached the host's /etc/hosts"
  assert_eq 0 "$(stat -c %s root/etc/hosts)" "the image's placeholder was rewritten"
  # --copy replaces the default list; the copy can go to another place.
  run "$EXEC" run --copy "$TEST_TMP/resolv.test:/etc/resolv.conf" root sh -c 'cat /etc/resolv.conf; wc -c </etc/hosts'
  assert_status 0
  assert_eq "nameserver 192.0.2.53
0" "$out"
  run "$EXEC" run --copy /nonexistent-droot-file root true
  assert_status 125
}

test_run_hostname_and_net_none() {
  jail_root root
  local host_name
  host_name="$(hostname)"
  run "$EXEC" run --hostname jailbox root hostname
  assert_eq "jailbox" "$out"
  assert_eq "$host_name" "$(hostname)"
  run "$EXEC" run --net none root sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ip -o link show lo'
  assert_status 0
  assert_eq "lo" "$(echo "$out" | head -1)"
  assert_eq 2 "$(echo "$out" | wc -l)" "--net none must show only lo"
  assert_contains "$out" ",UP"
  # The default shares the host's network: the same interfaces.
  run "$EXEC" run root sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | sort'
  assert_eq "$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort)" "$out"
}

test_run_pids_limit_stops_a_fork_loop_and_the_cgroup_goes_away() {
  jail_root root
  [ "$(run_cgroups_left)" -eq 0 ] || fail "droot-run-* cgroups exist before the test"
  "$EXEC" run --pids-limit 10 root sh -c 'sleep 2' &
  local pid=$! dir="" i
  for i in $(seq 50); do
    dir="$(find /sys/fs/cgroup -maxdepth 6 -type d -name "droot-run-$pid" 2>/dev/null | head -1 || true)"
    [ -n "$dir" ] && break
    sleep 0.05
  done
  [ -n "$dir" ] || fail "no cgroup droot-run-$pid while the jail runs"
  assert_eq 10 "$(cat "$dir/pids.max")"
  wait "$pid"
  assert_no_file "$dir"
  # An endless fork loop ends when fork fails (busybox sh gives up then); the processes are counted with
  # shell built-ins only, since nothing can fork any more.
  run "$EXEC" run --pids-limit 10 root sh -c 'sh -c "while :; do sleep 5 & done"
    c=0; for p in /proc/[0-9]*; do c=$((c+1)); done; echo $c'
  assert_status 0
  assert_contains "$err" "can't fork"
  [ "$out" -le 10 ] || fail "$out processes under --pids-limit 10"
  assert_eq 0 "$(run_cgroups_left)"
}

test_run_memory_and_cpu_limits() {
  jail_root root
  "$EXEC" run --memory 32m --cpus 0.5 root sleep 60 &
  local pid=$! mem="" cpu="" i
  for i in $(seq 50); do
    mem="$(find /sys/fs/cgroup -maxdepth 6 -type d -name "droot-run-$pid" -path "*memory*" 2>/dev/null | head -1 || true)"
    cpu="$(find /sys/fs/cgroup -maxdepth 6 -type d -name "droot-run-$pid" -path "*/cpu*" ! -path "*cpuset*" 2>/dev/null | head -1 || true)"
    if [ -z "$mem" ] && [ -e /sys/fs/cgroup/cgroup.controllers ]; then  # cgroup v2: one directory
      mem="$(find /sys/fs/cgroup -maxdepth 6 -type d -name "droot-run-$pid" 2>/dev/null | head -1 || true)"
      cpu="$mem"
    fi
    [ -n "$mem" ] && [ -n "$cpu" ] && break
    sleep 0.05
  done
  [ -n "$mem" ] && [ -n "$cpu" ] || fail "no memory/cpu cgroup droot-run-$pid while the jail runs"
  if [ -e "$mem/memory.max" ]; then
    assert_eq 33554432 "$(cat "$mem/memory.max")"
    assert_eq "50000 100000" "$(cat "$cpu/cpu.max")"
  else
    assert_eq 33554432 "$(cat "$mem/memory.limit_in_bytes")"
    assert_eq 50000 "$(cat "$cpu/cpu.cfs_quota_us")"
  fi
  kill -TERM "$pid"
  wait "$pid" || true
  assert_no_file "$mem"
  assert_no_file "$cpu"
  # The limit is enforced: 100 MB in a shell variable does not fit in 32 MB.
  run "$EXEC" run --memory 32m root sh -c 'x=$(head -c 100000000 /dev/zero | tr "\0" a); echo survived'
  assert_status 137
  assert_not_contains "$out" "survived"
  assert_eq 0 "$(run_cgroups_left)"
}

test_run_limit_without_a_usable_cgroup_controller_is_an_error() {
  jail_root root
  # Hide every cgroup hierarchy (as in a container without cgroupfs), in a private mount namespace.
  run unshare -m --propagation private sh -c "mount -t tmpfs none /sys/fs/cgroup && '$EXEC' run --memory 32m root true"
  assert_status 125
  assert_contains "$err" "--memory needs the memory cgroup controller"
  run unshare -m --propagation private sh -c "mount -t tmpfs none /sys/fs/cgroup && '$EXEC' run root echo fine"
  assert_status 0
  assert_eq "fine" "$out"
}

test_run_rlimits() {
  jail_root root
  run "$EXEC" run --rlimit nofile=100:200 --rlimit core=0 root sh -c 'ulimit -n; grep -E "^Max (open files|core)" /proc/self/limits | tr -s " "'
  assert_status 0
  assert_eq "100
Max core file size 0 0 bytes 
Max open files 100 200 files " "$out"
  run "$EXEC" run --rlimit nofiles=1 root true
  assert_status 125
  assert_contains "$err" "unknown limit 'nofiles'"
  # Above fs.nr_open even root cannot go (the caller's hard limit is no bound for root: 4096 at a bare
  # kernel's PID 1, 524288 under systemd, whatever a CI runner sets).
  run "$EXEC" run --rlimit "nofile=10:$(( $(cat /proc/sys/fs/nr_open) + 1 ))" root true
  assert_status 125
  assert_contains "$err" "cannot set --rlimit nofile"
}

test_run_seccomp_denies_the_list_and_none_turns_it_off() {
  jail_root root
  jail_helper probe root/bin/probe
  run "$EXEC" run --cap-add SYS_ADMIN root sh -c 'grep "^Seccomp:" /proc/self/status | tr -d "\t"; probe syscalls'
  assert_status 0
  assert_eq "Seccomp:2
mount=EPERM
keyctl=EPERM
unshare_user=EPERM
ptrace=EPERM
bpf=EPERM
perf_event_open=EPERM
clone3=ENOSYS" "$out"
  run "$EXEC" run --cap-add SYS_ADMIN --seccomp none root sh -c 'grep "^Seccomp:" /proc/self/status | tr -d "\t"; probe syscalls'
  assert_status 0
  assert_contains "$out" "Seccomp:0"
  # In a user namespace SYS_ADMIN is the namespace's, and the mount namespace belongs to the host's: no mount.
  if userns_on; then assert_contains "$out" "mount=EPERM"; else assert_contains "$out" "mount=ok"; fi
  assert_contains "$out" "keyctl=ok"
  assert_contains "$out" "unshare_user=ok"
  assert_contains "$out" "ptrace=ok"
  assert_not_contains "$out" "clone3=ENOSYS"
}

test_run_closes_inherited_fds_and_hides_init() {
  jail_root root
  exec 7<"$TEST_TMP" 9>"$TEST_TMP/leak"
  jail_helper probe root/bin/probe
  run "$EXEC" run root probe fds
  assert_status 0
  assert_eq "0 1 2 " "$out"
  # Control: without the jail the probe does see them.
  run root/bin/probe fds
  assert_contains "$out" " 7 "
  assert_contains "$out" " 9 "
  exec 7<&- 9>&-
  run "$EXEC" run root sh -c 'readlink /proc/1/exe || echo no-exe'
  assert_eq "no-exe" "$out"
}

test_run_tty_stays_usable_and_the_command_is_in_the_foreground() {
  jail_root root
  # script(1) gives droot-exec a pty as its controlling terminal, as an interactive shell would.
  run script -qec "'$EXEC' run root sh -c 'read -r pid comm state ppid pgrp sid tty tpgid rest </proc/self/stat; [ \$pgrp = \$tpgid ] && echo foreground; [ -t 0 ] && echo tty'" /dev/null
  assert_status 0
  assert_contains "$out" "foreground"
  assert_contains "$out" "tty"
  # An interactive shell reads from the terminal and exits with its own status.
  run sh -c "printf 'echo in-jail-\$((6*7))\nexit 5\n' | script -qec \"'$EXEC' run root sh -i\" /dev/null"
  assert_status 5
  assert_contains "$out" "in-jail-42"
}

# A real terminal for the tests below: a private tmux server (its socket in $TEST_TMP, killed when the test
# ends) with one 80x24 window, no status line, running a plain interactive bash: the "host shell".
tmux_start() {
  command -v tmux >/dev/null || fail "tmux is needed to drive a real terminal"
  TMUX_SOCK="$TEST_TMP/tmux.sock"
  TMUX_STEP=0
  # The server exits after kill-server returns: nothing of it may write into TEST_TMP while run.sh removes it
  # (hence no history file), and the test waits until it no longer answers.
  trap 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null; wait_until 10 tmux_gone || true' EXIT
  # The sanitizers' settings pass through (tools/test's sanitized pass: reports to files, no leak check).
  local keep=()
  [ -n "${ASAN_OPTIONS:-}" ] && keep+=("ASAN_OPTIONS=$ASAN_OPTIONS")
  [ -n "${UBSAN_OPTIONS:-}" ] && keep+=("UBSAN_OPTIONS=$UBSAN_OPTIONS")
  tmux -S "$TMUX_SOCK" -f /dev/null new-session -d -s host -x 80 -y 24 \
    env -i PATH="$PATH" TERM=xterm HOME="$TEST_TMP" HISTFILE=/dev/null PS1='$ ' "${keep[@]}" bash --norc --noprofile -i
  tmux_ set-option -t host status off >/dev/null
}
tmux_() { tmux -S "$TMUX_SOCK" "$@"; }
tmux_gone() { ! tmux -S "$TMUX_SOCK" has-session 2>/dev/null; }

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds; returns 1 after SECONDS.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.05
  done
}

# tmux_type LINE: types LINE and Enter into the host shell, which then writes LINE's status to $TMUX_DONE.
tmux_type() {
  TMUX_STEP=$((TMUX_STEP + 1))
  TMUX_DONE="$TEST_TMP/.tmux-done.$TMUX_STEP"
  tmux_ send-keys -t host -l "$1; echo \$? >$TMUX_DONE"
  tmux_ send-keys -t host Enter
}
# tmux_wait: waits until the shell has run the line typed last; its status in $status.
tmux_wait() {
  wait_until 60 test -s "$TMUX_DONE" || fail "the host shell did not finish; its screen: $(tmux_ capture-pane -p -t host)"
  status=$(cat "$TMUX_DONE")
}
tmux_run() {
  tmux_type "$1"
  tmux_wait
}

# bubblewrap's CVE-2017-5226: a jailed program pushes a command line into its terminal's input with TIOCSTI.
# Had it the host's terminal, the host's shell would run that line once droot-exec exits.
test_run_tiocsti_from_the_jail_never_reaches_the_host_shell() {
  jail_root root
  jail_helper tiocsti root/bin/tiocsti
  mkdir out
  tmux_start
  # Control: the same program run by the host shell itself, in the same terminal, does get its line run.
  cp root/bin/tiocsti host-tiocsti
  tmux_run "'$TEST_TMP/host-tiocsti' 'touch $TEST_TMP/CONTROL' '$TEST_TMP/control.report'"
  tmux_run true  # typed after the injected line: once this one has run, so has that one
  assert_eq "TIOCSTI=ok" "$(head -1 control.report)"
  assert_file CONTROL
  local mode
  for mode in default none; do
    rm -f out/report
    tmux_run "'$EXEC' run --seccomp $mode --bind '$TEST_TMP/out:/out' root /bin/tiocsti 'touch $TEST_TMP/INJECTED' /out/report"
    assert_eq 0 "$status" "the jail with --seccomp $mode"
    tmux_run true
    assert_no_file INJECTED
    if [ $mode = default ]; then
      assert_eq "TIOCSTI=EPERM
TIOCLINUX=EPERM" "$(cat out/report)" "the seccomp filter must refuse both"
    else
      # No filter: the bytes went into the jail's own pty (its controlling terminal), which nobody read.
      assert_eq "TIOCSTI=ok" "$(head -1 out/report)"
      assert_ne "TIOCLINUX=ok" "$(tail -1 out/report)"
    fi
  done
  # --no-tty hands the host's terminal over as it is; the command still runs in a session of its own, and the
  # kernel refuses TIOCSTI on a terminal that is not the caller's controlling one — with no filter at all.
  rm -f out/report
  tmux_run "'$EXEC' run --no-tty --seccomp none --bind '$TEST_TMP/out:/out' root /bin/tiocsti 'touch $TEST_TMP/INJECTED' /out/report"
  assert_eq 0 "$status"
  tmux_run true
  assert_no_file INJECTED
  assert_eq "TIOCSTI=EPERM" "$(head -1 out/report)"
}

test_run_from_a_terminal_the_jail_has_a_pty_of_its_own() {
  jail_root root
  mkdir out
  printf '%s\n' '#!/bin/sh' "trap 'stty size >/out/size2' WINCH" 'stty size >/out/size1' \
    'while [ ! -s /out/size2 ]; do sleep 0.05; done' >root/bin/winch.sh
  # The shell's own descriptors ($$ in a command substitution is still the shell), not a redirected child's.
  printf '%s\n' '#!/bin/sh' 't=$(tty); f0=$(readlink /proc/$$/fd/0); f1=$(readlink /proc/$$/fd/1); f2=$(readlink /proc/$$/fd/2)' \
    'printf "%s\n" "$t" "$f0" "$f1" "$f2" >/out/tty' >root/bin/show-tty.sh
  printf '%s\n' '#!/bin/sh' 'echo started >/out/started' 'exec sleep 60' >root/bin/wait.sh
  chmod 755 root/bin/winch.sh root/bin/show-tty.sh root/bin/wait.sh
  tmux_start
  tmux_run "stty -g >'$TEST_TMP/mode.before'"
  local bind="--bind '$TEST_TMP/out:/out'"
  # `tty` names the jail's pty (no more "not a tty"), and it is all of stdin, stdout and stderr.
  tmux_run "'$EXEC' run $bind root /bin/show-tty.sh"
  assert_eq 0 "$status"
  assert_eq "/dev/pts/0
/dev/pts/0
/dev/pts/0
/dev/pts/0" "$(cat out/tty)"
  # The pane's size from the start, and the new one after the window is resized (SIGWINCH → TIOCSWINSZ).
  tmux_type "'$EXEC' run $bind root /bin/winch.sh"
  wait_until 30 test -s out/size1 || fail "winch.sh did not start: $(tmux_ capture-pane -p -t host)"
  assert_eq "24 80" "$(tmux_ display-message -p -t host '#{pane_height} #{pane_width}')"
  assert_eq "24 80" "$(cat out/size1)"
  tmux_ resize-window -t host -x 100 -y 30
  tmux_wait
  assert_eq 0 "$status"
  assert_eq "30 100" "$(cat out/size2)"
  # ^C typed on the terminal is a byte through the pty, whose line discipline interrupts the command.
  tmux_type "'$EXEC' run $bind root /bin/wait.sh"
  wait_until 30 test -s out/started || fail "wait.sh did not start: $(tmux_ capture-pane -p -t host)"
  tmux_ send-keys -t host C-c
  tmux_wait
  assert_eq 130 "$status"
  # SIGTERM to droot-exec still reaches the command; the terminal's mode comes back on that path too.
  rm -f out/started
  tmux_type "sh -c 'echo \$\$ >$TEST_TMP/pid; exec $EXEC run $bind root /bin/wait.sh'"
  wait_until 30 test -s out/started || fail "wait.sh did not start: $(tmux_ capture-pane -p -t host)"
  kill -TERM "$(cat pid)"
  tmux_wait
  assert_eq 143 "$status"
  tmux_run "stty -g >'$TEST_TMP/mode.after'"
  assert_eq "$(cat mode.before)" "$(cat mode.after)" "the host terminal's mode was not restored"
  # --no-tty: the host's terminal itself, which the jail's devpts cannot name.
  tmux_run "'$EXEC' run --no-tty $bind root /bin/show-tty.sh"
  assert_eq "not a tty" "$(head -1 out/tty)"
}

test_run_without_a_terminal_stdio_stays_plain_and_t_forces_a_pty() {
  jail_root root
  # stdin /dev/null, stdout and stderr files (run.sh's): no pty is even allocated.
  run "$EXEC" run root sh -c '[ -t 0 ] && echo stdin-is-a-tty; [ -t 1 ] && echo stdout-is-a-tty; ls /dev/pts'
  assert_status 0
  assert_eq "ptmx" "$out"
  # -t without a terminal: stdout and stderr are the pty (so \r\n), stdin stays the pipe, and its EOF ends cat.
  run sh -c "echo piped | '$EXEC' run -t root sh -c 'cat; readlink /proc/self/fd/0 | cut -c1-5; readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2'"
  assert_status 0
  assert_eq "$(printf 'piped\r\npipe:\r\n/dev/pts/0\r\n/dev/pts/0\r')" "$out"
  run "$EXEC" run -t root sh -c 'exit 7'
  assert_status 7
  run "$EXEC" run -t root sh -c 'kill -TERM $$'
  assert_status 143
  run "$EXEC" run -t --no-tty root true
  assert_status 125
  assert_contains "$err" "-t/--tty and --no-tty contradict each other"
}

test_run_leaves_the_host_mount_table_and_cgroups_unchanged() {
  jail_root root
  mkdir -p data
  ln -s ../../../../../.. root/srv/up
  local before
  before="$(host_mounts)"
  "$EXEC" run --bind "$TEST_TMP/data:/data" --ro-bind /etc:/host-etc --tmpfs /scratch --net none \
    --memory 64m --pids-limit 50 --read-only root sh -c 'ls /data /host-etc /scratch >/dev/null'
  # Failures half-way through building the jail: the partial jail lived in its own namespace only.
  run "$EXEC" run --bind "$TEST_TMP/data:/data" --bind "$TEST_TMP/data:/srv/up/x" root true
  assert_status 125
  run "$EXEC" run -u ghost --memory 64m root true
  assert_status 125
  run "$EXEC" run --pids-limit 5 root no-such-command
  assert_status 127
  assert_eq "$before" "$(host_mounts)" "the host's mount table changed"
  assert_eq 0 "$(run_cgroups_left)"
}

test_run_bad_inputs_give_clear_errors_and_leave_nothing() {
  jail_root root
  mkdir -p dest/releases
  ln -s ../../../../../.. root/srv/up
  local before
  before="$(host_mounts)"
  local -a cases=(
    "No such file or directory|$TEST_TMP/nothing"
    "without a \`current\` link|dest"
    "user 'ghost' not found|-u ghost root"
    "group 'ghosts' not found|-u app:ghosts root"
    "the source: No such file or directory|--bind /nonexistent-droot:/x root"
    "leads out of the rootfs|--bind /etc:/srv/up/etc root"
    "unknown capability|--cap-drop NOPE root"
    "expected KEY=VALUE|-e =oops root"
    "expected a size|--memory lots root"
    "expected host or none|--net bridge root"
    "must be absolute|--tmpfs relative root"
  )
  local c
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    run "$EXEC" run ${c#*|} true
    assert_status 125
    assert_contains "$err" "droot-exec: error: "
    assert_contains "$err" "${c%%|*}"
  done
  assert_eq "$before" "$(host_mounts)"
  assert_eq 0 "$(run_cgroups_left)"
}

test_entrypoint_override_replaces_entrypoint_and_drops_cmd() {
  build_busybox_rootfs root
  mkdir -p root/.droot
  printf '%s' '{"droot_artifact":1,"image":{"ref":"t"},"config":{"Entrypoint":["/bin/false"],"Cmd":["ignored"]}}' >root/.droot/config.json
  run "$EXEC" run --entrypoint /bin/echo root hello
  assert_status 0
  assert_eq "hello" "$out"
  run "$EXEC" run --entrypoint /bin/echo root
  assert_status 0
  assert_eq "" "$out" "the image's Cmd must not follow a replaced entrypoint"
  run "$EXEC" run --entrypoint "" root /bin/echo direct
  assert_eq "direct" "$out"
}

# An older kernel, shown on this one: the calls answer ENOSYS (tests/jail/nosys.c, a seccomp filter). run,
# deploy and check stop with one error naming every missing call and the kernel that brought it, before they
# read, mount or write anything.
test_run_and_deploy_on_a_kernel_without_the_calls_they_need_change_nothing() {
  jail_root root
  jail_helper nosys nosys
  local before cgroups_before mounts_before
  before="$(snapshot root)"
  cgroups_before="$(run_cgroups_left)"
  mounts_before="$(host_mounts | wc -l)"
  run ./nosys mount_setattr,fsopen "$EXEC" run --memory 32m root true
  assert_status 125
  assert_contains "$err" "droot-exec: error: run needs Linux 5.12 or newer, and this kernel (uname -r: $(uname -r)) lacks fsopen (Linux 5.2), mount_setattr (Linux 5.12)"
  assert_eq "" "$out"
  run ./nosys openat2 "$EXEC" run root true
  assert_status 125
  assert_contains "$err" "lacks openat2 (Linux 5.6); upgrade the kernel"
  assert_eq "$before" "$(snapshot root)" "the rootfs is unchanged"
  assert_eq "$cgroups_before" "$(run_cgroups_left)" "no run cgroup was made"
  assert_eq "$mounts_before" "$(host_mounts | wc -l)" "the host's mount table is unchanged"
  # deploy checks before it creates DEST or reads the artifact; check before it opens the tree.
  run ./nosys openat2 "$EXEC" deploy --insecure-unsigned /dev/null dest
  assert_status 125
  assert_contains "$err" "droot-exec: error: deploy needs Linux 5.6 or newer"
  assert_no_file dest
  run ./nosys openat2 "$EXEC" check root
  assert_status 125
  assert_contains "$err" "droot-exec: error: check needs Linux 5.6 or newer"
  # The same droot-exec without the filter: the calls are what it refused for.
  run "$EXEC" run root true
  assert_status 0
}

# The host's abstract unix sockets (containerd's CVE-2020-15257): they belong to the network namespace, so with
# --net host the jail would reach them. Landlock's abstract-socket scope (Linux 6.12+) refuses the connect;
# before it, only --net none closes this — the test asserts what the running kernel gives, either way.
test_run_host_abstract_unix_sockets_are_unreachable_where_the_kernel_allows() {
  jail_root root
  jail_helper abstract root/bin/abstract
  local name="droot-test-$$-$RANDOM" abi
  root/bin/abstract listen "$name" "$TEST_TMP/listening" &
  trap "kill $! 2>/dev/null || true" EXIT
  local i
  for i in $(seq 100); do [ -e listening ] && break; sleep 0.05; done
  assert_file listening
  # Control: from the host, the socket answers.
  assert_eq "connected" "$(root/bin/abstract connect "$name")"
  abi="$(root/bin/abstract landlock-abi)"
  run "$EXEC" run root /bin/abstract connect "$name"
  assert_status 0
  if [ "$abi" -ge 6 ]; then
    assert_eq "refused: EPERM" "$out" "Landlock ABI $abi: the host's abstract socket must be out of reach"
  else
    assert_eq "connected" "$out" "Landlock ABI $abi (no abstract-socket scope): reachable with --net host, as documented"
  fi
  run "$EXEC" run --net none root /bin/abstract connect "$name"
  assert_eq "refused: ECONNREFUSED" "$out" "--net none: another namespace's sockets do not exist"
  # The jail's own abstract sockets keep working.
  run "$EXEC" run root sh -c '/bin/abstract listen inside /tmp/up & for i in $(seq 100); do [ -e /tmp/up ] && break; sleep 0.05; done; /bin/abstract connect inside; kill $!'
  assert_eq "connected" "$out"
}

# ---- --userns: what only a run with a user namespace shows (the rest of this file is the matrix, above)

# userns_base DEST: BASE of DEST's recorded range.
userns_base() { cut -d: -f1 "$1/userns"; }

test_userns_the_jails_ids_are_an_unprivileged_host_range_of_the_dests_own() {
  overlay_dest dest
  overlay_dest other
  local rel base
  rel="$(current_release dest)"
  bb_run --userns dest 'cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; id -u; id -g;
    stat -c "%u:%g %n" /etc/passwd /etc/shadow /home/app; echo x >/srv/by-root; echo y >/tmp/by-app-later'
  assert_status 0
  base="$(userns_base dest)"
  [ "$base" -ge 2147483648 ] || fail "auto should pick a range above 2^31, got $base"
  # The namespace maps 0-65535 to BASE…; setgroups stays allowed (host root wrote gid_map), for the image's groups.
  assert_eq "0 $base 65536" "$(echo "$out" | sed -n 1p | tr -s ' ' | sed 's/^ //')"
  assert_eq "0 $base 65536" "$(echo "$out" | sed -n 2p | tr -s ' ' | sed 's/^ //')"
  assert_contains "$out" "allow
0
0"
  # The release keeps its manifest's owners on disk and shows them inside through the idmapped mount.
  assert_contains "$out" "0:0 /etc/passwd
0:42 /etc/shadow
1234:2345 /home/app"
  assert_eq "0 42" "$(stat -c '%u %g' "dest/releases/$rel/etc/shadow")"
  # What the jail writes is owned by host ids of the range: the jail's root is host uid BASE, not 0.
  assert_eq "$base $base" "$(stat -c '%u %g' "dest/state/$rel/upper/srv/by-root")"
  bb_run --userns -u app dest 'echo z >/home/app/by-app; id -u'
  assert_status 0
  assert_eq "1234" "$out"
  assert_eq "$((base + 1234)) $((base + 2345))" "$(stat -c '%u %g' "dest/state/$rel/upper/home/app/by-app")"
  # Seen from the host, the jailed process runs as BASE.
  "$EXEC" run --userns --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb dest /bb/sleep 31 &
  local pid=$! p=""
  # pgrep finds nothing until the jail has started: its status 1 must not end the test (set -e, pipefail).
  for _ in $(seq 50); do p="$(pgrep -x -f '/bb/sleep 31' | head -n1 || true)"; [ -n "$p" ] && break; sleep 0.1; done
  [ -n "$p" ] || fail "the jailed sleep did not start"
  assert_eq "$base" "$(stat -c %u "/proc/$p")"
  kill -TERM "$pid" 2>/dev/null || fail "droot-exec run --userns … sleep 31 ended early"
  wait "$pid" || true
  # The same DEST keeps its range; another DEST gets one that overlaps nothing.
  bb_run --userns=auto dest 'head -c 0 /dev/null'
  assert_eq "$base" "$(userns_base dest)"
  bb_run --userns other true
  local obase
  obase="$(userns_base other)"
  [ "$obase" -ge $((base + 65536)) ] || [ $((obase + 65536)) -le "$base" ] || fail "ranges overlap: $base and $obase"
  assert_contains "$(cat "$DROOT_USERNS_REGISTRY")" "$base:65536 $TEST_TMP/dest"
  assert_contains "$(cat "$DROOT_USERNS_REGISTRY")" "$obase:65536 $TEST_TMP/other"
  # check compares the release as ever, and lists the state's writes with the owners shifted back.
  run "$EXEC" check --changes dest
  assert_status 0
  assert_contains "$out" "clean, matches its manifest"
  assert_contains "$out" "added    home/app/by-app: file, 2 bytes"
  assert_contains "$out" "added    srv/by-root: file, 2 bytes"
  assert_not_contains "$out" "modified home/app: dir"
  assert_not_contains "$out" "modified srv: dir"
}

test_userns_root_inside_is_nobody_to_the_host() {
  overlay_dest dest
  local base
  bb_run --userns dest true
  base="$(userns_base dest)"
  mkdir -p mine hosts
  echo secret >hosts/secret
  chmod 0600 hosts/secret
  chown -R "$base:$base" mine
  # A bind keeps host owners: a directory of the jail's root is root's inside; host root's files are nobody's.
  bb_run --userns -b "$TEST_TMP/mine:/mine" -b "$TEST_TMP/hosts:/hosts" dest \
    'echo ok >/mine/new && stat -c "%u %n" /mine /hosts/secret; cat /hosts/secret; echo pwn >/hosts/new; echo 1 >/proc/sys/kernel/core_pattern; mknod /tmp/sda b 8 0; echo end'
  assert_contains "$out" "0 /mine
65534 /hosts/secret
end"
  assert_contains "$err" "can't open '/hosts/secret': Permission denied"
  assert_contains "$err" "can't create /hosts/new: Permission denied"
  assert_contains "$err" "core_pattern"
  assert_contains "$err" "mknod"
  assert_eq "$base $base" "$(stat -c '%u %g' mine/new)"
  assert_no_file hosts/new
  assert_ne "1" "$(cat /proc/sys/kernel/core_pattern)"
  # The jail's own filesystems are its root's: /dev, its nodes, /dev/shm, a --tmpfs, a --copy.
  bb_run --userns --tmpfs /scratch dest 'stat -c "%u:%g %n" /dev /dev/null /dev/shm /scratch /etc/hosts; echo x >/dev/shm/x; echo y >/scratch/y'
  assert_status 0
  assert_eq "0:0 /dev
0:0 /dev/null
0:0 /dev/shm
0:0 /scratch
0:0 /etc/hosts" "$out"
  # Capabilities: the same keep-list, now over the namespace; the hostname of its own UTS namespace.
  run "$EXEC" run --userns --hostname jailbox --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb dest /bb/sh -c 'hostname; grep CapEff /proc/self/status'
  local with="$out"
  run "$EXEC" run --userns=off --hostname jailbox --ro-bind "$TEST_TMP/bb:/bb" -e PATH=/bb --volatile dest /bb/sh -c 'hostname; grep CapEff /proc/self/status'
  assert_eq "$out" "$with"
  assert_contains "$with" "jailbox"
}

test_userns_state_written_with_other_ids_is_refused_and_the_env_sets_the_default() {
  overlay_dest dest
  local rel
  rel="$(current_release dest)"
  bb_run --userns=off dest 'echo host >/srv/written'
  assert_status 0
  assert_eq "host" "$(cat "dest/state/$rel/ids")"
  DROOT_USERNS=auto bb_run dest 'cat /srv/written'
  assert_status 125
  assert_contains "$err" "the state of release $rel ($TEST_TMP/dest/state/$rel) was written without --userns"
  assert_contains "$err" "run with --userns=off, or remove $TEST_TMP/dest/state/$rel"
  assert_eq "host" "$(cat "dest/state/$rel/ids")"
  # --userns=off overrides the environment; --volatile has no state to disagree with.
  DROOT_USERNS=auto bb_run --userns=off dest 'cat /srv/written'
  assert_eq "host" "$out"
  DROOT_USERNS=auto bb_run --volatile dest 'cat /proc/self/uid_map'
  assert_status 0
  assert_contains "$(echo "$out" | tr -s ' ')" " 0 $(userns_base dest) 65536"
  # A state nothing was written into changes hands.
  rm -rf "dest/state/$rel/upper/srv"
  DROOT_USERNS=auto bb_run dest 'echo ns >/srv/again'
  assert_status 0
  assert_eq "$(userns_base dest):65536" "$(cat "dest/state/$rel/ids")"
  run env DROOT_USERNS=sometimes "$EXEC" run dest true
  assert_status 125
  assert_contains "$err" "DROOT_USERNS 'sometimes': expected auto, off, or BASE[:COUNT]"
}

test_userns_bad_ranges_and_flags_are_refused_and_nothing_is_recorded() {
  overlay_dest dest
  overlay_dest other
  local rel base before
  rel="$(current_release other)"
  bb_run --userns dest true
  base="$(userns_base dest)"
  before="$(cat "$DROOT_USERNS_REGISTRY")"
  nothing_made() {
    assert_no_file other/userns
    assert_no_file "other/state/$rel"
    assert_eq "$before" "$(cat "$DROOT_USERNS_REGISTRY")"
  }
  bb_run --userns=$((base + 4096)):65536 other true
  assert_status 125
  assert_contains "$err" "host ids $((base + 4096)):65536 for $TEST_TMP/other overlap $base:65536, which $TEST_TMP/dest uses"
  nothing_made
  bb_run --userns=0:65536 other true
  assert_contains "$err" "the jail's root would be the host's root"
  bb_run --userns=4294967290:65536 other true
  assert_contains "$err" "the range ends past host id 4294967294"
  bb_run --userns=99999999999 other true
  assert_contains "$err" "the range ends past host id 4294967294"
  bb_run --userns --cap-add SYS_MODULE other true
  assert_status 125
  assert_contains "$err" "--cap-add SYS_MODULE with --userns: the kernel checks SYS_MODULE against the host's user namespace only"
  bb_run --userns --cap-add NET_ADMIN other true
  assert_contains "$err" "--net none gives the jail a network namespace of its own"
  nothing_made
  # A release with ids the range cannot hold: refused at run, naming the file (home/app is 1234:2345).
  bb_run --userns=3000000000:2000 other true
  assert_status 125
  assert_contains "$err" "run: /home/app in $TEST_TMP/other/releases/$rel is owned by gid 2345"
  assert_contains "$err" "give a COUNT above 2345"
  assert_no_file "other/state/$rel"
  # With --net none NET_ADMIN means something: the namespace's own network.
  bb_run --userns --net none --cap-add NET_ADMIN other 'ip link set lo down && echo down'
  assert_status 0
  assert_eq "down" "$out"
  # A kernel without mount_setattr (Linux < 5.12, no idmapped mounts): refused before anything is chosen.
  jail_helper nosys nosys
  before="$(cat "$DROOT_USERNS_REGISTRY")"
  mkdir plain
  run ./nosys mount_setattr "$EXEC" run --userns --read-only plain true
  assert_status 125
  assert_contains "$err" "mount_setattr"
  assert_eq "$before" "$(cat "$DROOT_USERNS_REGISTRY")"
}

test_userns_auto_takes_the_subordinate_ids_of_the_droot_user_and_avoids_everyone_elses() {
  overlay_dest dest
  overlay_dest other
  overlay_dest third
  overlay_dest fourth
  [ -e /etc/subuid ] && [ -e /etc/subgid ] || fail "this host has no /etc/subuid or /etc/subgid to bind over"
  # with_subids UIDS GIDS COMMAND: COMMAND with /etc/subuid and /etc/subgid as an operator would write them,
  # bound over the host's in a mount namespace of its own (the host's files are not touched).
  with_subids() {
    printf "$1" >subuid
    printf "$2" >subgid
    run unshare -m --propagation private sh -c "mount --bind '$TEST_TMP/subuid' /etc/subuid &&
      mount --bind '$TEST_TMP/subgid' /etc/subgid && $3"
  }
  local r="'$EXEC' run --userns --ro-bind '$TEST_TMP/bb:/bb'"
  # droot's ids, where both files give them (uids 300000…496607, gids 300000…499999): two aligned slots.
  with_subids 'podman:100000:65536\ndroot:300000:196608\n' 'droot:300000:200000\n' \
    "$r dest /bb/cat /proc/self/uid_map && $r other /bb/true && $r third /bb/true"
  assert_status 125
  assert_contains "$(echo "$out" | tr -s ' ')" " 0 327680 65536"
  assert_eq "327680:65536" "$(cat dest/userns)"
  assert_eq "393216:65536" "$(cat other/userns)"
  assert_contains "$err" "--userns=auto: no free range of 65536 host ids is left in the /etc/subuid and /etc/subgid ranges of user droot"
  assert_no_file third/userns
  # No droot user: the default pool, around every range the files give anyone.
  with_subids 'podman:2147483648:65536\n' 'podman:2147549184:65536\n' "$r fourth /bb/true"
  assert_status 0
  assert_eq "2147614720:65536" "$(cat fourth/userns)"
}
