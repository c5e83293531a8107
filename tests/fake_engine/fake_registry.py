#!/usr/bin/env python3
"""A fault-injecting fake container registry (Registry HTTP API v2) for `droot-pack docker://` (issue 18).

Usage: fake_registry.py PORTFILE SCENARIO

Listens on 127.0.0.1 on a free port, written to PORTFILE once it accepts connections. Serves one image,
repository "x", tag "1": an OCI manifest, its config and one uncompressed layer (etc/hi). Every request line
is appended to PORTFILE.log. SCENARIO breaks one thing:

  ok               everything works
  bearer           token auth: 401 with a Bearer challenge; /token wants Basic droot:pw and gives a token
  redirect         blobs are answered with a 307 to /cdn/<digest> (which serves them)
  size-lie         the manifest gives the layer's size 10 bytes short of what the registry sends
  length-lie       the layer's Content-Length is 10 bytes short (the body stops there: a short blob)
  truncated        the layer's Content-Length is right, half the body is sent, then the connection closes
  tampered         the layer's bytes differ (same size) from what its digest names
  redirect-loop    blobs redirect to /loop/N, which redirects to /loop/N+1, forever
  unauthorized     every /v2/ request is answered 401 (Bearer challenge), whatever the token
  basic-forever    every /v2/ request is answered 401 with a Basic challenge, whatever the credentials
  wrong-manifest   a manifest asked for by digest comes back as another one
  huge-manifest    the manifest is 5 MiB of JSON
  stall            half the layer is sent, then nothing for 60 s

Stdlib only. Exits on SIGTERM or SIGINT.
"""

import base64
import hashlib
import http.server
import io
import json
import os
import platform
import signal
import sys
import tarfile
import time

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def make_layer():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in (("etc/", None), ("etc/hi", b"hi from the fake registry\n")):
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = 1704067200
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def digest(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


LAYER = make_layer()
CONFIG = json.dumps({
    "architecture": ARCH, "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
    "rootfs": {"type": "layers", "diff_ids": [digest(LAYER)]},
}).encode()


def make_manifest(layer_size):
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(LAYER), "size": layer_size}],
    }).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scenario = "ok"
    log_path = None

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=b"", headers=(), content_length=None):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def error(self, status, code, message, headers=()):
        self.send(status, json.dumps({"errors": [{"code": code, "message": message}]}).encode(),
                  (("Content-Type", "application/json"),) + tuple(headers))

    def challenge(self):
        host = self.headers.get("Host")
        if self.scenario == "basic-forever":
            return ("WWW-Authenticate", 'Basic realm="fake"'),
        return ("WWW-Authenticate", f'Bearer realm="http://{host}/token",service="fake",scope="repository:x:pull"'),

    def do_GET(self):
        with open(self.log_path, "a") as log:
            log.write(f"GET {self.path} auth={self.headers.get('Authorization', '-')}\n")
        s, path = self.scenario, self.path
        if path.startswith("/token"):
            want = "Basic " + base64.b64encode(b"droot:pw").decode()
            if s == "bearer" and self.headers.get("Authorization") != want:
                return self.error(401, "UNAUTHORIZED", "bad credentials for the token")
            return self.send(200, json.dumps({"token": "tok-123"}).encode(), (("Content-Type", "application/json"),))
        if path.startswith("/loop/"):
            return self.send(302, b"", (("Location", "/loop/" + str(int(path[6:]) + 1)),))
        if path.startswith("/cdn/"):
            return self.blob(path[5:])
        if not path.startswith("/v2/"):
            return self.error(404, "NOT_FOUND", "no such path")
        if s in ("unauthorized", "basic-forever") or (s == "bearer" and self.headers.get("Authorization") != "Bearer tok-123"):
            return self.error(401, "UNAUTHORIZED", "authentication required", self.challenge())
        if path == "/v2/":
            return self.send(200, b"{}")
        manifest = make_manifest(len(LAYER) - 10 if s == "size-lie" else len(LAYER))
        if path.startswith("/v2/x/manifests/"):
            ref = path[len("/v2/x/manifests/"):]
            if ref not in ("1", digest(manifest)) and s != "wrong-manifest":
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            if s == "wrong-manifest" and ref.startswith("sha256:"):
                manifest = make_manifest(len(LAYER)) + b" "
            if s == "huge-manifest":
                manifest = b'{"pad":"' + b"x" * (5 << 20) + b'"}'
            return self.send(200, manifest, (("Content-Type", "application/vnd.oci.image.manifest.v1+json"),
                                             ("Docker-Content-Digest", digest(manifest))))
        if path.startswith("/v2/x/blobs/"):
            d = path[len("/v2/x/blobs/"):]
            if s == "redirect":
                return self.send(307, b"", (("Location", "/cdn/" + d),))
            if s == "redirect-loop":
                return self.send(302, b"", (("Location", "/loop/1"),))
            return self.blob(d)
        return self.error(404, "NAME_UNKNOWN", "repository unknown")

    def blob(self, d):
        s = self.scenario
        if d == digest(CONFIG):
            return self.send(200, CONFIG)
        if d != digest(LAYER):
            return self.error(404, "BLOB_UNKNOWN", "blob unknown")
        if s == "length-lie":
            return self.send(200, LAYER[:-10])
        if s == "truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(LAYER)))
            self.end_headers()
            self.wfile.write(LAYER[: len(LAYER) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if s == "stall":
            self.send_response(200)
            self.send_header("Content-Length", str(len(LAYER)))
            self.end_headers()
            self.wfile.write(LAYER[: len(LAYER) // 2])
            self.wfile.flush()
            time.sleep(60)
            return
        if s == "tampered":
            body = bytearray(LAYER)
            body[600] ^= 1
            return self.send(200, bytes(body))
        return self.send(200, LAYER)


def main():
    portfile, scenario = sys.argv[1], sys.argv[2]
    Handler.scenario = scenario
    Handler.log_path = portfile + ".log"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    tmp = portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
