"""The ORAS Python client (PyPI `oras`) against Hysope's plugin registry.

Usage: oras_client.py URL ECHO_WASM ECHO_CWL DORA_TOKEN BOB_TOKEN OPERATOR_TOKEN WORK

dora (a developer whose SSH key is registered) pushes the echo component signed
with `ssh-keygen -Y sign -n hysope-component`, its CWL descriptor in the manifest's
annotations; oras pulls it back byte for byte; a second signature is attached as a
referrer (a manifest with a subject). Refused pushes are answered with the OCI
error code that says why, and store nothing.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import oras.client
import oras.container
import oras.oci
import requests

url, wasm, cwl_path, dora, bob, operator, work = sys.argv[1:]
host = url.split("://", 1)[1]
os.chdir(work)
shutil.copy(wasm, "echo.wasm")
with open("config.json", "w") as f:
    f.write("{}")
cwl = open(cwl_path).read()


def sign(key, path, namespace="hysope-component"):
    subprocess.run(["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", key, path],
                   check=True, capture_output=True)
    with open(path + ".sig") as f:
        text = f.read()
    os.remove(path + ".sig")
    return text


def client(user, token):
    c = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="basic")
    c.auth.set_basic_auth(user, token)
    return c


def push(c, target, files, annotations, subject=None):
    return c.push(target=target, files=files, manifest_config="config.json:application/vnd.wasm.config.v0+json",
                  manifest_annotations=annotations, disable_path_validation=True, subject=subject)


def manifest_put(c, target, layers_files, annotations):
    """Uploads the blobs, then PUTs a manifest; the raw response (to read its code)."""
    container = c.get_container(target)
    manifest = oras.oci.NewManifest()
    for path in layers_files:
        layer = oras.oci.NewLayer(path, media_type="application/wasm")
        c._check_200_response(c.upload_blob(path, container, layer))
        manifest["layers"].append(layer)
    conf, _ = oras.oci.ManifestConfig("config.json", "application/vnd.wasm.config.v0+json")
    c._check_200_response(c.upload_blob("config.json", container, conf))
    manifest["config"] = conf
    manifest["annotations"] = annotations
    return c.upload_manifest(manifest, container)


def code(response):
    return response.json()["errors"][0]["code"], response.json()["errors"][0]["message"]


as_dora = client("dora", dora)
target = f"{host}/dora/echo:1.0.0"
good_sig = sign(os.path.join(work, "dora"), "echo.wasm")

# Refused pushes, each with its code; nothing is stored.
refusals = [
    ("unsigned", manifest_put(as_dora, target, ["echo.wasm"], {"dev.hysope.cwl": cwl}), "DENIED", "not signed"),
    ("signed by bob's key", manifest_put(as_dora, target, ["echo.wasm"],
        {"dev.hysope.cwl": cwl, "dev.hysope.signature": sign(os.path.join(work, "bob"), "echo.wasm")}), "DENIED", "not registered"),
    ("signed for git", manifest_put(as_dora, target, ["echo.wasm"],
        {"dev.hysope.cwl": cwl, "dev.hysope.signature": sign(os.path.join(work, "dora"), "echo.wasm", "git")}), "DENIED", "made for"),
    ("two layers", manifest_put(as_dora, target, ["echo.wasm", "config.json"],
        {"dev.hysope.cwl": cwl, "dev.hysope.signature": good_sig}), "MANIFEST_INVALID", "one layer"),
]
with open("notwasm.wasm", "w") as f:
    f.write("this is not a component")
refusals.append(("not a component", manifest_put(as_dora, target, ["notwasm.wasm"],
    {"dev.hysope.cwl": cwl, "dev.hysope.signature": sign(os.path.join(work, "dora"), "notwasm.wasm")}),
    "MANIFEST_INVALID", "not a WebAssembly component"))
for what, response, expected, says in refusals:
    got, message = code(response)
    assert response.status_code in (400, 403), (what, response.status_code, response.text)
    assert got == expected, (what, got, message)
    assert says in message, (what, message)
    print(f"refused ({what}): {got}: {message}")
tags = requests.get(f"{url}/v2/dora/echo/tags/list", headers={"Authorization": f"Bearer {dora}"})
assert tags.status_code == 404, tags.text

# The signed push, by oras itself.
response = push(as_dora, target, ["echo.wasm:application/wasm"],
                {"dev.hysope.cwl": cwl, "dev.hysope.signature": good_sig})
assert response.status_code == 201, response.text
digest = response.headers["Docker-Content-Digest"]
print("pushed", target, digest)

# A re-push of the version with other bytes is refused.
with open("echo2.wasm", "wb") as f:
    f.write(open("echo.wasm", "rb").read())
response = manifest_put(as_dora, target, ["echo2.wasm"], {"dev.hysope.cwl": cwl.replace("Returns", "Gives"),
                                                         "dev.hysope.signature": good_sig})
assert code(response)[0] == "DENIED" and "never changes" in code(response)[1], response.text

# Pull it back (its namespace may, before review).
files = as_dora.pull(target=target, outdir=os.path.join(work, "pulled"))
pulled = open(files[0], "rb").read()
assert hashlib.sha256(pulled).digest() == hashlib.sha256(open(wasm, "rb").read()).digest()
print("pulled", files[0], len(pulled), "bytes")

# Another user pulls nothing before review; after approval, anyone may.
as_bob = client("bob", bob)
try:
    as_bob.pull(target=target, outdir=os.path.join(work, "bob-pulled"))
    raise SystemExit("bob pulled a version waiting for review")
except Exception:  # oras raises on the 404
    pass
r = requests.post(f"{url}/registry/packages/dora/echo/versions/1.0.0/review",
                  headers={"Authorization": f"Bearer {operator}"},
                  json={"action": "approve", "reason": "checked by the oras test"})
assert r.status_code == 200 and r.json()["state"] == "approved", r.text
anonymous = oras.client.OrasClient(hostname=host, insecure=True)
files = anonymous.pull(target=target, outdir=os.path.join(work, "anon-pulled"))
assert open(files[0], "rb").read() == pulled

# Attach a second signature (a referrer of the manifest), as `oras attach` does.
manifest = as_dora.get_manifest(as_dora.get_container(target))
with open("echo.wasm.sshsig", "w") as f:
    f.write(sign(os.path.join(work, "dora"), "echo.wasm"))
subject = oras.oci.Subject(mediaType="application/vnd.oci.image.manifest.v1+json", digest=digest,
                           size=len(json.dumps(manifest).encode()))
# The subject's size is that of the stored bytes.
raw = requests.get(f"{url}/v2/dora/echo/manifests/1.0.0").content
subject.size = len(raw)
container = as_dora.get_container(f"{host}/dora/echo@sha256:{'0' * 64}")
layer = oras.oci.NewLayer("echo.wasm.sshsig", media_type="application/vnd.hysope.signature.v1+sshsig")
as_dora._check_200_response(as_dora.upload_blob("echo.wasm.sshsig", container, layer))
empty, _ = oras.oci.ManifestConfig("config.json", "application/vnd.oci.empty.v1+json")
as_dora._check_200_response(as_dora.upload_blob("config.json", container, empty))
attach = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
          "artifactType": "application/vnd.hysope.signature.v1+sshsig",
          "config": empty, "layers": [layer], "subject": {"mediaType": subject.mediaType, "digest": digest, "size": subject.size}}
body = json.dumps(attach).encode()
attach_digest = "sha256:" + hashlib.sha256(body).hexdigest()
r = requests.put(f"{url}/v2/dora/echo/manifests/{attach_digest}", data=body,
                 headers={"Authorization": f"Bearer {dora}", "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
assert r.status_code == 201, r.text
assert r.headers["OCI-Subject"] == digest
index = requests.get(f"{url}/v2/dora/echo/referrers/{digest}").json()
assert [m["digest"] for m in index["manifests"]] == [attach_digest], index
print("attached a signature:", attach_digest)
