"""Checks deploy/jupyterhub offline, without a cluster: the values parse, name only
sections of the zero-to-jupyterhub chart, and every setting under hub.config is a
configurable trait of its class in the JupyterHub and oauthenticator packages
(the authenticator's entry point resolved as the hub resolves it); the hub's
extraConfig is run as the hub runs it and its hook hands a user's access token to the
single-user server's environment (and none when there is none); the single-user
image's Dockerfile is linted (hadolint, every finding fails) and installs what the
notebooks need.

    python3 deploy/jupyterhub/check.py
"""
import os
import subprocess
import sys
from urllib.parse import urlparse

import yaml
from traitlets.config import Config

here = os.path.dirname(os.path.abspath(__file__))
values = yaml.safe_load(open(os.path.join(here, "values.yaml")))

# The chart's top-level sections (zero-to-jupyterhub 4.x values.yaml).
CHART = {"fullnameOverride", "nameOverride", "enabled", "imagePullSecrets", "imagePullSecret", "custom",
         "hub", "rbac", "proxy", "singleuser", "scheduling", "ingress", "prePuller", "cull", "debug", "global",
         "apps"}
unknown = set(values) - CHART
assert not unknown, f"values: sections the chart does not have: {sorted(unknown)}"

# hub.config: each class's settings are its traits.
from jupyterhub.app import JupyterHub
from jupyterhub.auth import Authenticator
from jupyterhub.spawner import Spawner
from importlib.metadata import entry_points

config = values["hub"]["config"]
name = config["JupyterHub"]["authenticator_class"]
found = [ep for ep in entry_points(group="jupyterhub.authenticators") if ep.name == name]
assert found, f"hub.config.JupyterHub.authenticator_class: no authenticator {name!r}"
authenticator = found[0].load()
classes = {"JupyterHub": JupyterHub, "Authenticator": Authenticator, "Spawner": Spawner,
           authenticator.__name__: authenticator}
for cls_name, settings in config.items():
    assert cls_name in classes, f"hub.config.{cls_name}: not a class this check knows"
    traits = classes[cls_name].class_traits(config=True)
    for key in settings:
        assert key in traits, f"hub.config.{cls_name}.{key}: not a setting of {classes[cls_name].__name__}"
oauth = config[authenticator.__name__]
for key in ("authorize_url", "token_url", "userdata_url", "oauth_callback_url"):
    assert urlparse(oauth[key]).scheme == "https", f"hub.config.{authenticator.__name__}.{key}: not https"
assert "client_secret" not in oauth, "the client secret is given at install, never kept in the values"
assert config["Authenticator"]["enable_auth_state"], "the access token is kept only with enable_auth_state"

# hub.extraConfig, run as the hub runs it, and its hook with a spawner.
c = Config()
for key, code in values["hub"]["extraConfig"].items():
    exec(compile(code, f"hub.extraConfig.{key}", "exec"), {"c": c})
hook = c.Spawner.auth_state_hook
spawner = Spawner()
spawner.environment = {}
hook(spawner, {"access_token": "eyJ.example.token"})
assert spawner.environment["HYSOPE_TOKEN"] == "eyJ.example.token"
hook(spawner, None)
assert "HYSOPE_TOKEN" not in spawner.environment
assert "JUPYTERHUB_CRYPT_KEY" in values["hub"]["extraEnv"], "auth state needs JUPYTERHUB_CRYPT_KEY"

# The single-user server: the image and the Hysope server's URL.
single = values["singleuser"]
assert single["image"]["name"] and str(single["image"]["tag"])
assert urlparse(single["extraEnv"]["HYSOPE_URL"]).scheme in ("http", "https")
dockerfile = os.path.join(here, "Dockerfile")
subprocess.run(["hadolint", "--failure-threshold", "info", dockerfile], check=True)
text = open(dockerfile).read()
assert "clients/python" in text and "notebooks/requirements.txt" in text
print(f"jupyterhub: values checked ({len(values)} sections; {authenticator.__name__}'s settings are its traits), "
      "the token hook run, the single-user Dockerfile linted")
