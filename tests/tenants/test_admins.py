"""An admin of a named tenant manages its own tenant's tokens and reads its own audit rows;
the default tenant's admins manage the installation."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_a_tenants_admin_sees_and_makes_only_its_own_tokens(
        acme: TestClient, globex: TestClient, default: TestClient) -> None:
    theirs = globex.post("/api/auth/tokens", json={"scope": "read", "name": "globex-reader"})
    assert theirs.status_code == 201 and theirs.json()["tenant"] == "globex"
    mine = acme.post("/api/auth/tokens", json={"scope": "read", "name": "acme-reader"})
    assert mine.status_code == 201 and mine.json()["tenant"] == "acme"

    assert {t["tenant"] for t in acme.get("/api/auth/tokens").json()} == {"acme"}
    r = acme.post("/api/auth/tokens", json={"scope": "admin", "tenant": "globex"})
    assert (r.status_code, r.json()["code"]) == (403, "other_tenant")
    assert acme.delete(f"/api/auth/tokens/{theirs.json()['id']}").status_code == 404
    # The installation's admin (default tenant) sees every tenant's tokens.
    assert {t["tenant"] for t in default.get("/api/auth/tokens").json()} >= {"acme", "globex"}


def test_a_tenants_admin_reads_its_own_audit_rows(acme: TestClient, globex: TestClient) -> None:
    r = globex.post("/api/upload", files={"file": ("g.txt", b"globex", "text/plain")})
    assert r.status_code == 202
    acme.post("/api/upload", files={"file": ("a.txt", b"acme", "text/plain")})
    events = acme.get("/api/audit").json()["events"]
    assert events and {e["tenant"] for e in events} == {"acme"}
    assert acme.get("/api/audit", params={"tenant": "globex"}).json()["events"] == []
    assert r.json()["document_id"] not in str(events)
