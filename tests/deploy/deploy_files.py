"""Reading deploy/, the Dockerfile and .dockerignore the way their tools would, offline.

Shared by the tests in this folder: YAML loading, Compose variable interpolation, a small
Dockerfile reader, and parsers that check a command line against the real CLI it calls (docflow,
uvicorn, celery) without running it.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import click
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
README = DEPLOY / "README.md"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
SCHEMAS = Path(__file__).resolve().parent / "schemas"

CELERY_APP_PATH = "docflow.worker.celery_app:app"
API_FACTORY = "docflow.api.app:create_app"
# Settings the lead is adding in the same issue (database pool sizing). deploy/ already sets
# them; until they exist, docflow ignores them (Settings has extra="ignore").


# --- Kubernetes ----------------------------------------------------------------------------

@dataclass(frozen=True)
class K8sObject:
    file: str
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.doc["kind"]

    @property
    def name(self) -> str:
        return self.doc["metadata"]["name"]

    def __str__(self) -> str:
        return f"{self.file}: {self.kind}/{self.name}"


def kubernetes_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.y*ml") if p.name != "kustomization.yaml")


@cache
def kubernetes_objects() -> tuple[K8sObject, ...]:
    objects = []
    for path in kubernetes_files():
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                objects.append(K8sObject(path.name, doc))
    return tuple(objects)


def objects_of(kind: str) -> list[K8sObject]:
    return [o for o in kubernetes_objects() if o.kind == kind]


def find_object(kind: str, name: str) -> K8sObject | None:
    return next((o for o in objects_of(kind) if o.name == name), None)


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())


def containers(obj: K8sObject) -> list[dict[str, Any]]:
    spec = obj.doc["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def container_argv(container: dict[str, Any]) -> list[str]:
    return [*container.get("command", []), *container.get("args", [])]


def container_env(container: dict[str, Any]) -> dict[str, str]:
    """What the container's environment holds: envFrom ConfigMaps/Secrets, then env."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find_object("ConfigMap", source["configMapRef"]["name"]).doc["data"])
        if "secretRef" in source:
            env.update(secret_data(source["secretRef"]["name"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
    return env


def secret_data(name: str) -> dict[str, str]:
    import base64

    obj = find_object("Secret", name)
    assert obj is not None, f"no Secret {name}"
    data = {k: base64.b64decode(v).decode() for k, v in obj.doc.get("data", {}).items()}
    data.update(obj.doc.get("stringData", {}))
    return data


_QUANTITY = re.compile(r"^([0-9.]+)([A-Za-z]*)$")
_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20,
          "Gi": 2**30, "Ti": 2**40, "K": 10**3, "g": 10**9, "m": 10**6, "KB": 10**3,
          "MB": 10**6, "GB": 10**9, "kb": 10**3, "mb": 10**6, "gb": 10**9}


def bytes_of(quantity: str | int) -> int:
    """Kubernetes ("4Gi") or Compose ("4G") memory size in bytes."""
    m = _QUANTITY.match(str(quantity))
    assert m and m.group(2) in _UNITS, f"not a memory quantity: {quantity!r}"
    return int(float(m.group(1)) * _UNITS[m.group(2)])


# --- Compose -------------------------------------------------------------------------------

@cache
def compose_raw() -> dict[str, Any]:
    """compose.yaml as YAML (anchors and merge keys resolved), before interpolation."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@cache
def env_example() -> dict[str, str]:
    """deploy/.env.example as docker compose reads a .env file (KEY=VALUE, # comments)."""
    values: dict[str, str] = {}
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f".env.example:{number}: {line}"
        values[key] = value
    return values


_VAR = re.compile(r"\$(?:\{(?P<braced>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)|(?P<dollar>\$))")
_BRACED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>.*))?$", re.S)


class InterpolationError(ValueError):
    pass


def interpolate(value: str, env: dict[str, str], used: set[str] | None = None) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR:+alt}, $VAR, $$."""

    def one(m: re.Match[str]) -> str:
        if m.group("dollar"):
            return "$"
        if m.group("plain"):
            name, op, arg = m.group("plain"), None, ""
        else:
            parts = _BRACED.match(m.group("braced"))
            if not parts:
                raise InterpolationError(f"bad interpolation {m.group(0)!r}")
            name, op, arg = parts.group("name"), parts.group("op"), parts.group("arg") or ""
            arg = interpolate(arg, env, used)
        if used is not None:
            used.add(name)
        present = name in env
        non_empty = bool(env.get(name))
        if op == ":-":
            return env[name] if non_empty else arg
        if op == "-":
            return env[name] if present else arg
        if op in (":?", "?"):
            if not (non_empty if op == ":?" else present):
                raise InterpolationError(f"{name} is required: {arg}")
            return env[name]
        if op == ":+":
            return arg if non_empty else ""
        if op == "+":
            return arg if present else ""
        if not present:
            raise InterpolationError(f"{name} is not set and has no default")
        return env[name]

    return _VAR.sub(one, value)


def interpolate_tree(node: Any, env: dict[str, str], used: set[str] | None = None) -> Any:
    if isinstance(node, str):
        return interpolate(node, env, used)
    if isinstance(node, list):
        return [interpolate_tree(v, env, used) for v in node]
    if isinstance(node, dict):
        return {k: interpolate_tree(v, env, used) for k, v in node.items()}
    return node


def variables_referenced(node: Any) -> set[str]:
    """Every variable name a Compose file interpolates (with or without a default)."""
    names: set[str] = set()
    for m in _VAR.finditer(json.dumps(node)):
        if m.group("plain"):
            names.add(m.group("plain"))
        elif m.group("braced") is not None:
            parts = _BRACED.match(m.group("braced"))
            assert parts, f"bad interpolation {m.group(0)!r}"
            names.add(parts.group("name"))
    return names


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as `docker compose config` sees it with deploy/.env copied from the example."""
    return interpolate_tree(compose_raw(), env_example())


def compose_argv(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def parse_duration(text: str | int) -> float:
    """Compose durations: 1m30s, 12m, 45s, 1h."""
    if isinstance(text, int | float):
        return float(text)
    total = 0.0
    parts = re.findall(r"([0-9.]+)(h|ms|m|s|us)", text)
    assert parts and "".join(a + b for a, b in parts) == text, f"not a duration: {text!r}"
    for amount, unit in parts:
        total += float(amount) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
    return total


# --- Dockerfile ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    instructions: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(a, str) for a in value), args
    return value


def dockerignore_excludes(relative: str) -> bool:
    """Whether .dockerignore keeps `relative` (a path from the repo root) out of the context."""
    excluded = False
    for line in DOCKERIGNORE.read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        regex = _glob_regex(pattern)
        parts = relative.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(regex.fullmatch(p) for p in prefixes):
            excluded = not negate
    return excluded


def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


# --- Commands checked against the real CLIs ------------------------------------------------

@dataclass(frozen=True)
class Command:
    where: str
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        return Path(self.argv[0]).name


def all_commands() -> list[Command]:
    """Every command line deploy/ and the Dockerfile start, with where it comes from."""
    found: list[Command] = []
    for obj in kubernetes_objects():
        if obj.kind != "Deployment":
            continue
        for c in containers(obj):
            argv = container_argv(c)
            if argv:
                found.append(Command(f"{obj} container {c['name']}", tuple(argv)))
    for name, service in compose()["services"].items():
        argv = compose_argv(service)
        if argv and "build" in service:  # the docflow image, not postgres or redis
            found.append(Command(f"compose.yaml service {name}", tuple(argv)))
    for ins in dockerfile_instructions():
        if ins.keyword == "CMD":
            found.append(Command(f"Dockerfile:{ins.line} CMD", tuple(exec_form(ins.args))))
    return found


SHELL_OPERATORS = {"&", "&&", "|", "||", ";", ">", ">>", "<", "2>&1"}


def readme_commands() -> list[Command]:
    """Command lines for docflow, celery and uvicorn in deploy/README.md's shell blocks."""
    found: list[Command] = []
    in_block = False
    logical = ""
    start = 0
    for number, line in enumerate(README.read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            in_block = not in_block and line.strip() in ("```sh", "```bash", "```shell")
            continue
        if not in_block:
            continue
        if not logical:
            start = number
        if line.rstrip().endswith("\\"):
            logical += line.rstrip()[:-1] + " "
            continue
        logical += line
        words = shlex.split(logical, comments=True)
        logical = ""
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
            words.pop(0)  # VAR=value before the command
        if not words:
            continue
        cut = next((i for i, w in enumerate(words) if w in SHELL_OPERATORS), len(words))
        words = words[:cut]
        if Path(words[0]).name in ("docflow", "celery", "uvicorn"):
            found.append(Command(f"deploy/README.md:{start}", tuple(words)))
    return found


def _rest(ctx: click.Context) -> list[str]:
    protected = getattr(ctx, "_protected_args", None)
    if protected is None:  # Click before 8.2
        protected = getattr(ctx, "protected_args", [])
    return [*protected, *ctx.args]


def parse_docflow(argv: list[str] | tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    """Parse `docflow SUBCOMMAND ...` with docflow's own CLI; return (subcommand, options)."""
    import typer

    from docflow.cli import app

    root = typer.main.get_command(app)  # Typer's own (vendored) Click group
    assert len(argv) >= 2, f"no subcommand in {argv}"
    name = argv[1]
    command = root.commands.get(name)
    assert command is not None, f"no `docflow {name}`; commands: {sorted(root.commands)}"
    ctx = command.make_context(name, list(argv[2:]))
    return name, dict(ctx.params)


def parse_uvicorn(argv: list[str] | tuple[str, ...]) -> dict[str, Any]:
    from uvicorn.main import main as uvicorn_cli

    return dict(uvicorn_cli.make_context("uvicorn", list(argv[1:])).params)


def parse_celery(argv: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], list[str]]:
    """Celery's global options, and the subcommand with its own arguments."""
    from celery.bin.celery import celery as celery_cli

    ctx = celery_cli.make_context("celery", list(argv[1:]))
    return dict(ctx.params), _rest(ctx)


def api_paths() -> set[str]:
    """Every path the API serves: its OpenAPI paths plus the docs pages (served as routes of
    their own, out of the schema, so that their scripts come from the package)."""
    from docflow.api.app import create_app

    app = create_app(configure_logs=False)
    routes = {path for route in app.routes if (path := getattr(route, "path", None))}
    return set(app.openapi()["paths"]) | routes


def iter_docflow_vars(text: str) -> Iterator[str]:
    yield from re.findall(r"\bDOCFLOW_[A-Z0-9_]*[A-Z0-9]\b", text)
