"""`docflow tenant create|list`, and tokens and users that must name an existing tenant."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from docflow.cli import app as cli
from docflow.config import Settings
from docflow.store import Store
from docflow.store.auth import AuditEvent


@pytest.fixture
def run(settings: Settings, any_store: Store, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a docflow command on the test's store (its data dir or its PostgreSQL database)."""
    if settings.database_url:
        monkeypatch.setenv("DOCFLOW_DATABASE_URL", settings.database_url)

    def invoke(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(cli, [*args, "--data-dir", str(settings.data_dir)], input=stdin)

    return invoke


def test_a_tenant_is_made_once_and_listed_with_the_default_one(
        run, any_store: Store) -> None:  # type: ignore[no-untyped-def]
    made = run("tenant", "create", "acme")
    assert made.exit_code == 0, made.output
    again = run("tenant", "create", "acme")
    assert again.exit_code == 1 and "exists already" in again.output
    bad = run("tenant", "create", "Not A Name")
    assert bad.exit_code == 1 and "a-z" in bad.output
    listed = run("tenant", "list")
    assert listed.exit_code == 0
    assert "acme" in listed.output and "default" in listed.output
    with any_store.db.read() as session:
        audit = session.query(AuditEvent).filter_by(action="tenant_create").all()
    assert [e.target for e in audit] == ["acme"]


def test_tokens_and_users_must_name_an_existing_tenant(run) -> None:  # type: ignore[no-untyped-def]
    unknown = run("token", "create", "--scope", "read", "--tenant", "nobody")
    assert unknown.exit_code == 2 and "docflow tenant create nobody" in unknown.output
    user = run("user", "create", "ann", "--scope", "read", "--tenant", "nobody",
               "--password-stdin", stdin="correct horse battery\n")
    assert user.exit_code == 2, user.output
    assert run("tenant", "create", "acme").exit_code == 0
    made = run("token", "create", "--scope", "read", "--tenant", "acme")
    assert made.exit_code == 0 and "tenant acme" in made.output
    # No --tenant: the default tenant, as before tenants existed.
    assert run("token", "create", "--scope", "read").exit_code == 0


def test_a_token_made_over_the_api_names_an_existing_tenant(default) -> None:  # type: ignore[no-untyped-def]
    unknown = default.post("/api/auth/tokens", json={"scope": "read", "tenant": "nobody"})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_tenant")
