# shellcheck shell=bash
# contrib/ansible/ (the droot role, rollout.yml, check.yml) against a small real fleet (fleet_lib.sh): four
# machines that boot systemd 252 under systemd-nspawn, with nothing of droot on them until the role installs it,
# reached by Debian's community.docker.nsenter connection plugin; artifacts from s3rver (npm, cached under
# /var/tmp) through Debian's aws CLI on each machine — behind nginx, one port per machine, so that the store's
# log says what each host fetched — and from nginx over HTTPS with a CA made here.
#
# One fleet for the whole file: suite_setup (run.sh's file-level fixture) boots it once, suite_teardown stops it
# (machines, s3rver, nginx), also after a failure or an interrupted run. The scenarios run in the order of
# their names (test_fleet_1_… to test_fleet_6_…), but none relies on what an earlier one left: each begins
# with fleet_reset (every machine up, /srv/app wiped, optionally one version deployed everywhere) and asserts
# the state of every host at its end.
# test-timeout: 900

source "$DROOT_SRC/tests/integration/fleet_lib.sh"

suite_setup() {
  FLEET_DIR="$SUITE_TMP"
  # run.sh's time limit sends SIGTERM: exit at once (long commands run in the background under `wait`);
  # suite_teardown stops whatever was started (fleet.env records it as it goes).
  trap 'exit 143' TERM INT
  fleet_start
}

suite_teardown() {
  FLEET_DIR="$SUITE_TMP"
  fleet_stop
}

# In each test: the suite's fleet; a play still running when the test ends (failure, time limit) is stopped.
fleet_attach() {
  FLEET_DIR="${SUITE_TMP:?fleet_test.sh needs the suite_setup of run.sh (SUITE_TMP)}"
  fleet_load
  trap 'stop_pid "${PLAY_PID:-}"' EXIT
  trap 'exit 143' TERM INT
  cd "$FLEET_DIR" || fail "cannot enter $FLEET_DIR"
}

deploy_v1_everywhere() {
  play v1 all-at-once.yml -e "$(s3 app-v1.tar.zst)"
  assert_play_status 0
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)" "every host runs v1"
}

test_fleet_1_v1_everywhere_then_v2_canary_then_25_percent_then_the_rest() {
  fleet_attach
  fleet_reset  # no release anywhere (and, first in the file, no droot at all: the role installs it)
  local i mark
  mark=$(s3_mark)
  deploy_v1_everywhere
  for i in $(seq "$FLEET_N"); do
    # each host fetched the artifact from the store once (the store's log)
    assert_eq "$(stat -c %s art/app-v1.tar.zst)" "$(fetched_bytes "$i" app-v1.tar.zst "$mark")" "bytes of v1 fetched by fleet$i"
    # installed by the role: the static binary, the key, the unit, the drop-in; the unit is enabled and active
    on "$i" cmp /usr/local/bin/droot-exec /proc/self/fd/0 <"$DROOT_STATIC" || fail "fleet$i: droot-exec is not the static build"
    on "$i" cmp /etc/droot/keys/fleet.pub /proc/self/fd/0 <keys/fleet.pub || fail "fleet$i: trusted key not installed"
    assert_eq enabled "$(on "$i" systemctl is-enabled droot@app)" "fleet$i: unit enabled"
    assert_eq active "$(on "$i" systemctl is-active droot@app)" "fleet$i: unit active"
    assert_eq 1 "$(recap "fleet$i" ok | grep -c .)" "fleet$i in the recap"
  done

  play v2 "$ROLE_DIR/rollout.yml" -e "$(s3 app-v2.tar.zst)"
  assert_play_status 0
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)" "every host runs v2"
  # three batches, in order: the canary, 25% (one host), the rest
  local batches="" line
  while read -r line; do
    batches="$batches${batches:+|}$(tr ' ' '\n' <<<"$line" | sort | paste -sd' ')"
  done < <(awk '/^TASK \[.*: Deploy from S3/ {t = 1; next}
                t && /^(changed|ok|fatal|skipping): \[/ {h = $2; gsub(/[\[\]:]/, "", h); printf "%s ", h; next}
                t && /^$/ {print ""; t = 0}' <<<"$out")
  assert_eq "fleet1|fleet2|fleet3 fleet4" "$batches" "deploy batches"
  for i in $(seq "$FLEET_N"); do
    assert_eq "$(payload12 art/app-v2.tar.zst)" "$(readlink "m$i/srv/app/current" | sed 's/.*-//')" "fleet$i: current is v2's payload"
    [ "$(recap "fleet$i" changed)" -gt 0 ] || fail "fleet$i: the v2 rollout changed nothing"
  done

}

test_fleet_2_rerunning_the_rollout_changes_nothing() {
  fleet_attach
  fleet_reset v2  # every host runs v2 (deployed, with the droot-exec, key and unit the role installed)
  # The playbook that put v2 there, then the rollout of what every host already runs: nothing to do anywhere,
  # nothing is downloaded (the store's log: only the .minisig is read), deployed or restarted.
  local i before after book mark
  before=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)
  for book in all-at-once.yml "$ROLE_DIR/rollout.yml"; do
    mark=$(s3_mark)
    play v2-again "$book" -e "$(s3 app-v2.tar.zst)"
    assert_play_status 0
    assert_not_contains "$out" "changed: [" "a task changed something ($book)"
    for i in $(seq "$FLEET_N"); do
      assert_eq 0 "$(recap "fleet$i" changed)" "fleet$i: changed on a re-run ($book)"
      assert_eq 0 "$(recap "fleet$i" failed)" "fleet$i: failed on a re-run ($book)"
      [ "$(recap "fleet$i" ok)" -gt 5 ] || fail "fleet$i: the re-run did not run the role ($book)"
    done
    for i in $(seq "$FLEET_N"); do
      assert_eq 0 "$(fetched_bytes "$i" app-v2.tar.zst "$mark")" "fleet$i downloaded the artifact again ($book)"
    done
    after=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)
    assert_eq "$before" "$after" "releases, current and service PIDs after the re-run ($book)"
  done
  all_serving || fail "a service is down after the re-run"
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
}

test_fleet_3_v3_fails_its_health_gate_the_canary_rolls_back_and_the_rollout_stops() {
  fleet_attach
  fleet_reset v2
  local i before=() v2rel
  v2rel=$(readlink m1/srv/app/current)
  for i in $(seq 2 "$FLEET_N"); do before[$i]=$(host_fingerprint "$i"); done

  play v3 "$ROLE_DIR/rollout.yml" -e "$(s3 app-v3.tar.zst)"
  assert_play_status 2
  # the failure names the host and the check
  assert_contains "$out" "fatal: [fleet1]: FAILED!"
  assert_contains "$out" "droot: fleet1: health check http://127.0.0.1:${PORTS[1]}/health failed after 5 tries"
  assert_contains "$out" "rolled back to ${v2rel#releases/} and restarted"
  # the canary deployed v3, rolled back: current is v2 again and it serves v2; v3 stays in releases/
  assert_eq "$v2rel" "$(readlink m1/srv/app/current)" "fleet1's current after the rollback"
  assert_eq "v2/v2" "$(host_state 1)" "fleet1 serves v2 again"
  ls m1/srv/app/releases | grep -q -- "-$(payload12 art/app-v3.tar.zst)\$" || fail "fleet1 never deployed v3"
  assert_eq active "$(on 1 systemctl is-active droot@app)"
  # no other host was touched: same releases, same current, same service process; the play never reached them
  for i in $(seq 2 "$FLEET_N"); do
    assert_eq "${before[$i]}" "$(host_fingerprint "$i")" "fleet$i was touched"
    assert_eq "v2/v2" "$(host_state "$i")" "fleet$i"
    assert_eq "" "$(recap "fleet$i" ok)" "fleet$i ran tasks"
  done
}

test_fleet_4_drift_report_and_an_unreachable_host_mid_rollout() {
  fleet_attach
  fleet_reset v1
  # clean fleet: report says so, play succeeds
  play check-clean "$ROLE_DIR/check.yml" -e droot_report="$FLEET_DIR/clean.json"
  assert_play_status 0
  assert_eq "4 4 0 0" "$(jq -r '.summary | "\(.hosts) \(.clean) \(.drift) \(.error)"' clean.json)"
  # tamper with fleet2's current release: one file modified, one added, one removed
  local rel="m2/srv/app/releases/$(readlink m2/srv/app/current | sed 's|releases/||')"
  echo hacked >>"$rel/www/version"
  echo planted >"$rel/www/planted"
  rm "$rel/etc/group"
  play check-drift "$ROLE_DIR/check.yml" -e droot_report="$FLEET_DIR/drift.json"
  assert_play_status 2
  assert_contains "$out" "droot: fleet2: not clean"
  assert_eq "4 3 1 0" "$(jq -r '.summary | "\(.hosts) \(.clean) \(.drift) \(.error)"' drift.json)"
  assert_eq "drift" "$(jq -r '.hosts.fleet2.status' drift.json)"
  assert_eq '{"extra":1,"missing":1,"modified":1}' "$(jq -cS '.hosts.fleet2.counts' drift.json)"
  assert_eq "www/planted" "$(jq -r '.hosts.fleet2.differences[] | select(.kind == "extra") | .path' drift.json)"
  assert_eq "$IMAGE_REPO:v1" "$(jq -r '.hosts.fleet2.image.ref' drift.json)"
  assert_eq "$(basename "$rel")" "$(jq -r '.hosts.fleet2.release' drift.json)"
  assert_eq "clean clean clean" "$(jq -r '[.hosts.fleet1.status, .hosts.fleet3.status, .hosts.fleet4.status] | join(" ")' drift.json)"
  # the table
  assert_contains "$out" "fleet2               drift       $IMAGE_REPO:v1"
  assert_contains "$out" "extra=1 missing=1 modified=1"

  # fleet3 goes away; then v2 rolls out: canary and 25% are done; in the last batch (fleet3, fleet4) fleet3 is
  # unreachable at its first task and counts as failed (the play fails), while fleet4 goes on to v2 and serves.
  stop_machine 3
  play v2 "$ROLE_DIR/rollout.yml" -e "$(s3 app-v2.tar.zst)"
  [ "$status" -ne 0 ] || fail "the rollout succeeded with an unreachable host"
  assert_eq 1 "$(recap fleet3 unreachable)" "fleet3 unreachable in the recap"
  assert_contains "$out" "fatal: [fleet3]: UNREACHABLE!"
  assert_eq "v2/v2" "$(host_state 1)" "fleet1"
  assert_eq "v2/v2" "$(host_state 2)" "fleet2"
  assert_eq "v2/v2" "$(host_state 4)" "fleet4, in the unreachable host's batch"
  assert_eq 0 "$(recap fleet4 failed)" "fleet4 failed"
  assert_eq 0 "$(recap fleet4 unreachable)" "fleet4 unreachable"
  assert_eq "v1" "$("$EXEC" list --json m3/srv/app | jq -r '.releases[] | select(.current) | .image' | sed 's/.*://')" "fleet3's disk still holds v1 as current"
  # and the report names it
  play check-unreachable "$ROLE_DIR/check.yml" -e droot_report="$FLEET_DIR/unreachable.json"
  [ "$status" -ne 0 ] || fail "check.yml succeeded with an unreachable host"
  assert_contains "$out" "droot: fleet3: not clean"
  assert_eq "unreachable" "$(jq -r '.hosts.fleet3.status' unreachable.json)"
  assert_eq "$IMAGE_REPO:v2 $IMAGE_REPO:v2" "$(jq -r '[.hosts.fleet1.image.ref, .hosts.fleet4.image.ref] | join(" ")' unreachable.json)"
}

test_fleet_5_https_source_and_bad_inputs_switch_no_host() {
  fleet_attach
  fleet_reset  # no release anywhere; after test_fleet_4, fleet3 boots again without droot: the role installs it
  # v1 over HTTPS (nginx, CA installed by the role)
  play v1-https all-at-once.yml -e "droot_artifact_url=https://127.0.0.1:$HTTPS_PORT/app-v1.tar.zst"
  assert_play_status 0
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)"
  local i before
  before=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)

  # an artifact signed by a key the hosts do not trust: every host refuses, none switches
  play untrusted all-at-once.yml -e "$(s3 app-untrusted.tar.zst)"
  assert_play_status 2
  for i in $(seq "$FLEET_N"); do
    assert_eq 1 "$(recap "fleet$i" failed)" "fleet$i did not refuse the untrusted artifact"
  done
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*not.*trusted' <<<"$out" || true)" "every host names the untrusted key: $out"
  assert_eq "$before" "$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)" "a host switched"

  # through the rollout: the canary refuses and no other host is tried
  play untrusted-rollout "$ROLE_DIR/rollout.yml" -e "$(s3 app-untrusted.tar.zst)"
  assert_play_status 2
  assert_eq 1 "$(recap fleet1 failed)"
  assert_eq "" "$(recap fleet2 ok)" "fleet2 was tried after the canary failed"

  # a .sha256 that does not match the artifact: get_url refuses the download on every host
  cp www/app-v2.tar.zst www/app-bad.tar.zst
  cp www/app-v2.tar.zst.minisig www/app-bad.tar.zst.minisig
  echo "$(sha256sum www/app-v1.tar.zst | cut -d' ' -f1)  app-bad.tar.zst" >www/app-bad.tar.zst.sha256
  play checksum all-at-once.yml -e "droot_artifact_url=https://127.0.0.1:$HTTPS_PORT/app-bad.tar.zst"
  assert_play_status 2
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*The checksum for /var/cache/droot/app-bad.tar.zst did not match' <<<"$out" || true)" "checksum mismatch on every host: $out"
  for i in $(seq "$FLEET_N"); do
    on "$i" test ! -e /var/cache/droot/app-bad.tar.zst || fail "fleet$i kept the bad download"
  done

  # an object that is not in the bucket
  play missing all-at-once.yml -e "$(s3 app-v9.tar.zst)"
  assert_play_status 2
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*\(404\|Not Found\|does not exist\)' <<<"$out" || true)" "missing object on every host: $out"

  assert_eq "$before" "$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)" "a host switched or restarted"
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)"

  # and v2 over HTTPS with droot_delta_url: every host holds v1, so every host downloads the delta (get_url,
  # checked against its .sha256), deploys it, and removes the download; nobody downloads the full v2
  local mark
  mark=$(s3_mark)
  play v2-https-delta all-at-once.yml -e "droot_artifact_url=https://127.0.0.1:$HTTPS_PORT/app-v2.tar.zst" \
    -e "droot_delta_url=https://127.0.0.1:$HTTPS_PORT/app-v2.delta.tar.zst"
  assert_play_status 0
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
  assert_eq "$((4 * $(stat -c %s www/app-v2.delta.tar.zst))) 0" \
    "$(tail -c +"$((mark + 1))" nginx/logs/access.log | awk -v p="$HTTPS_PORT" '$1 == p && $2 == "GET" && $3 == "/app-v2.delta.tar.zst" { d += $5 }
       $1 == p && $2 == "GET" && $3 == "/app-v2.tar.zst" { f += $5 } END { print d + 0, f + 0 }')" "bytes of the delta and of the full v2 sent over HTTPS"
  for i in $(seq "$FLEET_N"); do
    assert_eq "$(payload12 art/app-v2.delta.tar.zst)" "$(readlink "m$i/srv/app/current" | sed 's/.*-//')" "fleet$i: current is the delta's release"
    on "$i" test ! -e /var/cache/droot/app-v2.delta.tar.zst || fail "fleet$i kept the downloaded delta"
  done
}

# droot_delta_s3: a delta where the host holds its base, the full artifact elsewhere — and after a refused delta.
test_fleet_6_delta_where_the_host_holds_its_base_the_full_artifact_elsewhere() {
  fleet_attach
  fleet_reset v1  # v1, the full artifact, on every host (the role fetching it from the store: test_fleet_1)
  local i mark full2 delta2 p_full p_delta
  full2=$(stat -c %s art/app-v2.tar.zst)
  delta2=$(stat -c %s art/app-v2.delta.tar.zst)
  p_full=$(payload12 art/app-v2.tar.zst)
  p_delta=$(payload12 art/app-v2.delta.tar.zst)
  # the delta names v1 as its base, and is a fraction of the full artifact
  assert_eq "$("$EXEC" verify --json -p keys/fleet.pub art/app-v1.tar.zst | jq -r .payload_sha256)" \
    "$("$EXEC" verify --json -p keys/fleet.pub art/app-v2.delta.tar.zst | jq -r '.delta.bases | map(.payload_sha256) | join(",")')" "the delta's base"
  [ "$delta2" -lt $((full2 / 4)) ] || fail "the delta ($delta2 bytes) is not much smaller than the full v2 ($full2 bytes)"


  # fleet4 is wiped: a host without any release. fleet3 keeps its v1 release but its store lost the object of
  # bin/busybox, which the delta takes from the base: deploy refuses the delta there.
  fleet_wipe 4
  local obj
  obj=$(find m3/srv/app/objects -type f -samefile "m3/srv/app/$(readlink m3/srv/app/current)/bin/busybox")
  [ -n "$obj" ] || fail "no object for fleet3's bin/busybox"
  rm "$obj"

  mark=$(s3_mark)
  play v2-delta all-at-once.yml -e "$(s3 app-v2.tar.zst)" -e droot_delta_s3=s3://artifacts/app-v2.delta.tar.zst
  assert_play_status 0
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
  # what each host fetched, by the store's log; and the release it runs (named after the payload it deployed)
  for i in 1 2; do
    assert_eq "$delta2 0" "$(fetched_bytes "$i" app-v2.delta.tar.zst "$mark") $(fetched_bytes "$i" app-v2.tar.zst "$mark")" \
      "fleet$i (holds v1) fetched the delta only: delta and full bytes"
    assert_eq "$p_delta" "$(readlink "m$i/srv/app/current" | sed 's/.*-//')" "fleet$i: current is the delta's release"
  done
  assert_eq "$delta2 $full2" "$(fetched_bytes 3 app-v2.delta.tar.zst "$mark") $(fetched_bytes 3 app-v2.tar.zst "$mark")" \
    "fleet3 (v1 listed, an object missing) fetched the delta, then the full artifact: delta and full bytes"
  assert_contains "$out" "droot: fleet3: the delta was refused ("
  assert_contains "$out" "deploy the full artifact instead"
  assert_eq "0 $full2" "$(fetched_bytes 4 app-v2.delta.tar.zst "$mark") $(fetched_bytes 4 app-v2.tar.zst "$mark")" \
    "fleet4 (wiped) fetched the full artifact only: delta and full bytes"
  assert_contains "$out" "droot: fleet4: no release of its base ($(payload12 art/app-v1.tar.zst)) in /srv/app: fetching the full artifact"
  for i in 3 4; do
    assert_eq "$p_full" "$(readlink "m$i/srv/app/current" | sed 's/.*-//')" "fleet$i: current is the full artifact's release"
  done
  for i in $(seq "$FLEET_N"); do
    [ "$(recap "fleet$i" changed)" -gt 0 ] || fail "fleet$i: the v2 rollout changed nothing"
    assert_eq 0 "$("$EXEC" check -q "m$i/srv/app" && echo 0 || echo $?)" "fleet$i: check after the delta rollout"
  done

  # the same play again: every host is current, whichever artifact it took; nothing fetched but signatures
  mark=$(s3_mark)
  play v2-delta-again all-at-once.yml -e "$(s3 app-v2.tar.zst)" -e droot_delta_s3=s3://artifacts/app-v2.delta.tar.zst
  assert_play_status 0
  for i in $(seq "$FLEET_N"); do
    assert_eq 0 "$(recap "fleet$i" changed)" "fleet$i: changed on a re-run with the delta"
    assert_eq "0 0" "$(fetched_bytes "$i" app-v2.delta.tar.zst "$mark") $(fetched_bytes "$i" app-v2.tar.zst "$mark")" \
      "fleet$i fetched an artifact on the re-run"
  done
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
}
