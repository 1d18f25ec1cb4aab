"""deploy/kubernetes: every manifest validated offline, and the set checked as a whole.

Built-in kinds are validated (strictly: no unknown fields) against the Kubernetes JSON schemas
that the kubernetes-validate package bundles, for the oldest and the newest version we claim.
KEDA's ScaledObject and TriggerAuthentication are CRDs with no bundled schema: they are validated
against the strict schemas in tests/deploy/schemas, written from KEDA's documented fields, and
their metadata against Kubernetes' ObjectMeta.
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from tests.deploy.deploy_files import (
    KUBERNETES,
    SCHEMAS,
    K8sObject,
    api_paths,
    bytes_of,
    container_argv,
    container_env,
    containers,
    find_object,
    kubernetes_files,
    kubernetes_objects,
    kustomization,
    objects_of,
    parse_celery,
    parse_docflow,
    parse_uvicorn,
    secret_data,
)

# Oldest Kubernetes the manifests are meant for, and the newest schema the package bundles.
K8S_VERSIONS = ["1.29.0", kv.latest_version()]
CRD_KINDS = {"ScaledObject": "keda-scaledobject", "TriggerAuthentication":
             "keda-triggerauthentication"}
NAMESPACE = "docflow"
OBJECTS = kubernetes_objects()


def _validate_builtin(doc: dict[str, Any], version: str) -> None:
    kv.validate(doc, version, strict=True)


def _crd_validator(kind: str) -> jsonschema.Validator:
    schema = json.loads((SCHEMAS / f"{CRD_KINDS[kind]}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _object_meta_validator(version: str) -> jsonschema.Validator:
    defs = kv.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json",
                              version)
    registry: Registry = Resource.from_contents(defs) @ Registry()
    ref = f"{defs['$id']}#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


def test_the_set_is_complete() -> None:
    kinds = {(o.kind, o.name) for o in OBJECTS}
    for expected in [("Namespace", "docflow"), ("ConfigMap", "docflow-config"),
                     ("Secret", "docflow-secrets"), ("PersistentVolumeClaim", "docflow-data"),
                     ("Deployment", "docflow-api"), ("Service", "docflow-api"),
                     ("Deployment", "docflow-worker-default"),
                     ("Deployment", "docflow-worker-ocr"), ("Deployment", "docflow-housekeeper"),
                     ("Deployment", "docflow-flower"), ("Service", "docflow-flower"),
                     ("ScaledObject", "docflow-worker-default"),
                     ("ScaledObject", "docflow-worker-ocr")]:
        assert expected in kinds, f"missing {expected}"
    assert len(kinds) == len(OBJECTS), "two objects share a kind and a name"


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("obj", [o for o in OBJECTS if o.kind not in CRD_KINDS], ids=str)
def test_builtin_kinds_match_the_kubernetes_schema(obj: K8sObject, version: str) -> None:
    try:
        _validate_builtin(obj.doc, version)
    except kv.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        pytest.fail(f"{obj} is not a valid {obj.kind} for Kubernetes {version}: {path}: "
                    f"{exc.message}")


@pytest.mark.parametrize("obj", [o for o in OBJECTS if o.kind in CRD_KINDS], ids=str)
def test_keda_objects_match_their_schema(obj: K8sObject) -> None:
    errors = sorted(_crd_validator(obj.kind).iter_errors(obj.doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{obj}: {'.'.join(map(str, e.path))}: {e.message}"
                                 for e in errors)
    meta_errors = list(_object_meta_validator(K8S_VERSIONS[-1]).iter_errors(obj.doc["metadata"]))
    assert not meta_errors, [e.message for e in meta_errors]


def _first_deployment() -> dict[str, Any]:
    return copy.deepcopy(find_object("Deployment", "docflow-api").doc)


@pytest.mark.parametrize("break_it", [
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update(imagePullPolcy="Always"),
    lambda d: d["spec"].update(replicas="two"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0].pop("name"),
], ids=["misspelt field", "wrong type", "missing required"])
def test_the_kubernetes_validator_catches_mistakes(break_it: Any) -> None:
    """Guards against a validator that passes everything (e.g. a schema that was not found)."""
    doc = _first_deployment()
    break_it(doc)
    with pytest.raises(kv.ValidationError):
        _validate_builtin(doc, K8S_VERSIONS[-1])


@pytest.mark.parametrize("break_it", [
    lambda d: d["spec"].update(minReplicas=1),
    lambda d: d["spec"]["triggers"][0]["metadata"].update(listLenght="5"),
    lambda d: d["spec"]["triggers"][0]["metadata"].update(listLength=5),
    lambda d: d["spec"]["triggers"][0]["metadata"].pop("listName"),
    lambda d: d["spec"].pop("scaleTargetRef"),
], ids=["misspelt spec field", "misspelt redis field", "number not string",
        "no listName", "no target"])
def test_the_keda_schema_catches_mistakes(break_it: Any) -> None:
    doc = copy.deepcopy(find_object("ScaledObject", "docflow-worker-default").doc)
    break_it(doc)
    assert list(_crd_validator("ScaledObject").iter_errors(doc))


# --- kustomize -----------------------------------------------------------------------------

def test_kustomization_lists_every_manifest() -> None:
    k = kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert k["kind"] == "Kustomization"
    assert k["namespace"] == NAMESPACE
    listed = k["resources"]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in kubernetes_files())
    for name in listed:
        assert (KUBERNETES / name).is_file(), name


def test_every_object_is_in_the_docflow_namespace() -> None:
    for obj in OBJECTS:
        if obj.kind == "Namespace":
            assert obj.name == NAMESPACE
        else:
            assert obj.doc["metadata"].get("namespace") == NAMESPACE, str(obj)


def test_images_are_the_docflow_image_at_the_package_version() -> None:
    import docflow

    images = kustomization()["images"]
    assert [i["name"] for i in images] == ["docflow"]
    assert images[0]["newTag"] == docflow.__version__
    for obj in objects_of("Deployment"):
        for c in containers(obj):
            assert c["image"] == f"docflow:{docflow.__version__}", f"{obj} {c['name']}"


# --- references between objects ------------------------------------------------------------

def test_every_reference_points_at_an_object_in_the_set() -> None:
    for obj in objects_of("Deployment"):
        pod = obj.doc["spec"]["template"]["spec"]
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                assert find_object("PersistentVolumeClaim", claim), f"{obj}: {claim}"
        for c in containers(obj):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert find_object("ConfigMap", source["configMapRef"]["name"]), str(obj)
                if "secretRef" in source:
                    assert find_object("Secret", source["secretRef"]["name"]), str(obj)
            for item in c.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secret_data(ref["name"]), f"{obj}: {ref}"
            mounts = {m["name"] for m in c.get("volumeMounts", [])}
            assert mounts <= {v["name"] for v in pod.get("volumes", [])}, str(obj)
    for obj in objects_of("ScaledObject"):
        target = obj.doc["spec"]["scaleTargetRef"]
        assert target.get("kind", "Deployment") == "Deployment"
        assert find_object("Deployment", target["name"]), str(obj)
        for trigger in obj.doc["spec"]["triggers"]:
            auth = trigger.get("authenticationRef")
            if auth:
                assert find_object("TriggerAuthentication", auth["name"]), str(obj)
    for obj in objects_of("TriggerAuthentication"):
        for ref in obj.doc["spec"].get("secretTargetRef", []):
            assert ref["key"] in secret_data(ref["name"]), f"{obj}: {ref}"


def _pods_selected(selector: dict[str, str]) -> list[K8sObject]:
    return [o for o in objects_of("Deployment")
            if selector.items() <= o.doc["spec"]["template"]["metadata"]["labels"].items()]


def test_deployments_select_their_own_pods_and_only_those() -> None:
    for obj in objects_of("Deployment"):
        selector = obj.doc["spec"]["selector"]["matchLabels"]
        assert _pods_selected(selector) == [obj], f"{obj}: selector {selector} is not unique"


def test_services_reach_a_named_container_port() -> None:
    for svc in objects_of("Service"):
        pods = _pods_selected(svc.doc["spec"]["selector"])
        assert len(pods) == 1, f"{svc} selects {len(pods)} Deployments"
        ports = {p["name"]: p["containerPort"] for c in containers(pods[0])
                 for p in c.get("ports", [])}
        for port in svc.doc["spec"]["ports"]:
            target = port["targetPort"]
            assert target in ports or target in ports.values(), f"{svc}: {target}"


def test_pod_disruption_budgets_select_pods() -> None:
    for pdb in objects_of("PodDisruptionBudget"):
        assert _pods_selected(pdb.doc["spec"]["selector"]["matchLabels"]), str(pdb)


# --- security ------------------------------------------------------------------------------

def test_pods_meet_the_restricted_pod_security_standard() -> None:
    namespace = find_object("Namespace", NAMESPACE)
    assert namespace.doc["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
        "restricted"
    for obj in objects_of("Deployment"):
        pod = obj.doc["spec"]["template"]["spec"]
        ctx = pod["securityContext"]
        assert ctx["runAsNonRoot"] is True, str(obj)
        assert ctx["runAsUser"] == 10001, f"{obj}: must match the Dockerfile's USER"
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault", str(obj)
        assert not pod.get("hostNetwork") and not pod.get("hostPID"), str(obj)
        for volume in pod.get("volumes", []):
            assert "hostPath" not in volume, str(obj)
        for c in containers(obj):
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, str(obj)
            assert sc["capabilities"]["drop"] == ["ALL"], str(obj)
            assert not sc.get("privileged"), str(obj)
            assert sc.get("readOnlyRootFilesystem") is True, str(obj)
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            # Writable places the code uses with a read-only root: the data dir, /tmp, $HOME.
            assert {"/tmp", "/home/docflow"} <= mounts, str(obj)


def test_secrets_hold_the_urls_and_the_configmap_does_not() -> None:
    config = find_object("ConfigMap", "docflow-config").doc["data"]
    for key in ("DOCFLOW_DATABASE_URL", "DOCFLOW_BROKER_URL"):
        assert key not in config
        assert key in secret_data("docflow-secrets")
    assert all(isinstance(v, str) for v in config.values()), "ConfigMap values must be strings"


def test_settings_accept_the_configured_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from docflow.config import Settings

    for obj in objects_of("Deployment"):
        for c in containers(obj):
            env = container_env(c)
            for key in [k for k in os.environ if k.startswith("DOCFLOW_")]:
                monkeypatch.delenv(key)
            for key, value in env.items():
                monkeypatch.setenv(key, value)
            settings = Settings()  # raises if a value has the wrong type
            assert str(settings.data_dir) == "/data"


# --- the pieces ----------------------------------------------------------------------------

def _deployments_running(subcommand: str) -> list[tuple[K8sObject, dict[str, Any]]]:
    found = []
    for obj in objects_of("Deployment"):
        for c in containers(obj):
            argv = container_argv(c)
            if argv and argv[0] == "docflow" and argv[1] == subcommand:
                found.append((obj, c))
    return found


def _settings_for(container: dict[str, Any]) -> Any:
    from docflow.config import Settings

    env = container_env(container)
    fields = {name: env[f"DOCFLOW_{name.upper()}"] for name in Settings.model_fields
              if f"DOCFLOW_{name.upper()}" in env}
    return Settings(**fields)


def test_api_runs_the_app_factory_with_probes_on_real_paths() -> None:
    api = find_object("Deployment", "docflow-api")
    (c,) = containers(api)
    params = parse_uvicorn(container_argv(c))
    assert params["app"] == "docflow.api.app:create_app" and params["factory"] is True
    assert params["host"] == "0.0.0.0"
    port = params["port"]
    assert {"name": "http", "containerPort": port} in c["ports"]
    paths = api_paths()
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    liveness = c["livenessProbe"]["httpGet"]["path"]
    # /health is 503 while no worker is online: restarting the API would not fix that.
    assert liveness != "/health"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] in paths, probe
        assert c[probe]["httpGet"]["port"] in ("http", port)


def test_the_api_requires_credentials_and_only_it_gets_the_bootstrap_token() -> None:
    from docflow.auth.tokens import TokenError, ensure_bootstrap_token

    holders = []
    for obj in objects_of("Deployment"):
        for c in containers(obj):
            env = container_env(c)
            assert env.get("DOCFLOW_AUTH") == "required", str(obj)
            if "DOCFLOW_BOOTSTRAP_TOKEN" in env:
                holders.append(obj.name)
                with pytest.raises(TokenError, match="placeholder"):
                    ensure_bootstrap_token(None, env["DOCFLOW_BOOTSTRAP_TOKEN"])  # type: ignore[arg-type]
    assert holders == ["docflow-api"]


def test_workers_consume_one_queue_each_with_explicit_concurrency() -> None:
    workers = _deployments_running("worker")
    assert {obj.name for obj, _ in workers} == {"docflow-worker-default", "docflow-worker-ocr"}
    for obj, c in workers:
        _, params = parse_docflow(container_argv(c))
        queue = obj.name.removeprefix("docflow-worker-")
        assert params["queues"] == queue, str(obj)
        assert params["hostname"] == f"{queue}@%h", f"{obj}: node names must be unique per pod"
        assert params["concurrency"] > 0, f"{obj}: 0 means one per *node* CPU in a container"
        assert params["autoscale"] is None, f"{obj}: KEDA scales pods; keep processes fixed"
        labels = obj.doc["spec"]["template"]["metadata"]["labels"]
        assert labels["docflow.io/queue"] == queue
        assert "replicas" not in obj.doc["spec"], f"{obj}: KEDA owns the replica count"


def test_ocr_workers_run_tesseract_single_threaded() -> None:
    (obj, c), = [(o, c) for o, c in _deployments_running("worker") if "ocr" in o.name]
    assert container_env(c)["OMP_THREAD_LIMIT"] == "1"


def test_workers_get_time_to_finish_their_tasks_on_shutdown() -> None:
    for obj, c in _deployments_running("worker"):
        settings = _settings_for(c)
        grace = obj.doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert settings.task_soft_time_limit < settings.task_time_limit < grace, str(obj)
        assert grace - settings.task_time_limit >= 30, f"{obj}: leave room for the shutdown"


def test_worker_memory_limit_covers_every_process() -> None:
    for obj, c in _deployments_running("worker"):
        settings = _settings_for(c)
        _, params = parse_docflow(container_argv(c))
        limit = bytes_of(c["resources"]["limits"]["memory"])
        request = bytes_of(c["resources"]["requests"]["memory"])
        needed = params["concurrency"] * settings.worker_max_memory_per_child_kb * 1024
        assert limit >= needed + 256 * 2**20, f"{obj}: {limit} < {needed} + parent"
        assert request <= limit


def test_exactly_one_housekeeper_and_never_two_at_once() -> None:
    housekeepers = _deployments_running("housekeeper")
    assert len(housekeepers) == 1
    obj, c = housekeepers[0]
    parse_docflow(container_argv(c))
    assert obj.doc["spec"]["replicas"] == 1
    assert obj.doc["spec"]["strategy"] == {"type": "Recreate"}
    targets = {o.doc["spec"]["scaleTargetRef"]["name"] for o in objects_of("ScaledObject")}
    assert obj.name not in targets


def test_docflow_pods_share_the_read_write_many_data_volume() -> None:
    pvc = find_object("PersistentVolumeClaim", "docflow-data")
    assert pvc.doc["spec"]["accessModes"] == ["ReadWriteMany"]
    for sub in ("worker", "housekeeper"):
        for obj, c in _deployments_running(sub):
            assert _mounts_pvc_at_data_dir(obj, c), str(obj)
    api = find_object("Deployment", "docflow-api")
    assert _mounts_pvc_at_data_dir(api, containers(api)[0])


def _mounts_pvc_at_data_dir(obj: K8sObject, c: dict[str, Any]) -> bool:
    data_dir = container_env(c)["DOCFLOW_DATA_DIR"]
    claims = {v["name"] for v in obj.doc["spec"]["template"]["spec"]["volumes"]
              if v.get("persistentVolumeClaim", {}).get("claimName") == "docflow-data"}
    return any(m["mountPath"] == data_dir and m["name"] in claims
               for m in c["volumeMounts"])


def test_flower_runs_against_the_celery_app_and_needs_a_login() -> None:
    (c,) = containers(find_object("Deployment", "docflow-flower"))
    params, rest = parse_celery(container_argv(c))
    assert params["app"] == "docflow.worker.celery_app:app"
    assert params["broker"] == "$(DOCFLOW_BROKER_URL)"
    assert "DOCFLOW_BROKER_URL" in container_env(c), "$(...) expands only defined variables"
    assert rest[0] == "flower" and "--port=5555" in rest
    assert "FLOWER_BASIC_AUTH" in container_env(c)


# --- KEDA ----------------------------------------------------------------------------------

def test_each_worker_deployment_scales_on_its_own_queue() -> None:
    for obj in objects_of("ScaledObject"):
        target = find_object("Deployment", obj.doc["spec"]["scaleTargetRef"]["name"])
        (c,) = containers(target)
        _, params = parse_docflow(container_argv(c))
        lists = {t["metadata"]["listName"] for t in obj.doc["spec"]["triggers"]
                 if t["type"] == "redis"}
        assert lists == set(params["queues"].split(",")), str(obj)
    targets = [o.doc["spec"]["scaleTargetRef"]["name"] for o in objects_of("ScaledObject")]
    assert sorted(targets) == sorted(o.name for o, _ in _deployments_running("worker"))


def test_default_workers_never_scale_to_zero() -> None:
    """The API's readiness is /health, which needs a worker online."""
    so = find_object("ScaledObject", "docflow-worker-default").doc["spec"]
    assert so["minReplicaCount"] >= 1
    for obj in objects_of("ScaledObject"):
        spec = obj.doc["spec"]
        assert spec.get("minReplicaCount", 0) < spec.get("maxReplicaCount", 100)


def test_keda_reads_the_same_redis_as_the_broker_url() -> None:
    broker = urlsplit(secret_data("docflow-secrets")["DOCFLOW_BROKER_URL"])
    assert broker.scheme in ("redis", "rediss")
    db_index = (broker.path.strip("/") or "0")
    for obj in objects_of("ScaledObject"):
        for trigger in obj.doc["spec"]["triggers"]:
            assert trigger["type"] == "redis"
            meta = trigger["metadata"]
            assert meta.get("databaseIndex", "0") == db_index, str(obj)
            assert meta.get("enableTLS", "false") == str(broker.scheme == "rediss").lower()
            auth = find_object("TriggerAuthentication", trigger["authenticationRef"]["name"])
            params = {r["parameter"]: secret_data(r["name"])[r["key"]]
                      for r in auth.doc["spec"]["secretTargetRef"]}
            assert set(params) <= {"address", "host", "port", "username", "password", "tls",
                                   "ca", "cert", "key"}
            assert params["address"] == f"{broker.hostname}:{broker.port or 6379}"
            assert params.get("password") == broker.password
            if broker.username:
                assert params.get("username") == broker.username


def _uncommented(file: str, name: str) -> dict[str, str]:
    """The object `name` in `file` with its commented `# DOCFLOW_...: value` lines switched on."""
    text = re.sub(r"(?m)^(\s*)# (DOCFLOW_[A-Z0-9_]+: )", r"\1\2", (KUBERNETES / file).read_text())
    (doc,) = [d for d in yaml.safe_load_all(text) if d["metadata"]["name"] == name]
    return doc.get("data") or doc["stringData"]


def test_the_commented_s3_option_turns_originals_into_a_bucket(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from docflow.config import Settings
    from docflow.store import open_blobs
    from docflow.store.s3_blobs import S3BlobStore

    config = _uncommented("configmap.yaml", "docflow-config")
    secrets = _uncommented("secret.yaml", "docflow-secrets")
    assert config["DOCFLOW_BLOB_STORE"] == "s3" and "DOCFLOW_S3_ACCESS_KEY_ID" in secrets
    for key in [k for k in os.environ if k.startswith("DOCFLOW_")]:
        monkeypatch.delenv(key)
    for key, value in {**config, **secrets}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DOCFLOW_DATA_DIR", str(tmp_path))
    blobs = open_blobs(Settings())
    assert isinstance(blobs, S3BlobStore)
    assert blobs.bucket == config["DOCFLOW_S3_BUCKET"]
    assert blobs.client.meta.endpoint_url == config["DOCFLOW_S3_ENDPOINT_URL"]
