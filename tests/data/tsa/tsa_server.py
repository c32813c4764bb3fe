#!/usr/bin/env python3
"""A local RFC 3161 time-stamping authority for tests: `openssl ts -reply` behind
HTTP POST on 127.0.0.1. Usage: tsa_server.py CONFIG PORTFILE. Writes the port it
listens on to PORTFILE, then serves until killed."""
import http.server
import os
import subprocess
import sys
import tempfile

CONFIG = sys.argv[1]
PORTFILE = sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length <= 0 or length > 65536:
            self.send_error(400)
            return
        query = self.rfile.read(length)
        with tempfile.TemporaryDirectory() as tmp:
            q = os.path.join(tmp, "q.tsq")
            r = os.path.join(tmp, "r.tsr")
            with open(q, "wb") as f:
                f.write(query)
            proc = subprocess.run(["openssl", "ts", "-reply", "-config", CONFIG, "-queryfile", q,
                                   "-out", r], capture_output=True)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr.decode(errors="replace"))
                self.send_error(500)
                return
            with open(r, "rb") as f:
                body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
