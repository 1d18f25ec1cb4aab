"""OpenID Connect login for the web app: the authorization code flow with PKCE, state and nonce.

Authlib speaks to the provider (discovery document, authorization URL, code exchange, JWKS)
and validates the id_token (signature, issuer, audience, expiry, nonce). This module keeps the
flow's secrets between the two requests, in a short-lived encrypted cookie that only this server
can read or make, and turns the token's claims into a docflow user.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.httpx_client._compat import httpx2  # the HTTP client Authlib uses
from authlib.integrations.starlette_client import OAuth, StarletteOAuth2App
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import OctKey

from docflow.auth.scopes import Scope
from docflow.auth.secrets import new_secret
from docflow.auth.users import create_user, find_user
from docflow.config import OidcUsers, Settings
from docflow.store.auth import User
from docflow.store.db import Database
from docflow.store.tenants import UnknownTenant

STATE_COOKIE = "docflow_oidc"
STATE_PATH = "/api/auth/oidc"  # the cookie goes to the callback only
STATE_SECONDS = 600  # time to log in at the provider
LEEWAY_SECONDS = 60  # clock skew allowed on the id_token's exp, iat and nbf
_STATE_CRYPTO = JWERegistry(algorithms=["dir", "A256GCM"])


class OidcFailure(Exception):
    """A login through the provider that did not succeed, with a code and a sentence."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Redirect:
    url: str  # the provider's authorization endpoint, with state, nonce and code challenge
    state_cookie: str  # what the callback needs back, encrypted


class OidcLogin:
    """One provider, one client; the discovery document and JWKS are fetched once and cached
    (a token signed with an unknown key id makes Authlib fetch the JWKS again)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings = settings
        self.issuer = settings.oidc_issuer
        self.name = settings.oidc_name or urlsplit(self.issuer).hostname or self.issuer
        secret = (settings.oidc_client_secret.get_secret_value()
                  if settings.oidc_client_secret else None)
        client_kwargs: dict[str, Any] = {"scope": settings.oidc_scopes,
                                         "code_challenge_method": "S256", "timeout": 15.0}
        if secret is None:
            client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE only
        self.client: StarletteOAuth2App = OAuth().register(
            "docflow", client_id=settings.oidc_client_id, client_secret=secret,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs=client_kwargs)
        # Every API process with the same client secret reads the others' state cookies; a
        # public client's key lives in this process only (docflow serve runs one API process).
        material = secret.encode() if secret else secrets.token_bytes(32)
        self._key = OctKey.import_key(hashlib.sha256(b"docflow oidc state\0" + material).digest())

    async def redirect(self, redirect_uri: str) -> Redirect:
        """Where to send the browser, and the cookie that lets its callback finish."""
        await self._metadata()
        made = await self.client.create_authorization_url(redirect_uri)
        record = {"state": made["state"], "nonce": made["nonce"],
                  "verifier": made["code_verifier"], "redirect_uri": redirect_uri,
                  "exp": int(time.time()) + STATE_SECONDS}
        cookie = jwt.encode({"alg": "dir", "enc": "A256GCM"}, record, self._key,
                            registry=_STATE_CRYPTO)
        return Redirect(made["url"], cookie)

    async def claims(self, state_cookie: str | None, state: str | None,
                     code: str | None) -> dict[str, Any]:
        """The id_token's claims for the provider's answer, once Authlib has validated it."""
        record = self._open(state_cookie)
        if not state or not hmac.compare_digest(state.encode(), record["state"].encode()):
            raise OidcFailure(400, "oidc_state_mismatch", "The login's state does not match "
                              "this browser's: start again from the login page.")
        if not code:
            raise OidcFailure(400, "oidc_no_code", "The provider sent no authorization code.")
        await self._metadata()
        try:
            token = await self.client.fetch_access_token(
                redirect_uri=record["redirect_uri"], code=code, code_verifier=record["verifier"])
        except (AuthlibBaseError, ValueError) as exc:
            raise OidcFailure(401, "oidc_code_refused", "The provider refused the "
                              f"authorization code (used already, or expired): {exc}") from None
        except httpx2.HTTPError as exc:
            raise _unreachable(exc) from None
        if "id_token" not in token:
            raise OidcFailure(401, "oidc_invalid_token", "The provider sent no id_token.")
        # Given explicitly: Authlib checks the audience only when asked to.
        options: Any = {"iss": {"essential": True, "value": self.issuer_of_tokens},
                        "aud": {"essential": True, "value": self.settings.oidc_client_id}}
        try:
            return dict(await self.client.parse_id_token(
                token, nonce=record["nonce"], claims_options=options, leeway=LEEWAY_SECONDS))
        except JoseError as exc:
            raise OidcFailure(401, "oidc_invalid_token", "The provider's id_token is not valid "
                              f"({exc.error}: {exc.description or ''}).") from None
        except httpx2.HTTPError as exc:
            raise _unreachable(exc) from None

    def user_name(self, claims: dict[str, Any]) -> str:
        """The docflow user name the token names: the configured claim, else
        preferred_username, else sub."""
        for claim in dict.fromkeys((self.settings.oidc_username_claim, "preferred_username",
                                    "sub")):
            value = claims.get(claim)
            if isinstance(value, str) and value.strip():
                if claim == "email" and claims.get("email_verified") is False:
                    raise OidcFailure(403, "oidc_email_unverified", f"The provider has not "
                                      f"verified the e-mail address {value!r}.")
                if len(value.strip()) > 200:
                    raise OidcFailure(403, "oidc_no_user_name", f"The {claim} claim is over "
                                      "200 characters: too long for a docflow user name.")
                return value.strip()
        raise OidcFailure(403, "oidc_no_user_name", "The id_token names no usable user "
                          f"({self.settings.oidc_username_claim}, preferred_username, sub).")

    def user(self, db: Database, name: str) -> User:
        """The docflow user of that name; made first when oidc_users=create."""
        with db.write() as session:
            user = find_user(session, name)
            if user is not None:
                return user
            if self.settings.oidc_users != OidcUsers.CREATE:
                raise OidcFailure(403, "unknown_user", f"{name!r} is not a docflow user. An "
                                  f"admin can create it: docflow user create {name!r} "
                                  "--scope read")
            try:
                # A password nobody is told: this user logs in through the provider.
                return create_user(session, name, new_secret(),
                                   Scope(self.settings.oidc_default_scope),
                                   tenant=self.settings.oidc_default_tenant)
            except UnknownTenant as exc:
                raise OidcFailure(503, "oidc_misconfigured", f"DOCFLOW_OIDC_DEFAULT_TENANT: "
                                  f"{exc}") from None

    @property
    def issuer_of_tokens(self) -> str:
        return str(self.client.server_metadata["issuer"])

    async def _metadata(self) -> None:
        """The discovery document, checked to be the configured issuer's own."""
        try:
            metadata = await self.client.load_server_metadata()
        except (httpx2.HTTPError, ValueError) as exc:
            raise _unreachable(exc) from None
        if str(metadata.get("issuer", "")).rstrip("/") != self.issuer.rstrip("/"):
            self.client.server_metadata.pop("_loaded_at", None)  # read it again next time
            raise OidcFailure(502, "oidc_misconfigured", "The provider's discovery document "
                              f"names the issuer {metadata.get('issuer')!r}, not "
                              f"{self.issuer!r} (DOCFLOW_OIDC_ISSUER).")

    def _open(self, state_cookie: str | None) -> dict[str, Any]:
        if not state_cookie:
            raise OidcFailure(400, "oidc_state_missing", "This browser did not start a login "
                              "here, or took over 10 minutes: start again from the login page.")
        try:
            record = jwt.decode(state_cookie, self._key, registry=_STATE_CRYPTO).claims
            jwt.JWTClaimsRegistry(exp={"essential": True}).validate(record)
        except (JoseError, ValueError):
            raise OidcFailure(400, "oidc_state_missing", "The login started here has expired "
                              "or is not this server's: start again from the login page.") from None
        return record


def _unreachable(exc: Exception) -> OidcFailure:
    return OidcFailure(502, "oidc_unavailable", f"The OpenID provider could not be reached or "
                       f"answered wrongly: {exc}")
