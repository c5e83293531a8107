#!/usr/bin/env python3
"""A byte-forwarding proxy in front of a REAL Docker Engine that runs a command at one exact moment.

Usage: engine_proxy.py LISTEN_SOCKET UPSTREAM_SOCKET 'METHOD PATH-REGEX' AFTER_BYTES COMMAND

Every connection on LISTEN_SOCKET is forwarded byte for byte to UPSTREAM_SOCKET (the real dockerd). The
first request whose "METHOD PATH" matches (re.search on the path, API version prefix included) triggers
COMMAND (run with /bin/sh, synchronously, once):
  AFTER_BYTES = 0   before the request is forwarded: the daemon sees the request only after COMMAND ran
                    (e.g. `docker rmi -f IMAGE` on POST /containers/create: the image is gone between
                    droot-pack's inspect and its create);
  AFTER_BYTES = N   after N bytes of the daemon's answer were forwarded; forwarding pauses while COMMAND
                    runs, so the client is reliably mid-stream (e.g. `docker rm -f` mid-export).

This replaces "sleep and hope" with a deterministic point in the conversation. Only the first request of a
connection is inspected (droot-pack opens one connection per request). Each request line and what was run
(with its exit status) is appended to LISTEN_SOCKET.log. Stdlib only; exits on SIGTERM/SIGINT.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading

HEAD_LIMIT = 1 << 20


def log(path, text):
    with open(path, "a") as f:
        f.write(text + "\n")


class Trigger:
    def __init__(self, spec, after_bytes, command, log_path):
        method, _, pattern = spec.partition(" ")
        self.method = method
        self.pattern = re.compile(pattern)
        self.after_bytes = after_bytes
        self.command = command
        self.log_path = log_path
        self.fired = False
        self.lock = threading.Lock()

    def claim(self, method, path):
        """True for the first matching request only."""
        with self.lock:
            if self.fired or method != self.method or not self.pattern.search(path):
                return False
            self.fired = True
            return True

    def run(self):
        r = subprocess.run(self.command, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = r.stdout.decode(errors="replace").strip().replace("\n", " | ")
        log(self.log_path, "RAN %s -> exit %d: %s" % (self.command, r.returncode, out))


def read_head(conn):
    """Reads up to the end of the request head; returns everything read so far (head and any body bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > HEAD_LIMIT:
            break
    return data


def pump(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def handle(client, upstream_path, trigger, log_path):
    upstream = None
    try:
        first = read_head(client)
        line = first.split(b"\r\n", 1)[0].decode("latin-1")
        parts = line.split(" ")
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
        log(log_path, line)
        fire = trigger.claim(method, path)
        if fire and trigger.after_bytes == 0:
            trigger.run()
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        upstream.connect(upstream_path)
        upstream.sendall(first)
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        forwarded = 0
        pending = fire and trigger.after_bytes > 0
        while True:
            chunk = upstream.recv(65536)
            if not chunk:
                break
            if pending and forwarded + len(chunk) >= trigger.after_bytes:
                cut = trigger.after_bytes - forwarded
                client.sendall(chunk[:cut])
                forwarded += cut
                chunk = chunk[cut:]
                trigger.run()
                pending = False
            client.sendall(chunk)
            forwarded += len(chunk)
    except OSError as e:
        log(log_path, "connection error: %s" % e)
    finally:
        for s in (client, upstream):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 2
    listen_path, upstream_path, spec, after_bytes, command = sys.argv[1:]
    log_path = listen_path + ".log"
    trigger = Trigger(spec, int(after_bytes), command, log_path)
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen_path)
    server.listen(16)

    def stop(*_):
        try:
            os.unlink(listen_path)
        except OSError:
            pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, upstream_path, trigger, log_path), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
