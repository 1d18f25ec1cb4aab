"""A real OpenID provider for the OIDC login tests, on uvicorn in a thread on a loopback port.

It serves the discovery document, a JWKS with an RSA key made here, an authorization endpoint
that sends the browser straight back with a code (its user is "already logged in" as
`provider.user`), and a token endpoint that checks the client's secret, the redirect URI and the
PKCE verifier, gives each code once, and issues an id_token signed with that key. A test makes it
misbehave by setting `id_token_changes` (claims to override) or `signing_key` (another key).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from docflow.broker import free_port

CLIENT_ID = "docflow-web"
CLIENT_SECRET = "provider-made-secret-for-docflow"


class Provider:
    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/test"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key"})
        self.signing_key = self.key
        self.user: dict[str, Any] = {"sub": "u-1", "email": "ann@example.com",
                                     "email_verified": True}
        self.id_token_changes: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests = 0
        base = "/realms/test"
        app = Starlette(routes=[
            Route(f"{base}/.well-known/openid-configuration", self.discovery),
            Route(f"{base}/jwks", self.jwks),
            Route(f"{base}/authorize", self.authorize),
            Route(f"{base}/token", self.token, methods=["POST"]),
        ])
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="oidc-provider",
                                       daemon=True)

    def start(self) -> Provider:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "no provider"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    async def discovery(self, _request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        })

    async def jwks(self, _request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
        assert "openid" in q["scope"].split() and q["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"],
                            "redirect_uri": q["redirect_uri"]}
        back = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = await request.form()
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)  # each code once
        if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if challenge.rstrip(b"=").decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant",
                                 "error_description": "PKCE verifier"}, status_code=400)
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **self.user, **self.id_token_changes}
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.signing_key)
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                             "expires_in": 300, "id_token": id_token})
