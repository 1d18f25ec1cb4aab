"""deploy/ against the code: settings, commands, the Celery app and its queues.

Anything deploy/ names in the code (a DOCFLOW_* variable, a `docflow` subcommand or option, the
Celery app path, the API factory, a queue) must exist there, so a rename in the code breaks a
test instead of a deployment.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.deploy.deploy_files import (
    API_FACTORY,
    CELERY_APP_PATH,
    DEPLOY,
    DOCKERFILE,
    README,
    Command,
    all_commands,
    api_paths,
    compose,
    compose_argv,
    container_argv,
    containers,
    iter_docflow_vars,
    objects_of,
    parse_celery,
    parse_docflow,
    parse_uvicorn,
    readme_commands,
)


def _settings_env_names() -> set[str]:
    from docflow.config import Settings

    return {f"DOCFLOW_{name.upper()}" for name in Settings.model_fields}


def _deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file()) + [DOCKERFILE]


def test_every_docflow_variable_is_a_setting() -> None:
    known = _settings_env_names()
    unknown = {}
    for path in _deploy_files():
        for name in set(iter_docflow_vars(path.read_text())) - known:
            unknown.setdefault(name, []).append(str(path.relative_to(DEPLOY.parent)))
    assert not unknown, f"not fields of docflow.config.Settings: {unknown}"


def test_the_celery_app_path_is_a_celery_app() -> None:
    import importlib

    from celery import Celery

    module, _, attribute = CELERY_APP_PATH.partition(":")
    assert isinstance(getattr(importlib.import_module(module), attribute), Celery)


def test_the_api_factory_builds_the_app() -> None:
    import importlib

    from fastapi import FastAPI

    module, _, attribute = API_FACTORY.partition(":")
    app = getattr(importlib.import_module(module), attribute)(configure_logs=False)
    assert isinstance(app, FastAPI)
    assert {"/health", "/docs"} <= api_paths()


def _check(command: Command) -> None:
    argv = command.argv
    if command.program == "docflow":
        parse_docflow(argv)
    elif command.program == "uvicorn":
        params = parse_uvicorn(argv)
        assert params["app"] == API_FACTORY and params["factory"], command.where
    elif command.program == "celery":
        params, rest = parse_celery(argv)
        assert params["app"] == CELERY_APP_PATH, command.where
        assert rest and rest[0] in ("flower", "worker", "inspect", "status", "purge"), rest
    elif command.program == "python":
        assert argv[1] == "-c", command.where
        compile(argv[2], command.where, "exec")
    else:
        pytest.fail(f"{command.where}: unexpected program {argv[0]}")


@pytest.mark.parametrize("command", all_commands(), ids=lambda c: c.where)
def test_deploy_commands_parse_with_the_real_cli(command: Command) -> None:
    _check(command)


def test_readme_commands_parse_with_the_real_cli() -> None:
    commands = readme_commands()
    programs = {c.program for c in commands}
    assert {"docflow", "celery"} <= programs, "the README shows docflow and celery commands"
    failures = []
    for command in commands:
        try:
            _check(command)
        except BaseException as exc:  # click raises UsageError; asserts raise AssertionError
            failures.append(f"{command.where}: {' '.join(command.argv)}: {exc}")
    assert not failures, "\n".join(failures)


def test_the_cli_commands_deploy_relies_on_exist() -> None:
    import typer

    from docflow.cli import app

    root = typer.main.get_command(app)
    assert {"serve", "worker", "housekeeper"} <= set(root.commands)
    worker_options = {o for p in root.commands["worker"].params for o in p.opts}
    assert {"--concurrency", "--autoscale", "-Q", "--queues", "-n", "--hostname"} <= \
        worker_options


# --- queues --------------------------------------------------------------------------------

def _code_queues() -> set[str]:
    from docflow.worker import celery_app

    names = {value for key, value in vars(celery_app).items()
             if key.endswith("_QUEUE") and isinstance(value, str)}
    conf = celery_app.app.conf
    names.add(conf.task_default_queue)
    names |= {q.name for q in conf.task_queues or ()}
    return names


def _deploy_queues() -> dict[str, set[str]]:
    """Queue -> where deploy/ uses it (worker -Q in compose and Kubernetes, KEDA list names)."""
    used: dict[str, set[str]] = {}

    def add(queues: str, where: str) -> None:
        for q in queues.split(","):
            used.setdefault(q, set()).add(where)

    for name, service in compose()["services"].items():
        argv = compose_argv(service)
        if argv[:2] == ["docflow", "worker"]:
            add(parse_docflow(argv)[1]["queues"], f"compose:{name}")
    for obj in objects_of("Deployment"):
        for c in containers(obj):
            argv = container_argv(c)
            if argv[:2] == ["docflow", "worker"]:
                add(parse_docflow(argv)[1]["queues"], f"k8s:{obj.name}")
    for obj in objects_of("ScaledObject"):
        for trigger in obj.doc["spec"]["triggers"]:
            add(trigger["metadata"]["listName"], f"keda:{obj.name}")
    return used


def test_deploy_queues_are_the_code_queues() -> None:
    code = _code_queues()
    used = _deploy_queues()
    assert set(used) == {"default", "ocr"}
    assert set(used) == code, f"deploy uses {sorted(used)}, the code defines {sorted(code)}"


def test_every_queue_has_workers_everywhere() -> None:
    for queue, where in _deploy_queues().items():
        kinds = {w.split(":")[0] for w in where}
        assert kinds == {"compose", "k8s", "keda"}, f"{queue}: only in {sorted(where)}"


def test_readme_worker_examples_use_known_queues() -> None:
    for command in readme_commands():
        if command.argv[:2] == ("docflow", "worker"):
            _, params = parse_docflow(command.argv)
            assert set(params["queues"].split(",")) <= {"default", "ocr"}, command.where


# --- the README ----------------------------------------------------------------------------

def test_readme_links_point_at_files() -> None:
    text = README.read_text()
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (README.parent / target).exists(), f"deploy/README.md links to {target}"


@pytest.mark.parametrize("topic", [
    "appendfsync everysec", "maxmemory-policy noeviction", "visibility_timeout",
    "max_connections", "DOCFLOW_DB_POOL_SIZE", "DOCFLOW_DB_MAX_OVERFLOW",
    "DOCFLOW_WORKER_MAX_TASKS_PER_CHILD", "DOCFLOW_WORKER_MAX_MEMORY_PER_CHILD_KB",
    "OMP_THREAD_LIMIT=1", "celery --app docflow.worker.celery_app:app", "-Q ocr", "-n ",
    "docflow housekeeper", "ReadWriteMany", "ScaledObject",
])
def test_readme_covers(topic: str) -> None:
    assert topic in README.read_text()
