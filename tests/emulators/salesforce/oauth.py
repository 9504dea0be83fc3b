"""OAuth 2.0 token endpoint and the sessions it creates (contract section 1).

Grants: client_credentials, urn:ietf:params:oauth:grant-type:jwt-bearer and
refresh_token.  Error bodies are the {"error","error_description"} objects of
section 1.5.  Sessions time out after --session-timeout seconds of the
emulator clock without use; every use extends them (section 1.4).
"""
import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse

import pki

GRANT_JWT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE_PROD = "https://login.salesforce.com"
AUDIENCE_SANDBOX = "https://test.salesforce.com"


class OAuthError(Exception):
    def __init__(self, error, description, status=400):
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


class App:
    """A connected app: consumer key/secret, the JWT certificate's public
    key, the users pre-authorized for it, the client-credentials run-as user."""

    def __init__(self, client_id, client_secret, public_key, approved_user_ids,
                 cc_user_id=None, secret_required_for_refresh=True):
        self.client_id = client_id
        self.client_secret = client_secret
        self.public_key = public_key          # (n, e)
        self.approved = set(approved_user_ids)
        self.cc_user_id = cc_user_id
        self.secret_required_for_refresh = secret_required_for_refresh


class Session:
    __slots__ = ("token", "user_id", "client_id", "last_used_ms")

    def __init__(self, token, user_id, client_id, now_ms):
        self.token, self.user_id, self.client_id, self.last_used_ms = token, user_id, client_id, now_ms


class OAuth:
    def __init__(self, store, clock, org_id, apps, login_url, instance_url, audiences,
                 session_timeout_s=7200, jwt_max_lifetime_s=300, rotate_refresh=False):
        self.store = store
        self.clock = clock
        self.org_id = org_id
        self.apps = {a.client_id: a for a in apps}
        self.login_url = login_url
        self.instance_url = instance_url
        self.audiences = list(audiences)
        self.session_timeout_ms = int(session_timeout_s * 1000)
        self.jwt_max_lifetime_s = jwt_max_lifetime_s
        self.rotate_refresh = rotate_refresh
        self.sessions = {}
        self.refresh_tokens = {}      # token -> (client_id, user_id)

    # -- state ----------------------------------------------------------------
    def reset(self):
        self.sessions.clear()
        self.refresh_tokens.clear()

    def expire_all(self):
        """Every access token stops working (refresh tokens stay valid)."""
        n = len(self.sessions)
        self.sessions.clear()
        return n

    def mint_refresh_token(self, client_id, user_id, token=None):
        """What the web-server flow would have left behind: a refresh token
        for (app, user).  The emulator has no interactive flow, so tests and
        the command line make them here."""
        token = token or "5Aep861" + secrets.token_urlsafe(60).replace("-", ".")
        self.refresh_tokens[token] = (client_id, user_id)
        return token

    def authenticate(self, header):
        """The Session of an 'Authorization: Bearer|OAuth <token>' header, or
        None when missing, unknown or timed out.  A use extends the session."""
        if not header:
            return None
        parts = header.split(None, 1)
        if len(parts) != 2 or parts[0].lower() not in ("bearer", "oauth"):
            return None
        s = self.sessions.get(parts[1].strip())
        if s is None:
            return None
        now = self.clock.now_ms()
        if now - s.last_used_ms > self.session_timeout_ms:
            del self.sessions[s.token]
            return None
        s.last_used_ms = now
        return s

    # -- helpers --------------------------------------------------------------
    def _user(self, user_id):
        return self.store.tables["User"].recs.get(user_id)

    def _user_by_name(self, username):
        users = self.store.tables["User"]
        field = users.sobj.field("Username")
        ids = users.lookup(field, username) if isinstance(username, str) else []
        return users.recs[ids[0]] if ids else None

    def _new_session(self, app, user_id):
        token = self.org_id[:15] + "!AR" + secrets.token_urlsafe(72)
        self.sessions[token] = Session(token, user_id, app.client_id, self.clock.now_ms())
        return token

    def _identity_url(self, user_id):
        return "%s/id/%s/%s" % (self.login_url, self.org_id, user_id)

    def _full_response(self, app, user_id, scope):
        """Fields of a client-credentials / refresh response (section 1.1, 1.3):
        issued_at is epoch milliseconds as a string; signature is the
        Base64 HMAC-SHA256 of id + issued_at keyed with the consumer secret."""
        token = self._new_session(app, user_id)
        issued_at = str(self.clock.now_ms())
        ident = self._identity_url(user_id)
        sig = base64.b64encode(hmac.new(app.client_secret.encode(), (ident + issued_at).encode(),
                                        hashlib.sha256).digest()).decode()
        body = {"access_token": token, "signature": sig}
        if scope:
            body["scope"] = scope
        body.update({"instance_url": self.instance_url, "id": ident, "token_type": "Bearer",
                     "issued_at": issued_at})
        return body

    @staticmethod
    def _basic(header):
        if not header or not header.lower().startswith("basic "):
            return None, None
        try:
            raw = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None, None
        if ":" not in raw:
            return None, None
        cid, secret = raw.split(":", 1)
        return urllib.parse.unquote(cid), urllib.parse.unquote(secret)

    # -- the endpoint ---------------------------------------------------------
    def token(self, method, content_type, body, authorization, on_login_host):
        """(status, body dict) for a request to /services/oauth2/token."""
        try:
            return 200, self._token(method, content_type, body, authorization, on_login_host)
        except OAuthError as e:
            return e.status, e.body

    def _token(self, method, content_type, body, authorization, on_login_host):
        if method != "POST":
            # A GET carries no grant (what a client sees after an http:// ->
            # https:// redirect turned its POST into a GET).
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        ctype = (content_type or "").split(";")[0].strip().lower()
        params = {}
        if ctype == "application/x-www-form-urlencoded":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = ""
            for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
                params.setdefault(k, v)
        grant = params.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant type is missing")
        if grant == "client_credentials":
            return self._client_credentials(params, authorization, on_login_host)
        if grant == GRANT_JWT:
            return self._jwt(params)
        if grant == "refresh_token":
            return self._refresh(params, authorization)
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def _client_app(self, params, authorization):
        cid, secret = params.get("client_id"), params.get("client_secret")
        if cid is None:
            cid, basic_secret = self._basic(authorization)
            secret = secret if secret is not None else basic_secret
        app = self.apps.get(cid or "")
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        return app, secret

    def _client_credentials(self, params, authorization, on_login_host):
        if on_login_host:
            raise OAuthError("invalid_grant", "request not supported on this domain")
        app, secret = self._client_app(params, authorization)
        if secret is None or not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
            raise OAuthError("invalid_client", "invalid client credentials")
        if not app.cc_user_id:
            raise OAuthError("invalid_grant", "no client credentials user enabled")
        user = self._user(app.cc_user_id)
        if not user or not user.get("IsActive"):
            raise OAuthError("invalid_grant", "inactive user")
        body = self._full_response(app, app.cc_user_id, None)
        # The client-credentials sample response carries token_format (section 1.1).
        out = {"access_token": body["access_token"], "signature": body["signature"],
               "token_format": "opaque"}
        out.update({k: body[k] for k in ("instance_url", "id", "token_type", "issued_at")})
        return out

    def _refresh(self, params, authorization):
        app, secret = self._client_app(params, authorization)
        if secret is not None:
            if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
                raise OAuthError("invalid_client", "invalid client credentials")
        elif app.secret_required_for_refresh:
            raise OAuthError("invalid_client", "invalid client credentials")
        token = params.get("refresh_token") or ""
        owner = self.refresh_tokens.get(token)
        if owner is None or owner[0] != app.client_id:
            raise OAuthError("invalid_grant", "expired access/refresh token")
        user = self._user(owner[1])
        if not user or not user.get("IsActive"):
            raise OAuthError("invalid_grant", "inactive user")
        body = self._full_response(app, owner[1], "api refresh_token")
        if self.rotate_refresh:
            # Rotation: a new refresh token replaces the one just used (section 1.3).
            del self.refresh_tokens[token]
            body["refresh_token"] = self.mint_refresh_token(app.client_id, owner[1])
        return body

    def _jwt(self, params):
        invalid = OAuthError("invalid_grant", "invalid assertion")
        assertion = params.get("assertion") or ""
        parts = assertion.split(".")
        if len(parts) != 3:
            raise invalid
        try:
            header = json.loads(pki.b64url_decode(parts[0]))
            claims = json.loads(pki.b64url_decode(parts[1]))
            signature = pki.b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            raise invalid
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise invalid
        if header.get("alg") != "RS256":
            raise invalid
        app = self.apps.get(claims.get("iss")) if isinstance(claims.get("iss"), str) else None
        if app is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        n, e = app.public_key
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        if not pki.rsa_verify_sha256(n, e, signed, signature):
            raise invalid
        if claims.get("aud") not in self.audiences:
            raise OAuthError("invalid_grant", "Audience validation failed")
        exp = claims.get("exp")
        # exp is a NumericDate; simple-salesforce sends it as a string and the
        # real service accepts that (section 1.2).
        if isinstance(exp, str) and exp.strip().isdigit():
            exp = int(exp)
        if isinstance(exp, bool) or not isinstance(exp, (int, float)):
            raise invalid
        # The client signs with its own wall clock, so exp is judged against
        # the real time, not the emulator's (possibly advanced) clock.
        now = time.time()
        if exp <= now:
            raise OAuthError("invalid_grant", "expired authorization code")
        if exp > now + self.jwt_max_lifetime_s:
            raise invalid
        user = self._user_by_name(claims.get("sub"))
        if user is None:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        if not user.get("IsActive"):
            raise OAuthError("invalid_grant", "inactive user")
        if user["Id"] not in app.approved:
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        token = self._new_session(app, user["Id"])
        # Only the fields of the documented JWT response (section 1.2):
        # no issued_at/signature, so clients cannot come to rely on them.
        return {"access_token": token, "scope": "api", "instance_url": self.instance_url,
                "id": self._identity_url(user["Id"]), "token_type": "Bearer"}
