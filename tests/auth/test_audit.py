"""The audit log says who uploaded, downloaded, corrected, deleted and made tokens, on SQLite and
PostgreSQL, and only admins read it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from docflow.cli import app as cli
from docflow.config import Settings
from docflow.store import Store
from docflow.store.auth import AuditEvent
from tests.auth.conftest import MakeToken, bearer, ensure_tenant


def _events(store: Store) -> list[AuditEvent]:
    with store.db.read() as session:
        return list(session.query(AuditEvent).order_by(AuditEvent.id))


def test_changes_and_downloads_are_recorded_with_who_did_them(
        api: TestClient, any_store: Store, make_token: MakeToken) -> None:
    uploader = bearer(make_token("upload", name="scanner", tenant="acme"))
    admin = bearer(make_token("admin", name="ops"))
    doc = api.post("/api/upload", files={"file": ("a.txt", b"hi")}, headers=uploader).json()
    doc_id = doc["document_id"]
    assert api.get(f"/api/documents/{doc_id}/file", headers=uploader).content == b"hi"
    api.get(f"/api/documents/{doc_id}", headers=uploader)  # plain reads are not recorded
    api.patch(f"/api/documents/{doc_id}", json={"doc_type": "invoice"}, headers=uploader)
    assert api.delete("/api/document-types/letter", headers=uploader).status_code == 403
    assert api.delete("/api/document-types/letter", headers=admin).status_code == 204
    assert api.post("/api/upload", files={"file": ("b.txt", b"x")}).status_code == 401

    rows = [(e.action, e.actor, e.actor_kind, e.tenant, e.target, e.status)
            for e in _events(any_store)]
    assert rows == [
        ("upload", "scanner", "token", "acme", "/api/upload", 202),
        ("download", "scanner", "token", "acme", f"/api/documents/{doc_id}/file", 200),
        ("correct", "scanner", "token", "acme", f"/api/documents/{doc_id}", 200),
        ("type_delete", "scanner", "token", "acme", "/api/document-types/letter", 403),
        ("type_delete", "ops", "token", None, "/api/document-types/letter", 204),
        ("upload", "anonymous", "anonymous", None, "/api/upload", 401),
    ]
    event = _events(any_store)[0]
    assert event.client == "testclient" and event.token_id and event.at is not None


def test_logins_and_command_line_tokens_are_recorded(
        api: TestClient, any_store: Store, secured: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    if secured.database_url:
        monkeypatch.setenv("DOCFLOW_DATABASE_URL", secured.database_url)
    made = CliRunner().invoke(cli, ["token", "create", "--scope", "admin", "--name", "root",
                                    "--data-dir", str(secured.data_dir)])
    assert made.exit_code == 0, made.output
    api.post("/api/auth/login", json={"username": "mallory", "password": "not it at all"})
    rows = [(e.action, e.actor_kind, e.target, e.status) for e in _events(any_store)]
    assert rows == [("token_create", "cli", "root", 200), ("login", "user", "/api/auth/login",
                                                            401)]
    assert _events(any_store)[1].actor == "mallory"


def test_only_admins_read_the_audit_log_with_filters_and_pages(
        api: TestClient, make_token: MakeToken) -> None:
    uploader = bearer(make_token("upload", name="scanner"))
    admin = bearer(make_token("admin", name="ops"))
    for n in range(3):
        api.post("/api/upload", files={"file": (f"{n}.txt", b"x")}, headers=uploader)
    api.post("/api/batches", json={}, headers=admin)
    assert api.get("/api/audit", headers=uploader).status_code == 403
    page = api.get("/api/audit", params={"action": "upload", "limit": 2}, headers=admin).json()
    assert [e["actor"] for e in page["events"]] == ["scanner", "scanner"]
    assert page["events"][0]["id"] > page["events"][1]["id"]  # newest first
    rest = api.get("/api/audit", params={"action": "upload", "limit": 2,
                                         "before_id": page["next_before_id"]},
                   headers=admin).json()
    assert len(rest["events"]) == 1 and rest["next_before_id"] is None
    by_ops = api.get("/api/audit", params={"actor": "ops", "since": "2000-01-01T00:00:00"},
                     headers=admin).json()["events"]
    assert [e["action"] for e in by_ops] == ["batch_create"]
    assert api.get("/api/audit", params={"limit": 100_000}, headers=admin).status_code == 422


def test_admins_make_list_and_revoke_tokens_over_the_api(
        api: TestClient, any_store: Store, make_token: MakeToken) -> None:
    admin = bearer(make_token("admin", name="ops"))
    with any_store.db.write() as session:
        ensure_tenant(session, "acme")
    made = api.post("/api/auth/tokens", json={"scope": "read", "name": "dashboard",
                                              "tenant": "acme", "expires_days": 7},
                    headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["token"].startswith(f"dfl_{body['id']}_") and body["state"] == "live"
    reader = bearer(body["token"])
    assert api.get("/api/documents", headers=reader).status_code == 200
    assert api.get("/api/auth/tokens", headers=reader).status_code == 403
    listed = api.get("/api/auth/tokens", headers=admin).json()
    assert {t["name"] for t in listed} == {"ops", "dashboard"}
    assert body["token"] not in str(listed)
    assert api.post("/api/auth/tokens", json={"scope": "read", "name": "dashboard"},
                    headers=admin).status_code == 409
    assert api.delete(f"/api/auth/tokens/{body['id']}", headers=admin).status_code == 204
    assert api.get("/api/documents", headers=reader).status_code == 401
    assert api.delete("/api/auth/tokens/nosuch", headers=admin).status_code == 404
    rows = [(e.action, e.actor, e.status) for e in _events(any_store)]
    assert rows[0] == ("token_create", "ops", 201) and ("token_revoke", "ops", 204) in rows
    assert _events(any_store)[0].target == f"token {body['id']} (dashboard)"
