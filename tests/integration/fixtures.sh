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
