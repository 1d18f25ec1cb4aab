"""scripts/batch_upload_500k.py keeps the original guide's arguments and runs the client."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from sqlalchemy import update

from docflow.config import Settings
from docflow.store import Document, DocumentStatus, open_store
from tests.client.conftest import ApiServer, make_tree

SCRIPT = Path(__file__).parents[2] / "scripts" / "batch_upload_500k.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("batch_upload_500k", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_original_arguments_upload_and_monitor(tmp_path: Path, api: ApiServer,
                                                   settings: Settings,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "corpus", 25)
    ids = tmp_path / "batch_ids.json"
    script = _script()
    code = script.main([str(tmp_path / "corpus"), "--batch-size", "10", "--url", api.url,
                        "--checkpoint", str(tmp_path / "cp.sqlite"), "--batch-ids-out",
                        str(ids)])
    assert code == 0
    saved = json.loads(ids.read_text())
    assert len(saved["batch_ids"]) == 3 and saved["summary"]["uploaded"] == 25
    assert httpx.get(f"{api.url}/api/documents", params={"count": True}).json()["total"] == 25
    assert "upload summary" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        script.main([])  # neither a folder nor --monitor-only

    # No workers run here: play them, then follow the batches (the URL is in the file).
    store = open_store(settings)
    with store.db.write() as session:
        session.execute(update(Document).values(status=DocumentStatus.COMPLETED))
    store.db.dispose()
    assert script.main(["--monitor-only", str(ids)]) == 0
    out = capsys.readouterr().out
    assert "25/25 documents (100.0%)" in out and "all 3 batches done" in out


@pytest.mark.parametrize("value", ["0", "-2", "65", "many"])
def test_a_concurrency_docflow_upload_refuses_is_an_argument_error(
        tmp_path: Path, api: ApiServer, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "corpus", 3)
    with pytest.raises(SystemExit) as stopped:
        _script().main([str(tmp_path / "corpus"), "--concurrency", value, "--url", api.url,
                        "--checkpoint", str(tmp_path / "cp.sqlite"),
                        "--batch-ids-out", str(tmp_path / "ids.json")])
    assert stopped.value.code == 2
    assert "argument --concurrency" in capsys.readouterr().err
    assert httpx.get(f"{api.url}/api/documents", params={"count": True}).json()["total"] == 0


def test_a_batch_size_below_one_is_an_argument_error(
        tmp_path: Path, api: ApiServer, capsys: pytest.CaptureFixture[str]) -> None:
    make_tree(tmp_path / "corpus", 3)
    with pytest.raises(SystemExit) as stopped:
        _script().main([str(tmp_path / "corpus"), "--batch-size", "0", "--url", api.url,
                        "--checkpoint", str(tmp_path / "cp.sqlite"),
                        "--batch-ids-out", str(tmp_path / "ids.json")])
    assert stopped.value.code == 2
    assert "argument --batch-size: 0 is not at least 1" in capsys.readouterr().err
