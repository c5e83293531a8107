# shellcheck shell=bash
# contrib/ansible/ (the droot role, rollout.yml, check.yml) against a small real fleet: four machines that
# boot systemd 252 (systemd-nspawn -b on a cached Debian 12 tree, each with --volatile=overlay over it and its
# own /srv), with nothing of droot on them until the role installs it. Ansible reaches them with Debian's
# community.docker.nsenter connection plugin (README, "Fleet rollout with Ansible": why not ssh). Artifacts come
# from a real S3-compatible server on 127.0.0.1 (s3rver, npm, cached under /var/tmp) through Debian's aws CLI
# on each machine, and from nginx over HTTPS with a CA made here. The machines share this machine's network:
# each runs its service on a port of its own, passed by the role as `droot-exec run -e PORT=…`.
#
# Each test boots its own fleet and stops it (machines, s3rver, nginx) on every exit path.
# test-timeout: 1500

FLEET_SYSTEMD_ROOT="${DROOT_SYSTEMD_ROOT:-/var/tmp/droot-test-systemd-bookworm}"
# The systemd tree plus what Ansible and the role need on a server: python3, Debian's awscli, CA certificates.
FLEET_ROOT="${DROOT_FLEET_ROOT:-/var/tmp/droot-test-fleet-bookworm}"
FLEET_S3RVER="${DROOT_S3RVER_DIR:-/var/tmp/droot-test-s3rver}"
FLEET_S3RVER_VERSION=3.7.1
FLEET_N=4
AWS=/usr/bin/aws  # Debian's awscli, not whatever else PATH finds first
ROLE_DIR="$DROOT_SRC/contrib/ansible"
IMAGE_REPO=droot-test/fleet

fleet_prerequisites() {
  local c missing=""
  for c in ansible-playbook nginx openssl jq nsenter systemd-nspawn npm node curl python3; do
    command -v "$c" >/dev/null || missing="$missing $c"
  done
  [ -x "$AWS" ] || missing="$missing $AWS(awscli)"
  [ -z "$missing" ] || fail "missing:$missing — run tools/setup (ansible awscli nginx-light nodejs/npm)"
  [ -n "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST is not set: the fleet test packs its images with a dockerd (tools/dockerd start DIR)"
  [ -f /usr/lib/python3/dist-packages/ansible_collections/community/docker/plugins/connection/nsenter.py ] ||
    fail "Debian's ansible (7.x, with community.docker's nsenter connection) is not installed: run tools/setup"
}

fleet_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# $FLEET_ROOT, once per machine: a copy of systemd_test.sh's tree (debootstrapped here if that one is missing)
# with python3, awscli and ca-certificates added by apt inside it. ~45 s the first time.
ensure_fleet_root() {
  (
    flock 9
    [ -x "$FLEET_ROOT/usr/lib/systemd/systemd" ] && [ -x "$FLEET_ROOT/usr/bin/aws" ] && exit 0
    tmp="$FLEET_ROOT.tmp-$$"
    rm -rf "$tmp"
    if [ -x "$FLEET_SYSTEMD_ROOT/usr/lib/systemd/systemd" ]; then
      cp -a "$FLEET_SYSTEMD_ROOT" "$tmp"
    else
      debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tmp" "$(fleet_mirror)" \
        >"$TEST_TMP/debootstrap.log" 2>&1 || { tail -n 20 "$TEST_TMP/debootstrap.log" >&2; rm -rf "$tmp"; exit 1; }
    fi
    systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe env DEBIAN_FRONTEND=noninteractive sh -c \
      'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 awscli ca-certificates' \
      >"$TEST_TMP/fleet-root.log" 2>&1 </dev/null || { tail -n 20 "$TEST_TMP/fleet-root.log" >&2; rm -rf "$tmp"; exit 1; }
    mv "$tmp" "$FLEET_ROOT"
  ) 9>/tmp/droot-fleet-root.lock || fail "cannot make the fleet's Debian 12 tree $FLEET_ROOT"
}

# s3rver from the npm registry, installed once into $FLEET_S3RVER (never into the repository).
ensure_s3rver() {
  (
    flock 9
    [ -x "$FLEET_S3RVER/node_modules/.bin/s3rver" ] && exit 0
    tmp="$FLEET_S3RVER.tmp-$$"
    rm -rf "$tmp"
    npm install --prefix "$tmp" --no-audit --no-fund "s3rver@$FLEET_S3RVER_VERSION" >"$TEST_TMP/npm.log" 2>&1 ||
      { tail -n 20 "$TEST_TMP/npm.log" >&2; rm -rf "$tmp"; exit 1; }
    mv "$tmp" "$FLEET_S3RVER"
  ) 9>/tmp/droot-s3rver.lock || fail "cannot install s3rver@$FLEET_S3RVER_VERSION from npm into $FLEET_S3RVER"
}

# The static droot-exec the role installs (as static_test.sh builds it: DROOT_STATIC_BUILD, default build-static),
# or DROOT_STATIC_EXEC, an already built one.
fleet_static_exec() {
  if [ -n "${DROOT_STATIC_EXEC:-}" ]; then
    file -L "$DROOT_STATIC_EXEC" | grep -q "statically linked" || fail "DROOT_STATIC_EXEC=$DROOT_STATIC_EXEC is not a static executable"
    echo "$DROOT_STATIC_EXEC"
    return 0
  fi
  local dir="${DROOT_STATIC_BUILD:-$DROOT_SRC/build-static}"
  (
    flock 9
    if [ ! -f "$dir/build.ninja" ]; then
      meson setup "$dir" "$DROOT_SRC" -Dstatic_exec=true -Dbuildtype=release >"$TEST_TMP/static-setup.log" 2>&1 ||
        { tail -n 30 "$TEST_TMP/static-setup.log" >&2; exit 1; }
    fi
    ninja -C "$dir" src/exec/droot-exec >"$TEST_TMP/static-build.log" 2>&1 ||
      { tail -n 30 "$TEST_TMP/static-build.log" >&2; exit 1; }
  ) 9>/tmp/droot-static-build.lock >&2 || fail "cannot build the static droot-exec in $dir"
  echo "$dir/src/exec/droot-exec"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_port() {  # port what
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$2 does not listen on 127.0.0.1:$1"
}

# fleet_image VERSION: image $IMAGE_REPO:VERSION, a busybox tree whose command serves /www with busybox httpd on
# $PORT; /www/version says VERSION; /www/health exists unless VERSION is v3 (the release that fails its gate).
fleet_image() {
  local v="$1" ref="$IMAGE_REPO:$1"
  docker_cli image inspect "$ref" >/dev/null 2>&1 && return 0
  local tmp
  tmp="$(mktemp -d)"
  build_busybox_rootfs "$tmp/root"
  mkdir -p "$tmp/root/www"
  echo "$v" >"$tmp/root/www/version"
  [ "$v" = v3 ] || echo ok >"$tmp/root/www/health"
  touch -d @1700000000 "$tmp/root/www" "$tmp/root/www"/*
  tar -C "$tmp/root" --numeric-owner -cf - . |
    docker_cli import -c 'CMD ["/bin/sh", "-c", "exec httpd -f -p \"$PORT\" -h /www"]' - "$ref" >/dev/null
  rm -rf "$tmp"
}

# Everything a scenario needs: keys, artifacts v1–v3 (and v2 signed by an untrusted key) in s3rver's bucket
# `artifacts` and in nginx's HTTPS root, four booted machines, an inventory.
fleet_setup() {
  fleet_prerequisites
  ensure_fleet_root
  ensure_s3rver
  DROOT_STATIC="$(fleet_static_exec)"
  # run.sh's time limit sends SIGTERM: exit through the EXIT trap, which stops machines and servers. Long
  # commands run in the background under `wait`, which a trapped signal interrupts at once.
  trap fleet_teardown EXIT
  trap 'exit 143' TERM INT
  mkdir -p art www keys
  "$PACK" keygen -p keys/fleet.pub -s keys/fleet.sec --no-password >/dev/null
  "$PACK" keygen -p keys/other.pub -s keys/other.sec --no-password >/dev/null
  local v
  for v in v1 v2 v3; do
    fleet_image "$v"
    "$PACK" -q -s keys/fleet.sec --source-date-epoch 1700000000 -o "art/app-$v.tar.zst" "$IMAGE_REPO:$v"
  done
  "$PACK" -q -s keys/other.sec --source-date-epoch 1700000000 -o art/app-untrusted.tar.zst "$IMAGE_REPO:v2"

  # S3: s3rver on 127.0.0.1, filled with the real aws CLI.
  S3_PORT=$(free_port)
  "$FLEET_S3RVER/node_modules/.bin/s3rver" -d "$TEST_TMP/s3" -a 127.0.0.1 -p "$S3_PORT" -s \
    --configure-bucket artifacts >"$TEST_TMP/s3rver.log" 2>&1 &
  S3_PID=$!
  wait_port "$S3_PORT" s3rver
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1
  local f
  for f in art/*; do
    "$AWS" --endpoint-url "http://127.0.0.1:$S3_PORT" s3 cp --only-show-errors "$f" "s3://artifacts/$(basename "$f")" ||
      fail "aws s3 cp $f to s3rver failed"
  done

  # HTTPS: nginx with a server certificate for 127.0.0.1 from a CA made here.
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=droot-fleet-test-ca -keyout ca.key -out ca.pem 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out srv.pem 2>/dev/null
  cp art/* www/
  HTTPS_PORT=$(free_port)
  mkdir -p nginx/logs
  cat >nginx/nginx.conf <<EOF
user root;
daemon off;
worker_processes 1;
pid $TEST_TMP/nginx/nginx.pid;
error_log $TEST_TMP/nginx/logs/error.log;
events { worker_connections 64; }
http {
  access_log $TEST_TMP/nginx/logs/access.log;
  client_body_temp_path $TEST_TMP/nginx/body;
  proxy_temp_path $TEST_TMP/nginx/proxy;
  fastcgi_temp_path $TEST_TMP/nginx/fastcgi;
  uwsgi_temp_path $TEST_TMP/nginx/uwsgi;
  scgi_temp_path $TEST_TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    ssl_certificate $TEST_TMP/srv.pem;
    ssl_certificate_key $TEST_TMP/srv.key;
    root $TEST_TMP/www;
  }
}
EOF
  nginx -p "$TEST_TMP/nginx" -c "$TEST_TMP/nginx/nginx.conf" 2>"$TEST_TMP/nginx/stderr" &
  NGINX_PID=$!
  wait_port "$HTTPS_PORT" nginx
  curl -fsS --cacert ca.pem -o /dev/null "https://127.0.0.1:$HTTPS_PORT/app-v1.tar.zst.sha256" ||
    fail "nginx does not serve the artifacts over HTTPS"

  fleet_boot
  fleet_inventory
}

# Boots machines fleet1..fleet4 in parallel: NSPAWN_PIDS[i], INIT_PIDS[i]; each one's /srv is $TEST_TMP/mI/srv.
fleet_boot() {
  local i
  for i in $(seq "$FLEET_N"); do
    mkdir -p "m$i/srv"
    systemd-nspawn -q -D "$FLEET_ROOT" -b -M "fleet$i" --register=no --keep-unit --volatile=overlay \
      --bind="$TEST_TMP/m$i/srv:/srv" >"$TEST_TMP/m$i/nspawn.log" 2>&1 </dev/null &
    NSPAWN_PIDS[$i]=$!
  done
  for i in $(seq "$FLEET_N"); do
    INIT_PIDS[$i]=""
    for _ in $(seq 200); do
      INIT_PIDS[$i]=$(pgrep -P "${NSPAWN_PIDS[$i]}" -x systemd | head -n 1 || true)
      [ -n "${INIT_PIDS[$i]}" ] && break
      kill -0 "${NSPAWN_PIDS[$i]}" 2>/dev/null || { cat "$TEST_TMP/m$i/nspawn.log" >&2; fail "fleet$i: systemd-nspawn exited at boot"; }
      sleep 0.1
    done
    [ -n "${INIT_PIDS[$i]}" ] || fail "fleet$i: systemd-nspawn started no init"
  done
  local state
  for i in $(seq "$FLEET_N"); do
    state=""
    for _ in $(seq 300); do
      state=$(timeout 60 nsenter -t "${INIT_PIDS[$i]}" -m -u -i -n -p systemctl is-system-running --wait 2>&1 || true)
      case "$state" in running | degraded) break ;; esac
      sleep 0.2
    done
    case "$state" in running | degraded) ;; *) tail -n 30 "$TEST_TMP/m$i/nspawn.log" >&2; fail "fleet$i: systemd is '$state'" ;; esac
    # droot is not there before the role runs
    on "$i" test ! -e /usr/local/bin/droot-exec || fail "fleet$i has a droot-exec before the role ran"
  done
}

stop_machine() {  # i
  local pid="${NSPAWN_PIDS[$1]:-}"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  NSPAWN_PIDS[$1]=""
}

fleet_teardown() {
  local i
  if [ -n "${PLAY_PID:-}" ]; then kill "$PLAY_PID" 2>/dev/null || true; wait "$PLAY_PID" 2>/dev/null || true; fi
  for i in $(seq "$FLEET_N"); do stop_machine "$i"; done
  if [ -n "${S3_PID:-}" ]; then kill "$S3_PID" 2>/dev/null || true; wait "$S3_PID" 2>/dev/null || true; fi
  if [ -n "${NGINX_PID:-}" ]; then kill "$NGINX_PID" 2>/dev/null || true; wait "$NGINX_PID" 2>/dev/null || true; fi
  return 0
}

on() {  # i COMMAND...: run in machine i
  local i="$1"
  shift
  nsenter -t "${INIT_PIDS[$i]}" -m -u -i -n -p "$@"
}

# The inventory: group droot, connection community.docker.nsenter to each machine's PID 1; per host the port
# its service listens on and the health URL on it.
fleet_inventory() {
  local i hosts="" port
  for i in $(seq "$FLEET_N"); do
    port=$(free_port)
    PORTS[$i]=$port
    hosts="$hosts${hosts:+,}\"fleet$i\": {\"ansible_nsenter_pid\": ${INIT_PIDS[$i]},
      \"droot_run_args\": [\"-e\", \"PORT=$port\"], \"droot_health_url\": \"http://127.0.0.1:$port/health\"}"
  done
  cat >inventory.yml <<EOF
{"all": {"children": {"droot": {"hosts": {$hosts}}},
  "vars": {"ansible_connection": "community.docker.nsenter", "ansible_python_interpreter": "/usr/bin/python3",
    "droot_exec_src": "$DROOT_STATIC", "droot_keys": ["$TEST_TMP/keys/fleet.pub"],
    "droot_s3_endpoint_url": "http://127.0.0.1:$S3_PORT", "droot_ca_cert": "$TEST_TMP/ca.pem",
    "droot_aws_environment": {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
                              "AWS_DEFAULT_REGION": "us-east-1"},
    "droot_health_retries": 5, "droot_health_delay": 1}}}
EOF
  # All hosts at once (the first install, and the bad-input cases where every host must refuse).
  cat >all-at-once.yml <<EOF
- hosts: droot
  gather_facts: false
  roles: [{role: "$ROLE_DIR/roles/droot"}]
EOF
  cat >ansible.cfg <<EOF
[defaults]
forks = 8
host_key_checking = false
local_tmp = $TEST_TMP/ansible-local
retry_files_enabled = false
callbacks_enabled = ansible.posix.profile_tasks
EOF
}

# play NAME PLAYBOOK [ansible-playbook args…]: runs it; $status, $out (the whole output, also in NAME.log).
play() {
  local name="$1" book="$2"
  shift 2
  ANSIBLE_CONFIG="$TEST_TMP/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    ansible-playbook -i inventory.yml "$book" "$@" >"$TEST_TMP/.out" 2>"$TEST_TMP/.err" </dev/null &
  PLAY_PID=$!
  set +e
  wait "$PLAY_PID"
  status=$?
  set -e
  PLAY_PID=""
  out="$(cat "$TEST_TMP/.out")"
  err="$(cat "$TEST_TMP/.err")"
  printf '%s\n%s\n' "$out" "$err" >"$name.log"
  [ -z "${DROOT_FLEET_LOGS:-}" ] || { mkdir -p "$DROOT_FLEET_LOGS"; cp "$name.log" "$DROOT_FLEET_LOGS/"; }
  out="$out
$err"
}

# recap HOST FIELD: a number from the PLAY RECAP of the last play (ok, changed, unreachable, failed, …).
recap() {
  awk -v h="$1" -v f="$2" '$1 == h && $2 == ":" { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) v = kv[2] } } END { print v }' <<<"$out"
}

s3() { echo "droot_artifact_s3=s3://artifacts/$1"; }

# What machine i runs: "<version served over HTTP>/<image of its current release>", e.g. "v2/v2".
host_state() {
  local i="$1" served image
  served=$(curl -fsS --max-time 3 "http://127.0.0.1:${PORTS[$i]}/version" 2>/dev/null || echo down)
  image=$("$EXEC" list --json "m$i/srv/app" 2>/dev/null | jq -r '.releases[] | select(.current) | .image' || true)
  echo "$served/${image#"$IMAGE_REPO":}"
}

fleet_state() {
  local i s=""
  for i in $(seq "$FLEET_N"); do s="$s${s:+ }fleet$i=$(host_state "$i")"; done
  echo "$s"
}

# Releases, current link and the service's main PID: unchanged means the host was not touched.
host_fingerprint() {
  local i="$1"
  echo "$(ls "m$i/srv/app/releases" | tr '\n' ' ')|$(readlink "m$i/srv/app/current")|$(on "$i" systemctl show droot@app -p MainPID --value)"
}

# The release name a deploy of ARTIFACT makes ends with its payload sha256's first 12 hex digits.
payload12() { "$EXEC" verify --json -p keys/fleet.pub "$1" | jq -r .payload_sha256 | cut -c1-12; }

# Every host's service answers on /health within a few seconds.
all_serving() {
  local i
  for i in $(seq "$FLEET_N"); do
    curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:${PORTS[$i]}/health" || return 1
  done
}

deploy_v1_everywhere() {
  play v1 all-at-once.yml -e "$(s3 app-v1.tar.zst)"
  assert_status 0
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)" "every host runs v1"
}

test_fleet_v1_everywhere_then_v2_canary_then_25_percent_then_the_rest() {
  fleet_setup
  deploy_v1_everywhere
  local i
  for i in $(seq "$FLEET_N"); do
    # installed by the role: the static binary, the key, the unit, the drop-in; the unit is enabled and active
    on "$i" cmp /usr/local/bin/droot-exec /proc/self/fd/0 <"$DROOT_STATIC" || fail "fleet$i: droot-exec is not the static build"
    on "$i" cmp /etc/droot/keys/fleet.pub /proc/self/fd/0 <keys/fleet.pub || fail "fleet$i: trusted key not installed"
    assert_eq enabled "$(on "$i" systemctl is-enabled droot@app)" "fleet$i: unit enabled"
    assert_eq active "$(on "$i" systemctl is-active droot@app)" "fleet$i: unit active"
    assert_eq 1 "$(recap "fleet$i" ok | grep -c .)" "fleet$i in the recap"
  done

  play v2 "$ROLE_DIR/rollout.yml" -e "$(s3 app-v2.tar.zst)"
  assert_status 0
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

test_fleet_rerunning_the_rollout_changes_nothing() {
  fleet_setup
  play v2 all-at-once.yml -e "$(s3 app-v2.tar.zst)"
  assert_status 0
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
  # The same playbook again, then the rollout of what every host already runs: nothing to do anywhere, nothing
  # is downloaded, deployed or restarted.
  local i before after book
  before=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)
  for book in all-at-once.yml "$ROLE_DIR/rollout.yml"; do
    play v2-again "$book" -e "$(s3 app-v2.tar.zst)"
    assert_status 0
    assert_not_contains "$out" "changed: [" "a task changed something ($book)"
    for i in $(seq "$FLEET_N"); do
      assert_eq 0 "$(recap "fleet$i" changed)" "fleet$i: changed on a re-run ($book)"
      assert_eq 0 "$(recap "fleet$i" failed)" "fleet$i: failed on a re-run ($book)"
      [ "$(recap "fleet$i" ok)" -gt 5 ] || fail "fleet$i: the re-run did not run the role ($book)"
    done
    after=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)
    assert_eq "$before" "$after" "releases, current and service PIDs after the re-run ($book)"
  done
  all_serving || fail "a service is down after the re-run"
}

test_fleet_v3_fails_its_health_gate_the_canary_rolls_back_and_the_rollout_stops() {
  fleet_setup
  play v2 all-at-once.yml -e "$(s3 app-v2.tar.zst)"
  assert_status 0
  assert_eq "fleet1=v2/v2 fleet2=v2/v2 fleet3=v2/v2 fleet4=v2/v2" "$(fleet_state)"
  local i before=() v2rel
  v2rel=$(readlink m1/srv/app/current)
  for i in $(seq 2 "$FLEET_N"); do before[$i]=$(host_fingerprint "$i"); done

  play v3 "$ROLE_DIR/rollout.yml" -e "$(s3 app-v3.tar.zst)"
  assert_status 2
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

test_fleet_drift_report_and_an_unreachable_host_mid_rollout() {
  fleet_setup
  deploy_v1_everywhere
  # clean fleet: report says so, play succeeds
  play check-clean "$ROLE_DIR/check.yml" -e droot_report="$TEST_TMP/clean.json"
  assert_status 0
  assert_eq "4 4 0 0" "$(jq -r '.summary | "\(.hosts) \(.clean) \(.drift) \(.error)"' clean.json)"
  # tamper with fleet2's current release: one file modified, one added, one removed
  local rel="m2/srv/app/releases/$(readlink m2/srv/app/current | sed 's|releases/||')"
  echo hacked >>"$rel/www/version"
  echo planted >"$rel/www/planted"
  rm "$rel/etc/group"
  play check-drift "$ROLE_DIR/check.yml" -e droot_report="$TEST_TMP/drift.json"
  assert_status 2
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
  play check-unreachable "$ROLE_DIR/check.yml" -e droot_report="$TEST_TMP/unreachable.json"
  [ "$status" -ne 0 ] || fail "check.yml succeeded with an unreachable host"
  assert_contains "$out" "droot: fleet3: not clean"
  assert_eq "unreachable" "$(jq -r '.hosts.fleet3.status' unreachable.json)"
  assert_eq "$IMAGE_REPO:v2 $IMAGE_REPO:v2" "$(jq -r '[.hosts.fleet1.image.ref, .hosts.fleet4.image.ref] | join(" ")' unreachable.json)"
}

test_fleet_https_source_and_bad_inputs_switch_no_host() {
  fleet_setup
  # v1 over HTTPS (nginx, CA installed by the role)
  play v1-https all-at-once.yml -e "droot_artifact_url=https://127.0.0.1:$HTTPS_PORT/app-v1.tar.zst"
  assert_status 0
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)"
  local i before
  before=$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)

  # an artifact signed by a key the hosts do not trust: every host refuses, none switches
  play untrusted all-at-once.yml -e "$(s3 app-untrusted.tar.zst)"
  assert_status 2
  for i in $(seq "$FLEET_N"); do
    assert_eq 1 "$(recap "fleet$i" failed)" "fleet$i did not refuse the untrusted artifact"
  done
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*not.*trusted' <<<"$out" || true)" "every host names the untrusted key: $out"
  assert_eq "$before" "$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)" "a host switched"

  # through the rollout: the canary refuses and no other host is tried
  play untrusted-rollout "$ROLE_DIR/rollout.yml" -e "$(s3 app-untrusted.tar.zst)"
  assert_status 2
  assert_eq 1 "$(recap fleet1 failed)"
  assert_eq "" "$(recap fleet2 ok)" "fleet2 was tried after the canary failed"

  # a .sha256 that does not match the artifact: get_url refuses the download on every host
  cp www/app-v2.tar.zst www/app-bad.tar.zst
  cp www/app-v2.tar.zst.minisig www/app-bad.tar.zst.minisig
  echo "$(sha256sum www/app-v1.tar.zst | cut -d' ' -f1)  app-bad.tar.zst" >www/app-bad.tar.zst.sha256
  play checksum all-at-once.yml -e "droot_artifact_url=https://127.0.0.1:$HTTPS_PORT/app-bad.tar.zst"
  assert_status 2
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*The checksum for /var/cache/droot/app-bad.tar.zst did not match' <<<"$out" || true)" "checksum mismatch on every host: $out"
  for i in $(seq "$FLEET_N"); do
    on "$i" test ! -e /var/cache/droot/app-bad.tar.zst || fail "fleet$i kept the bad download"
  done

  # an object that is not in the bucket
  play missing all-at-once.yml -e "$(s3 app-v9.tar.zst)"
  assert_status 2
  assert_eq 4 "$(grep -c 'fatal: \[fleet[0-9]\]: FAILED!.*\(404\|Not Found\|does not exist\)' <<<"$out" || true)" "missing object on every host: $out"

  assert_eq "$before" "$(for i in $(seq "$FLEET_N"); do host_fingerprint "$i"; done)" "a host switched or restarted"
  assert_eq "fleet1=v1/v1 fleet2=v1/v1 fleet3=v1/v1 fleet4=v1/v1" "$(fleet_state)"
}
