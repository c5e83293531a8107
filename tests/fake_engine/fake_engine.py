#!/usr/bin/env python3
"""A fault-injecting fake Docker Engine on a unix socket, for droot-pack's integration tests (issue 8).

Usage: fake_engine.py SOCKET SCENARIO

Speaks just enough HTTP/1.1 for droot-pack: GET /_ping, GET /v1.41/images/NAME/json,
POST /v1.41/containers/create, GET /v1.41/containers/ID/export (chunked), DELETE /v1.41/containers/ID.
Every request line is appended to SOCKET.log. SCENARIO breaks one step:

  ok                 everything works
  close-mid-export   half the tar, then the connection is closed (no chunked end)
  truncated-tar      a tar cut in the middle of a file, then a proper chunked end
  garbage-json       inspect answers 200 with `{not json`
  inspect-500        inspect answers 500 {"message":"boom from fake"}
  inspect-500-nobody inspect answers 500 with an empty body
  create-409         create answers 409 {"message":"Conflict. fake"}
  export-404         export answers 404 {"message":"No such container: fake"}
  stall-export       export sends headers and a few bytes, then sleeps 60 s
  huge-header        ping answers with a 200 KiB header line
  old-api            ping says Api-Version: 1.12

Stdlib only. Exits cleanly (removing the socket) on SIGTERM or SIGINT.
"""

import io
import json
import os
import signal
import socket
import socketserver
import sys
import tarfile
import threading
import time

API = "1.41"
IMAGE_ID = "sha256:" + "a" * 64
CONTAINER_ID = "c" * 64
SCENARIOS = {
    "ok", "close-mid-export", "truncated-tar", "garbage-json", "inspect-500", "inspect-500-nobody",
    "create-409", "export-404", "stall-export", "huge-header", "old-api",
}

REASONS = {200: "OK", 201: "Created", 204: "No Content", 404: "Not Found", 409: "Conflict",
           500: "Internal Server Error"}


def make_tar():
    """A small valid rootfs tar: a directory, a file, a symlink."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name, type_, data=b"", mode=0o755, linkname=""):
            info = tarfile.TarInfo(name)
            info.type = type_
            info.mode = mode
            info.mtime = 1704067200
            info.linkname = linkname
            info.size = len(data) if type_ == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if type_ == tarfile.REGTYPE else None)
        add("bin", tarfile.DIRTYPE)
        add("bin/hello", tarfile.REGTYPE, b"#!/bin/sh\necho hello from the fake engine\n" * 200)
        add("etc", tarfile.DIRTYPE)
        add("etc/motd", tarfile.REGTYPE, b"fake\n", mode=0o644)
        add("bin/sh", tarfile.SYMTYPE, linkname="hello")
    return buf.getvalue()


def truncated_tar(tar):
    """The tar cut in the middle of bin/hello's content (8 KiB of data starting after its header)."""
    marker = tar.find(b"bin/hello\0")
    # Past the file's header (and its pax header) and 1000 bytes into its data.
    header_end = tar.find(b"#!/bin/sh", marker)
    return tar[:header_end + 1000]


class Handler(socketserver.StreamRequestHandler):
    server: "Server"

    def log_line(self, line):
        with self.server.log_lock, open(self.server.log_path, "a") as f:
            f.write(line + "\n")

    def send(self, status, body=b"", headers=(), content_type="application/json"):
        head = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Api-Version: {API}", "Server: fake-engine"]
        if status != 204:
            head.append(f"Content-Type: {content_type}")
            head.append(f"Content-Length: {len(body)}")
        head.extend(headers)
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        self.wfile.flush()

    def send_json(self, status, obj):
        self.send(status, json.dumps(obj).encode())

    def chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def chunked_head(self):
        self.wfile.write(("HTTP/1.1 200 OK\r\nApi-Version: %s\r\nContent-Type: application/x-tar\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n" % API).encode())
        self.wfile.flush()

    def handle(self):
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return
            request_line = line.decode("latin-1").rstrip("\r\n")
            if not request_line:
                continue
            self.log_line(request_line)
            length = 0
            while True:
                h = self.rfile.readline(65536)
                if not h or h in (b"\r\n", b"\n"):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            if length:
                self.rfile.read(length)
            try:
                method, target, _ = request_line.split(" ", 2)
            except ValueError:
                self.send(400, b'{"message":"bad request line"}')
                return
            if not self.route(method, target):
                return  # the scenario closed the connection

    def route(self, method, target):
        """Answers one request; returns False when the connection must be closed."""
        sc = self.server.scenario
        path = target.split("?", 1)[0]
        prefix = "/v" + API
        if method == "GET" and path == "/_ping":
            if sc == "huge-header":
                self.send(200, b"OK", headers=["X-Huge: " + "h" * (200 * 1024)], content_type="text/plain")
            elif sc == "old-api":
                self.wfile.write(b"HTTP/1.1 200 OK\r\nApi-Version: 1.12\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: 2\r\n\r\nOK")
                self.wfile.flush()
            else:
                self.send(200, b"OK", content_type="text/plain")
            return True
        if method == "GET" and path.startswith(prefix + "/images/") and path.endswith("/json"):
            if sc == "garbage-json":
                self.send(200, b"{not json")
            elif sc == "inspect-500":
                self.send_json(500, {"message": "boom from fake"})
            elif sc == "inspect-500-nobody":
                self.send(500, b"")
            else:
                self.send_json(200, {"Id": IMAGE_ID, "Created": "2024-01-01T00:00:00Z", "Os": "linux",
                                     "Architecture": "amd64", "Config": {"Env": ["A=1"], "Cmd": ["/bin/sh"]},
                                     "RepoDigests": []})
            return True
        if method == "POST" and path == prefix + "/containers/create":
            if sc == "create-409":
                self.send_json(409, {"message": "Conflict. fake"})
            else:
                self.send_json(201, {"Id": CONTAINER_ID, "Warnings": []})
            return True
        if method == "GET" and path.startswith(prefix + "/containers/") and path.endswith("/export"):
            return self.export(sc)
        if method == "DELETE" and path.startswith(prefix + "/containers/"):
            self.send(204)
            return True
        self.send_json(404, {"message": "page not found (fake engine)"})
        return True

    def export(self, sc):
        tar = self.server.tar
        if sc == "export-404":
            self.send_json(404, {"message": "No such container: fake"})
            return True
        self.chunked_head()
        if sc == "close-mid-export":
            self.chunk(tar[:len(tar) // 2])
            self.connection.shutdown(socket.SHUT_RDWR)
            return False
        if sc == "stall-export":
            self.chunk(tar[:100])
            self.server.stop.wait(60)
            return False
        data = truncated_tar(tar) if sc == "truncated-tar" else tar
        for i in range(0, len(data), 4096):
            self.chunk(data[i:i + 4096])
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()
        return True


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in SCENARIOS:
        sys.stderr.write("usage: fake_engine.py SOCKET SCENARIO\nscenarios: %s\n" % " ".join(sorted(SCENARIOS)))
        return 2
    sock_path, scenario = sys.argv[1], sys.argv[2]
    if os.path.exists(sock_path):
        os.unlink(sock_path)
    server = Server(sock_path, Handler)
    server.scenario = scenario
    server.log_path = sock_path + ".log"
    server.log_lock = threading.Lock()
    server.stop = threading.Event()
    server.tar = make_tar()

    def on_signal(signum, frame):
        server.stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
