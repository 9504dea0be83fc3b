"""The Streaming API: Bayeux over CometD long polling (contract section 6).

POST /cometd/<version>[/handshake|/connect|...] with a JSON array of
messages; the answer is always a JSON array.  Clients are kept in memory;
the handshake sets two cookies that every later call of that client must
send back.  /meta/connect is held until an event for one of the client's
subscriptions arrives or the hold time passes; it waits on a Condition of
the emulator's lock, so the rest of the emulator keeps serving meanwhile.
"""
import http.cookies
import json
import re
import secrets
import threading
import time

import rest
import wire

PATH_RE = re.compile(r"^/cometd/(\d+\.\d+)(?:/(?:handshake|connect|subscribe|unsubscribe|"
                     r"disconnect))?/?$")
MIN_VERSION = 37.0
MAX_REQUEST = 32768
COOKIES = ("BAYEUX_BROWSER", "BrowserId")
MSG_VERSION = ("400::Unsupported API version. Only API versions '37.0' and later are "
               "supported. URI format: '/cometd/66.0'")
MSG_REPLAY = ("400::The replayId {%s} you provided was invalid.  Please provide a valid ID, "
              "-2 to replay all events, or -1 to replay only new events.")
MSG_NO_CHANNEL = "400::The channel you requested to subscribe to doesn't exist %s"
MSG_VIEW_ALL = "403::User not allowed to subscribe CDC without View All Data permissions"
FAILURE_KINDS = ("unknown_client", "auth", "drop")


class HttpError(Exception):
    """A request the transport refuses as a whole: HTTP status + one message."""

    def __init__(self, status, error, msg=None):
        super().__init__(error)
        self.status = status
        self.reply = _reply(msg or {}, error=error)


def _reply(msg, **fields):
    out = {}
    for key in ("clientId", "channel", "id", "subscription"):
        if msg.get(key) is not None:
            out[key] = msg[key]
    if "error" in fields:
        out["successful"] = False
    out.update(fields)
    return out


class Settings:
    def __init__(self, args):
        self.args = args
        self.reset()

    def reset(self):
        a = self.args
        self.hold_ms = a.cometd_hold_ms
        self.client_timeout_ms = int(a.cometd_client_timeout * 1000)
        self.max_events = a.cometd_max_events
        self.view_all_data = True

    def describe(self):
        return {"hold_ms": self.hold_ms, "client_timeout_seconds": self.client_timeout_ms / 1000,
                "max_events_per_connect": self.max_events, "view_all_data": self.view_all_data}


class Subscription:
    def __init__(self, channel, entity, pos):
        self.channel, self.entity, self.pos = channel, entity, pos


class Client:
    def __init__(self, cid, cookies, now_ms):
        self.id = cid
        self.cookies = cookies          # name -> value set by the handshake
        self.subs = {}                  # channel -> Subscription
        self.last_seen_ms = now_ms
        self.connects = 0               # answered /meta/connect calls
        self.held = 0                   # /meta/connect calls being held now
        self.gen = 0                    # a newer connect releases an older one


class Streaming:
    def __init__(self, bus, oauth, clock, lock, settings, max_version, stop_event):
        self.bus, self.oauth, self.clock = bus, oauth, clock
        self.settings = settings
        self.max_version = float(max_version)
        self.stop_event = stop_event
        self.cond = threading.Condition(lock)
        self.clients = {}
        self.failures = []              # injected /meta/connect failures, oldest first
        bus.on_publish = self.wake

    def reset(self):
        self.settings.reset()
        self.clients.clear()
        self.failures = []
        self.wake()

    def wake(self):
        with self.cond:
            self.cond.notify_all()

    def add_failure(self, kind, count=1, after_ms=200):
        if kind not in FAILURE_KINDS:
            raise ValueError("kind must be one of " + ", ".join(FAILURE_KINDS))
        for _ in range(int(count)):
            self.failures.append({"kind": kind, "after_ms": int(after_ms)})
        self.wake()

    def forget_clients(self):
        n = len(self.clients)
        self.clients.clear()
        self.wake()
        return n

    # -- the HTTP request ----------------------------------------------------------
    def handle(self, req):
        """-> rest.Response; .abort set when the connection must be dropped."""
        headers = []
        try:
            msgs = self._parse(req)
            out = []
            for msg in msgs:
                fn = {"/meta/handshake": self.handshake, "/meta/connect": self.connect,
                      "/meta/subscribe": self.subscribe, "/meta/unsubscribe": self.unsubscribe,
                      "/meta/disconnect": self.disconnect}.get(msg.get("channel"))
                if fn is None:
                    out.append(_reply(msg, error="403::Publish not allowed" if msg.get("channel")
                                      else "400::Missing channel"))
                    continue
                got = fn(msg, req, headers)
                if got is None:                # drop the connection, answer nothing
                    resp = rest.Response(0)
                    resp.abort = True
                    return resp
                out.extend(got)
            return rest.Response(200, out, headers)
        except HttpError as e:
            return rest.Response(e.status, [e.reply])

    def _parse(self, req):
        m = PATH_RE.match(req.path)
        if not m:
            raise HttpError(404, "404::Not found")
        if req.method != "POST":
            raise HttpError(400, "400::Only POST is supported")
        version = float(m.group(1))
        if version < MIN_VERSION:
            raise HttpError(400, MSG_VERSION)
        if version > self.max_version:
            raise HttpError(404, "404::Unknown version %s" % m.group(1))
        if len(req.body) > MAX_REQUEST:
            raise HttpError(413, "413::Maximum Request Size Exceeded")
        ctype = (req.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype not in ("application/json", "text/json"):
            # A real CometD server reads a form post's "message" parameter,
            # so a JSON body sent as a form is lost there: refuse it here.
            raise HttpError(400, "400::Invalid content type %s" % (ctype or "(none)"))
        try:
            msgs = json.loads(req.body)
        except ValueError:
            raise HttpError(400, "400::Invalid JSON")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(x, dict) for x in msgs):
            raise HttpError(400, "400::The request body must be a JSON array of messages")
        return msgs

    def _session(self, req):
        if req.on_login_host:           # CometD is served by instance_url only
            return None
        return self.oauth.authenticate(req.headers.get("Authorization"))

    def _client(self, msg):
        """The live client a message names, or None (unknown or expired)."""
        c = self.clients.get(msg.get("clientId"))
        if c is not None and not c.held and \
                self.clock.now_ms() - c.last_seen_ms > self.settings.client_timeout_ms:
            del self.clients[c.id]
            c = None
        return c

    def _check(self, client, msg, req):
        """Cookies, then the token: the checks of every call after the handshake."""
        jar = http.cookies.SimpleCookie()
        try:
            jar.load(req.headers.get("Cookie") or "")
        except http.cookies.CookieError:
            pass
        for name in COOKIES:
            if name not in jar or jar[name].value != client.cookies[name]:
                raise HttpError(400, "400::Client %s has established a session, but no %s "
                                "cookie present" % (client.id, name), msg)
        if self._session(req) is None:
            return [_reply(msg, error="401::Authentication invalid",
                           advice={"reconnect": "none", "interval": 0})]
        return None

    @staticmethod
    def _unknown(msg):
        # The shape of the real log line (section 6.6): no clientId in it.
        out = {"channel": msg.get("channel")}
        if msg.get("id") is not None:
            out["id"] = msg["id"]
        out.update({"error": "403::Unknown client", "successful": False,
                    "advice": {"interval": 0, "reconnect": "handshake"}})
        return [out]

    # -- meta channels -----------------------------------------------------------------
    def handshake(self, msg, req, headers):
        ext = {"replay": True, "payload.format": True}
        if self._session(req) is None:
            has_token = bool((req.headers.get("Authorization") or "").strip())
            reason = "401::Authentication invalid" if has_token else \
                "401::Request requires authentication"
            return [_reply(msg, ext=dict(ext, sfdc={"failureReason": reason}),
                           advice={"reconnect": "none"}, error="403::Handshake denied")]
        types = msg.get("supportedConnectionTypes")
        if not isinstance(types, list) or "long-polling" not in types:
            raise HttpError(400, "400::Invalid connection type", msg)
        self._expire_clients()
        now = self.clock.now_ms()
        cookies = {name: secrets.token_urlsafe(16) for name in COOKIES}
        cid = "".join(secrets.choice("0123456789abcdefghijklmnopqrstuvwxyz") for _ in range(26))
        self.clients[cid] = Client(cid, cookies, now)
        for name, value in cookies.items():
            headers.append(("Set-Cookie", "%s=%s; Path=/; Secure" % (name, value)))
        return [_reply(msg, ext=ext, minimumVersion="1.0", clientId=cid,
                       supportedConnectionTypes=["long-polling"], version="1.0",
                       successful=True, reestablish=False)]

    def _expire_clients(self):
        limit = self.settings.client_timeout_ms
        now = self.clock.now_ms()
        for c in list(self.clients.values()):
            if not c.held and now - c.last_seen_ms > limit:
                del self.clients[c.id]

    def subscribe(self, msg, req, headers):
        client = self._client(msg)
        if client is None:
            return self._unknown(msg)
        refused = self._check(client, msg, req)
        if refused:
            return refused
        channel = msg.get("subscription")
        if not isinstance(channel, str) or not channel:
            return [_reply(msg, error="403::Subscription invalid")]
        entity = self.bus.entity_of_channel(channel)
        if entity is None:
            return [_reply(msg, error=MSG_NO_CHANNEL % channel)]
        if not self.settings.view_all_data:
            return [_reply(msg, error=MSG_VIEW_ALL)]
        replay = (msg.get("ext") or {}).get("replay") or {}
        rid = replay.get(channel, -1) if isinstance(replay, dict) else -1
        if rid == -1:
            pos = self.bus.last_id()
        elif rid == -2:
            pos = 0
        elif isinstance(rid, int) and not isinstance(rid, bool) and self.bus.retained(rid):
            pos = rid
        else:
            return [_reply(msg, error=MSG_REPLAY % rid)]
        client.subs[channel] = Subscription(channel, entity, pos)
        self.wake()
        return [_reply(msg, successful=True)]

    def unsubscribe(self, msg, req, headers):
        client = self._client(msg)
        if client is None:
            return self._unknown(msg)
        refused = self._check(client, msg, req)
        if refused:
            return refused
        client.subs.pop(msg.get("subscription"), None)
        return [_reply(msg, successful=True)]

    def disconnect(self, msg, req, headers):
        client = self._client(msg)
        if client is None:
            return self._unknown(msg)
        refused = self._check(client, msg, req)
        if refused:
            return refused
        del self.clients[client.id]
        self.wake()
        return [_reply(msg, successful=True)]

    def connect(self, msg, req, headers):
        client = self._client(msg)
        if client is None:
            return self._unknown(msg)
        refused = self._check(client, msg, req)
        if refused:
            return refused
        if msg.get("connectionType") != "long-polling":
            raise HttpError(400, "400::Invalid connection type", msg)
        client.gen += 1
        gen = client.gen
        # As a CometD server does, the first connect after the handshake is
        # answered at once; later ones are held.
        # A client may advise a shorter hold (CometD honours a connect's
        # advice.timeout): a draining client asks not to wait long.
        hold_ms = self.settings.hold_ms
        want = (msg.get("advice") or {}).get("timeout")
        if isinstance(want, int) and not isinstance(want, bool) and want >= 0:
            hold_ms = min(hold_ms, want)
        hold = hold_ms / 1000 if client.connects else 0
        deadline = time.monotonic() + hold
        client.held += 1
        try:
            while True:
                if self.failures:
                    return self._fail(self.failures.pop(0), client, msg)
                if self.clients.get(client.id) is not client:      # gone meanwhile
                    return self._unknown(msg) if client.gen == gen else \
                        [self._connect_reply(msg, client, "none")]
                left = deadline - time.monotonic()
                if left <= 0 or gen != client.gen or self.stop_event.is_set() or \
                        self._pending(client):
                    break
                self.cond.wait(min(left, 1.0))
        finally:
            client.held -= 1
            client.last_seen_ms = self.clock.now_ms()
        client.connects += 1
        return self._deliver(client) + [self._connect_reply(msg, client, "retry")]

    def _connect_reply(self, msg, client, reconnect):
        return _reply(dict(msg, clientId=client.id), successful=True,
                      advice={"interval": 0, "timeout": self.settings.hold_ms,
                              "reconnect": reconnect})

    def _fail(self, failure, client, msg):
        kind = failure["kind"]
        if kind == "unknown_client":
            self.clients.pop(client.id, None)
            return self._unknown(msg)
        if kind == "auth":
            return [_reply(msg, error="401::Authentication invalid",
                           advice={"reconnect": "none", "interval": 0})]
        # drop: hold a while, then end the connection without an answer
        end = time.monotonic() + failure["after_ms"] / 1000
        while time.monotonic() < end and not self.stop_event.is_set():
            self.cond.wait(end - time.monotonic())
        return None

    # -- events ------------------------------------------------------------------------
    def _pending(self, client):
        return any(self.bus.has_after(s.pos, s.entity) for s in client.subs.values())

    def _deliver(self, client):
        """Up to max_events messages, in replay order across subscriptions;
        each subscription's position moves past what it was given."""
        subs = list(client.subs.values())
        if not subs:
            return []
        out, cap = [], self.settings.max_events
        for ev in self.bus.after(min(s.pos for s in subs)):
            data = None
            for s in subs:
                if ev.replay_id <= s.pos:
                    continue
                if s.entity and s.entity != ev.entity:
                    s.pos = ev.replay_id
                    continue
                if len(out) >= cap:
                    return out
                data = data or self.bus.data(ev)
                out.append({"data": data, "channel": s.channel})
                s.pos = ev.replay_id
        return out


def describe_clients(streaming):
    return [{"clientId": c.id, "subscriptions": {ch: s.pos for ch, s in c.subs.items()},
             "connects": c.connects, "held": c.held,
             "last_seen": wire.format_datetime(c.last_seen_ms)}
            for c in streaming.clients.values()]
