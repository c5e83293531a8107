# shellcheck shell=bash
# The small real fleet of fleet_test.sh and tools/fleet-bench: four machines that boot systemd 252
# (systemd-nspawn -b on a cached Debian 12 tree, each with --volatile=overlay over it and its own /srv), with
# nothing of droot on them until the role installs it; artifacts in a real S3-compatible server on 127.0.0.1
# (s3rver, npm, cached under /var/tmp) and in nginx over HTTPS with a CA made here. Ansible reaches the machines
# with Debian's community.docker.nsenter connection plugin (contrib/ansible/README.md: why not ssh). The machines
# share this machine's network: each runs its service on a port of its own (`droot-exec run -e PORT=…`), and
# each reaches S3 through a port of its own — nginx proxies it to s3rver and logs "PORT METHOD URI STATUS
# BYTES", so the bytes each host fetched from the store are counted on the store's side (fetched_bytes).
#
# Source lib.sh and fixtures.sh first; set PACK, EXEC, DROOT_SRC (run.sh does) and FLEET_DIR, the directory
# that holds everything: keys/, art/ (artifacts), www/ (nginx's root), s3/, nginx/, mI/srv (machine I's /srv),
# inventory.yml, ansible.cfg, all-at-once.yml and fleet.env (pids and ports, for processes other than the one
# that booted the fleet: fleet_load). Nothing is registered with systemd-machined and every port is picked
# free at start: two runs at once (another checkout's CI) do not collide.
#
# fleet_start (everything, once) … scenarios (fleet_reset, play, assertions) … fleet_stop.

# The systemd tree plus what Ansible and the role need on a server: python3, Debian's awscli, CA certificates.
FLEET_ROOT="${DROOT_FLEET_ROOT:-/var/tmp/droot-test-fleet-bookworm}"
FLEET_S3RVER="${DROOT_S3RVER_DIR:-/var/tmp/droot-test-s3rver}"
FLEET_S3RVER_VERSION=3.7.1
FLEET_N=4
AWS=/usr/bin/aws  # Debian's awscli, not whatever else PATH finds first
ROLE_DIR="$DROOT_SRC/contrib/ansible"
IMAGE_REPO="${IMAGE_REPO:-droot-test/fleet}"
# MiB of incompressible (but reproducible) data in every image's /blob: tools/fleet-bench sets it so that a full
# artifact weighs something next to a delta; the test's images have none.
FLEET_BLOB_MB="${FLEET_BLOB_MB:-0}"
declare -a NSPAWN_PIDS INIT_PIDS PORTS PROXY_PORTS
S3_PORT="" S3_PID="" HTTPS_PORT="" NGINX_PID="" DROOT_STATIC="" PLAY_PID=""

fleet_prerequisites() {
  local c missing=""
  for c in ansible-playbook nginx openssl jq nsenter systemd-nspawn npm node curl python3; do
    command -v "$c" >/dev/null || missing="$missing $c"
  done
  [ -x "$AWS" ] || missing="$missing $AWS(awscli)"
  [ -z "$missing" ] || fail "missing:$missing — run tools/setup (ansible awscli nginx-light nodejs/npm)"
  [ -n "${DOCKER_HOST:-}" ] || fail "DOCKER_HOST is not set: the fleet packs its images with a dockerd (tools/dockerd start DIR)"
  [ -f /usr/lib/python3/dist-packages/ansible_collections/community/docker/plugins/connection/nsenter.py ] ||
    fail "Debian's ansible (7.x, with community.docker's nsenter connection) is not installed: run tools/setup"
}

# $FLEET_ROOT, once per machine: a copy of fixtures.sh's $SYSTEMD_ROOT (debootstrapped first if missing)
# with python3, awscli and ca-certificates added by apt inside it. ~45 s the first time.
ensure_fleet_root() {
  [ -x "$FLEET_ROOT/usr/lib/systemd/systemd" ] && [ -x "$FLEET_ROOT/usr/bin/aws" ] && return 0
  ensure_systemd_root
  (
    flock 9
    [ -x "$FLEET_ROOT/usr/lib/systemd/systemd" ] && [ -x "$FLEET_ROOT/usr/bin/aws" ] && exit 0
    tmp="$FLEET_ROOT.tmp-$$"
    rm -rf "$tmp"
    cp -a "$SYSTEMD_ROOT" "$tmp"
    systemd-nspawn -q -D "$tmp" --register=no --keep-unit --pipe env DEBIAN_FRONTEND=noninteractive sh -c \
      'apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 awscli ca-certificates' \
      >"$FLEET_DIR/fleet-root.log" 2>&1 </dev/null || { tail -n 20 "$FLEET_DIR/fleet-root.log" >&2; rm -rf "$tmp"; exit 1; }
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
    npm install --prefix "$tmp" --no-audit --no-fund "s3rver@$FLEET_S3RVER_VERSION" >"$FLEET_DIR/npm.log" 2>&1 ||
      { tail -n 20 "$FLEET_DIR/npm.log" >&2; rm -rf "$tmp"; exit 1; }
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
      meson setup "$dir" "$DROOT_SRC" -Dstatic_exec=true -Dbuildtype=release >"$FLEET_DIR/static-setup.log" 2>&1 ||
        { tail -n 30 "$FLEET_DIR/static-setup.log" >&2; exit 1; }
    fi
    ninja -C "$dir" src/exec/droot-exec >"$FLEET_DIR/static-build.log" 2>&1 ||
      { tail -n 30 "$FLEET_DIR/static-build.log" >&2; exit 1; }
  ) 9>/tmp/droot-static-build.lock >&2 || fail "cannot build the static droot-exec in $dir"
  echo "$dir/src/exec/droot-exec"
}

wait_port() {  # port what
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  fail "$2 does not listen on 127.0.0.1:$1"
}

# fleet_image VERSION: image $IMAGE_REPO:VERSION, a busybox tree whose command serves /www with busybox httpd on
# $PORT; /www/version says VERSION; /www/health exists unless VERSION is v3 (the release that fails its gate);
# with FLEET_BLOB_MB, /blob holds that many MiB of the same pseudo-random bytes in every version.
fleet_image() {
  local v="$1" ref="$IMAGE_REPO:$1"
  docker_cli image inspect "$ref" >/dev/null 2>&1 && return 0
  local tmp
  tmp="$(mktemp -d)"
  build_busybox_rootfs "$tmp/root"
  mkdir -p "$tmp/root/www"
  echo "$v" >"$tmp/root/www/version"
  [ "$v" = v3 ] || echo ok >"$tmp/root/www/health"
  if [ "$FLEET_BLOB_MB" -gt 0 ]; then
    { openssl enc -aes-128-ctr -nosalt -pass pass:droot-fleet -pbkdf2 </dev/zero 2>/dev/null || true; } |
      head -c "$((FLEET_BLOB_MB << 20))" >"$tmp/root/blob"
    touch -d @1700000000 "$tmp/root/blob"
  fi
  touch -d @1700000000 "$tmp/root/www" "$tmp/root/www"/*
  tar -C "$tmp/root" --numeric-owner -cf - . |
    docker_cli import -c 'CMD ["/bin/sh", "-c", "exec httpd -f -p \"$PORT\" -h /www"]' - "$ref" >/dev/null
  rm -rf "$tmp"
}

# Keys; artifacts v1–v3, v2 signed by an untrusted key, and app-v2.delta.tar.zst (a delta of v2 against v1,
# droot-pack --base), each with its .minisig and .sha256, in art/.
fleet_artifacts() {
  mkdir -p "$FLEET_DIR/art" "$FLEET_DIR/keys"
  "$PACK" keygen -p "$FLEET_DIR/keys/fleet.pub" -s "$FLEET_DIR/keys/fleet.sec" --no-password >/dev/null
  "$PACK" keygen -p "$FLEET_DIR/keys/other.pub" -s "$FLEET_DIR/keys/other.sec" --no-password >/dev/null
  local v
  for v in v1 v2 v3; do
    fleet_image "$v"
    "$PACK" -q -s "$FLEET_DIR/keys/fleet.sec" --source-date-epoch 1700000000 -o "$FLEET_DIR/art/app-$v.tar.zst" "$IMAGE_REPO:$v"
  done
  "$PACK" -q -s "$FLEET_DIR/keys/fleet.sec" --source-date-epoch 1700000000 --base "$FLEET_DIR/art/app-v1.tar.zst" \
    -o "$FLEET_DIR/art/app-v2.delta.tar.zst" "$IMAGE_REPO:v2"
  "$PACK" -q -s "$FLEET_DIR/keys/other.sec" --source-date-epoch 1700000000 -o "$FLEET_DIR/art/app-untrusted.tar.zst" "$IMAGE_REPO:v2"
}

# s3rver (bucket `artifacts`, filled from art/ with the real aws CLI) and nginx: HTTPS on HTTPS_PORT serving www/
# (a copy of art/) with a server certificate from a CA made here (ca.pem), and one plain HTTP port per machine,
# PROXY_PORTS[i], proxying to s3rver (the Host header passed as is, so SigV4 signatures still match).
fleet_servers() {
  local d="$FLEET_DIR" f i
  S3_PORT=$(free_port)
  "$FLEET_S3RVER/node_modules/.bin/s3rver" -d "$d/s3" -a 127.0.0.1 -p "$S3_PORT" \
    --configure-bucket artifacts >"$d/s3rver.log" 2>&1 &
  S3_PID=$!
  fleet_save
  wait_port "$S3_PORT" s3rver
  # one aws process for all of them (each start of the aws CLI costs seconds on a loaded machine)
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    "$AWS" --endpoint-url "http://127.0.0.1:$S3_PORT" s3 cp --only-show-errors --recursive "$d/art/" s3://artifacts/ ||
    fail "aws s3 cp of art/ to s3rver failed"
  for f in "$d"/art/*; do
    cmp -s "$f" "$d/s3/artifacts/$(basename "$f")._S3rver_object" || fail "s3rver does not hold art/$(basename "$f")"
  done

  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=droot-fleet-test-ca -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\n' >"$d/san.ext"
  openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 -extfile "$d/san.ext" \
    -out "$d/srv.pem" 2>/dev/null
  mkdir -p "$d/www" "$d/nginx/logs"
  cp "$d"/art/* "$d/www/"
  local listen="" ports
  mapfile -t ports < <(free_ports $((FLEET_N + 1)))
  HTTPS_PORT=${ports[0]}
  for i in $(seq "$FLEET_N"); do
    PROXY_PORTS[$i]=${ports[$i]}
    listen="$listen    listen 127.0.0.1:${PROXY_PORTS[$i]};
"
  done
  cat >"$d/nginx/nginx.conf" <<EOF
user root;
daemon off;
worker_processes 1;
pid $d/nginx/nginx.pid;
error_log $d/nginx/logs/error.log;
events { worker_connections 256; }
http {
  log_format fleet '\$server_port \$request_method \$uri \$status \$body_bytes_sent';
  access_log $d/nginx/logs/access.log fleet;
  client_body_temp_path $d/nginx/body;
  proxy_temp_path $d/nginx/proxy;
  fastcgi_temp_path $d/nginx/fastcgi;
  uwsgi_temp_path $d/nginx/uwsgi;
  scgi_temp_path $d/nginx/scgi;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    ssl_certificate $d/srv.pem;
    ssl_certificate_key $d/srv.key;
    root $d/www;
  }
  server {
$listen
    location / {
      proxy_pass http://127.0.0.1:$S3_PORT;
      proxy_set_header Host \$http_host;
      proxy_http_version 1.1;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
EOF
  nginx -p "$d/nginx" -c "$d/nginx/nginx.conf" 2>"$d/nginx/stderr" &
  NGINX_PID=$!
  fleet_save
  wait_port "$HTTPS_PORT" nginx
  curl -fsS --cacert "$d/ca.pem" -o /dev/null "https://127.0.0.1:$HTTPS_PORT/app-v1.tar.zst.sha256" ||
    fail "nginx does not serve the artifacts over HTTPS"
  AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 \
    "$AWS" --endpoint-url "http://127.0.0.1:${PROXY_PORTS[1]}" s3 cp --only-show-errors s3://artifacts/app-v1.tar.zst.sha256 - |
    cmp -s - "$d/art/app-v1.tar.zst.sha256" || fail "s3rver behind nginx does not serve the artifacts"
  for i in $(seq "$FLEET_N"); do  # every machine's own proxy port reaches s3rver over plain HTTP
    curl -fsS "http://127.0.0.1:${PROXY_PORTS[$i]}/artifacts/app-v1.tar.zst.sha256" | cmp -s - "$d/art/app-v1.tar.zst.sha256" ||
      fail "fleet$i's proxy port ${PROXY_PORTS[$i]} does not reach s3rver"
  done
}

# fleet.env: what processes other than the one that started the fleet need (run.sh runs every test in its own).
fleet_save() {
  declare -p NSPAWN_PIDS INIT_PIDS PORTS PROXY_PORTS S3_PORT S3_PID HTTPS_PORT NGINX_PID DROOT_STATIC 2>/dev/null |
    sed -e 's/^declare -- /declare -g /' -e 's/^declare -\([a-zA-Z]*\) /declare -g\1 /' >"$FLEET_DIR/fleet.env.tmp"
  mv "$FLEET_DIR/fleet.env.tmp" "$FLEET_DIR/fleet.env"
}

fleet_load() {
  [ -f "$FLEET_DIR/fleet.env" ] || fail "no fleet in $FLEET_DIR (fleet.env missing: the fleet was not started)"
  # shellcheck source=/dev/null
  source "$FLEET_DIR/fleet.env"
}

# start_machine I: boots machine fleetI (its /srv is $FLEET_DIR/mI/srv) in the background: NSPAWN_PIDS[I]. Its
# own session, so that the time limit of the test that booted it again does not take it down with that test.
start_machine() {
  local i="$1"
  mkdir -p "$FLEET_DIR/m$i/srv"
  setsid systemd-nspawn -q -D "$FLEET_ROOT" -b -M "fleet$i" --register=no --keep-unit --volatile=overlay \
    --bind="$FLEET_DIR/m$i/srv:/srv" >"$FLEET_DIR/m$i/nspawn.log" 2>&1 </dev/null &
  NSPAWN_PIDS[$i]=$!
  INIT_PIDS[$i]=""
  fleet_save
}

# wait_machine I: until machine I's systemd is up (INIT_PIDS[I]); droot is not on it before the role runs.
wait_machine() {
  local i="$1" state=""
  for _ in $(seq 200); do
    INIT_PIDS[$i]=$(pgrep -P "${NSPAWN_PIDS[$i]}" -x systemd | head -n 1 || true)
    [ -n "${INIT_PIDS[$i]}" ] && break
    kill -0 "${NSPAWN_PIDS[$i]}" 2>/dev/null || { cat "$FLEET_DIR/m$i/nspawn.log" >&2; fail "fleet$i: systemd-nspawn exited at boot"; }
    sleep 0.1
  done
  [ -n "${INIT_PIDS[$i]}" ] || fail "fleet$i: systemd-nspawn started no init"
  fleet_save
  for _ in $(seq 300); do
    state=$(timeout 60 nsenter -t "${INIT_PIDS[$i]}" -m -u -i -n -p systemctl is-system-running --wait 2>&1 || true)
    case "$state" in running | degraded) break ;; esac
    sleep 0.2
  done
  case "$state" in running | degraded) ;; *) tail -n 30 "$FLEET_DIR/m$i/nspawn.log" >&2; fail "fleet$i: systemd is '$state'" ;; esac
  on "$i" test ! -e /usr/local/bin/droot-exec || fail "fleet$i has a droot-exec before the role ran"
}

machine_up() {  # i
  [ -n "${NSPAWN_PIDS[$1]:-}" ] && [ -n "${INIT_PIDS[$1]:-}" ] && kill -0 "${INIT_PIDS[$1]}" 2>/dev/null
}

# Works from any process (the machine need not be this shell's child).
stop_machine() {  # i
  local pid="${NSPAWN_PIDS[$1]:-}"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  wait "$pid" 2>/dev/null || true
  NSPAWN_PIDS[$1]=""
  INIT_PIDS[$1]=""
  fleet_save
}

stop_pid() {  # pid: TERM, wait up to 5 s, KILL
  [ -n "${1:-}" ] || return 0
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Everything, once: prerequisites, the cached trees and s3rver, the static droot-exec, artifacts, servers, four
# booted machines, the inventory.
fleet_start() {
  fleet_prerequisites
  ensure_fleet_root
  ensure_s3rver
  DROOT_STATIC="$(fleet_static_exec)"
  fleet_artifacts
  fleet_servers
  local i
  for i in $(seq "$FLEET_N"); do start_machine "$i"; done
  for i in $(seq "$FLEET_N"); do wait_machine "$i"; done
  local ports
  mapfile -t ports < <(free_ports "$FLEET_N")
  for i in $(seq "$FLEET_N"); do PORTS[$i]=${ports[$((i - 1))]}; done
  fleet_save
  fleet_inventory
}

# Stops machines, s3rver and nginx (from fleet.env when called by another process than fleet_start's).
fleet_stop() {
  [ -f "$FLEET_DIR/fleet.env" ] && fleet_load
  local i
  for i in $(seq "$FLEET_N"); do stop_machine "$i"; done
  stop_pid "${S3_PID:-}"
  stop_pid "${NGINX_PID:-}"
  S3_PID="" NGINX_PID=""
  [ ! -f "$FLEET_DIR/fleet.env" ] || fleet_save
  return 0
}

on() {  # i COMMAND...: run in machine i
  local i="$1"
  shift
  nsenter -t "${INIT_PIDS[$i]}" -m -u -i -n -p "$@"
}

# The inventory (written again when a machine boots again: its PID 1 changed): group droot, connection
# community.docker.nsenter to each machine's PID 1; per host the port its service listens on, the health URL on
# it, and its own S3 endpoint (nginx's port for it, in front of s3rver).
fleet_inventory() {
  local i hosts=""
  for i in $(seq "$FLEET_N"); do
    hosts="$hosts${hosts:+,}\"fleet$i\": {\"ansible_nsenter_pid\": ${INIT_PIDS[$i]:-0},
      \"droot_run_args\": [\"-e\", \"PORT=${PORTS[$i]}\"], \"droot_health_url\": \"http://127.0.0.1:${PORTS[$i]}/health\",
      \"droot_s3_endpoint_url\": \"http://127.0.0.1:${PROXY_PORTS[$i]}\"}"
  done
  cat >"$FLEET_DIR/inventory.yml" <<EOF
{"all": {"children": {"droot": {"hosts": {$hosts}}},
  "vars": {"ansible_connection": "community.docker.nsenter", "ansible_python_interpreter": "/usr/bin/python3",
    "droot_exec_src": "$DROOT_STATIC", "droot_keys": ["$FLEET_DIR/keys/fleet.pub"],
    "droot_ca_cert": "$FLEET_DIR/ca.pem",
    "droot_aws_environment": {"AWS_ACCESS_KEY_ID": "S3RVER", "AWS_SECRET_ACCESS_KEY": "S3RVER",
                              "AWS_DEFAULT_REGION": "us-east-1"},
    "droot_health_retries": 5, "droot_health_delay": 1}}}
EOF
  # All hosts at once (the first install, and the bad-input cases where every host must refuse).
  cat >"$FLEET_DIR/all-at-once.yml" <<EOF
- hosts: droot
  gather_facts: false
  roles: [{role: "$ROLE_DIR/roles/droot"}]
EOF
  cat >"$FLEET_DIR/ansible.cfg" <<EOF
[defaults]
forks = 8
host_key_checking = false
local_tmp = $FLEET_DIR/ansible-local
retry_files_enabled = false
callbacks_enabled = ansible.posix.profile_tasks
module_compression = ZIP_STORED
EOF
}

# play NAME PLAYBOOK [ansible-playbook args…]: runs it from FLEET_DIR; $status, $out (the whole output, also in
# FLEET_DIR/NAME.log). In the background under `wait`, which a trapped signal interrupts at once (PLAY_PID:
# for an EXIT trap to stop it).
play() {
  local name="$1" book="$2"
  shift 2
  (cd "$FLEET_DIR" && exec env ANSIBLE_CONFIG="$FLEET_DIR/ansible.cfg" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 \
    ansible-playbook -i inventory.yml "$book" "$@" >"$FLEET_DIR/.play.out" 2>"$FLEET_DIR/.play.err" </dev/null) &
  PLAY_PID=$!
  wait "$PLAY_PID" && status=0 || status=$?
  PLAY_PID=""
  out="$(cat "$FLEET_DIR/.play.out")"
  err="$(cat "$FLEET_DIR/.play.err")"
  printf '%s\n%s\n' "$out" "$err" >"$FLEET_DIR/$name.log"
  [ -z "${DROOT_FLEET_LOGS:-}" ] || { mkdir -p "$DROOT_FLEET_LOGS"; cp "$FLEET_DIR/$name.log" "$DROOT_FLEET_LOGS/"; }
  out="$out
$err"
}

# assert_status for a play: on a mismatch the message ends with what failed (each `fatal:`/`failed:` line, the
# task it belongs to and the error text), so that the last lines of a test's log, which is what run.sh shows
# of a failure, name the failed task and its error rather than the play's closing summary.
assert_play_status() {  # expected (after `play`)
  [ "$status" -eq "$1" ] && return 0
  local failed
  failed=$(awk '/^TASK \[/ {task = $0; next}
                /^(fatal|failed): \[/ {print task; print substr($0, 1, 2000)}' <<<"$out")
  # and what the servers saw: requests nginx answered with an error status (port, method, path, status, bytes;
  # PROXY_PORTS[i] is fleet i's way to s3rver), the last lines of nginx's and s3rver's own logs
  local served
  served=$(awk '$4 >= 400' "$FLEET_DIR/nginx/logs/access.log" 2>/dev/null | tail -n 8
           tail -n 4 "$FLEET_DIR/nginx/logs/error.log" "$FLEET_DIR/s3rver.log" 2>/dev/null)
  fail "ansible-playbook exited $status, expected $1; its output:
$out
--- the servers (proxy ports ${PROXY_PORTS[*]:-}) ---
${served:-(no error status in the nginx access log)}
--- what failed (in full above) ---
${failed:-(no fatal line: see the output above)}"
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
  image=$("$EXEC" list --json "$FLEET_DIR/m$i/srv/app" 2>/dev/null | jq -r '.releases[] | select(.current) | .image' || true)
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
  echo "$(ls "$FLEET_DIR/m$i/srv/app/releases" | tr '\n' ' ')|$(readlink "$FLEET_DIR/m$i/srv/app/current")|$(on "$i" systemctl show droot@app -p MainPID --value)"
}

# The release name a deploy of ARTIFACT makes ends with its payload sha256's first 12 hex digits.
payload12() { "$EXEC" verify --json -p "$FLEET_DIR/keys/fleet.pub" "$1" | jq -r .payload_sha256 | cut -c1-12; }

# Every host's service answers on /health within a few seconds.
all_serving() {
  local i
  for i in $(seq "$FLEET_N"); do
    curl -fsS --max-time 3 -o /dev/null "http://127.0.0.1:${PORTS[$i]}/health" || return 1
  done
}

# The store's side of what hosts fetched: nginx's log of the S3 ports. s3_mark prints where the log ends now;
# fetched_bytes I KEY [MARK]: bytes of s3://artifacts/KEY sent to machine I since MARK (default: ever).
s3_mark() { stat -c %s "$FLEET_DIR/nginx/logs/access.log" 2>/dev/null || echo 0; }
fetched_bytes() {
  tail -c +"$((${3:-0} + 1))" "$FLEET_DIR/nginx/logs/access.log" |
    awk -v p="${PROXY_PORTS[$1]}" -v u="/artifacts/$2" '$1 == p && $2 == "GET" && $3 == u { s += $5 } END { print s + 0 }'
}

# fleet_wipe I: droot@app stopped and /srv/app gone on machine I (droot-exec, keys and unit stay): a host that
# never had a release.
fleet_wipe() {
  local i="$1"
  on "$i" systemctl stop droot@app.service >/dev/null 2>&1 || true
  on "$i" systemctl reset-failed droot@app.service >/dev/null 2>&1 || true
  rm -rf "$FLEET_DIR/m$i/srv/app"
  on "$i" rm -rf /var/cache/droot
}

# fleet_reset [VERSION]: where every scenario starts: every machine up (a stopped one boots again, fresh: no
# droot on it), each wiped (fleet_wipe); with VERSION, then app-VERSION.tar.zst deployed once on every host and
# droot@app serving it — straight from art/ with the droot-exec and key the role installed, or, on a machine
# that has none yet, by the role (all-at-once.yml limited to those machines).
fleet_reset() {
  local v="${1:-}" i fresh="" bare=""
  for i in $(seq "$FLEET_N"); do
    machine_up "$i" && continue
    stop_machine "$i"
    start_machine "$i"
    fresh="$fresh $i"
  done
  for i in $fresh; do wait_machine "$i"; done
  [ -z "$fresh" ] || fleet_inventory
  for i in $(seq "$FLEET_N"); do fleet_wipe "$i"; done
  [ -n "$v" ] || return 0
  for i in $(seq "$FLEET_N"); do
    if on "$i" test -x /usr/local/bin/droot-exec; then
      on "$i" /usr/local/bin/droot-exec deploy -q - /srv/app <"$FLEET_DIR/art/app-$v.tar.zst" || fail "fleet$i: deploying $v to reset it failed"
      on "$i" systemctl restart droot@app.service
    else
      bare="$bare${bare:+,}fleet$i"
    fi
  done
  if [ -n "$bare" ]; then
    play "reset-$v" all-at-once.yml --limit "$bare" -e "$(s3 "app-$v.tar.zst")"
    [ "$status" -eq 0 ] || fail "installing droot and $v on $bare to reset them failed: $(tail -n 30 <<<"$out")"
  fi
  for _ in $(seq 50); do all_serving && break; sleep 0.2; done
  local want=""
  for i in $(seq "$FLEET_N"); do want="$want${want:+ }fleet$i=$v/$v"; done
  assert_eq "$want" "$(fleet_state)" "the fleet after its reset to $v"
}
