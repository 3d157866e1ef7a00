"""Production deployment files: Kubernetes (kustomize + kubeconform), Compose, image, settings.

Long because it checks every production artefact (kustomize overlays, Compose, images,
settings) offline, one test each.

Everything is checked offline: kustomize and kubeconform are installed into var/bin by
`deploy/local/infra.sh install`; the Kubernetes JSON schemas come from the PyPI package
kubernetes-validate and the Compose specification's schema from check-jsonschema.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from shared.ops.cli import served_port
from shared.settings import SERVICE_PORTS
from tests.helpers import AllSettings as Settings  # every service's settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
# The state directory, as deploy/local/infra.sh finds it.
BIN = Path(os.environ.get("TONGXIN_VAR_DIR") or ROOT / "var") / "bin"
OVERLAYS = ["district", "city"]
KUBERNETES_VERSION = "1.33.0"
CONSUMERS = set(SERVICE_PORTS)  # every service runs a consumer group

Manifest = dict[str, Any]


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{path} is missing: run `bash deploy/local/infra.sh install`"
    return str(path)


@cache
def kustomize_build(overlay: str) -> str:
    proc = subprocess.run(
        [tool("kustomize"), "build", str(DEPLOY / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def manifests(overlay: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all(kustomize_build(overlay)) if d]


def of_kind(docs: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def service_config(docs: list[Manifest]) -> Manifest:
    """The services' settings (tongxin-config-<hash>; the gateway's config is the other)."""
    (config,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("tongxin-config")
    ]
    return config


def services_of(docs: list[Manifest]) -> dict[str, Manifest]:
    """The services' Deployments (the gateway's is the other one)."""
    return {
        name: d
        for name, d in of_kind(docs, "Deployment").items()
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == "service"
    }


@pytest.fixture(scope="module")
def kubeconform_args(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """kubeconform pointed at the schemas bundled in kubernetes-validate: no network.

    Those schemas `$ref` one shared https://kubernetes.io/api/_definitions.json; kubeconform's
    schema cache (file name = sha256 of the URL) is filled with the bundled copy of it.
    """
    import kubernetes_validate

    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    version_dir = schemas / f"v{KUBERNETES_VERSION}-local-strict"
    assert version_dir.is_dir(), f"kubernetes-validate has no schemas for {KUBERNETES_VERSION}"
    cache_dir = tmp_path_factory.mktemp("kubeconform-cache")
    url = "https://kubernetes.io/api/_definitions.json"
    (cache_dir / hashlib.sha256(url.encode()).hexdigest()).write_bytes(
        (version_dir / "_definitions.json").read_bytes()
    )
    template = str(schemas) + "/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}"
    return [
        tool("kubeconform"),
        "-strict",
        "-summary",
        "-output",
        "json",
        "-kubernetes-version",
        KUBERNETES_VERSION,
        "-cache",
        str(cache_dir),
        "-schema-location",
        template + "/{{ .ResourceKind }}{{ .KindSuffix }}.json",
    ]


def kubeconform(args: list[str], documents: str) -> tuple[int, dict[str, Any]]:
    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    proc = subprocess.run(
        args, input=documents, capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


# ---------------------------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_passes_kubeconform_strict_offline(
    overlay: str, kubeconform_args: list[str]
) -> None:
    code, report = kubeconform(kubeconform_args, kustomize_build(overlay))
    summary = report["summary"]
    assert code == 0, report["resources"]
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0
    assert summary["valid"] == len(manifests(overlay)) >= 22


def test_kubeconform_rejects_a_manifest_with_an_unknown_field(
    kubeconform_args: list[str],
) -> None:
    docs = manifests("city")
    deployment = of_kind(docs, "Deployment")["needs"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}  # typo
    code, report = kubeconform(kubeconform_args, yaml.safe_dump(deployment))
    assert code != 0 and report["summary"]["invalid"] == 1
    assert "readynessProbe" in json.dumps(report["resources"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_topic_partitions_equal_the_largest_consumer_hpa_max_replicas(overlay: str) -> None:
    docs = manifests(overlay)
    config = service_config(docs)
    partitions = int(config["data"]["TONGXIN_TOPIC_PARTITIONS"])
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    max_replicas = {
        hpa["spec"]["scaleTargetRef"]["name"]: hpa["spec"]["maxReplicas"] for hpa in hpas.values()
    }
    assert set(max_replicas) == CONSUMERS
    assert partitions == max(max_replicas.values())
    assert all(hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] for hpa in hpas.values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_probes_resources_autoscaler_and_disruption_budget(
    overlay: str,
) -> None:
    docs = manifests(overlay)
    deployments = services_of(docs)
    assert set(deployments) == CONSUMERS
    configmaps, secrets = of_kind(docs, "ConfigMap"), of_kind(docs, "Secret")
    pdbs = of_kind(docs, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        port = SERVICE_PORTS[name]
        assert container["args"] == ["serve", name, "--host", "0.0.0.0", "--port", str(port)]
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        sources = container["envFrom"]
        assert sources[0]["configMapRef"]["name"] in configmaps
        assert sources[1]["secretRef"]["name"] in secrets
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert pdbs[name]["spec"]["selector"]["matchLabels"] == selector
        assert "replicas" not in deployment["spec"]  # the autoscaler owns it
    for secret in secrets.values():
        assert "data" not in secret and "stringData" not in secret  # no secret is committed
    # Only the identity service holds the signing keys.
    mounts = {
        name: [
            v["secret"]["secretName"]
            for v in d["spec"]["template"]["spec"].get("volumes", [])
            if "secret" in v
        ]
        for name, d in deployments.items()
    }
    assert {name for name, m in mounts.items() if "tongxin-jwt-keys" in m} == {"identity"}
    config = service_config(docs)
    assert config["data"]["TONGXIN_JWKS_URL"] == "http://identity:8005/.well-known/jwks.json"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_signs_in_to_kafka_as_its_own_user(overlay: str) -> None:
    """Issue 19: SASL/SCRAM, a user and a Secret per service; topics and ACLs by the admin."""
    docs = manifests(overlay)
    config = service_config(docs)
    assert config["data"]["TONGXIN_KAFKA_SECURITY_PROTOCOL"].startswith("SASL_")
    assert config["data"]["TONGXIN_KAFKA_CREATE_TOPICS"] == "false"
    secrets = of_kind(docs, "Secret")

    def kafka_user(pod: Manifest) -> tuple[str, str]:
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container.get("env", [])}
        ref = env["TONGXIN_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] in secrets and ref["key"] == "password"
        return env["TONGXIN_KAFKA_USERNAME"]["value"], ref["name"]

    for name, deployment in services_of(docs).items():  # the gateway has no Kafka user
        assert kafka_user(deployment["spec"]["template"]["spec"]) == (
            name,
            f"tongxin-kafka-{name}",
        )
    job = of_kind(docs, "Job")["kafka-setup"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["kafka", "setup"]
    assert kafka_user(job["spec"]["template"]["spec"]) == ("admin", "tongxin-kafka-admin")


# ---------------------------------------------------------------------------------------------
# Compose
# ---------------------------------------------------------------------------------------------


def compose_schema() -> dict[str, Any]:
    import check_jsonschema

    vendored = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor"
    return json.loads((vendored / "compose-spec.json").read_text())  # type: ignore[no-any-return]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def compose_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    assert compose_errors(compose()) == []


def test_compose_schema_check_rejects_a_misspelt_key() -> None:
    broken = compose()
    broken["services"]["needs"]["healtcheck"] = broken["services"]["needs"].pop("healthcheck")
    assert any("healtcheck" in error for error in compose_errors(broken))


def test_compose_runs_a_district_on_kafka_kraft_and_a_mongodb_replica_set() -> None:
    services = compose()["services"]
    assert set(services) == {
        *SERVICE_PORTS,
        "kafka-format",
        "kafka",
        "kafka-setup",
        "mongodb",
        "prometheus",
        "blackbox",
        "grafana",
        "gateway",
    }
    kafka = services["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.\d+\.\d+", kafka["image"])
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "ZOOKEEPER" not in json.dumps(kafka).upper()
    mongodb = services["mongodb"]
    assert mongodb["image"].startswith("mongo:7")
    assert mongodb["command"][:2] == ["--replSet", "rs0"]
    assert "rs.initiate" in " ".join(mongodb["healthcheck"]["test"])
    for name, port in SERVICE_PORTS.items():
        service = services[name]
        assert service["command"] == ["serve", name, "--host", "0.0.0.0"]
        assert service["ports"][0].endswith(f":{port}")
        assert service["environment"]["TONGXIN_PHONE_LINK_KEY"].startswith(
            "${TONGXIN_PHONE_LINK_KEY:?"
        )
        assert "/.well-known/jwks.json" in service["environment"]["TONGXIN_JWKS_URL"]
        assert service["environment"]["TONGXIN_PROFILE"] == "prod"
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert service["depends_on"]["mongodb"]["condition"] == "service_healthy"
        assert service["healthcheck"]["test"] == ["CMD", "tongxin", "healthcheck"]


def test_compose_kafka_admits_scram_users_with_acls_only() -> None:
    """Issue 19: no listener a client reaches without SASL/SCRAM, nothing without an ACL, each
    service its own user (made at format time) and the ACLs set before the services start."""
    services = compose()["services"]
    kafka = services["kafka"]["environment"]
    protocols = dict(p.split(":") for p in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    for listener in kafka["KAFKA_LISTENERS"].split(","):
        name, address = listener.split("://")
        assert protocols[name].startswith("SASL_") or address.startswith("localhost:"), listener
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert kafka["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
    assert "--command-config" in " ".join(services["kafka"]["healthcheck"]["test"])
    fmt = services["kafka-format"]["command"][0]
    setup = services["kafka-setup"]
    assert setup["command"] == ["kafka", "setup"]
    assert setup["environment"]["TONGXIN_KAFKA_USERNAME"] == "admin"
    for name in ["admin", *SERVICE_PORTS]:
        assert f"SCRAM-SHA-512=[name={name},password=$$KAFKA_{name.upper()}_PASSWORD]" in fmt
    for name in SERVICE_PORTS:
        env = services[name]["environment"]
        assert env["TONGXIN_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["TONGXIN_KAFKA_USERNAME"] == name
        assert env["TONGXIN_KAFKA_PASSWORD"].startswith(f"${{KAFKA_{name.upper()}_PASSWORD:?")
        assert env["TONGXIN_KAFKA_CREATE_TOPICS"] == "false"
        assert services[name]["depends_on"]["kafka-setup"]["condition"] == (
            "service_completed_successfully"
        )
    assert services["notify"]["environment"]["TONGXIN_DISTRICT_STREAMS"] == "true"


def test_compose_mounts_the_prometheus_rules_and_grafana_dashboards_that_exist() -> None:
    services = compose()["services"]
    mounts = {
        target: (DEPLOY / source).resolve()
        for name in ("prometheus", "grafana")
        for source, target, *_ in (v.split(":") for v in services[name]["volumes"])
        if source.startswith("./")
    }
    assert set(mounts) == {
        "/etc/prometheus/prometheus.yml",
        "/etc/prometheus/alerts.yml",
        "/etc/grafana/provisioning",
        "/var/lib/grafana/dashboards",
    }
    missing = [str(path) for path in mounts.values() if not path.exists()]
    assert missing == [], "the metrics issue's Prometheus/Grafana files are not there yet"
    # Grafana's dashboard provider must read where the dashboards are mounted.
    providers = [
        provider
        for path in (DEPLOY / "grafana" / "provisioning" / "dashboards").glob("*.y*ml")
        for provider in (yaml.safe_load(path.read_text()) or {}).get("providers", [])
    ]
    assert providers and all(
        p["options"]["path"].startswith("/var/lib/grafana/dashboards") for p in providers
    )
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    for rule_file in prometheus.get("rule_files", []):
        assert rule_file in ("alerts.yml", "/etc/prometheus/alerts.yml")


# ---------------------------------------------------------------------------------------------
# Settings, image
# ---------------------------------------------------------------------------------------------


def env_example() -> dict[str, tuple[bool, str, str]]:
    """TONGXIN_* variable -> (commented out, value, the comment above it)."""
    found: dict[str, tuple[bool, str, str]] = {}
    comment: list[str] = []
    for line in (DEPLOY / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"(# )?(TONGXIN_[A-Z0-9_]+)=(.*)", line)
        if match:
            found[match.group(2)] = (bool(match.group(1)), match.group(3), " ".join(comment))
        elif line.startswith("# "):
            comment.append(line[2:])
            continue
        comment = []
    return found


def test_env_example_documents_every_setting_with_its_default() -> None:
    documented = env_example()
    fields = Settings.model_fields
    missing = [
        f"TONGXIN_{name.upper()}" for name in fields if f"TONGXIN_{name.upper()}" not in documented
    ]
    assert missing == [], "document these settings in deploy/.env.example"
    defaults = Settings.model_validate({})  # the code's defaults, whatever the environment
    for name, field in fields.items():
        commented, value, comment = documented[f"TONGXIN_{name.upper()}"]
        assert comment.strip(), f"TONGXIN_{name.upper()} has no explanation"
        if os.environ.get(f"TONGXIN_{name.upper()}") is not None:
            continue  # set in this shell (e.g. TONGXIN_VAR_DIR): the default is not seen
        if commented and field.default is not None:
            # The documented default is the real one (parsed as the service would parse it).
            parsed = Settings.model_validate({name: yaml.safe_load(value) if value else value})
            assert getattr(parsed, name) == getattr(defaults, name), name


def test_env_example_and_compose_bake_in_no_secret() -> None:
    documented = env_example()
    link = documented["TONGXIN_PHONE_LINK_KEY"]
    assert link == (False, "", link[2])
    assert documented["TONGXIN_SMTP_PASSWORD"][1] == ""
    assert re.search(r"^GRAFANA_ADMIN_PASSWORD=$", (DEPLOY / ".env.example").read_text(), re.M)
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "${GRAFANA_ADMIN_PASSWORD:?" in text
    assert "tongxin-dev-" not in text


def dockerfile_stages() -> list[list[str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        elif stages:
            stages[-1].append(line)
    return stages


def test_image_is_multi_stage_non_root_with_a_healthcheck_and_no_build_tools() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    users = [line.split()[1] for line in final if line.upper().startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") and "tongxin" in line for line in final)
    assert 'ENTRYPOINT ["tongxin"]' in final
    assert any(line.startswith("COPY --from=build") for line in final)
    build_tools = re.compile(r"\b(gcc|g\+\+|make|build-essential|pip install|apt-get install)\b")
    assert not [line for line in final if build_tools.search(line)]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ignored[ignored.index("*") :][:1] == ["*"]  # everything out, then only what is needed


def test_healthcheck_finds_the_port_of_the_service_its_container_serves() -> None:
    cmdline = ["/opt/tongxin/bin/python", "/opt/tongxin/bin/tongxin", "serve", "notify"]
    assert served_port([*cmdline, "--host", "0.0.0.0"]) == SERVICE_PORTS["notify"]
    assert served_port([*cmdline, "--port", "9100"]) == 9100
    assert served_port([*cmdline, "--port=9101"]) == 9101
    assert served_port(["tongxin", "run"]) is None


def test_compose_gateway_fills_every_placeholder_of_the_template_and_routes_each_service() -> None:
    gateway = compose()["services"]["gateway"]
    template = (DEPLOY / "gateway" / "tongxin.conf.template").read_text()
    placeholders = set(re.findall(r"\$\{([A-Z_]+)\}", template))
    assert placeholders and placeholders <= set(gateway["environment"])
    for name, port in SERVICE_PORTS.items():
        assert gateway["environment"][f"{name.upper()}_UPSTREAM"] == f"{name}:{port}"
        assert f"location /api/{name}/ {{ proxy_pass http://tongxin_{name}/;" in template
    mounted = {v.split(":")[0] for v in gateway["volumes"]}
    assert all((DEPLOY / m).exists() for m in mounted if m.startswith("./gateway"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_runs_the_gateway_from_the_same_config_files_as_compose(overlay: str) -> None:
    docs = manifests(overlay)
    deployment = of_kind(docs, "Deployment")["gateway"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    # The ConfigMap holds deploy/gateway/'s files byte for byte, mounted where they include
    # each other (${GATEWAY_CONF_DIR}) and where the image's entrypoint renders the template.
    (volume,) = [v for v in pod["volumes"] if "configMap" in v]
    config = of_kind(docs, "ConfigMap")[volume["configMap"]["name"]]
    files = ("tongxin.conf.template", "proxy.conf", "security-headers.conf")
    assert config["data"] == {f: (DEPLOY / "gateway" / f).read_text() for f in files}
    env = {e["name"]: e["value"] for e in container["env"]}
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["mountPath"] == env["GATEWAY_CONF_DIR"] == env["NGINX_ENVSUBST_TEMPLATE_DIR"]
    # Every placeholder filled, each service routed to its Service, like docker-compose does.
    template = config["data"]["tongxin.conf.template"]
    assert set(re.findall(r"\$\{([A-Z_]+)\}", template)) <= set(env)
    assert env == compose()["services"]["gateway"]["environment"]
    k8s_services = of_kind(docs, "Service")
    for name, port in SERVICE_PORTS.items():
        assert env[f"{name.upper()}_UPSTREAM"] == f"{name}:{port}"
        assert k8s_services[name]["spec"]["ports"][0]["port"] == port
    assert "proxy_buffering off;" in config["data"]["proxy.conf"]  # the inbox's SSE streams
    headers = config["data"]["security-headers.conf"]
    assert "script-src 'self';" in headers and "frame-ancestors 'none'" in headers
    assert "X-Content-Type-Options" in headers
    # Reachable, probed, unprivileged on a read-only root, the image's port-80 server gone.
    service = k8s_services["gateway"]
    assert service["spec"]["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]
    assert container["ports"] == [{"name": "http", "containerPort": int(env["GATEWAY_LISTEN"])}]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert writable == {env["NGINX_ENVSUBST_OUTPUT_DIR"], "/var/cache/nginx", "/tmp"}
    assert container["image"].startswith("tongxin-gateway:")
    assert "envFrom" not in container  # no service settings, no secrets in the gateway
    pdb = of_kind(docs, "PodDisruptionBudget")["gateway"]
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


def test_gateway_image_builds_the_apps_and_runs_nginx_unprivileged() -> None:
    text = (DEPLOY / "gateway" / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages[0].startswith("node:") and stages[-1].startswith("nginx:1.27-bookworm")
    assert "npm ci" in text and "COPY --from=web /src/web/dist /srv/tongxin/web" in text
    assert re.search(r"^USER 101", text, re.M)
    ignored = (DEPLOY / "gateway" / "Dockerfile.dockerignore").read_text().split()
    assert ignored[ignored.index("*") :][:2] == ["*", "!web/"] and "web/node_modules" in ignored
    gateway = compose()["services"]["gateway"]
    assert gateway["build"]["dockerfile"] == "deploy/gateway/Dockerfile"
