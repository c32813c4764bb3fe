#!/usr/bin/env python3
"""A small manga reader "internet" on 127.0.0.1 for Kagami's multi-worker tests
and benchmarks (tests/pg, bench/pg). One threaded HTTP server answers for two
host names, told apart by the Host header (the crawler pins them to 127.0.0.1):

  site.test  index -> CHAPTERS chapter pages; each chapter links its images on
             img.test, COMMENTS small comment pages, the next chapter, and
             /private/ (disallowed by robots.txt). /chapter/3 answers 429 with
             Retry-After: 1 the first time it is asked for.
  img.test   CONTENT/img/c<chapter>/<name>.jpg; robots.txt 404.

siteK.test / imgK.test (any K) behave the same, siteK linking imgK, so a
benchmark can crawl many "sites" at once.

Every response may be delayed by --latency-ms (a network-bound crawl, as on
the internet). Each request is appended to LOG when it has been answered, as
"<start unix s> <end unix s> <host> <path> <status>", so tests can check that
no URL was fetched twice and that per-host limits held across workers.
Usage: pg_fixture_site.py --content DIR --port-file FILE --log FILE
                          [--chapters N] [--comments N] [--latency-ms MS]
"""
import argparse
import http.server
import os
import socketserver
import sys
import threading
import time

ARGS = None
LOCK = threading.Lock()
SEEN_429 = set()


def page(title, body):
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title></head>"
            "<body>%s</body></html>" % (title, body)).encode()


def images_of(chapter):
    d = os.path.join(ARGS.content, "img", "c%d" % chapter)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="text/html; charset=utf-8", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        # The request ends, for the access log, when its body is handed to the
        # socket: from then on the client may finish and start another one, and
        # a time taken after the write (and the log's lock) would count a
        # descheduled server thread as a request still on the wire.
        self.sent_at = time.time()
        self.wfile.write(body)
        return status

    def origin(self, host):
        return "http://%s:%d" % (host, self.server.server_address[1])

    def site(self, host, path):
        img = self.origin("img" + host[4:-5] + ".test")
        if path == "/robots.txt":
            return self.send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if path == "/":
            links = "".join("<a href='/chapter/%d'>ch %d</a> " % (i, i)
                            for i in range(1, ARGS.chapters + 1))
            return self.send(200, page("Reader", links))
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "chapter" and parts[1].isdigit():
            c = int(parts[1])
            if c < 1 or c > ARGS.chapters:
                return self.send(404, page("no", "no such chapter"))
            if len(parts) == 4 and parts[2] == "comments":
                return self.send(200, page("Comments %d" % c, "<p>nice chapter</p>"))
            if len(parts) != 2:
                return self.send(404, page("no", "not here"))
            if c == 3:
                with LOCK:
                    first = path not in SEEN_429
                    SEEN_429.add(path)
                if first:
                    return self.send(429, page("slow down", "too many requests"),
                                     extra={"Retry-After": "1"})
            body = "".join("<img data-src='%s/c%d/%s'>" % (img, c, n) for n in images_of(c))
            body += "".join("<a href='/chapter/%d/comments/%d'>comments</a>" % (c, k)
                            for k in range(ARGS.comments))
            body += "<a href='/private/admin'>admin</a>"
            if c < ARGS.chapters:
                body += "<a href='/chapter/%d'>next</a>" % (c + 1)
            return self.send(200, page("Chapter %d" % c, body))
        return self.send(404, page("no", "not found"))

    def img(self, path):
        if path == "/robots.txt":
            return self.send(404, b"not found", "text/plain")
        rel = os.path.normpath(path.lstrip("/"))
        full = os.path.join(ARGS.content, "img", rel)
        if rel.startswith("..") or not os.path.isfile(full):
            return self.send(404, b"not found", "text/plain")
        with open(full, "rb") as f:
            return self.send(200, f.read(), "image/jpeg")

    def do_GET(self):
        start = time.time()
        self.sent_at = None
        host = (self.headers.get("Host") or "").split(":")[0]
        path = self.path.split("?")[0]
        if ARGS.latency_ms > 0:
            time.sleep(ARGS.latency_ms / 1000.0)
        if host.startswith("site") and host.endswith(".test"):
            status = self.site(host, path)
        elif host.startswith("img") and host.endswith(".test"):
            status = self.img(path)
        else:
            status = self.send(404, b"unknown host", "text/plain")
        with LOCK:
            with open(ARGS.log, "a") as f:
                f.write("%.6f %.6f %s %s %d\n" % (start, self.sent_at or time.time(), host, path, status))


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--content", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--chapters", type=int, default=4)
    p.add_argument("--comments", type=int, default=5)
    p.add_argument("--latency-ms", type=float, default=0)
    ARGS = p.parse_args()
    open(ARGS.log, "w").close()
    srv = Server(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
