"""`docflow token` and `docflow user` on the store, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from docflow.cli import app as cli
from docflow.config import Settings
from docflow.store import Store
from docflow.store.auth import AuditEvent, User
from tests.auth.conftest import bearer


@pytest.fixture
def run(secured: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a docflow command on the test's store (its data dir or its PostgreSQL database)."""
    if secured.database_url:
        monkeypatch.setenv("DOCFLOW_DATABASE_URL", secured.database_url)

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, [*args, "--data-dir", str(secured.data_dir)], input=stdin)

    return invoke


def test_a_token_made_on_the_command_line_is_its_last_line_and_works(
        run, api: TestClient) -> None:  # type: ignore[no-untyped-def]
    assert run("tenant", "create", "acme").exit_code == 0
    made = run("token", "create", "--scope", "upload", "--name", "scanner", "--tenant", "acme",
               "--expires", "30")
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    assert token.startswith("dfl_") and " " not in token
    reply = api.post("/api/upload", files={"file": ("a.txt", b"hi")}, headers=bearer(token))
    assert reply.status_code == 202, reply.text

    listed = run("token", "list")
    assert listed.exit_code == 0
    assert "scanner" in listed.output and "acme" in listed.output and "live" in listed.output
    assert token.split("_")[1] in listed.output
    assert token.split("_", 2)[2] not in listed.output  # never the secret

    again = run("token", "create", "--scope", "read", "--name", "scanner")
    assert again.exit_code == 1 and "already exists" in again.output

    revoked = run("token", "revoke", "scanner")
    assert revoked.exit_code == 0, revoked.output
    assert api.get("/api/documents", headers=bearer(token)).status_code == 401
    assert "revoked" in run("token", "list").output
    assert run("token", "revoke", "nosuch").exit_code == 1


def test_users_are_made_listed_and_deleted(run, any_store: Store) -> None:  # type: ignore[no-untyped-def]
    made = run("user", "create", "ann", "--scope", "admin", "--password-stdin",
               stdin="correct horse battery\n")
    assert made.exit_code == 0, made.output
    with any_store.db.read() as session:
        (user,) = session.query(User).all()
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash
    assert run("user", "create", "bob", "--scope", "read", "--password-stdin",
               stdin="short\n").exit_code == 1
    assert run("user", "create", "ann", "--scope", "read", "--password-stdin",
               stdin="another password\n").exit_code == 1
    assert "ann" in run("user", "list").output
    assert run("user", "delete", "ann").exit_code == 0
    assert "ann" not in run("user", "list").output
    with any_store.db.read() as session:
        actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert actions == ["user_create", "user_delete"]


def test_a_user_without_a_terminal_or_stdin_password_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    result = run("user", "create", "ann", "--scope", "read")
    assert result.exit_code == 2 and "--password-stdin" in result.output
