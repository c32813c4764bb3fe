#!/usr/bin/env python3
"""A hostile manga piracy "internet" on 127.0.0.1 for Kagami's crawler tests.

One threaded HTTP server answers for several host names (the crawler pins them
to 127.0.0.1 with --resolve), told apart by the Host header:

  reader.test  an online reader: chapter pages with lazy images (data-src,
               srcset, an image list inside a script), pagination between
               chapters, robots.txt disallowing /private/, and traps: a
               redirect loop, an endless calendar, a 10 GB claimed body, a gzip
               bomb, a slow-loris page, links to 169.254.169.254 and private
               addresses.
  img.test     the reader's image host (files from CONTENT/img/).
  leech.test   a leech page linking archives on the locker.
  locker.test  the file locker: CONTENT/locker/*.cbz, a zip bomb, and an HLS
               stream /stream/ep1.m3u8 from CONTENT/hls/ (404 until a test makes it).
  bad.test     answers 500 to everything (robots.txt 404).
  polite.test  links the politeness hosts: ra-seconds.test (429, Retry-After
               in seconds), ra-date.test (503, Retry-After as an HTTP-date),
               backoff.test (503 twice without Retry-After), moved.test (its
               robots.txt redirects twice, across hosts, to robots-cdn.test)
               down.test (robots.txt answers 503, always) and flaky.test
               (robots.txt answers 503 twice, then 200). The retry hosts answer
               200 only once the crawler has waited as told, and log the
               time of each request to LOG.times ("host path seconds").

Every request is appended to LOG as "host path" (one line, flushed), so tests
can assert what was and was not fetched. --latency-ms delays every response
(bench/crawl: a network-bound crawl, as on the internet). Usage:
  fixture_site.py --content DIR --port-file FILE --log FILE [--chapters N]
                  [--bench] [--latency-ms MS]
"""
import argparse
import gzip
import http.server
import io
import os
import socketserver
import sys
import threading
import time
import zipfile
import zlib
from email.utils import formatdate

ARGS = None
LOG_LOCK = threading.Lock()
STATE_LOCK = threading.Lock()
FIRST_SEEN = {}  # (host, path) -> (time of the first request, earliest allowed retry, count)
BOMB_ZIP = None
BOMB_GZIP = None


def make_bombs():
    global BOMB_ZIP, BOMB_GZIP
    zeros = b"\0" * (64 << 20)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("p001.jpg", "w", force_zip64=True) as f:
            for _ in range(4):  # 256 MiB of zeros named like a page
                f.write(zeros)
    BOMB_ZIP = buf.getvalue()
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    BOMB_GZIP = c.compress(b"<html>" + b" " * (128 << 20)) + c.flush()


def page(title, body):
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title></head>"
            "<body>%s</body></html>" % (title, body)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def host(self):
        return (self.headers.get("Host") or "").split(":")[0]

    def origin(self, host):
        return "http://%s:%d" % (host, self.server.server_address[1])

    def send(self, code, body, ctype="text/html; charset=utf-8", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        host = self.host()
        with LOG_LOCK:
            with open(ARGS.log, "a") as f:
                f.write("%s %s\n" % (host, self.path))
            with open(ARGS.log + ".times", "a") as f:
                f.write("%s %s %.3f\n" % (host, self.path, time.monotonic()))
        if ARGS.latency_ms > 0:
            time.sleep(ARGS.latency_ms / 1000.0)
        try:
            if ARGS.bench:
                return self.site_bench()
            getattr(self, "site_" + host.replace(".", "_").replace("-", "_"), self.site_unknown)()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def site_unknown(self):
        self.send(404, b"no such site")

    # ---- --bench: one plain site (any Host): chapters with <img src> ----------
    # An image whose file name holds "late" is answered 429 (Retry-After: 2)
    # the first time it is asked for.
    def site_bench(self):
        p = self.path
        if p == "/robots.txt":
            return self.send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if p == "/":
            links = "".join('<li><a href="/chapter-%d.html">Chapter %d</a></li>' % (i, i)
                            for i in range(1, ARGS.chapters + 1))
            return self.send(200, page("Reader", "<ul>%s</ul>" % links))
        if p.startswith("/chapter-"):
            c = int(p[len("/chapter-"):-len(".html")])
            d = os.path.join(ARGS.content, "img", "c%d" % c)
            files = sorted(os.listdir(d)) if os.path.isdir(d) else []
            body = "".join('<img src="/img/c%d/%s">' % (c, f) for f in files)
            if c < ARGS.chapters:
                body += '<a href="/chapter-%d.html">next</a>' % (c + 1)
            return self.send(200, page("Chapter %d" % c, body))
        if p.startswith("/img/"):
            if "late" in os.path.basename(p):  # asked first: 429, come back in 2 s
                with STATE_LOCK:
                    first = ("bench", p) not in FIRST_SEEN
                    FIRST_SEEN.setdefault(("bench", p), (time.time(), 0, 1))
                if first:
                    return self.send(429, b"slow down", "text/plain", [("Retry-After", "2")])
            self.path = p[len("/img"):]
            return self.serve_file(os.path.join(ARGS.content, "img"), "image/jpeg")
        return self.send(404, b"not found")

    # ---- reader.test -------------------------------------------------------
    def site_reader_test(self):
        p = self.path
        img = self.origin("img.test")
        n = ARGS.chapters
        if p == "/robots.txt":
            return self.send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if p == "/":
            links = "".join('<li><a href="/manga/title/chapter-%d">Chapter %d</a></li>' % (i, i)
                            for i in range(1, n + 1))
            traps = ('<a href="/calendar?m=0">calendar</a> <a href="/loop/a">loop</a> '
                     '<a href="/big">big</a> <a href="/bomb.html">bomb</a> '
                     '<a href="/slow">slow</a> <a href="/private/vault">private</a> '
                     '<img src="http://169.254.169.254/latest/meta-data/iam.jpg"> '
                     '<img src="http://192.168.0.1/cam.jpg"> '
                     '<a href="http://intranet.test:%d/admin">intranet (pinned to 10.1.2.3)</a> '
                     '<img src="http://[::1]:%d/x.jpg"> '
                     '<a href="%s/">broken host</a> '
                     '<a href="%s/">leech</a> <a href="ftp://reader.test/x.cbz">ftp</a>'
                     % (self.server.server_address[1], self.server.server_address[1],
                        self.origin("bad.test"),
                        self.origin("leech.test")))
            return self.send(200, page("Reader", "<ul>%s</ul>%s" % (links, traps)))
        if p.startswith("/manga/title/chapter-"):
            try:
                c = int(p.rsplit("-", 1)[1])
            except ValueError:
                return self.send(404, b"no")
            files = sorted(os.listdir(os.path.join(ARGS.content, "img", "c%d" % c))) \
                if os.path.isdir(os.path.join(ARGS.content, "img", "c%d" % c)) else []
            urls = ["%s/c%d/%s" % (img, c, f) for f in files]
            if c % 2 == 1:  # lazy <img>: placeholder src, real URL in data-src / srcset
                body = "".join('<img class="lazy" src="/static/blank.gif" data-src="%s" '
                               'srcset="%s 1x">' % (u, u) for u in urls)
            else:  # the image list sits in a script
                body = '<div id="reader"></div><script>var pages = [%s];</script>' % ",".join(
                    '"%s"' % u.replace("/", "\\/") for u in urls)
            nav = ""
            if c > 1:
                nav += '<a rel="prev" href="/manga/title/chapter-%d">prev</a>' % (c - 1)
            if c < n:
                nav += '<link rel="next" href="/manga/title/chapter-%d">' % (c + 1)
            return self.send(200, page("Chapter %d" % c, body + nav))
        if p == "/static/blank.gif":
            return self.send(200, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif")
        if p.startswith("/calendar"):
            m = int(p.split("=")[1]) if "=" in p else 0
            return self.send(200, page("Calendar", '<a href="/calendar?m=%d">next month</a>' % (m + 1)))
        if p == "/loop/a":
            return self.send(302, b"", headers=[("Location", "/loop/b")])
        if p == "/loop/b":
            return self.send(302, b"", headers=[("Location", "/loop/a")])
        if p == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(10 << 30))
            self.end_headers()
            try:
                chunk = b"\xff" * 65536
                for _ in range(1 << 20):  # would be 64 GiB; the client must hang up
                    self.wfile.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if p == "/bomb.html":
            return self.send(200, BOMB_GZIP, headers=[("Content-Encoding", "gzip")])
        if p == "/slow":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(600):
                    self.wfile.write(b"<")
                    self.wfile.flush()
                    time.sleep(1)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        if p.startswith("/private/"):
            return self.send(200, page("Vault", '<img src="%s/c1/%s">' % (
                img, sorted(os.listdir(os.path.join(ARGS.content, "img", "c1")))[0])))
        return self.send(404, b"not found")

    # ---- politeness hosts ----------------------------------------------------
    def first_image(self):
        d = os.path.join(ARGS.content, "img", "c1")
        with open(os.path.join(d, sorted(os.listdir(d))[0]), "rb") as f:
            return f.read()

    def site_polite_test(self):
        if self.path == "/robots.txt":
            return self.send(404, b"")
        port = self.server.server_address[1]
        links = "".join('<img src="http://%s:%d/page.jpg">' % (h, port)
                        for h in ("ra-seconds.test", "ra-date.test", "backoff.test"))
        links += '<a href="http://moved.test:%d/">moved</a>' % port
        links += '<a href="http://down.test:%d/">down</a>' % port
        links += '<a href="http://flaky.test:%d/">flaky</a>' % port
        return self.send(200, page("Politeness", links))

    def retry_site(self, first_answer):
        """first_answer(now) -> (code, headers, earliest retry time) for early requests."""
        if self.path == "/robots.txt":
            return self.send(404, b"")
        now = time.time()
        key = (self.host(), self.path)
        with STATE_LOCK:
            state = FIRST_SEEN.get(key)
            if state is None:
                code, headers, earliest = first_answer(now, 0)
                FIRST_SEEN[key] = (now, earliest, 1)
                return self.send(code, b"slow down", "text/plain", headers)
            first, earliest, count = state
            if now < earliest:  # came back too early: told again
                code, headers, earliest = first_answer(now, count)
                FIRST_SEEN[key] = (first, earliest, count + 1)
                return self.send(code, b"slow down", "text/plain", headers)
            FIRST_SEEN[key] = (first, earliest, count + 1)
        return self.send(200, self.first_image(), "image/jpeg")

    def site_ra_seconds_test(self):
        return self.retry_site(lambda now, n: (429, [("Retry-After", "1")], now + 1))

    def site_ra_date_test(self):
        when = int(time.time()) + 3  # HTTP-dates have whole seconds
        return self.retry_site(
            lambda now, n: (503, [("Retry-After", formatdate(when, usegmt=True))], when))

    def site_backoff_test(self):
        # 503 without Retry-After to the first two requests, then 200 (the
        # crawler's exponential back-off is checked from LOG.times).
        with STATE_LOCK:
            n = FIRST_SEEN.get((self.host(), self.path), (0, 0, 0))[2]
        if self.path == "/robots.txt":
            return self.send(404, b"")
        if n < 2:
            with STATE_LOCK:
                FIRST_SEEN[(self.host(), self.path)] = (0, 0, n + 1)
            return self.send(503, b"busy", "text/plain")
        return self.send(200, self.first_image(), "image/jpeg")

    def site_moved_test(self):
        port = self.server.server_address[1]
        if self.path == "/robots.txt":  # RFC 9309 2.3.1.2: follow the redirects
            return self.send(301, b"", headers=[
                ("Location", "http://robots-cdn.test:%d/moved/robots.txt" % port)])
        if self.path == "/":
            return self.send(200, page("Moved", '<a href="/secret/page">secret</a>'
                                       '<img src="/open.jpg">'))
        if self.path == "/secret/page":
            return self.send(200, page("Secret", '<img src="/secret/p.jpg">'))
        if self.path in ("/open.jpg", "/secret/p.jpg"):
            return self.send(200, self.first_image(), "image/jpeg")
        return self.send(404, b"not found")

    def site_robots_cdn_test(self):
        if self.path == "/moved/robots.txt":
            return self.send(302, b"", headers=[("Location", "/moved/robots-final.txt")])
        if self.path == "/moved/robots-final.txt":
            return self.send(200, b"User-agent: *\nDisallow: /secret/\n", "text/plain")
        return self.send(404, b"not found")

    def site_down_test(self):
        if self.path == "/robots.txt":  # RFC 9309 2.3.1.4: unreachable -> disallow all
            return self.send(503, b"down", "text/plain")
        return self.send(200, page("Down", "should not be fetched"))

    def site_flaky_test(self):
        if self.path == "/robots.txt":  # 2.3.1.4: retried later; answers on the third try
            with STATE_LOCK:
                n = FIRST_SEEN.get((self.host(), self.path), (0, 0, 0))[2]
                FIRST_SEEN[(self.host(), self.path)] = (0, 0, n + 1)
            if n < 2:
                return self.send(503, b"down", "text/plain")
            return self.send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path == "/":
            return self.send(200, page("Flaky", '<img src="/open.jpg"><a href="/private/x">p</a>'))
        if self.path == "/open.jpg":
            return self.send(200, self.first_image(), "image/jpeg")
        return self.send(404, b"not found")

    # ---- img.test ----------------------------------------------------------
    def site_img_test(self):
        if self.path == "/robots.txt":
            return self.send(404, b"")
        return self.serve_file(os.path.join(ARGS.content, "img"), "image/jpeg")

    def serve_file(self, root, ctype):
        rel = os.path.normpath(self.path.split("?")[0]).lstrip("/")
        full = os.path.join(root, rel)
        if ".." in rel or not os.path.isfile(full):
            return self.send(404, b"not found")
        with open(full, "rb") as f:
            data = f.read()
        return self.send(200, data, ctype)

    # ---- leech.test --------------------------------------------------------
    def site_leech_test(self):
        if self.path == "/robots.txt":
            return self.send(404, b"")
        if self.path == "/":
            locker = self.origin("locker.test")
            vols = sorted(os.listdir(os.path.join(ARGS.content, "locker"))) \
                if os.path.isdir(os.path.join(ARGS.content, "locker")) else []
            links = "".join('<li><a href="%s/files/%s">%s</a></li>' % (locker, v, v) for v in vols)
            links += '<li><a href="%s/files/bomb.zip">Complete edition</a></li>' % locker
            links += '<li><a href="%s/stream/ep1.m3u8">Episode 1</a></li>' % locker
            return self.send(200, page("Downloads", "<ul>%s</ul>" % links))
        return self.send(404, b"not found")

    # ---- locker.test -------------------------------------------------------
    def site_locker_test(self):
        if self.path == "/robots.txt":
            return self.send(404, b"")
        if self.path == "/files/bomb.zip":
            return self.send(200, BOMB_ZIP, "application/zip")
        if self.path.startswith("/files/"):
            self.path = self.path[len("/files"):]
            return self.serve_file(os.path.join(ARGS.content, "locker"), "application/zip")
        if self.path.startswith("/stream/"):  # an HLS stream from CONTENT/hls/, if any
            self.path = self.path[len("/stream"):]
            ctype = ("application/vnd.apple.mpegurl" if self.path.endswith(".m3u8")
                     else "video/mp2t")
            return self.serve_file(os.path.join(ARGS.content, "hls"), ctype)
        return self.send(404, b"not found")

    # ---- bad.test ----------------------------------------------------------
    def site_bad_test(self):
        if self.path == "/robots.txt":
            return self.send(404, b"")
        return self.send(500, b"internal error")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--content", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--chapters", type=int, default=2)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bench", action="store_true", help="plain reader site for bench/")
    ap.add_argument("--latency-ms", type=float, default=0, help="delay before every response")
    ARGS = ap.parse_args()
    if not ARGS.bench:
        make_bombs()
    server = Server(("127.0.0.1", ARGS.port), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, ARGS.port_file)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
