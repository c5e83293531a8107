# Builds the offline test images once per test run (called by tests/integration/run.sh).
# busybox-static gives a shell and coreutils in one static binary; everything else is docker import/build.

# build_busybox_rootfs DIR: a minimal rootfs with busybox, its applet links, /etc/passwd and /etc/group.
build_busybox_rootfs() {
  local dir="$1"
  mkdir -p "$dir"/{bin,sbin,etc,tmp,root,home/app,srv,usr/bin}
  cp /bin/busybox "$dir/bin/busybox"
  # One process for the ~400 links (an ln each took 40 s in the qemu guest of tests/kernel/).
  "$dir/bin/busybox" --list | (cd "$dir/bin" && perl -lne '-e $_ or symlink("busybox", $_) or die "ln -s busybox $_: $!\n"')
  cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
app:x:1234:2345:app user:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
  cat >"$dir/etc/group" <<'GROUP'
root:x:0:
app:x:2345:
extra:x:3456:app
nogroup:x:65534:
GROUP
  chmod 1777 "$dir/tmp"
  chown 1234:2345 "$dir/home/app"
}

# ensure_busybox_image REF: docker import of the busybox tree (no CMD, no ENTRYPOINT).
ensure_busybox_image() {
  local ref="$1"
  docker_cli image inspect "$ref" >/dev/null 2>&1 && return 0
  local tmp
  tmp="$(mktemp -d)"
  build_busybox_rootfs "$tmp/root"
  tar -C "$tmp/root" --numeric-owner -cf - . | docker_cli import - "$ref" >/dev/null
  rm -rf "$tmp"
}

# ensure_built_image REF DOCKERFILE_TEXT: docker build FROM the busybox image (legacy builder, offline).
ensure_built_image() {
  local ref="$1" dockerfile="$2"
  docker_cli image inspect "$ref" >/dev/null 2>&1 && return 0
  local ctx
  ctx="$(mktemp -d)"
  printf '%s\n' "$dockerfile" >"$ctx/Dockerfile"
  docker_cli build -q -t "$ref" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# ensure_big_image REF MIB: an image with MIB MiB of incompressible data, for tests that need a slow export.
# The data is in srv/data, which the export walks after dev/: droot-pack reads what sorts before dev/ ahead
# (to count the special files there before it writes config.json), without the backpressure of a slow
# consumer these tests rely on.
ensure_big_image() {
  local ref="$1" mib="$2"
  docker_cli image inspect "$ref" >/dev/null 2>&1 && return 0
  local tmp
  tmp="$(mktemp -d)"
  build_busybox_rootfs "$tmp/root"
  mkdir -p "$tmp/root/srv/data"
  local i
  for i in $(seq 1 $((mib / 16))); do head -c $((16 << 20)) /dev/urandom >"$tmp/root/srv/data/blob$i"; done
  tar -C "$tmp/root" --numeric-owner -cf - . | docker_cli import - "$ref" >/dev/null
  rm -rf "$tmp"
}

# engine_api METHOD PATH [JSON]: a raw Engine API call on $DOCKER_HOST's unix socket.
engine_api() {
  local method="$1" path="$2" body="${3:-}"
  if [ -n "$body" ]; then
    curl -fsS --unix-socket "${DOCKER_HOST#unix://}" -X "$method" -H 'Content-Type: application/json' -d "$body" "http://docker$path"
  else
    curl -fsS --unix-socket "${DOCKER_HOST#unix://}" -X "$method" "http://docker$path"
  fi
}

# free_ports N: N distinct free TCP ports on 127.0.0.1, one per line. One process holds all N sockets until it
# has them all: separate calls can return one port twice (each socket is closed before the next bind), and, in
# fleet_lib.sh, nginx then takes a machine's proxy port for its HTTPS server (the same address in two servers is
# one listening socket: the proxy port speaks TLS, and that machine's aws CLI gets 400 on every request).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

# A free TCP port on 127.0.0.1 (for several at once, free_ports).
free_port() { free_ports 1; }

# start_registry [htpasswd-file]: sets REG (127.0.0.1:PORT) and REG_DIR; stopped (by pid) when the test exits.
start_registry() {
  command -v docker-registry >/dev/null || fail "docker-registry is not installed (Debian package docker-registry; tools/setup installs it)"
  REG_DIR="$TEST_TMP/registry"
  mkdir -p "$REG_DIR/data"
  local port auth=""
  port=$(free_port)
  REG="127.0.0.1:$port"
  if [ -n "${1:-}" ]; then
    auth="auth:
  htpasswd:
    realm: droot-test
    path: $1"
  fi
  cat >"$REG_DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG
$auth
YAML
  docker-registry serve "$REG_DIR/config.yml" >"$REG_DIR/log" 2>&1 &
  REG_PID=$!
  # Images the test tagged for this registry are removed from the shared dockerd too.
  trap 'kill "$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; remove_registry_images' EXIT
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://$REG/v2/" && return 0
    kill -0 "$REG_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$REG_DIR/log" >&2
  fail "docker-registry did not start on $REG"
}

remove_registry_images() {
  local ids
  ids=$(docker_cli images --format '{{.Repository}}:{{.Tag}}' | grep "^$REG/" || true)
  [ -n "$ids" ] && docker_cli rmi -f $ids >/dev/null 2>&1 || true
}

# A Debian 12 tree with systemd, debootstrapped once per machine and cached.
SYSTEMD_ROOT="${DROOT_SYSTEMD_ROOT:-/var/tmp/droot-test-systemd-bookworm}"

# The Debian mirror this machine's apt uses (a local mirror works offline), else deb.debian.org.
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

# Makes $SYSTEMD_ROOT once: minbase + systemd (systemd_test.sh boots it; pack_test.sh imports it; the
# kernel guest and the fleet start from it). Concurrent callers wait on one lock; a half-made tree is never
# left under the final name.
ensure_systemd_root() {
  command -v debootstrap >/dev/null || fail "debootstrap is missing: run tools/setup"
  command -v systemd-nspawn >/dev/null || fail "systemd-nspawn is missing: run tools/setup (systemd-container)"
  (
    flock 9
    [ -x "$SYSTEMD_ROOT/usr/lib/systemd/systemd" ] && exit 0
    local tmp="$SYSTEMD_ROOT.tmp-$$"
    rm -rf "$tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$tmp" "$(debian_mirror)" \
      >"${TEST_TMP:-/tmp}/debootstrap.log" 2>&1 || { tail -n 20 "${TEST_TMP:-/tmp}/debootstrap.log" >&2; rm -rf "$tmp"; exit 1; }
    mv "$tmp" "$SYSTEMD_ROOT"
  ) 9>/tmp/droot-systemd-root.lock || fail "cannot debootstrap a Debian 12 tree with systemd into $SYSTEMD_ROOT"
}
