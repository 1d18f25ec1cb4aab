"""The audit log: who did what, to what, from where, and how it ended.

Every unsafe request (POST, PUT, PATCH, DELETE) and every download of an original is written
after its response, whatever its status, by one ASGI middleware; token and user commands on the
command line write their own rows.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from docflow.store.auth import AuditEvent
from docflow.store.db import Database
from docflow.store.models import utcnow

log = logging.getLogger(__name__)

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Reads worth a row: the original itself leaving the server; logins through an OpenID provider.
AUDITED_READS = frozenset({("GET", "/api/documents/{document_id}/file"),
                           ("GET", "/api/auth/oidc/login"), ("GET", "/api/auth/oidc/callback")})
ACTIONS = {
    ("POST", "/api/upload"): "upload",
    ("POST", "/api/batch-upload"): "upload",
    ("POST", "/api/batches/{batch_id}/files"): "upload",
    ("POST", "/api/batches"): "batch_create",
    ("PATCH", "/api/documents/{document_id}"): "correct",
    ("GET", "/api/documents/{document_id}/file"): "download",
    ("POST", "/api/documents/{document_id}/cancel"): "cancel",
    ("POST", "/api/batches/{batch_id}/cancel"): "cancel",
    ("POST", "/api/document-types"): "type_change",
    ("PUT", "/api/document-types/{name}"): "type_change",
    ("DELETE", "/api/document-types/{name}"): "type_delete",
    ("POST", "/api/classifier/train"): "train",
    ("POST", "/api/auth/login"): "login",
    ("GET", "/api/auth/oidc/login"): "oidc_redirect",
    ("GET", "/api/auth/oidc/callback"): "login",  # its target says oidc
    ("POST", "/api/auth/logout"): "logout",
    ("POST", "/api/auth/tokens"): "token_create",
    ("DELETE", "/api/auth/tokens/{token_id}"): "token_revoke",
}
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Actor:
    name: str
    kind: str  # token | user | proxy | anonymous | cli
    token_id: str | None = None
    tenant: str | None = None


ANONYMOUS = Actor("anonymous", "anonymous")


def record(session: Session, actor: Actor, action: str, *, target: str | None = None,
           client: str | None = None, status: int = 200) -> None:
    session.add(AuditEvent(at=utcnow(), actor=actor.name[:200], actor_kind=actor.kind,
                           token_id=actor.token_id, tenant=actor.tenant, action=action[:40],
                           target=target[:1000] if target else None, client=client,
                           status=status))


def failed_logins(session: Session, name: str, client: str | None, window_s: float) -> int:
    since = utcnow() - timedelta(seconds=window_s)
    return session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "login", AuditEvent.actor == name[:200],
        AuditEvent.client == client, AuditEvent.status == 401, AuditEvent.at > since)) or 0


def query_events(session: Session, *, actor: str | None = None, action: str | None = None,
                 tenant: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, before_id: int | None = None,
                 limit: int = 100) -> Sequence[AuditEvent]:
    """Newest first; page with before_id (the smallest id of the previous page)."""
    q = select(AuditEvent)
    for column, value in ((AuditEvent.actor, actor), (AuditEvent.action, action),
                          (AuditEvent.tenant, tenant)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    if until is not None:
        q = q.where(AuditEvent.at < until)
    if before_id is not None:
        q = q.where(AuditEvent.id < before_id)
    return list(session.scalars(q.order_by(AuditEvent.id.desc()).limit(min(limit, MAX_LIMIT))))


def set_actor(scope_state: dict[str, Any], actor: Actor) -> None:
    """Say who a request acts for (the authorization dependency, the login route)."""
    scope_state["audit_actor"] = actor


class AuditMiddleware:
    """Writes a row for each audited request once its response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees when the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        method = scope["method"]
        route = scope.get("route")
        template = getattr(route, "path", None)
        if method not in UNSAFE_METHODS and (method, template) not in AUDITED_READS:
            return
        if template is None:
            return  # no route: a 404 or 405 touched nothing
        state = scope.get("state") or {}
        actor = state.get("audit_actor", ANONYMOUS)
        client = scope.get("client")
        action = ACTIONS.get((method, template), f"{method.lower()} {template}")
        target = state.get("audit_target") or scope.get("path")
        state_obj = getattr(scope.get("app"), "state", None)
        docflow_state = getattr(state_obj, "docflow", None)
        if docflow_state is None:
            return
        db: Database = docflow_state.store.db

        def write() -> None:
            with db.write() as session:
                record(session, actor, action, target=target,
                       client=client[0] if client else None, status=status)

        try:
            await anyio.to_thread.run_sync(write)
        except Exception:
            log.exception("could not write the audit row for %s %s", method, target)
