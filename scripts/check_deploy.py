"""Checks Herald's Kubernetes manifests and the coverage of its alert rules' tests; run by
scripts/check-deploy in its virtual environment (kubernetes-validate, jsonschema, PyYAML).

- Every document of every YAML file under deploy/k8s and deploy/k8s-keda (kustomization.yaml
  files aside) is validated against Kubernetes' own JSON schemas, strictly (an unknown field
  is an error, as `kubectl apply --validate=strict` would say), for the oldest and the newest
  Kubernetes these manifests are for (K8S_VERSIONS). Schemas come with kubernetes-validate,
  so nothing is downloaded. A custom resource (KEDA's ScaledObject) is validated against the
  openAPIV3Schema of its CRD, vendored under deploy/schemas, made strict the same way, with
  its metadata checked as Kubernetes' ObjectMeta.
- Each kustomization (deploy/k8s, deploy/k8s-keda) is rendered: by `kubectl kustomize` when
  kubectl is installed, otherwise by a small renderer of what these kustomizations use
  (resources, `$patch: delete` patches, images); when kubectl is there, both renderings must
  name the same objects. The rendered set is then checked for what a schema cannot see: probes
  and the Prometheus port name a port the container declares, Services select a workload and
  target a port it has, PodDisruptionBudgets select a workload, every autoscaler targets an
  existing Deployment and no Deployment has two, and every workload run with more than one
  replica has a PodDisruptionBudget and spreads over zones.
- deploy/prometheus/alerts.test.yaml has, for every alert of alerts.yaml, a case where it
  fires and one where it does not, and names no alert that does not exist (promtool itself
  passes a test of a misspelt alert that expects nothing).
- Every query of the Grafana dashboards (deploy/grafana/*.json) is PromQL that promtool
  parses (Grafana's $__rate_interval, $__interval and $__range made 5m). Which metrics they
  name is tests/tests/deploy_metrics.rs's business.

Usage: check_deploy.py (from anywhere; paths are the repository's). Exits 1 listing every
problem found.
"""

import copy
import functools
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

ROOT = pathlib.Path(__file__).resolve().parent.parent
# Oldest and newest Kubernetes the manifests are for. The oldest: policy/v1 and autoscaling/v2
# are GA, and topologySpreadConstraints' matchLabelKeys is on by default (1.27, beta).
K8S_VERSIONS = ["1.29.0", kv.latest_version()]
MANIFEST_DIRS = ["deploy/k8s", "deploy/k8s-keda"]
KUSTOMIZATIONS = ["deploy/k8s", "deploy/k8s-keda"]
# Files in a kustomization's directory deliberately not in its resources (see their comments).
NOT_IN_KUSTOMIZATION = {"deploy/k8s/migrate-job.yaml", "deploy/k8s/secret.example.yaml"}
CRDS = ["deploy/schemas/keda.sh_scaledobjects.yaml"]
ALERTS = "deploy/prometheus/alerts.yaml"
ALERT_TESTS = "deploy/prometheus/alerts.test.yaml"
DASHBOARDS = "deploy/grafana"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
WORKLOADS = {"Deployment", "StatefulSet"}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def rel(path):
    return str(pathlib.Path(path).resolve().relative_to(ROOT))


def load_documents(path):
    """The non-empty YAML documents of `path`, each with where it came from."""
    with open(path) as f:
        try:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            problem(rel(path), f"not YAML: {e}")
            return []
    out = []
    for i, doc in enumerate(docs):
        where = f"{rel(path)} (document {i + 1})"
        if not isinstance(doc, dict) or not all(k in doc for k in ("apiVersion", "kind")):
            problem(where, "not a Kubernetes object (no apiVersion and kind)")
            continue
        name = (doc.get("metadata") or {}).get("name")
        if not name:
            problem(where, "no metadata.name")
            continue
        out.append((f"{rel(path)}: {doc['kind']} {name}", doc))
    return out


# --- schemas ----------------------------------------------------------------------------------


@functools.cache
def definitions(version):
    """Kubernetes' shared definitions (ObjectMeta, …) of `version`, strict."""
    return kv.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version
    )


def strict(schema):
    """A CRD's structural schema with unknown fields refused: every object that lists its
    properties and says nothing of others (nor preserves unknown fields) gets
    additionalProperties: false."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


def crd_validators():
    """(apiVersion, kind) -> a function returning the schema errors of an object, per version."""
    out = {}
    for path in CRDS:
        for _, crd in load_documents(ROOT / path):
            if crd["kind"] != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                api_version = f"{group}/{version['name']}"
                schema = strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
                schema["properties"]["apiVersion"] = {"enum": [api_version]}
                schema["properties"]["kind"] = {"enum": [kind]}
                schema["properties"]["metadata"] = {
                    "$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{OBJECT_META}"
                }
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                out[(api_version, kind)] = schema
    return out


def schema_errors(doc, version, crds):
    """Every way `doc` breaks its schema for Kubernetes `version` (empty when it is valid)."""
    key = (doc["apiVersion"], doc["kind"])
    if key in crds:
        defs = definitions(version)
        registry = referencing.Resource.from_contents(defs) @ referencing.Registry()
        validator = jsonschema.Draft202012Validator(crds[key], registry=registry)
        errors = [f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                  for e in validator.iter_errors(doc)]
        # The CRD's one CEL rule (x-kubernetes-validations), which JSON Schema cannot state.
        spec = doc.get("spec") or {}
        if doc["kind"] == "ScaledObject" and spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
            errors.append("spec: minReplicaCount must be less than or equal to maxReplicaCount")
        return errors
    try:
        kv.validate(doc, version, strict=True)
        return []
    except kv.ValidationError as e:
        return [f"{'.'.join(map(str, e.path)) or '(top)'}: {e.message}"]
    except kv.SchemaNotFoundError as e:
        return [e.message + " (a custom resource needs its CRD under deploy/schemas)"]


def check_schemas(manifests):
    crds = crd_validators()
    for where, doc in manifests:
        for version in K8S_VERSIONS:
            for error in schema_errors(doc, version, crds):
                problem(where, f"invalid for Kubernetes {kv.major_minor(version)}: {error}")


# --- kustomize ----------------------------------------------------------------------------------


def render_lite(directory, seen=()):
    """The objects kustomization.yaml in `directory` renders to, for the part of kustomize these
    kustomizations use: resources (files and directories), patches that delete an object, and
    images. Anything else is reported, so that a new feature gets rendered by the real thing
    (install kubectl) or added here."""
    directory = pathlib.Path(directory).resolve()
    if directory in seen:
        problem(rel(directory), "kustomization cycle")
        return []
    kfile = directory / "kustomization.yaml"
    if not kfile.exists():
        problem(rel(directory), "no kustomization.yaml")
        return []
    k = yaml.safe_load(kfile.read_text()) or {}
    supported = {"apiVersion", "kind", "resources", "patches", "images"}
    for key in set(k) - supported:
        problem(rel(kfile), f"`{key}` is beyond scripts/check_deploy.py's renderer: install kubectl")
    objects = []
    for resource in k.get("resources", []):
        path = directory / resource
        if path.is_dir():
            objects += render_lite(path, seen + (directory,))
        elif path.is_file():
            objects += [doc for _, doc in load_documents(path)]
        else:
            problem(rel(kfile), f"resource {resource} does not exist")
    for patch in k.get("patches", []):
        body = yaml.safe_load(patch.get("patch", "")) if isinstance(patch, dict) else None
        if not isinstance(body, dict) or body.get("$patch") != "delete" or set(patch) != {"patch"}:
            problem(rel(kfile), "only inline `$patch: delete` patches are understood here: install kubectl")
            continue
        target = (body.get("apiVersion"), body.get("kind"), body["metadata"]["name"])
        kept = [o for o in objects if (o["apiVersion"], o["kind"], o["metadata"]["name"]) != target]
        if len(kept) == len(objects):
            problem(rel(kfile), f"the patch deletes {target[1]} {target[2]}, which is not in the resources")
        objects = kept
    for image in k.get("images", []):
        for o in objects:
            for c in pod_spec(o).get("containers", []):
                name, _, tag = c.get("image", "").partition(":")
                if name == image["name"]:
                    c["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
    return objects


def render(directory):
    lite = render_lite(ROOT / directory)
    kubectl = shutil.which("kubectl")
    if not kubectl:
        return lite, "its own renderer (kubectl is not installed)"
    run = subprocess.run([kubectl, "kustomize", str(ROOT / directory)], capture_output=True, text=True)
    if run.returncode != 0:
        problem(directory, f"kubectl kustomize failed: {run.stderr.strip()}")
        return lite, "kubectl kustomize"
    rendered = [d for d in yaml.safe_load_all(run.stdout) if d]
    names = lambda objs: sorted((o["kind"], o["metadata"]["name"]) for o in objs)  # noqa: E731
    if names(rendered) != names(lite):
        problem(directory, f"kubectl kustomize renders {names(rendered)}, scripts/check_deploy.py {names(lite)}")
    return rendered, "kubectl kustomize"


def check_kustomization_lists_files(directory):
    k = yaml.safe_load((ROOT / directory / "kustomization.yaml").read_text()) or {}
    listed = {str((pathlib.Path(directory) / r)) for r in k.get("resources", [])}
    for path in sorted((ROOT / directory).glob("*.yaml")):
        name = rel(path)
        if path.name != "kustomization.yaml" and name not in listed and name not in NOT_IN_KUSTOMIZATION:
            problem(directory, f"{path.name} is not in kustomization.yaml's resources")


# --- what the rendered objects say about each other -----------------------------------------------


def pod_spec(o):
    if o["kind"] in WORKLOADS or o["kind"] == "Job":
        return o["spec"]["template"]["spec"]
    return {}


def pod_labels(o):
    return o["spec"]["template"]["metadata"].get("labels", {})


def selects(selector, labels):
    match = (selector or {}).get("matchLabels", selector or {})
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def check_references(directory, objects):
    workloads = [o for o in objects if o["kind"] in WORKLOADS]
    by_name = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    for w in workloads:
        where = f"{directory}: {w['kind']} {w['metadata']['name']}"
        ports = {}
        for c in pod_spec(w)["containers"]:
            for p in c.get("ports", []):
                ports[p.get("name")] = p["containerPort"]
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                port = ((c.get(probe) or {}).get("httpGet") or {}).get("port")
                if port is not None and port not in ports and port not in ports.values():
                    problem(where, f"{c['name']}'s {probe} uses port {port}, which it does not declare")
        annotations = w["spec"]["template"]["metadata"].get("annotations", {})
        scrape = annotations.get("prometheus.io/port")
        if scrape is not None and scrape not in {str(p) for p in ports.values()}:
            problem(where, f"prometheus.io/port {scrape} is not a port of its containers")
    for s in (o for o in objects if o["kind"] == "Service"):
        where = f"{directory}: Service {s['metadata']['name']}"
        targets = [w for w in workloads if selects(s["spec"].get("selector"), pod_labels(w))]
        if not targets:
            problem(where, "selects no workload")
        for w in targets:
            names = {p.get("name") for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
            numbers = {p["containerPort"] for c in pod_spec(w)["containers"] for p in c.get("ports", [])}
            for p in s["spec"]["ports"]:
                target = p.get("targetPort", p["port"])
                if target not in names and target not in numbers:
                    problem(where, f"port {p['port']} targets {target}, which {w['metadata']['name']} does not declare")
    budgets = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    for b in budgets:
        if not any(selects(b["spec"]["selector"], pod_labels(w)) for w in workloads):
            problem(f"{directory}: PodDisruptionBudget {b['metadata']['name']}", "selects no workload")
    owners = {}
    for a in (o for o in objects if o["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")):
        target = a["spec"]["scaleTargetRef"]
        key = (target.get("kind", "Deployment"), target["name"])
        if key not in by_name:
            problem(f"{directory}: {a['kind']} {a['metadata']['name']}", f"targets {key[0]} {key[1]}, which does not exist")
        owners.setdefault(key, []).append(f"{a['kind']} {a['metadata']['name']}")
    for key, autoscalers in owners.items():
        if len(autoscalers) > 1:
            problem(directory, f"{key[0]} {key[1]} has two autoscalers: {', '.join(autoscalers)}")
    for w in workloads:
        key = (w["kind"], w["metadata"]["name"])
        if w["spec"].get("replicas", 1) < 2 and key not in owners:
            continue
        where = f"{directory}: {w['kind']} {w['metadata']['name']}"
        if not any(selects(b["spec"]["selector"], pod_labels(w)) for b in budgets):
            problem(where, "runs several replicas without a PodDisruptionBudget")
        spread = pod_spec(w).get("topologySpreadConstraints", [])
        anti = pod_spec(w).get("affinity", {}).get("podAntiAffinity")
        if w["kind"] == "Deployment" and not any(
            c["topologyKey"] == "topology.kubernetes.io/zone" for c in spread
        ):
            problem(where, "runs several replicas without spreading them over zones")
        if not spread and not anti:
            problem(where, "runs several replicas without spreading them over nodes")


# --- alert tests --------------------------------------------------------------------------------


def check_alert_tests():
    rules = yaml.safe_load((ROOT / ALERTS).read_text())
    alerts = [r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r]
    tests = yaml.safe_load((ROOT / ALERT_TESTS).read_text())
    fires, quiet = set(), set()
    for test in tests.get("tests", []):
        for case in test.get("alert_rule_test", []):
            name = case["alertname"]
            if name not in alerts:
                problem(ALERT_TESTS, f"tests {name}, which {ALERTS} does not define")
            (fires if case.get("exp_alerts") else quiet).add(name)
    for name in alerts:
        if name not in fires:
            problem(ALERT_TESTS, f"no case where {name} fires")
        if name not in quiet:
            problem(ALERT_TESTS, f"no case where {name} does not fire")
    return len(alerts)


# --- dashboards ---------------------------------------------------------------------------------


def dashboard_queries(dashboard):
    """(panel title, expr) of every target of every panel, rows' nested panels included."""
    out = []
    for panel in dashboard.get("panels", []):
        for inner in [panel] + panel.get("panels", []):
            for target in inner.get("targets", []):
                out.append((inner.get("title", "?"), target.get("expr", "")))
    return out


def check_dashboards():
    promtool = shutil.which("promtool")
    if not promtool:
        problem(DASHBOARDS, "promtool is not installed (scripts/ensure-services --promtool)")
        return 0
    rules, where = [], []
    for path in sorted((ROOT / DASHBOARDS).glob("*.json")):
        try:
            dashboard = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            problem(rel(path), f"not JSON: {e}")
            continue
        for title, expr in dashboard_queries(dashboard):
            if not expr.strip():
                problem(rel(path), f"panel {title!r} has a target without a query")
                continue
            expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
            rules.append({"record": f"dashboard:query_{len(rules)}", "expr": expr})
            where.append(f"{rel(path)}, panel {title!r}")
    if not rules:
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, f)
        f.flush()
        run = subprocess.run([promtool, "check", "rules", f.name], capture_output=True, text=True)
    if run.returncode != 0:
        for line in (run.stdout + run.stderr).splitlines():
            found = re.search(r"group \"dashboards\", rule (\d+)", line)
            at = where[int(found.group(1)) - 1] if found else DASHBOARDS
            if line.strip() and not line.startswith(("Checking", "FAILED", "  SUCCESS")):
                problem(at, f"promtool: {line.strip()}")
    return len(rules)


def main():
    manifests = []
    for directory in MANIFEST_DIRS:
        for path in sorted((ROOT / directory).rglob("*.yaml")):
            if path.name != "kustomization.yaml":
                manifests += load_documents(path)
    alerts = check_alert_tests()
    queries = check_dashboards()
    check_schemas(manifests)
    how = {}
    # The cross-checks read the objects as their schemas describe them.
    if not problems:
        for directory in KUSTOMIZATIONS:
            check_kustomization_lists_files(directory)
            objects, how[directory] = render(directory)
            check_references(directory, objects)
    if problems:
        for p in problems:
            print(f"check-deploy: {p}", file=sys.stderr)
        sys.exit(f"check-deploy: {len(problems)} problem(s) in the deployment files")
    versions = " and ".join(kv.major_minor(v) for v in K8S_VERSIONS)
    print(
        f"check-deploy: {len(manifests)} Kubernetes objects valid for Kubernetes {versions} "
        f"(strict); {', '.join(f'{d} rendered by {h}' for d, h in how.items())}; "
        f"{alerts} alerts each tested firing and not firing; {queries} dashboard queries parse",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
