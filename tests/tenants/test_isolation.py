"""Two tenants share a server: each sees its own documents and batches, and another's ids
answer 404 exactly as ids that never existed do."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from docflow.store import Document, DocumentStatus, Store
from docflow.store.models import utcnow


def _upload(client: TestClient, name: str, content: bytes) -> dict[str, str]:
    r = client.post("/api/upload", files={"file": (name, content, "text/plain")})
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def _batch(client: TestClient, *names: str) -> dict[str, object]:
    files = [("files", (n, f"{n} of {id(client)}".encode(), "text/plain")) for n in names]
    r = client.post("/api/batch-upload", files=files)
    assert r.status_code == 202, r.text
    return r.json()  # type: ignore[no-any-return]


def _same_as_missing(client: TestClient, path: str, method: str = "GET") -> None:
    """`path` answers exactly as the same path with an id that never existed."""
    theirs_id = path.split("/")[3]
    theirs = client.request(method, path)
    missing = client.request(method, path.replace(theirs_id, "f" * 32))
    assert theirs.status_code == missing.status_code == 404, theirs.text
    assert theirs.text.replace(theirs_id, "f" * 32) == missing.text


def test_each_tenant_sees_only_its_own_documents(acme: TestClient, globex: TestClient) -> None:
    a = _upload(acme, "acme.txt", b"acme's secret")
    g = _upload(globex, "globex.txt", b"globex's secret")

    listing = acme.get("/api/documents", params={"count": True}).json()
    assert [d["id"] for d in listing["documents"]] == [a["document_id"]]
    assert listing["total"] == 1
    # A cursor names a position, not a tenant: acme's, sent by globex, pages globex's own.
    _upload(acme, "acme-2.txt", b"acme's other secret")
    cursor = acme.get("/api/documents", params={"limit": 1}).json()["next_cursor"]
    seen = globex.get("/api/documents", params={"cursor": cursor}).json()["documents"]
    assert {d["id"] for d in seen} <= {g["document_id"]}
    assert globex.get("/api/documents", params={"count": True}).json()["total"] == 1

    assert acme.get(f"/api/documents/{a['document_id']}").status_code == 200
    assert acme.get(f"/api/documents/{a['document_id']}/file").content == b"acme's secret"
    for path in (f"/api/documents/{g['document_id']}", f"/api/documents/{g['document_id']}/file",
                 f"/api/task-status/{g['task_id']}"):
        _same_as_missing(acme, path)
    r = acme.patch(f"/api/documents/{g['document_id']}", json={"doc_type": "invoice"})
    assert r.status_code == 404, r.text
    _same_as_missing(acme, f"/api/documents/{g['document_id']}/cancel", "POST")
    # Globex's document was neither cancelled nor relabelled.
    theirs = globex.get(f"/api/documents/{g['document_id']}").json()
    assert theirs["status"] == "queued" and theirs["doc_type"] is None


def test_batches_are_their_tenants(acme: TestClient, globex: TestClient) -> None:
    ab = _batch(acme, "a1.txt", "a2.txt")
    gb = _batch(globex, "g1.txt")
    assert acme.get(f"/api/batch-status/{ab['batch_id']}").json()["total"] == 2
    for path in (f"/api/batches/{gb['batch_id']}", f"/api/batch-status/{gb['batch_id']}"):
        _same_as_missing(acme, path)
    r = acme.post(f"/api/batches/{gb['batch_id']}/files",
                  files=[("files", ("sneak.txt", b"x", "text/plain"))])
    assert r.status_code == 404, r.text
    r = acme.post(f"/api/batches/{gb['batch_id']}/cancel")
    assert r.status_code == 404, r.text
    listing = acme.get("/api/documents", params={"batch_id": gb["batch_id"],
                                                 "count": True}).json()
    assert listing["total"] == 0 and listing["documents"] == []
    assert globex.get(f"/api/batch-status/{gb['batch_id']}").json()["total"] == 1


def test_the_same_idempotency_key_in_two_tenants_makes_two_documents(
        acme: TestClient, globex: TestClient) -> None:
    def send(client: TestClient) -> dict[str, object]:
        part = ("k.txt", b"same bytes", "text/plain", {"Idempotency-Key": "shared-key"})
        r = client.post("/api/batch-upload", files=[("files", part)])
        assert r.status_code == 202, r.text
        return r.json()["documents"][0]  # type: ignore[no-any-return]

    mine = send(acme)
    theirs = send(globex)
    assert mine["document_id"] != theirs["document_id"]
    assert theirs["created"] is True


def test_the_default_tenant_and_a_named_one_are_apart(
        default: TestClient, acme: TestClient) -> None:
    d = _upload(default, "plain.txt", b"default's")
    a = _upload(acme, "acme.txt", b"acme's")
    assert [x["id"] for x in default.get("/api/documents").json()["documents"]] == [
        d["document_id"]]
    assert default.get(f"/api/documents/{a['document_id']}").status_code == 404
    assert acme.get(f"/api/documents/{d['document_id']}").status_code == 404


def _complete(store: Store, doc_id: str) -> None:
    """What a worker does when it finishes a document, in short."""
    with store.db.write() as session:
        session.execute(update(Document).where(Document.id == doc_id).values(
            status=DocumentStatus.COMPLETED, doc_type="invoice", format="text",
            fields=[{"name": "total", "value": "12.00", "normalized": "12.00", "start": 18,
                     "end": 23, "confidence": 1.0, "source": "user"}]))


def test_the_same_bytes_in_another_tenant_reveal_nothing(
        acme: TestClient, globex: TestClient, any_store: Store) -> None:
    first = _upload(acme, "invoice.txt", b"Invoice 42, total 12.00")
    _complete(any_store, first["document_id"])

    again = _upload(acme, "copy.txt", b"Invoice 42, total 12.00")
    assert again["status"] == "completed"  # within a tenant the result is reused, as before
    mine = acme.get(f"/api/documents/{again['document_id']}").json()
    assert mine["reused_from"] == first["document_id"]

    theirs = _upload(globex, "invoice.txt", b"Invoice 42, total 12.00")
    assert theirs["status"] == "queued"  # processed on its own: nothing of acme's is copied
    doc = globex.get(f"/api/documents/{theirs['document_id']}").json()
    assert doc["reused_from"] is None and doc["fields"] in (None, [])
    assert first["document_id"] not in str(doc)


def test_the_same_batch_key_in_two_tenants_makes_two_batches(
        acme: TestClient, globex: TestClient) -> None:
    made = [c.post("/api/batches", json={"name": "monthly"},
                   headers={"Idempotency-Key": "2026-12"}) for c in (acme, globex)]
    assert [r.status_code for r in made] == [201, 201]
    assert made[0].json()["batch_id"] != made[1].json()["batch_id"]
    again = acme.post("/api/batches", json={"name": "monthly"},
                      headers={"Idempotency-Key": "2026-12"})
    assert (again.status_code, again.json()["batch_id"]) == (200, made[0].json()["batch_id"])


def test_live_events_show_each_tenant_only_its_own_documents(
        acme: TestClient, globex: TestClient, any_store: Store) -> None:
    ids = {}
    for name, client in (("acme", acme), ("globex", globex)):
        ids[name] = _upload(client, f"{name}.txt", f"{name} letter".encode())["document_id"]
        with any_store.db.write() as session:  # finished well before the settle time
            session.execute(update(Document).where(Document.id == ids[name]).values(
                status=DocumentStatus.COMPLETED, finished_at=utcnow() - timedelta(minutes=5)))
    since_then = "0-" + "0" * 32  # an event id before every document (epoch, lowest id)
    for name, client in (("acme", acme), ("globex", globex)):
        r = client.get("/api/events", headers={"Last-Event-ID": since_then})
        assert r.status_code == 200, r.text
        other = ids["globex" if name == "acme" else "acme"]
        assert ids[name] in r.text and other not in r.text
