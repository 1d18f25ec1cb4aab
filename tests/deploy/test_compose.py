"""deploy/compose.yaml: validated against the Compose Specification's JSON schema, as written and
after interpolation with deploy/.env.example, then checked as a deployment.

The schema is the compose-spec.json that check-jsonschema bundles (vendored from the compose-spec
project), so no network is needed. What `docker compose config` adds beyond it (for example that
depends_on names a service) is checked here by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from tests.deploy.deploy_files import (
    InterpolationError,
    bytes_of,
    compose,
    compose_argv,
    compose_raw,
    env_example,
    interpolate,
    parse_celery,
    parse_docflow,
    parse_duration,
    parse_uvicorn,
    variables_referenced,
)

DOCFLOW_SERVICES = {"migrate", "api", "worker-default", "worker-ocr", "housekeeper", "flower"}
LONG_RUNNING = {"postgres", "redis", "api", "worker-default", "worker-ocr", "housekeeper",
                "flower"}


def _compose_schema() -> dict[str, Any]:
    ref = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(ref.read_text())


def _errors(doc: dict[str, Any]) -> list[str]:
    schema = _compose_schema()
    cls = jsonschema.validators.validator_for(schema)
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
            for e in cls(schema).iter_errors(doc)]


def test_the_schema_is_the_compose_specification() -> None:
    schema = _compose_schema()
    assert schema["title"] == "Compose Specification"
    jsonschema.validators.validator_for(schema).check_schema(schema)


@pytest.mark.parametrize("stage", ["as written", "interpolated"])
def test_compose_file_matches_the_compose_specification(stage: str) -> None:
    doc = compose_raw() if stage == "as written" else compose()
    assert not _errors(doc), "\n".join(_errors(doc))


def test_the_compose_schema_catches_mistakes() -> None:
    doc = json.loads(json.dumps(compose()))
    doc["services"]["api"]["restart_policy"] = "always"  # not a service key
    doc["services"]["redis"]["healthcheck"]["intervall"] = "5s"  # misspelt
    assert len(_errors(doc)) >= 2


def test_every_variable_is_in_the_env_example_and_every_example_is_used() -> None:
    referenced = variables_referenced(compose_raw())
    example = env_example()
    assert referenced - example.keys() == set(), "set these in .env.example"
    assert example.keys() - referenced == set(), ".env.example has unused variables"


def test_required_variables_fail_loudly_without_a_dot_env() -> None:
    """Without deploy/.env, compose stops on the passwords and URLs instead of going empty."""
    with pytest.raises(InterpolationError):
        interpolate("${POSTGRES_PASSWORD:?copy .env.example}", {})
    raw = json.dumps(compose_raw())
    for name in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "DOCFLOW_DATABASE_URL",
                 "DOCFLOW_BROKER_URL", "FLOWER_BASIC_AUTH"):
        assert "${" + name + ":?" in raw, f"{name} should be required (${{{name}:?...}})"


def test_services_have_images_and_declared_dependencies_and_volumes() -> None:
    doc = compose()
    services = doc["services"]
    assert services.keys() == DOCFLOW_SERVICES | LONG_RUNNING
    volumes = doc.get("volumes", {}).keys()
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert dependency != name
        for mount in service.get("volumes", []):
            source = mount.split(":")[0] if isinstance(mount, str) else mount["source"]
            if not source.startswith((".", "/")):
                assert source in volumes, f"{name}: volume {source} is not declared"
    assert _acyclic({n: set(s.get("depends_on", {})) for n, s in services.items()})


def _acyclic(graph: dict[str, set[str]]) -> bool:
    done: set[str] = set()

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"depends_on cycle: {' -> '.join((*path, node))}"
        if node not in done:
            for nxt in graph[node]:
                visit(nxt, (*path, node))
            done.add(node)

    for node in graph:
        visit(node, ())
    return True


def test_docflow_services_share_one_image_and_the_data_volume() -> None:
    import docflow

    services = compose()["services"]
    images = {services[name]["image"] for name in DOCFLOW_SERVICES}
    assert images == {f"docflow:{docflow.__version__}"}
    for name in DOCFLOW_SERVICES:
        service = services[name]
        assert service["build"]["context"] == ".."
        assert (Path(__file__).resolve().parents[2] / service["build"]["dockerfile"]).is_file()
        data_dir = service["environment"]["DOCFLOW_DATA_DIR"]
        assert f"data:{data_dir}" in service["volumes"], name


def test_restart_policies_and_healthchecks() -> None:
    services = compose()["services"]
    for name in LONG_RUNNING:
        assert services[name]["restart"] in ("unless-stopped", "always"), name
    assert services["migrate"]["restart"] == "no"
    for name in ("postgres", "redis", "api"):
        assert "healthcheck" in services[name], name
    assert "/health" in " ".join(services["api"]["healthcheck"]["test"])
    for name in ("api", "worker-default", "worker-ocr", "housekeeper"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_redis_persists_with_aof_and_never_evicts() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(compose_argv(redis))
    for flag in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction",
                 "--requirepass"):
        assert flag in command
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_urls_match_the_postgres_and_redis_services() -> None:
    env = env_example()
    db = urlsplit(env["DOCFLOW_DATABASE_URL"])
    assert db.scheme == "postgresql+psycopg"
    assert (db.hostname, db.port, db.username, db.password, db.path.strip("/")) == \
        ("postgres", 5432, env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"])
    broker = urlsplit(env["DOCFLOW_BROKER_URL"])
    assert (broker.scheme, broker.hostname, broker.port, broker.password) == \
        ("redis", "redis", 6379, env["REDIS_PASSWORD"])
    assert env["DOCFLOW_SEARCH"] == "postgres"


def test_settings_accept_the_compose_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.config import Settings

    for name in DOCFLOW_SERVICES:
        for key in [k for k in os.environ if k.startswith("DOCFLOW_")]:
            monkeypatch.delenv(key)
        for key, value in compose()["services"][name]["environment"].items():
            monkeypatch.setenv(key, str(value))
        settings = Settings()
        assert settings.database_url and settings.database_url.startswith("postgresql+psycopg")
        assert settings.broker_url and settings.broker_url.startswith("redis://")


def test_api_runs_the_app_factory() -> None:
    params = parse_uvicorn(compose_argv(compose()["services"]["api"]))
    assert params["app"] == "docflow.api.app:create_app" and params["factory"] is True
    assert params["host"] == "0.0.0.0" and params["port"] == 8000
    example = env_example()
    assert compose()["services"]["api"]["ports"] == [
        f"{example['API_BIND']}:{example['API_PORT']}:8000"]
    assert example["API_BIND"] == "127.0.0.1"  # published on loopback unless told otherwise


def test_the_api_ships_with_authentication_on_and_a_bootstrap_token() -> None:
    from docflow.auth.tokens import TokenError, ensure_bootstrap_token

    services = compose()["services"]
    for name in DOCFLOW_SERVICES:
        assert services[name]["environment"]["DOCFLOW_AUTH"] == "required", name
    placeholder = services["api"]["environment"]["DOCFLOW_BOOTSTRAP_TOKEN"]
    assert placeholder == env_example()["DOCFLOW_BOOTSTRAP_TOKEN"]
    # Only the API reads it; no other container needs an admin token.
    assert [n for n, s in services.items()
            if "DOCFLOW_BOOTSTRAP_TOKEN" in s.get("environment", {})] == ["api"]
    with pytest.raises(TokenError, match="placeholder"):
        ensure_bootstrap_token(None, placeholder)  # type: ignore[arg-type]  # refused first


def test_workers_one_queue_each_and_time_to_finish_on_stop() -> None:
    from docflow.config import Settings

    services = compose()["services"]
    for queue in ("default", "ocr"):
        service = services[f"worker-{queue}"]
        name, params = parse_docflow(compose_argv(service))
        assert name == "worker"
        assert params["queues"] == queue
        assert params["hostname"] == f"{queue}@%h"
        assert params["concurrency"] > 0
        env = {k.removeprefix("DOCFLOW_").lower(): v for k, v in service["environment"].items()
               if k.startswith("DOCFLOW_")}
        settings = Settings(**{k: v for k, v in env.items() if k in Settings.model_fields})
        grace = parse_duration(service["stop_grace_period"])
        assert settings.task_soft_time_limit < settings.task_time_limit < grace - 30
        limit = service["deploy"]["resources"]["limits"]["memory"]
        needed = params["concurrency"] * settings.worker_max_memory_per_child_kb * 1024
        assert bytes_of(limit) >= needed + 256 * 2**20, f"worker-{queue}"
    assert services["worker-ocr"]["environment"]["OMP_THREAD_LIMIT"] == "1"


def test_one_housekeeper() -> None:
    services = compose()["services"]
    runs = [n for n, s in services.items() if compose_argv(s)[:2] == ["docflow", "housekeeper"]]
    assert runs == ["housekeeper"]
    assert services["housekeeper"].get("deploy", {}).get("replicas", 1) == 1
    parse_docflow(compose_argv(services["housekeeper"]))


def test_flower_uses_the_celery_app_and_a_login() -> None:
    service = compose()["services"]["flower"]
    params, rest = parse_celery(compose_argv(service))
    assert params["app"] == "docflow.worker.celery_app:app"
    assert params["broker"] == env_example()["DOCFLOW_BROKER_URL"]
    assert rest[0] == "flower"
    assert service["environment"]["FLOWER_BASIC_AUTH"]
    assert all(p.startswith("127.0.0.1:") for p in service["ports"])


def test_the_migrate_command_migrates(tmp_path: Path) -> None:
    """Run the one-shot migrate service's command for real, on SQLite in a temporary dir."""
    argv = compose_argv(compose()["services"]["migrate"])
    assert argv[0] == "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env["DOCFLOW_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "docflow.db").is_file()
