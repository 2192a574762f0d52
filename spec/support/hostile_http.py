"""A hostile HTTP server for ADD-by-URL and registry specs. Usage:
hostile_http.py MARK [CERT KEY]. Prints "dead N" (a port bound by this
process that takes no connections) and "port N" once bound. With CERT and
KEY, each connection is TLS or plain HTTP as its first byte says, both on
the one port. Every request but /_ping/ is logged to MARK.log as a JSON
line: scheme, method, path, auth (the Authorization header's scheme).

Paths: /hang (records the request in MARK, then sends nothing), /endless
(a body that never ends, no length), /liar (declares 10 bytes, sends 1 MiB),
/drip (one byte a second), /to-file (302 to file:///etc/passwd), /to-other
(302 to the same server named localhost), /ok (the bytes "ok\n").

A registry: GET /_ping/ANSWER sets what /v2/ answers: open (200), basic,
or a Bearer challenge whose realm is bearer-http (/token over plain HTTP),
bearer-space ("http://x y") or bearer-dead (the dead port). /token gives
a token to anyone. /v2/MODE/... answers as MODE says: plainloc and ftploc
open uploads at a Location on this host over plain HTTP, or at an ftp://
one; busy is a 429 asking to wait 10^26 s; endless, a manifest that never
ends; liar, a manifest whose Docker-Content-Digest is another's; lateauth,
a Bearer challenge with the realm "http://x y"; downgrade, an image whose
config blob, asked for over HTTPS, redirects to plain HTTP (where it is
served); else no manifest, no blob."""
import http.server
import json
import os
import socket
import ssl
import sys
import time

MARK = sys.argv[1]
CTX = None
if len(sys.argv) > 3:
    CTX = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    CTX.load_cert_chain(sys.argv[2], sys.argv[3])
DEAD = socket.socket()
DEAD.bind(("127.0.0.1", 0))
PING = {"answer": "open"}
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOWN_CONFIG = b'{"architecture":"amd64","config":{},"os":"linux","rootfs":{"diff_ids":[],"type":"layers"}}'
DOWN_MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "layers": [], "config": {
    "mediaType": "application/vnd.oci.image.config.v1+json", "size": len(DOWN_CONFIG),
    "digest": "sha256:" + __import__("hashlib").sha256(DOWN_CONFIG).hexdigest()}}).encode()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scheme = "http"

    def setup(self):
        if CTX is not None and self.request.recv(1, socket.MSG_PEEK) == b"\x16":
            self.request = CTX.wrap_socket(self.request, server_side=True)
            self.scheme = "https"
        super().setup()

    def log_message(self, *a):
        pass

    def log(self):
        if self.path.startswith("/_ping/"):
            return
        auth = (self.headers.get("Authorization") or "").split(" ")[0]
        with open(MARK + ".log", "a") as f:
            f.write(json.dumps({"scheme": self.scheme, "method": self.command, "path": self.path,
                                "auth": auth}) + "\n")

    def head(self, code, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def answer(self, code, body=b"", extra=()):
        self.head(code, list(extra) + [("Content-Length", str(len(body)))])
        if self.command != "HEAD":
            self.wfile.write(body)

    def here(self, scheme, port=None):
        return "%s://127.0.0.1:%d" % (scheme, port or self.server.server_address[1])

    def registry(self, p):
        challenge = {
            "basic": 'Basic realm="r"',
            "bearer-http": 'Bearer realm="%s/token",service="s"' % self.here("http"),
            "bearer-space": 'Bearer realm="http://x y",service="s"',
            "bearer-dead": 'Bearer realm="%s/token",service="s"' % self.here("https", DEAD.getsockname()[1]),
        }
        if p.startswith("/_ping/"):
            PING["answer"] = p[len("/_ping/"):]
            return self.answer(200)
        if p == "/v2/":
            ch = challenge.get(PING["answer"])
            return self.answer(401, extra=[("WWW-Authenticate", ch)]) if ch else self.answer(200, b"{}")
        if p.startswith("/token"):
            return self.answer(200, b'{"token":"tok","expires_in":300}', [("Content-Type", "application/json")])
        mode = p.split("/")[2]
        if mode == "busy":
            return self.answer(429, extra=[("Retry-After", "99999999999999999999999999")])
        if mode == "lateauth":
            return self.answer(401, extra=[("WWW-Authenticate", 'Bearer realm="http://x y",service="s"')])
        if "/manifests/" in p and self.command == "GET" and mode == "endless":
            self.head(200, [("Content-Type", MANIFEST), ("Connection", "close")])
            while True:
                self.wfile.write(b" " * 65536)
        if "/manifests/" in p and self.command == "GET" and mode == "liar":
            return self.answer(200, b'{"schemaVersion":2}', [("Content-Type", MANIFEST),
                                                             ("Docker-Content-Digest", "sha256:" + "0" * 64)])
        if mode == "downgrade" and self.command == "GET":
            if "/manifests/" in p:
                return self.answer(200, DOWN_MANIFEST, [("Content-Type", MANIFEST)])
            if self.scheme == "https":
                return self.answer(307, extra=[("Location", self.here("http") + p)])
            return self.answer(200, DOWN_CONFIG)
        if p.endswith("/blobs/uploads/") and self.command == "POST":
            loc = {"plainloc": self.here("http") + p + "u1", "ftploc": "ftp://127.0.0.1/up"}.get(mode, p + "u1")
            return self.answer(202, extra=[("Location", loc), ("Range", "0-0")])
        if self.command in ("PATCH", "PUT"):
            return self.answer(202 if self.command == "PATCH" else 201, extra=[("Location", p.split("?")[0])])
        return self.answer(404, b'{"errors":[{"code":"NOT_FOUND","message":"nothing here"}]}')

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        while n > 0:
            n -= len(self.rfile.read(min(n, 65536)))

    def do_GET(self):
        self.log()
        p = self.path
        try:
            if p == "/hang":
                with open(MARK, "w") as f:
                    f.write("got\n")
                time.sleep(600)
            elif p == "/endless":
                self.head(200, [("Connection", "close")])
                while True:
                    self.wfile.write(b"x" * 65536)
            elif p == "/liar":
                self.head(200, [("Content-Length", "10")])
                self.wfile.write(b"y" * (1 << 20))
            elif p == "/drip":
                self.head(200, [("Content-Length", "1000")])
                for _ in range(1000):
                    self.wfile.write(b"z")
                    self.wfile.flush()
                    time.sleep(1)
            elif p == "/to-file":
                self.head(302, [("Location", "file:///etc/passwd"), ("Content-Length", "0")])
            elif p == "/to-other":
                other = "http://localhost:%d/ok" % self.server.server_address[1]
                self.head(302, [("Location", other), ("Content-Length", "0")])
            elif p == "/ok":
                self.head(200, [("Content-Length", "3")])
                self.wfile.write(b"ok\n")
            elif p.startswith(("/v2/", "/token", "/_ping/")):
                self.registry(p)
            else:
                self.head(404, [("Content-Length", "0")])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def do_OTHER(self):
        self.log()
        self.body()
        try:
            self.registry(self.path)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    do_HEAD = do_POST = do_PATCH = do_PUT = do_OTHER


s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print("dead", DEAD.getsockname()[1], flush=True)
print("port", s.server_address[1], flush=True)
s.serve_forever()
