"""Document types are each tenant's own: another tenant's type answers 404 exactly as a name
never made, cannot be changed or deleted, and never shows in a listing; each tenant starts from
its own copy of the built-in types. On SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

SECRET_TYPE = {"description": "Globex's merger papers.", "keywords": ["project falcon"],
               "rules": [{"kind": "regex", "pattern": r"FALCON-\d{4}"}]}


def _names(client: TestClient) -> set[str]:
    r = client.get("/api/document-types")
    assert r.status_code == 200, r.text
    return {t["name"] for t in r.json()}


def test_another_tenants_type_is_not_found_and_stays_as_it_was(
        acme: TestClient, globex: TestClient) -> None:
    made = globex.post("/api/document-types", json={"name": "merger", **SECRET_TYPE})
    assert made.status_code == 201, made.text

    theirs = acme.get("/api/document-types/merger")
    never = acme.get("/api/document-types/never-made")
    assert theirs.status_code == never.status_code == 404
    assert theirs.text.replace("merger", "never-made") == never.text
    assert "merger" not in _names(acme)
    assert acme.delete("/api/document-types/merger").status_code == 404

    # The name is free in acme: a POST makes acme's own type (no 409 giving globex's away),
    # and acme's PUT and DELETE change that one only.
    mine = acme.post("/api/document-types", json={"name": "merger", "description": "Ours."})
    assert mine.status_code == 201, mine.text
    replaced = acme.put("/api/document-types/merger", json={"description": "Still ours."})
    assert replaced.status_code == 200, replaced.text
    assert acme.delete("/api/document-types/merger").status_code == 204

    kept = globex.get("/api/document-types/merger")
    assert kept.status_code == 200
    assert kept.json()["description"] == SECRET_TYPE["description"]
    assert kept.json()["keywords"] == {"project falcon": 2.0}
    assert [r["pattern"] for r in kept.json()["rules"]] == [r"FALCON-\d{4}"]


def test_each_tenant_changes_its_own_copy_of_the_built_in_types(
        acme: TestClient, globex: TestClient, default: TestClient) -> None:
    builtin = {"invoice", "receipt", "contract", "letter", "other"}
    for client in (acme, globex, default):
        assert builtin <= _names(client)

    changed = acme.put("/api/document-types/invoice", json={"description": "Acme's bills.",
                                                            "keywords": ["acme bill"]})
    assert changed.status_code == 200, changed.text
    assert acme.delete("/api/document-types/receipt").status_code == 204

    for other in (globex, default):
        invoice = other.get("/api/document-types/invoice").json()
        assert invoice["builtin"] and invoice["description"] != "Acme's bills."
        assert "acme bill" not in invoice["keywords"] and invoice["keywords"]["invoice"] > 0
        assert other.get("/api/document-types/receipt").status_code == 200
    assert "receipt" not in _names(acme)


def test_a_document_cannot_be_labelled_with_another_tenants_type(
        acme: TestClient, globex: TestClient) -> None:
    assert globex.put("/api/document-types/merger", json=SECRET_TYPE).status_code == 201
    doc = acme.post("/api/upload", files={"file": ("a.txt", b"FALCON-0001", "text/plain")})
    assert doc.status_code == 202, doc.text
    r = acme.patch(f"/api/documents/{doc.json()['document_id']}", json={"doc_type": "merger"})
    assert (r.status_code, r.json()["code"]) == (422, "unknown_type"), r.text
