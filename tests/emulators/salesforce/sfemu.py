#!/usr/bin/env python3
"""sfemu: a strict Salesforce emulator for Sluice's tests (Python 3 stdlib only).

    python3 sfemu.py --pki DIR [--port 0] [--state-file FILE] [--control-token T]
                     [--accounts N] [--contacts N] [--opportunities N] [--scores N]
                     [--wide-fields N] [--wide-records N] [--bulk-... see --help]

Serves HTTPS on 127.0.0.1 only and prints one line once it is ready:
    sfemu listening on https://127.0.0.1:PORT
The host name says which Salesforce host a request plays: 127.0.0.1 is the
login host (login.salesforce.com), localhost is the org's My Domain, which
is also the instance_url.  See tests/emulators/README.
"""
import argparse
import gc
import gzip
import hashlib
import http.server
import json
import os
import re
import secrets
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
sys.dont_write_bytecode = True      # no __pycache__ in the source tree (make distcheck)

import bulk_ingest       # noqa: E402
import bulk_jobs         # noqa: E402
import bulk_query        # noqa: E402
import cdc               # noqa: E402
import cometd            # noqa: E402
import control as ctl    # noqa: E402
import data              # noqa: E402
import faults as flt     # noqa: E402
import oauth as oa       # noqa: E402
import pki               # noqa: E402
import rest              # noqa: E402
import schema as sch     # noqa: E402
import wire              # noqa: E402

MAX_BODY = 64 * 1024 * 1024
MAX_URI_AND_HEADERS = 16384     # contract section 0: beyond it, 414 or 431


class Emulator:
    """All state, behind one lock: requests are served one at a time once
    parsed (the tests' clients are few; correctness beats throughput)."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.stop_event = threading.Event()
        self.schema = sch.Schema(wide_fields=args.wide_fields)
        start_ms = None
        if args.clock_start:
            start_ms = wire.parse_datetime_input(args.clock_start)
            if start_ms is None:
                raise SystemExit("--clock-start: not a datetime: %s" % args.clock_start)
        self.clock = data.Clock(start_ms, frozen=args.frozen_clock)
        self.store = data.Store(self.schema, self.clock)
        self.seed_cfg = data.SeedConfig(args.seed, args.accounts, args.contacts,
                                        args.opportunities, args.scores,
                                        wide=args.wide_records)
        user_ids = data.seed(self.store, self.seed_cfg)
        # The seed is long-lived: keep the cyclic GC from walking it again and
        # again while pages are rendered (pauses of 100+ ms at 100k records).
        gc.freeze()
        self.user_id = user_ids[0]
        self.username = data.USERS[0][0]
        self.org_id = wire.make_id("00D", 4095 + args.seed, pod="5g")
        self.port = None
        self.control_token = args.control_token or secrets.token_hex(16)
        h = hashlib.sha256(("sfemu-%d" % args.seed).encode()).hexdigest()
        self.client_id = args.client_id or "3MVG9" + h[:40] + "SluiceEmu" + h[40:60]
        self.client_secret = args.client_secret or h[-16:].upper() + h[:48].upper()
        self.refresh_token = "5Aep861" + hashlib.sha256(("rt-" + h).encode()).hexdigest()
        cert = args.app_cert or os.path.join(args.pki, "client.crt")
        with open(cert) as fh:
            self.app_public_key = pki.load_rsa_public_key(fh.read())
        self.budget = rest.Budget(self.clock, args.api_budget)
        self.faults = flt.Faults()
        self.log = flt.RequestLog()
        self.bulk = bulk_jobs.BulkApi(self.store, self.clock, bulk_jobs.Settings(args),
                                      {"query": bulk_query, "ingest": bulk_ingest})
        self.cdc = cdc.EventBus(self.store, self.clock, args.cdc_objects.split(","),
                                args.cdc_retention_hours, self.user_id)
        self.oauth = None
        self.rest = None
        self.cometd = None
        self.control = ctl.Control(self)

    def start(self, port):
        """Second half of the setup, once the port (hence the URLs) is known."""
        self.port = port
        a = self.args
        self.login_url = "https://%s:%d" % (a.login_host, port)
        self.instance_url = "https://%s:%d" % (a.instance_host, port)
        audiences = a.jwt_aud or [oa.AUDIENCE_SANDBOX if a.sandbox else oa.AUDIENCE_PROD]
        app = oa.App(self.client_id, self.client_secret, self.app_public_key,
                     approved_user_ids=[self.store.tables["User"].order[0],
                                        self.store.tables["User"].order[2]],
                     cc_user_id=self.user_id)
        self.oauth = oa.OAuth(self.store, self.clock, self.org_id, [app], self.login_url,
                              self.instance_url, audiences, a.session_timeout,
                              a.jwt_max_lifetime, a.rotate_refresh_tokens)
        self.oauth.mint_refresh_token(self.client_id, self.user_id, self.refresh_token)
        self.rest = rest.RestApi(self.store, self.oauth, self.clock, self.budget,
                                 a.max_api_version)
        self.rest.bulk = self.bulk
        self.cometd = cometd.Streaming(self.cdc, self.oauth, self.clock, self.lock,
                                       cometd.Settings(a), a.max_api_version, self.stop_event)

    def reset(self):
        """Back to the seeded state: data, clock, budget, sessions, cursors,
        faults, request log and settings."""
        a = self.args
        with self.lock:
            self.store.reset()
            self.clock.reset()
            self.budget.set(used=0, maximum=a.api_budget)
            self.oauth.reset()
            self.oauth.rotate_refresh = a.rotate_refresh_tokens
            self.oauth.session_timeout_ms = int(a.session_timeout * 1000)
            self.oauth.jwt_max_lifetime_s = a.jwt_max_lifetime
            for app in self.oauth.apps.values():
                app.secret_required_for_refresh = True
            self.oauth.mint_refresh_token(self.client_id, self.user_id, self.refresh_token)
            self.rest.reset()
            self.bulk.reset()
            self.cdc.reset()
            self.cometd.reset()
            self.faults.clear()
            self.log.clear()
        gc.collect()
        gc.freeze()

    def info(self):
        a = self.args
        return {
            "port": self.port, "pid": os.getpid(),
            "login_url": self.login_url, "instance_url": self.instance_url,
            "control_url": self.instance_url + "/__control", "control_token": self.control_token,
            "ca_file": os.path.join(os.path.abspath(a.pki), "ca.crt"),
            "client_id": self.client_id, "client_secret": self.client_secret,
            "username": self.username, "user_id": self.user_id, "org_id": self.org_id,
            "other_usernames": {"not_approved": data.USERS[1][0], "inactive": data.USERS[2][0]},
            "refresh_token": self.refresh_token, "audiences": self.oauth.audiences,
            "api_versions": [v["version"] for v in self.rest.versions()],
            "cometd_path": "/cometd/62.0",
            "app_cert": os.path.abspath(a.app_cert or os.path.join(a.pki, "client.crt")),
            "client_key": os.path.join(os.path.abspath(a.pki), "client.key"),
            "counts": {name: len(t.recs) for name, t in self.store.tables.items()},
        }


class Req:
    """What the API modules see of a request."""

    def __init__(self, method, path, query, headers, body, on_login_host):
        self.method, self.path, self.query = method, path, query
        self.headers, self.body, self.on_login_host = headers, body, on_login_host


def change_origin(req):
    """changeOrigin of the change events an API call makes (section 6.5):
    com/salesforce/api/rest/62.0[;client=<Sforce-Call-Options client>]."""
    m = re.match(r"^/services/data/v(\d+\.\d)/", req.path)
    if not m:
        return ""
    origin = "com/salesforce/api/rest/" + m.group(1)
    for opt in (req.headers.get("Sforce-Call-Options") or "").split(","):
        key, _, value = opt.strip().partition("=")
        if key == "client" and value:
            origin += ";client=" + value
    return origin


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300            # idle keep-alive connections end after this

    def version_string(self):
        return "sfdcedge"    # what the real edge says in Server:
    def send_error(self, code, message=None, explain=None):
        """http.server's own refusals (a request line over 64 KiB, header
        lines too long or too many, a bad request line): a short plain-text
        body as from the edge, never the stdlib's HTML page."""
        self.close_connection = True
        try:
            phrase = http.server.BaseHTTPRequestHandler.responses.get(code, ("Error",))[0]
        except (AttributeError, KeyError):
            phrase = "Error"
        body = phrase.encode("latin-1", "replace")
        try:
            self.send_response(code, phrase)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
            self.wfile.flush()
            # Read what the client is still sending (the rest of an over-long
            # line) before closing: closing with unread data sends a TCP RST,
            # which can destroy the answer before the client reads it.
            self.connection.settimeout(0.2)
            for _ in range(64):
                if not self.connection.recv(65536):
                    break
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            pass


    def log_message(self, fmt, *args):
        if self.server.emu.args.verbose:
            sys.stderr.write("sfemu: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # -- request ---------------------------------------------------------------
    def read_body(self):
        # A Bulk upload may be as large as its limit (and a bit more, so the
        # API rather than the transport answers one that is too large).
        cap = max(MAX_BODY, self.server.emu.bulk.settings.upload_limit + (1 << 20))
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > cap:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            body = b"".join(chunks)
        else:
            n = int(self.headers.get("Content-Length") or 0)
            if n > cap:
                raise ValueError("body too large")
            body = self.rfile.read(n) if n else b""
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip" and body:
            body = gzip.decompress(body)
        return body

    def dispatch(self):
        emu = self.server.emu
        started = time.monotonic()
        try:
            body = self.read_body()
        except (ValueError, OSError, EOFError):
            self.send_plain(400, b"Bad Request")
            self.close_connection = True
            return
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        a = emu.args
        on_login_host = host == a.login_host.lower() and a.login_host != a.instance_host

        if path.startswith("/__control/") or path == "/__control":
            return self.do_control(path, query, body)

        entry = {"time": wire.format_datetime(emu.clock.now_ms()), "method": self.command,
                 "path": self.path, "host": host, "headers": flt.logged_headers(self.headers),
                 "header_names": sorted({k for k in self.headers.keys()}),
                 "status": None, "fault": None, "body": self.logged_body(path, body)}
        fault = emu.faults.take(self.command, path)
        if fault is not None:
            entry["fault"] = fault.kind
        try:
            if fault is not None and fault.kind in ("reset", "status", "stall"):
                if fault.kind == "reset":
                    entry["status"] = 0
                    emu.log.add(entry)
                    self.abort_connection(rst=True)
                    return
                if fault.kind == "status":
                    status, ctype, payload, headers = fault.response(path)
                    entry["status"] = status
                    emu.log.add(entry)
                    self.send_payload(status, ctype, payload, headers)
                    return
                emu.stop_event.wait(fault.seconds)   # stall, then answer normally
            resp = self.route(emu, Req(self.command, path, query, self.headers, body,
                                       on_login_host))
        except Exception:   # an emulator bug must not look like a network fault
            traceback.print_exc()
            resp = rest.error(500, "UNKNOWN_EXCEPTION", "sfemu internal error (see its stderr)")
        entry["status"] = resp.status
        entry["ms"] = int((time.monotonic() - started) * 1000)
        emu.log.add(entry)
        if getattr(resp, "abort", False):     # CometD: a long poll dropped on demand
            self.abort_connection(rst=True)
            return
        payload = resp.payload()
        if fault is not None and fault.kind in ("reset_mid_body", "stall_mid_body"):
            self.send_broken(resp, payload, fault)
            return
        self.send_payload(resp.status, resp.content_type, payload, resp.headers)

    def logged_body(self, path, body):
        if not body:
            return None
        if path.startswith("/services/oauth2/"):
            # Keep the shape, never the secrets.
            form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            return {k: (v[0] if k == "grant_type" else "<redacted>") for k, v in form.items()}
        return body[:flt.MAX_LOGGED_BODY].decode("utf-8", "replace")

    def route(self, emu, req):
        if len(self.requestline) > MAX_URI_AND_HEADERS:
            return rest.Response(414, b"URI Too Long", content_type="text/plain")
        header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if len(self.requestline) + header_bytes > MAX_URI_AND_HEADERS:
            return rest.Response(431, b"Request Header Fields Too Large", content_type="text/plain")
        with emu.lock:
            if req.path == "/services/oauth2/token":
                status, body = emu.oauth.token(req.method, req.headers.get("Content-Type"),
                                               req.body, req.headers.get("Authorization"),
                                               req.on_login_host)
                return rest.Response(status, body, [("Cache-Control", "no-cache,no-store")])
            if req.path == "/services/data" or req.path.startswith("/services/data/"):
                emu.store.origin = change_origin(req)
                try:
                    return emu.rest.handle(req)
                finally:
                    emu.store.origin = ""     # control writes have no origin
            if req.path == "/cometd" or req.path.startswith("/cometd/"):
                return emu.cometd.handle(req)
            if req.path.startswith("/id/"):
                return self.identity(emu, req)
        return rest.error(404, *rest.NOT_FOUND)

    @staticmethod
    def identity(emu, req):
        session = emu.oauth.authenticate(req.headers.get("Authorization"))
        if session is None:
            return rest.Response(403, b"Bad_OAuth_Token", content_type="text/plain")
        user = emu.store.tables["User"].recs[session.user_id]
        return rest.Response(200, {
            "id": "%s/id/%s/%s" % (emu.login_url, emu.org_id, user["Id"]),
            "user_id": user["Id"], "organization_id": emu.org_id, "username": user["Username"],
            "display_name": user["Name"], "email": user["Email"], "active": user["IsActive"],
            "urls": {"rest": emu.instance_url + "/services/data/v{version}/",
                     "query": emu.instance_url + "/services/data/v{version}/query/",
                     "sobjects": emu.instance_url + "/services/data/v{version}/sobjects/"}})

    def do_control(self, path, query, body):
        emu = self.server.emu
        if not emu.control.authorized(self.headers):
            return self.send_payload(403, "application/json", wire.dumps({"error": "bad control token"}))
        doc = None
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                return self.send_payload(400, "application/json", wire.dumps({"error": "bad JSON"}))
        with emu.lock:
            status, out = emu.control.handle(self.command, path, query, doc)
        self.send_payload(status, "application/json", wire.dumps(out))

    # -- response ----------------------------------------------------------------
    def head(self, status, ctype, length, headers, gzipped):
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
        for k, v in headers:
            self.send_header(k, v)
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def encode(self, payload):
        accept = (self.headers.get("Accept-Encoding") or "").lower()
        if payload and "gzip" in accept:
            return gzip.compress(payload, 6), True
        return payload, False

    def send_payload(self, status, ctype, payload, headers=()):
        if status == 304:
            payload = b""
        payload, gz = self.encode(payload)
        try:
            self.head(status, ctype, len(payload), headers, gz)
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def send_plain(self, status, text):
        self.send_payload(status, "text/plain", text)

    def send_broken(self, resp, payload, fault):
        """Headers announcing the whole body, then half of it; then either the
        connection ends (reset_mid_body) or the rest follows late."""
        payload, gz = self.encode(payload)
        half = max(1, len(payload) // 2)
        try:
            self.head(resp.status, resp.content_type, len(payload), resp.headers, gz)
            self.wfile.write(payload[:half])
            self.wfile.flush()
            if fault.kind == "reset_mid_body":
                time.sleep(0.05)   # let the partial body reach the client first
                self.abort_connection(rst=fault.rst)
                return
            self.server.emu.stop_event.wait(fault.seconds)
            self.wfile.write(payload[half:])
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def abort_connection(self, rst):
        """End the connection without a (complete) answer: with rst, a TCP
        reset (SO_LINGER 0); otherwise a plain close mid-stream."""
        self.close_connection = True
        try:
            sock = self.connection
            if rst:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, emu, ssl_ctx):
        self.emu = emu
        self.ssl_ctx = ssl_ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the connection's own thread, so a
        # client that connects and says nothing cannot block accept().
        try:
            request.settimeout(30)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
            tls.settimeout(Handler.timeout)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError, socket.timeout)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Strict Salesforce emulator (stdlib only).")
    p.add_argument("--pki", required=True, help="dir made by make-test-pki.sh (server.crt, "
                   "server.key, client.crt)")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--state-file", help="write the connection details (JSON) here when ready")
    p.add_argument("--control-token", help="token for /__control (default: random, see state file)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--accounts", type=int, default=200)
    p.add_argument("--contacts", type=int, default=300)
    p.add_argument("--opportunities", type=int, default=150)
    p.add_argument("--scores", type=int, default=100)
    p.add_argument("--wide-fields", type=int, default=700,
                   help="custom fields of Sluice_Wide__c (default 700: its all-fields SOQL "
                   "does not fit in a 16 KiB URL)")
    p.add_argument("--wide-records", type=int, default=50, help="Sluice_Wide__c records")
    p.add_argument("--api-budget", type=int, default=100000, help="DailyApiRequests Max")
    p.add_argument("--bulk-upload-limit", type=int, default=100 * 1024 * 1024, metavar="BYTES",
                   help="largest CSV upload per ingest job (default 100 MiB: 150 MB after "
                   "base64, section 5.2)")
    p.add_argument("--bulk-complete-seconds", type=float, default=1.5,
                   help="emulator-clock seconds after UploadComplete when a Bulk job finishes")
    p.add_argument("--bulk-complete-polls", type=int, default=3,
                   help="or after this many polls of its info, if sooner (0: never)")
    p.add_argument("--bulk-max-records", type=int, default=10000,
                   help="query result page size when the client gives no maxRecords")
    p.add_argument("--session-timeout", type=float, default=7200,
                   help="seconds of emulator clock a session lives without use")
    p.add_argument("--jwt-max-lifetime", type=float, default=300,
                   help="largest accepted JWT exp - now, seconds")
    p.add_argument("--jwt-aud", action="append", help="accepted JWT aud (repeatable)")
    p.add_argument("--sandbox", action="store_true", help="JWT aud is https://test.salesforce.com")
    p.add_argument("--login-host", default="127.0.0.1")
    p.add_argument("--instance-host", default="localhost")
    p.add_argument("--max-api-version", default="67.0")
    p.add_argument("--rotate-refresh-tokens", action="store_true")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--app-cert", help="certificate registered for JWT (default PKI/client.crt)")
    p.add_argument("--clock-start", help="emulator clock start (ISO datetime; default now)")
    p.add_argument("--frozen-clock", action="store_true",
                   help="the clock moves only through the control API")
    p.add_argument("--cometd-hold-ms", type=int, default=110000,
                   help="how long /meta/connect is held without events (real: 110 s)")
    p.add_argument("--cometd-client-timeout", type=float, default=40,
                   help="emulator-clock seconds a CometD client lives without a connect (40)")
    p.add_argument("--cometd-max-events", type=int, default=200,
                   help="events per /meta/connect reply at most (default 200)")
    p.add_argument("--cdc-objects", default="Account,Contact,Sluice_Score__c",
                   help="objects enabled for Change Data Capture, comma-separated")
    p.add_argument("--cdc-retention-hours", type=float, default=72,
                   help="how long change events stay replayable (emulator clock; 72)")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    emu = Emulator(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(args.pki, "server.crt"), os.path.join(args.pki, "server.key"))
    server = Server(("127.0.0.1", args.port), emu, ctx)
    emu.start(server.server_address[1])
    if args.state_file:
        tmp = args.state_file + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(emu.info(), fh, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, args.state_file)

    def stop(*_):
        emu.stop_event.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("sfemu listening on https://127.0.0.1:%d" % emu.port, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
