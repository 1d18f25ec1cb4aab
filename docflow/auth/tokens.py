"""API tokens: `dfl_<id>_<secret>`. The id is public (in `docflow token list` and the audit
log) and finds the row; the SHA-256 of the whole token is what the row keeps."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from docflow.auth.scopes import Scope
from docflow.auth.secrets import digest, matches, new_secret
from docflow.store.auth import ApiToken
from docflow.store.db import Database
from docflow.store.models import utcnow
from docflow.store.tenants import require_tenant

log = logging.getLogger(__name__)

PREFIX = "dfl"
BOOTSTRAP_NAME = "bootstrap"
MIN_BOOTSTRAP_CHARS = 32
# A token's last_used_at is written at most this often: a write per request would serialise
# every request on SQLite.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_FORMAT = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_[A-Za-z0-9_-]{{20,}}$")


class TokenError(ValueError):
    """A token command that cannot be done as asked (unknown or ambiguous token, bad name)."""


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    token: str  # shown once, never stored


def token_id(token: str) -> str:
    """The row id a presented token is looked up by: the id inside a docflow token, or one
    derived from the digest for an operator-chosen token (DOCFLOW_BOOTSTRAP_TOKEN)."""
    m = _FORMAT.match(token)
    return m.group(1) if m else "x" + digest(token)[:11]


def create_token(session: Session, scope: Scope, *, name: str | None = None,
                 tenant: str | None = None, expires_days: float | None = None) -> NewToken:
    """A new token; `tenant` must exist (UnknownTenant), None acts for the default tenant."""
    require_tenant(session, tenant)
    if name is not None and active_named(session, name):
        raise TokenError(f"A token named {name!r} already exists; pick another name or revoke "
                         "it first.")
    ident = secrets.token_hex(6)
    token = f"{PREFIX}_{ident}_{new_secret()}"
    now = utcnow()
    row = ApiToken(id=ident, name=name or f"token-{ident}", secret_hash=digest(token),
                   scope=scope.value, tenant=tenant, created_at=now,
                   expires_at=now + timedelta(days=expires_days) if expires_days else None)
    session.add(row)
    session.flush()
    return NewToken(row=row, token=token)


def active_named(session: Session, name: str) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.name == name,
                                                       ApiToken.revoked_at.is_(None))))


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


def revoke_token(session: Session, id_or_name: str) -> ApiToken:
    row = session.get(ApiToken, id_or_name)
    if row is None:
        named = active_named(session, id_or_name)
        if len(named) > 1:
            ids = ", ".join(t.id for t in named)
            raise TokenError(f"{len(named)} tokens are named {id_or_name!r} ({ids}): revoke "
                             "one by its id.")
        if not named:
            raise TokenError(f"No token with id or name {id_or_name!r} (see `docflow token "
                             "list`).")
        row = named[0]
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def verify_token(db: Database, token: str) -> ApiToken | None:
    """The live token row `token` is, or None (unknown, wrong secret, expired, revoked)."""
    ident = token_id(token)
    with db.read() as session:
        row = session.get(ApiToken, ident)
    if row is None or not matches(token, row.secret_hash):
        return None
    now = utcnow()
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        with db.write() as session:
            live = session.get(ApiToken, ident)
            if live is not None:
                live.last_used_at = now
    return row


def ensure_bootstrap_token(db: Database, token: str) -> ApiToken:
    """Make sure `token` is a live admin token named `bootstrap`, retiring any earlier one (a
    deployment rotates it by changing the value). One an admin revoked stays revoked."""
    if len(token) < MIN_BOOTSTRAP_CHARS:
        raise TokenError(f"DOCFLOW_BOOTSTRAP_TOKEN must be at least {MIN_BOOTSTRAP_CHARS} "
                         "characters; make one with `openssl rand -hex 32`.")
    if token.lower().startswith("change-me"):
        # The deploy/ examples' placeholder: accepting it would ship a well-known admin token.
        raise TokenError("DOCFLOW_BOOTSTRAP_TOKEN is still the example's placeholder; set it to "
                         "a secret of your own (`openssl rand -hex 32`).")
    ident = token_id(token)
    try:
        with db.write() as session:
            row = session.get(ApiToken, ident)
            if row is None:
                row = ApiToken(id=ident, name=BOOTSTRAP_NAME, secret_hash=digest(token),
                               scope=Scope.ADMIN.value, created_at=utcnow())
                session.add(row)
            elif row.revoked_at is not None:
                log.warning("DOCFLOW_BOOTSTRAP_TOKEN was revoked (token %s); it stays revoked",
                            ident)
            for old in active_named(session, BOOTSTRAP_NAME):
                if old.id != ident:
                    old.revoked_at = utcnow()
            return row
    except IntegrityError:  # another API process inserted it at the same moment
        with db.read() as session:
            found = session.get(ApiToken, ident)
        assert found is not None
        return found


def is_live(row: ApiToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)
