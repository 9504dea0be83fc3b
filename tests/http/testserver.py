#!/usr/bin/env python3
"""A small HTTPS server with misbehaving endpoints, for tests/unit/test_http.c.

Usage: testserver.py CERT KEY   -> prints "listening PORT", then serves.
Endpoints (all paths may carry ?key=K to keep counters apart):
  /ok               200 "hello", X-Test: 1
  /echo             200, JSON of the method, headers and body received
  /big?n=N          200, N bytes streamed in chunks (a repeating pattern)
  /gzip             200, "hello gzip" gzip-encoded when asked for
  /status/N         N with a small JSON body
  /flaky/K?code=C   the first K requests answer C (503 default, with
                    Retry-After: 0), then 200 "recovered"
  /retry-after/S    the first request answers 429 with Retry-After: S
  /reset            closes the connection without answering
  /reset-mid        headers and part of the body, then closes
  /stall?ms=M       waits M ms before answering
  /count?path=P     how many requests P has seen (for attempt counts)
"""
import gzip
import http.server
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse

counts = {}
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def seen(self):
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1
            return counts[self.path]

    def reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        n = self.seen()
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        parts = url.path.strip("/").split("/")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if parts[0] == "ok":
            return self.reply(200, b"hello", {"X-Test": "1"})
        if parts[0] == "echo":
            doc = {"method": self.command, "headers": dict(self.headers),
                   "body": body.decode("latin-1")}
            return self.reply(200, json.dumps(doc).encode(),
                              {"Content-Type": "application/json"})
        if parts[0] == "big":
            total = int(q.get("n", ["1000000"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(total))
            self.end_headers()
            chunk = bytes(range(256)) * 256
            sent = 0
            while sent < total:
                piece = chunk[: min(len(chunk), total - sent)]
                self.wfile.write(piece)
                sent += len(piece)
            return None
        if parts[0] == "gzip":
            data = b"hello gzip"
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                return self.reply(200, gzip.compress(data),
                                  {"Content-Encoding": "gzip"})
            return self.reply(200, data)
        if parts[0] == "status":
            code = int(parts[1])
            return self.reply(code, json.dumps({"status": code}).encode(),
                              {"Content-Type": "application/json"})
        if parts[0] == "flaky":
            bad = int(parts[1])
            code = int(q.get("code", ["503"])[0])
            if n <= bad:
                return self.reply(code, b'{"error":"try later"}',
                                  {"Retry-After": "0"})
            return self.reply(200, b"recovered")
        if parts[0] == "retry-after":
            if n == 1:
                return self.reply(429, b"slow down",
                                  {"Retry-After": parts[1]})
            return self.reply(200, b"thanks")
        if parts[0] == "reset":
            self.close_hard()
            return None
        if parts[0] == "reset-mid":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            # A reset discards what the peer has not read yet: give the
            # client time to take the headers and the first bytes.
            time.sleep(0.3)
            self.close_hard()
            return None
        if parts[0] == "stall":
            time.sleep(int(q.get("ms", ["1000"])[0]) / 1000.0)
            return self.reply(200, b"late")
        if parts[0] == "count":
            with lock:
                c = counts.get(q["path"][0], 0)
            return self.reply(200, str(c).encode())
        return self.reply(404, b"no such endpoint")

    def close_hard(self):
        # SO_LINGER 0: a reset, not a polite close.
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.close_connection = True
        try:
            sock.close()
        except OSError:
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # Clients hang up on purpose here (timeouts, cancels): not news.
        pass


def main():
    cert, key = sys.argv[1], sys.argv[2]
    server = Server(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("listening %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
