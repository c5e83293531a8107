# Builds the offline test images once per test run (called by tests/integration/run.sh).
# busybox-static gives a shell and coreutils in one static binary; everything else is docker import/build.

# build_busybox_rootfs DIR: a minimal rootfs with busybox, its applet links, /etc/passwd and /etc/group.
build_busybox_rootfs() {
  local dir="$1"
  mkdir -p "$dir"/{bin,sbin,etc,tmp,root,home/app,srv,usr/bin}
  cp /bin/busybox "$dir/bin/busybox"
  local applet
  for applet in $("$dir/bin/busybox" --list); do
    [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
  done
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
