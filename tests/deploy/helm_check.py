"""The Helm chart, offline: linted strictly (Helm v4's library, helm-python-sdk),
rendered with its defaults and with every optional part on, each manifest
validated strictly against the Kubernetes schemas (kubernetes-validate; the
ServiceMonitor and KEDA ScaledObject are custom resources it has no schema for,
checked here by hand), and the invariants of a stateless deployment asserted.

    python3 tests/deploy/helm_check.py deploy/helm/hysope
"""
import json
import subprocess
import sys
import tempfile

import helm_python as helm
import yaml

chart_dir = sys.argv[1]
KUBE = "1.30.0"

report = helm.lint(chart_dir, strict=True, kube_version=f"v{KUBE}")
problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
assert not problems and not report.get("errors"), json.dumps(report, indent=1)

chart = helm.Chart.load(chart_dir)
everything = {
    "serviceMonitor": {"enabled": True},
    "worker": {"queueScaler": {"enabled": True}},
    "networkPolicy": {"ingressNamespaces": ["ingress-nginx"], "egressCIDRs": ["10.0.0.0/8"]},
    "config": {"oidc": {"issuer": "https://auth.example.org/realms/hysope", "audience": "hysope"},
               "s3Endpoint": "http://seaweedfs:8333", "allowedHosts": "hysope.example.org"},
}


def manifests(values):
    out = []
    for path, text in chart.render(values, name="swot", namespace="hydro", is_install=True).items():
        if not path.endswith((".yaml", ".yml")):
            continue
        out.extend(d for d in yaml.safe_load_all(text) if d)
    return out


CUSTOM = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("keda.sh/v1alpha1", "ScaledObject")}

for name, values in [("defaults", None), ("everything on", everything)]:
    docs = manifests(values)
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    standard = [d for d in docs if (d["apiVersion"], d["kind"]) not in CUSTOM]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        yaml.safe_dump_all(standard, f)
        f.flush()
        run = subprocess.run(
            [sys.executable, "-m", "kubernetes_validate", "--strict", "-k", KUBE, "--quiet", f.name],
            capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr

    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    gateway = by[("Deployment", "swot-hysope-gateway")]
    worker = by[("Deployment", "swot-hysope-worker")]
    for deployment in (gateway, worker):
        pod = deployment["spec"]["template"]["spec"]
        for c in pod["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert c.get(probe), f"{deployment['metadata']['name']}: no {probe}"
            assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            names = {e["name"] for e in c.get("env", [])}
            for var in ("HYSOPE_STORE", "HYSOPE_QUEUE", "HYSOPE_CATALOG"):
                assert var in names, f"{c['name']}: {var}"
                ref = next(e for e in c["env"] if e["name"] == var)
                assert "secretKeyRef" in ref["valueFrom"], f"{var} not from a Secret"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        # Stateless: scratch only, nothing that outlives the pod.
        for v in pod.get("volumes", []):
            assert set(v) == {"name", "emptyDir"}, f"{deployment['metadata']['name']}: volume {v}"
    assert gateway["spec"]["template"]["spec"]["containers"][0]["args"][0] == "serve"
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"][0] == "worker"
    # Gateways share the registry's records (PostgreSQL): its blobs are shared too.
    config = by[("ConfigMap", "swot-hysope")]["data"]
    assert config["HYSOPE_REGISTRY_BLOBS"].startswith("s3://"), config
    # A worker outlives its lease when stopped.
    lease = chart.values["config"]["lease"]
    assert lease.endswith("s")
    assert worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > int(lease[:-1])
    assert ("PodDisruptionBudget", "swot-hysope-gateway") in by
    assert ("PodDisruptionBudget", "swot-hysope-worker") in by
    assert ("HorizontalPodAutoscaler", "swot-hysope-gateway") in by
    assert ("NetworkPolicy", "swot-hysope-gateway") in by and ("NetworkPolicy", "swot-hysope-worker") in by
    assert ("Service", "swot-hysope") in by
    if values:
        monitor = by[("ServiceMonitor", "swot-hysope")]
        ports = {e["port"] for e in monitor["spec"]["endpoints"]}
        assert ports == {"http", "metrics"}, ports
        assert all(e["authorization"]["credentials"]["name"] for e in monitor["spec"]["endpoints"])
        scaler = by[("ScaledObject", "swot-hysope-worker")]
        assert scaler["spec"]["scaleTargetRef"]["name"] == "swot-hysope-worker"
        assert scaler["spec"]["triggers"][0]["type"] == "rabbitmq"
        # The workers' replicas are the scaler's, the gateways' the autoscaler's.
        assert "replicas" not in worker["spec"] and "replicas" not in gateway["spec"]
        net = by[("NetworkPolicy", "swot-hysope-gateway")]
        assert net["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
    print(f"helm chart ({name}): linted, {len(docs)} manifests valid for Kubernetes {KUBE}: {', '.join(kinds)}")
