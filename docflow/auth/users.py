"""Users with passwords (argon2id), and their login sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from docflow.auth.scopes import Scope
from docflow.auth.secrets import digest, matches, new_secret
from docflow.store.auth import LoginSession, User
from docflow.store.db import Database
from docflow.store.models import new_id, utcnow
from docflow.store.tenants import require_tenant

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
# Verified against when the user does not exist, so an unknown name takes as long as a wrong
# password and login timing does not tell which names exist.
_DUMMY_HASH = _hasher.hash("docflow: no such user")
MIN_PASSWORD_CHARS = 8


class UserError(ValueError):
    """A user command that cannot be done as asked."""


@dataclass(frozen=True)
class NewSession:
    session_id: str  # goes in the cookie; only its digest is stored
    csrf_token: str  # sent back in X-CSRF-Token on every unsafe request
    user: User


def create_user(session: Session, name: str, password: str, scope: Scope,
                tenant: str | None = None) -> User:
    """A new user; `tenant` must exist (UnknownTenant), None acts for the default tenant."""
    require_tenant(session, tenant)
    if len(password) < MIN_PASSWORD_CHARS:
        raise UserError(f"The password must have at least {MIN_PASSWORD_CHARS} characters.")
    if session.scalar(select(User).where(User.name == name)) is not None:
        raise UserError(f"A user named {name!r} already exists.")
    user = User(id=new_id(), name=name, password_hash=_hasher.hash(password), scope=scope.value,
                tenant=tenant, created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def delete_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"No user named {name!r} (see `docflow user list`).")
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    session.delete(user)
    return user


def find_user(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def check_password(db: Database, name: str, password: str) -> User | None:
    """The user when `password` is theirs, else None; as slow for unknown names."""
    with db.read() as session:
        user = find_user(session, name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user


def start_session(db: Database, user: User, hours: float) -> NewSession:
    session_id, csrf = new_secret(), new_secret()
    now = utcnow()
    with db.write() as session:
        # Expired sessions go when someone logs in: no sweeper needed.
        session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
        session.add(LoginSession(id_hash=digest(session_id), user_id=user.id,
                                 csrf_hash=digest(csrf), created_at=now,
                                 expires_at=now + timedelta(hours=hours)))
        live = session.get(User, user.id)
        if live is not None:
            live.last_login_at = now
    return NewSession(session_id=session_id, csrf_token=csrf, user=user)


def session_user(db: Database, session_id: str) -> tuple[User, LoginSession] | None:
    """The user a session cookie belongs to, while the session lasts."""
    with db.read() as session:
        row = session.get(LoginSession, digest(session_id))
        if row is None or row.expires_at <= utcnow():
            return None
        user = session.get(User, row.user_id)
    return (user, row) if user is not None else None


def csrf_ok(login: LoginSession, presented: str | None) -> bool:
    return presented is not None and matches(presented, login.csrf_hash)


def end_session(db: Database, session_id: str) -> None:
    with db.write() as session:
        session.execute(delete(LoginSession).where(LoginSession.id_hash == digest(session_id)))
