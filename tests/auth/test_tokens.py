"""Bearer tokens against the real app, on SQLite and PostgreSQL: what lets a request in, what
keeps it out, and what the database keeps of a token."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from docflow.auth import secrets as auth_secrets
from docflow.auth.scopes import Scope
from docflow.auth.tokens import (
    TokenError,
    create_token,
    ensure_bootstrap_token,
    revoke_token,
    verify_token,
)
from docflow.config import Settings
from docflow.store import Document, Store
from docflow.store.auth import ApiToken
from docflow.store.models import utcnow
from tests.auth.conftest import MakeToken, bearer, open_client


def test_a_token_opens_the_api_and_nothing_else_does(api: TestClient,
                                                     make_token: MakeToken) -> None:
    token = make_token("read")
    assert api.get("/api/documents", headers=bearer(token)).status_code == 200
    for headers in ({}, bearer(token[:-1] + ("A" if token[-1] != "A" else "B")),
                    bearer("dfl_000000000000_" + "x" * 43), bearer("not-a-docflow-token"),
                    {"Authorization": f"Basic {token}"}, {"Authorization": "Bearer"}):
        reply = api.get("/api/documents", headers=headers)
        assert reply.status_code == 401, headers
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        assert set(reply.json()) == {"code", "message"}


def test_expired_and_revoked_tokens_are_refused(api: TestClient, any_store: Store,
                                                make_token: MakeToken) -> None:
    expired, revoked = make_token("admin", name="old"), make_token("admin", name="gone")
    with any_store.db.write() as session:
        row = session.get(ApiToken, expired.split("_")[1])
        row.expires_at = utcnow() - timedelta(seconds=1)
        revoke_token(session, "gone")
    for token in (expired, revoked):
        reply = api.get("/api/documents", headers=bearer(token))
        assert (reply.status_code, reply.json()["code"]) == (401, "invalid_token")


def test_the_database_keeps_only_the_tokens_digest(any_store: Store,
                                                   make_token: MakeToken) -> None:
    token = make_token("upload", name="laptop", tenant="acme")
    with any_store.db.read() as session:
        (row,) = session.query(ApiToken).all()
    assert token.startswith(f"dfl_{row.id}_")
    assert row.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(row.__dict__)
    assert (row.name, row.scope, row.tenant, row.revoked_at) == ("laptop", "upload", "acme", None)


def test_tokens_are_compared_in_constant_time(any_store: Store, make_token: MakeToken,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    token = make_token("read")
    compared: list[tuple[bytes, bytes]] = []
    real = auth_secrets.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth_secrets.hmac, "compare_digest", spy)
    assert verify_token(any_store.db, token) is not None
    assert verify_token(any_store.db, token[:-2] + "zz") is None
    assert len(compared) == 2


def test_using_a_token_records_when(any_store: Store, make_token: MakeToken) -> None:
    token = make_token("read")
    row = verify_token(any_store.db, token)
    assert row is not None
    with any_store.db.read() as session:
        assert session.get(ApiToken, row.id).last_used_at is not None


def test_a_name_is_one_live_token(any_store: Store) -> None:
    with any_store.db.write() as session:
        create_token(session, Scope.READ, name="ci")
    with pytest.raises(TokenError, match="already exists"), any_store.db.write() as session:
        create_token(session, Scope.READ, name="ci")


def test_the_bootstrap_token_is_an_admin_token_and_a_new_value_retires_the_old(
        secured: Settings, any_store: Store) -> None:
    first, second = "a" * 40, "b" * 40
    secured.bootstrap_token = SecretStr(first)
    with open_client(secured) as api:  # made sure of as the API starts
        assert api.delete("/api/document-types/nosuch", headers=bearer(first)).status_code == 404
    ensure_bootstrap_token(any_store.db, first)  # again: still one row
    ensure_bootstrap_token(any_store.db, second)
    assert verify_token(any_store.db, first) is None
    assert verify_token(any_store.db, second) is not None
    with any_store.db.read() as session:
        assert session.query(ApiToken).count() == 2
    with pytest.raises(TokenError, match="at least 32"):
        ensure_bootstrap_token(any_store.db, "short")
    with pytest.raises(TokenError, match="placeholder"):
        ensure_bootstrap_token(any_store.db, "change-me-bootstrap-token-" + "x" * 32)


def test_a_revoked_bootstrap_token_stays_revoked(any_store: Store) -> None:
    value = "c" * 40
    ensure_bootstrap_token(any_store.db, value)
    with any_store.db.write() as session:
        revoke_token(session, "bootstrap")
    ensure_bootstrap_token(any_store.db, value)
    assert verify_token(any_store.db, value) is None


def test_a_refused_upload_stores_nothing(api: TestClient, secured: Settings,
                                         any_store: Store) -> None:
    # The dependency runs before the handler reads the body: nothing reaches the disk.
    reply = api.post("/api/upload", files={"file": ("a.txt", b"x" * 5000)})
    assert reply.status_code == 401
    with any_store.db.read() as session:
        assert session.query(Document).count() == 0
    stored = [p for p in secured.blob_dir.rglob("*") if p.is_file()] if secured.blob_dir.exists() \
        else []
    assert stored == [] and not any(secured.upload_tmp_dir.iterdir())
