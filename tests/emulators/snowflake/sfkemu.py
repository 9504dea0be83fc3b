#!/usr/bin/env python3
"""sfkemu: a strict Snowflake SQL API v2 emulator for Sluice's tests
(Python 3 standard library and sqlite3 only).

    python3 sfkemu.py --pki DIR [--port 0] [--state-file FILE] [--control-token T]
                      [--partition-rows N] [--sync-wait S] [--db FILE]

Serves HTTPS on 127.0.0.1 and prints one line once it is ready:
    sfkemu listening on https://127.0.0.1:PORT
See README in this directory.
"""
import argparse
import gzip
import http.server
import json
import os
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

import auth                # noqa: E402
import control as ctl      # noqa: E402
import faults as flt       # noqa: E402
import sqlapi              # noqa: E402
import sqlengine           # noqa: E402

MAX_BODY = 64 * 1024 * 1024


class Emulator:
    def __init__(self, args):
        self.args = args
        self.account = args.account.upper()
        self.user = args.user.upper()
        self.role, self.warehouse = args.role, args.warehouse
        self.database, self.schema = args.database, args.schema
        keys = []
        for path in args.public_key or [os.path.join(args.pki, "client.pub")]:
            with open(path) as fh:
                keys.append(auth.PublicKey(fh.read()))
        self.oauth_token = args.oauth_token or "sfkemu-oauth-" + secrets.token_hex(16)
        self.auth = auth.Authenticator(self.account, self.user, keys, self.oauth_token)
        self.control_token = args.control_token or secrets.token_hex(16)
        self.engine = sqlengine.Engine(args.db or ":memory:")
        self.engine.warehouses = self.warehouses
        self.api = sqlapi.SqlApi(self)
        self.faults = flt.Faults()
        self.log = flt.RequestLog()
        self.control = ctl.Control(self)
        self.stop_event = threading.Event()
        self.port = None
        self.s3_server = self.s3_info = None
        self.engine.s3 = None
        if args.s3:                 # the S3 emulator in this process (../s3/s3emu.py)
            sys.path.insert(0, os.path.join(HERE, "..", "s3"))
            import s3emu
            self.s3_server, self.engine.s3, self.s3_info = s3emu.start_server(
                args.pki, args.s3_port, args.s3_region, s3emu.credentials_from(args, "s3_"),
                args.s3_bucket or ["sluice-stage"], args.s3_control_token or self.control_token,
                args.s3_virtual_host_suffix, args.verbose)
        self.reset()

    def reset(self):
        a = self.args
        self.settings = {"sync_wait_seconds": float(a.sync_wait),
                         "partition_rows": int(a.partition_rows),
                         "default_timeout_seconds": int(a.default_timeout)}
        self.warehouse_state = {"name": self.warehouse, "exists": True, "state": "STARTED",
                                "auto_resume": True}
        self.api.reset()
        with self.engine.lock:
            self.engine.reset()
            self.engine.catalog.add_database(self.database)
            self.engine.catalog.databases[self.database].setdefault(self.schema, 0)
        self.auth.reset()
        self.faults.clear()
        self.log.clear()
        self.reset_stages()

    def reset_stages(self):
        """No stages but the --stage ones, no load metadata; the in-process S3
        store back to its buckets and credentials."""
        import stage
        import sqllex
        with self.engine.lock:
            self.engine.conn.execute("DROP TABLE IF EXISTS sfk_load_history")
            self.engine.stages, self.engine.integrations = {}, {}
            ff = {}
            if self.args.stage_file_format:
                ff, _ = stage.parse_value(sqllex.tokenize("(%s)" % self.args.stage_file_format), 0)
            for spec in self.args.stage or []:
                name, sep, url = spec.partition("=")
                if not sep or not url.startswith("s3://"):
                    raise SystemExit("--stage wants [DB.SCHEMA.]NAME=s3://bucket/prefix/")
                parts = [p[1:-1] if p.startswith('"') else p.upper() for p in name.split(".")]
                key = tuple([self.database, self.schema][:3 - len(parts)] + parts)
                self.engine.stages[key] = stage.Stage(key, url, "SFKEMU_S3", None, ff)
        if self.engine.s3 is not None:
            self.engine.s3.reset()

    def warehouse_ok(self, name):
        """Can a statement that needs compute run on warehouse `name`?  A
        suspended warehouse with AUTO_RESUME resumes."""
        w = self.warehouse_state
        if name != w["name"] or not w["exists"]:
            return False
        if w["state"] == "SUSPENDED":
            if not w["auto_resume"]:
                return False
            w["state"] = "STARTED"
        return True

    def warehouses(self):
        w = self.warehouse_state
        return [dict(w, default=True)] if w["exists"] else []

    def info(self):
        a = self.args
        pki = os.path.abspath(a.pki)
        url = "https://127.0.0.1:%d" % self.port
        return {
            "port": self.port, "pid": os.getpid(), "url": url,
            "control_url": url + "/__control", "control_token": self.control_token,
            "ca_file": os.path.join(pki, "ca.crt"),
            "account": self.account, "user": self.user, "role": self.role,
            "warehouse": self.warehouse, "database": self.database, "schema": self.schema,
            "public_key_fingerprints": [k.fingerprint for k in self.auth.keys],
            "public_key_fingerprint": self.auth.keys[0].fingerprint,
            "private_key_file": os.path.join(pki, "client.key"),
            "private_key_p8": os.path.join(pki, "client.p8"),
            "private_key_passphrase_file": os.path.join(pki, "client.passphrase"),
            "jwt_issuer": "%s.%s.%s" % (self.account, self.user, self.auth.keys[0].fingerprint),
            "jwt_subject": "%s.%s" % (self.account, self.user),
            "oauth_token": self.oauth_token,
            "partition_rows": self.settings["partition_rows"],
            "sync_wait_seconds": self.settings["sync_wait_seconds"],
            "s3": self.s3_info() if self.s3_info else None,
            "stages": [".".join(k) for k in sorted(getattr(self.engine, "stages", {}) or {})],
        }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 300

    def version_string(self):
        return "SF-LB-T1"          # the real front end's Server: header

    def log_message(self, fmt, *args):
        if self.server.emu.args.verbose:
            sys.stderr.write("sfkemu: %s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
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
            self.send_reply(sqlapi.Reply(400, raw=b"Bad Request", content_type="text/plain"))
            self.close_connection = True
            return
        parsed = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(parsed.path)
        query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
        if path == "/__control" or path.startswith("/__control/"):
            return self.do_control(path, query, body)
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "method": self.command, "path": path, "query": parsed.query,
                 "headers": flt.logged_headers(self.headers), "status": None, "fault": None}
        statement = None
        if self.command == "POST" and path == "/api/v2/statements":
            try:
                statement = json.loads(body).get("statement")
            except (ValueError, AttributeError):
                pass
        fault = emu.faults.take(self.command, path, statement)
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "reset":
                entry["status"] = 0
                emu.log.add(entry)
                return self.abort_connection()
            if fault.kind == "status":
                status, ctype, payload, headers = fault.response()
                entry["status"] = status
                emu.log.add(entry)
                return self.send_reply(sqlapi.Reply(status, raw=payload, headers=headers,
                                                    content_type=ctype))
            if fault.kind == "stall":
                emu.stop_event.wait(fault.seconds)
        try:
            reply = self.route(emu, path, query, body, entry)
        except Exception:
            traceback.print_exc()
            reply = sqlapi.Reply(500, raw=b"", content_type="text/plain")
        entry["status"] = reply.status
        entry["ms"] = int((time.monotonic() - started) * 1000)
        emu.log.add(entry)
        if fault is not None and fault.kind == "reset_after":
            return self.abort_connection()
        self.send_reply(reply, mid_body_reset=fault is not None and
                        fault.kind == "reset_mid_body")

    def route(self, emu, path, query, body, entry):
        if path == "/api/v2/statements":
            if self.command != "POST":
                return sqlapi.Reply(405)
            return emu.api.post(self.headers, query, body, entry)
        if path.startswith("/api/v2/statements/"):
            return emu.api.get_or_cancel(self.command, path, self.headers, query, entry)
        return sqlapi.Reply(404)

    def do_control(self, path, query, body):
        emu = self.server.emu
        if not emu.control.authorized(self.headers):
            return self.send_reply(sqlapi.Reply(403, raw=b'{"error":"bad control token"}'))
        doc = None
        if body:
            try:
                doc = json.loads(body)
            except ValueError:
                return self.send_reply(sqlapi.Reply(400, raw=b'{"error":"bad JSON"}'))
        status, out = emu.control.handle(self.command, path, query, doc)
        self.send_reply(sqlapi.Reply(status, raw=json.dumps(out).encode()))

    # -- response ---------------------------------------------------------------------------
    def send_reply(self, reply, mid_body_reset=False):
        payload = reply.payload()
        accept = (self.headers.get("Accept-Encoding") or "").lower()
        gz = bool(payload) and (reply.force_gzip or "gzip" in accept)
        if gz:
            payload = gzip.compress(payload, 6)
        try:
            self.send_response(reply.status)
            if payload or reply.status not in (404, 405):
                self.send_header("Content-Type", reply.content_type)
            for k, v in reply.headers:
                self.send_header(k, v)
            if gz:
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding, User-Agent" if reply.status < 300
                             else "Accept-Encoding")
            self.send_header("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command == "HEAD" or not payload:
                return
            if mid_body_reset:
                self.wfile.write(payload[:max(1, len(payload) // 2)])
                self.wfile.flush()
                time.sleep(0.05)
                return self.abort_connection()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def abort_connection(self):
        """End the connection without (the rest of) an answer: a TCP reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, addr, emu, ssl_ctx):
        self.emu, self.ssl_ctx = emu, ssl_ctx
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the connection's own thread.
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
        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Strict Snowflake SQL API v2 emulator (stdlib only).")
    p.add_argument("--pki", required=True, help="dir made by make-test-pki.sh")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    p.add_argument("--state-file", help="write the connection details (JSON, 0600) here")
    p.add_argument("--control-token", help="token for /__control (default: random)")
    p.add_argument("--account", default="SLUICETEST", help="account identifier (JWT iss/sub)")
    p.add_argument("--user", default="SLUICE_USER")
    p.add_argument("--role", default="SLUICE_ROLE", help="the user's role (PUBLIC also works)")
    p.add_argument("--warehouse", default="SLUICE_WH")
    p.add_argument("--database", default="SLUICE_DB")
    p.add_argument("--schema", default="PUBLIC")
    p.add_argument("--public-key", action="append",
                   help="registered public key PEM, repeatable (default PKI/client.pub)")
    p.add_argument("--oauth-token", help="the accepted OAUTH token (default: random)")
    p.add_argument("--partition-rows", type=int, default=1000, help="rows per result partition")
    p.add_argument("--sync-wait", type=float, default=45.0,
                   help="seconds a POST waits before answering 202 (real service: 45)")
    p.add_argument("--default-timeout", type=int, default=172800,
                   help="STATEMENT_TIMEOUT_IN_SECONDS when the body has no timeout")
    p.add_argument("--db", help="SQLite file for the store (default: in memory)")
    p.add_argument("--s3", action="store_true",
                   help="run the S3 emulator (../s3/s3emu.py) in this process for stages")
    p.add_argument("--s3-port", type=int, default=0, help="its port (default: a free one)")
    p.add_argument("--s3-control-token", help="its control token (default: --control-token)")
    p.add_argument("--stage", action="append",
                   help="pre-created external stage [DB.SCHEMA.]NAME=s3://bucket/prefix/ "
                        "(repeatable; trusted like a STORAGE_INTEGRATION)")
    p.add_argument("--stage-file-format",
                   help="FILE_FORMAT options of the --stage stages, e.g. \"TYPE = CSV "
                        "SKIP_HEADER = 1\"")
    p.add_argument("--verbose", action="store_true")
    sys.path.insert(0, os.path.join(HERE, "..", "s3"))
    import s3emu
    s3emu.add_arguments(p, "s3-")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    emu = Emulator(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(args.pki, "server.crt"), os.path.join(args.pki, "server.key"))
    server = Server(("127.0.0.1", args.port), emu, ctx)
    emu.port = server.server_address[1]
    if args.state_file:
        tmp = args.state_file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(emu.info(), fh, indent=2)
        os.replace(tmp, args.state_file)

    def stop(*_):
        emu.stop_event.set()
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("sfkemu listening on https://127.0.0.1:%d" % emu.port, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if emu.s3_server is not None:
            emu.s3_server.shutdown()
            emu.s3_server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
