"""A hostile HTTP server for ADD-by-URL specs. Prints "port N" once bound.
Paths: /hang (records the request in MARK, then sends nothing), /endless
(a body that never ends, no length), /liar (declares 10 bytes, sends 1 MiB),
/drip (one byte a second), /to-file (302 to file:///etc/passwd), /to-other
(302 to the same server named localhost), /ok (the bytes "ok\n")."""
import http.server
import os
import sys
import time

MARK = sys.argv[1]


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        with open(MARK + ".log", "a") as f:
            f.write(self.path + "\n")

    def head(self, code, extra=()):
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self):
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
            else:
                self.head(404, [("Content-Length", "0")])
        except (BrokenPipeError, ConnectionResetError):
            pass


s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
s.daemon_threads = True
print("port", s.server_address[1], flush=True)
s.serve_forever()
