"""The deployment files' invariants (tests/deploy/check.sh)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

from spython.main.parse.parsers import SingularityParser

root = sys.argv[1]


def fail(message):
    print(f"deploy check: {message}", file=sys.stderr)
    sys.exit(1)


# --- The Apptainer definition: two stages, the sources copied whole, non-root data.
recipe = SingularityParser(os.path.join(root, "deploy/apptainer/hysope.def")).recipe
if list(recipe) != ["build", "final"]:
    fail(f"hysope.def: stages {list(recipe)}, not build then final")
build, final = recipe["build"], recipe["final"]
if not build.fromHeader.startswith("rust:"):
    fail(f"hysope.def: the build stage is from {build.fromHeader}, not a rust image")
if final.fromHeader != "debian:bookworm-slim":
    fail(f"hysope.def: the final stage is from {final.fromHeader}")
copied = {line.split()[0] for line in build.files}
with open(os.path.join(root, "Cargo.toml"), "rb") as f:
    members = tomllib.load(f)["workspace"]["members"]
needed = {m.split("/")[0] for m in members} | {"Cargo.toml", "Cargo.lock", "rust-toolchain.toml", "wit"}
missing = needed - copied
if missing:
    fail(f"hysope.def: the build stage does not copy {sorted(missing)} (workspace members need them)")
if "exec /usr/local/bin/hysope" not in (final.cmd or ""):
    fail("hysope.def: the runscript does not run hysope")
if "HYSOPE_PLUGIN_PATH=/opt/hysope/components" not in final.environ:
    fail("hysope.def: HYSOPE_PLUGIN_PATH is not the components folder")
text = open(os.path.join(root, "deploy/apptainer/hysope.def")).read()
for path in ["/out/hysope /usr/local/bin/hysope", "/out/plugins /opt/hysope/plugins",
             "/out/components /opt/hysope/components"]:
    if path not in text:
        fail(f"hysope.def: the final stage does not take {path}")

# --- The Dockerfile: non-root, the same layout.
docker = open(os.path.join(root, "deploy/docker/Dockerfile")).read()
if not re.search(r"^USER 10001", docker, re.M):
    fail("Dockerfile: the image does not run as uid 10001")
for line in ["COPY --from=build /out/hysope /usr/local/bin/hysope",
             "COPY --from=build /out/plugins /opt/hysope/plugins",
             "COPY --from=build /out/components /opt/hysope/components",
             "HYSOPE_PLUGIN_PATH=/opt/hysope/components"]:
    if line not in docker:
        fail(f"Dockerfile: no {line!r}")
collect = "find . \\( -name '*.cwl' -o -name '*.yml' -o -name 'README.md' \\) -exec cp --parents {} /out/plugins/ \\;"
if collect not in docker or collect not in text:
    fail("the Dockerfile and hysope.def do not collect the plugins with the same command")

# --- The images' layout, made here the way both images make it, serves every
# bundled process (workflows find their tools, tools their components).
hysope = os.path.join(root, "target/debug/hysope")
components = os.path.join(root, "target/wasm32-wasip2/release")


def absolute(value, base):
    """A job's File and Directory paths made absolute from `base`."""
    if isinstance(value, dict):
        out = {k: absolute(v, base) for k, v in value.items()}
        if value.get("class") in ("File", "Directory"):
            for key in ("path", "location"):
                if key in out and "://" not in out[key] and not out[key].startswith("/"):
                    out[key] = os.path.normpath(os.path.join(base, out[key]))
        return out
    if isinstance(value, list):
        return [absolute(v, base) for v in value]
    return value


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "out")
    os.makedirs(os.path.join(out, "plugins"))
    os.makedirs(os.path.join(out, "components"))
    for name in os.listdir(components):
        if name.endswith(".wasm"):
            shutil.copy(os.path.join(components, name), os.path.join(out, "components"))
    subprocess.run(["sh", "-c", collect.replace("/out/", out + "/")],
                   cwd=os.path.join(root, "plugins"), check=True)
    # The command too, as in the images: it looks for components beside itself
    # and in ./target, which must not find the build's own.
    image_hysope = os.path.join(out, "hysope")
    shutil.copy(hysope, image_hysope)
    if any(name.endswith(".rs") for _, _, names in os.walk(out) for name in names):
        fail("the plugins' layout carries sources")
    # Every example (each plugin's example.yml, each workflow's .example.yml) runs
    # from the layout: its CWL from the copied folder, its components from the
    # copied components only.
    import yaml
    ran = 0
    env = dict(os.environ, HYSOPE_PLUGIN_PATH=os.path.join(out, "components"), HYSOPE_LOG="warn")
    for folder, _, names in os.walk(os.path.join(out, "plugins")):
        for name in sorted(names):
            if name == "example.yml":
                cwl = [n for n in names if n.endswith(".cwl")]
                if len(cwl) != 1:
                    fail(f"{folder}: {len(cwl)} CWL documents beside example.yml")
                document = cwl[0]
            elif name.endswith(".example.yml"):
                document = name.replace(".example.yml", ".cwl")
            else:
                continue
            rel = os.path.relpath(folder, os.path.join(out, "plugins"))
            source_dir = os.path.join(root, "plugins", rel)
            with open(os.path.join(folder, name)) as f:
                job = absolute(yaml.safe_load(f) or {}, source_dir)
            job_file = os.path.join(tmp, f"job-{ran}.json")
            with open(job_file, "w") as f:
                json.dump(job, f)
            run = subprocess.run(
                [image_hysope, "run", os.path.join(folder, document), job_file, "--quiet",
                 "--out", os.path.join(tmp, f"run-{ran}")],
                capture_output=True, text=True, env=env, cwd=tmp)
            if run.returncode != 0:
                fail(f"{rel}/{document} with its example, from the images' layout: {run.stderr[-2000:]}")
            ran += 1
    if ran < 10:
        fail(f"only {ran} examples found in the layout")
    print(f"deploy check: {ran} examples ran from the images' layout of the plugins")
