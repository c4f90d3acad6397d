//! The OpenAPI 3.0 definition served at `/api`: self-contained (no reference to a
//! remote schema), so clients and test tools work offline.

use hysope_identity::{Policy, Role};
use serde_json::{Value, json};

use crate::auth::Rule;

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn ok(description: &str, schema: Value) -> Value {
    json!({"description": description, "content": {
        "application/json": {"schema": schema},
        "text/html": {"schema": {"type": "string"}},
    }})
}

/// Results: the document (JSON), or with `response: raw` an output's own bytes, or a
/// multipart/related body of a part per output.
fn raw_content() -> Value {
    json!({
        "application/json": {"schema": r("results")},
        "multipart/related": {"schema": {"type": "string", "format": "binary"}},
        "*/*": {"schema": {"type": "string", "format": "binary"}},
    })
}

fn error(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": r("exception")}}})
}

fn f_param() -> Value {
    json!({"name": "f", "in": "query", "required": false,
           "description": "response format", "schema": {"type": "string", "enum": ["json", "html"]}})
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

fn deploy_body() -> Value {
    json!({
        "application/cwl": {"schema": {"type": "string"}},
        "application/cwl+yaml": {"schema": {"type": "string"}},
        "application/cwl+json": {"schema": {"type": "object"}},
        "application/ogcapppkg+json": {"schema": {"type": "object", "properties": {
            "processDescription": {"type": "object"},
            "executionUnit": {"type": "object"}}}},
    })
}

/// The API definition, with `base` as the server URL; each operation says who may
/// call it (see [`secure`]).
pub fn document(base: &str, access: &Access) -> Value {
    let mut doc = processes_document(base);
    if let (Some(paths), Value::Object(more)) = (
        doc.get_mut("paths").and_then(Value::as_object_mut),
        registry_paths(),
    ) {
        paths.extend(more);
    }
    let status = json!({
            "/admin/status": {"get": {"operationId": "getStatus",
                "summary": "the server's state for its operators: readiness, jobs by state, queue depth, failures by cause, the last minute's request rate and latency",
                "parameters": [{"name": "f", "in": "query", "required": false, "schema": {"type": "string", "enum": ["json", "html"]}}],
                "responses": {"200": {"description": "the state",
                    "content": {"application/json": {"schema": status_schema()},
                        "text/html": {"schema": {"type": "string"}}}}}}}
    });
    if let (Some(paths), Some(status)) = (doc["paths"].as_object_mut(), status.as_object()) {
        paths.extend(status.clone());
    }
    let uploads = json!({
        "/uploads": {
            "get": {"operationId": "getUploads", "summary": "your uploads, newest first, and your quota",
                "responses": {"200": {"description": "the uploads", "content": {"application/json": {"schema": {
                    "type": "object", "required": ["uploads", "quota"], "properties": {
                        "uploads": {"type": "array", "items": upload_schema()},
                        "quota": {"type": "object", "additionalProperties": {"type": "integer"}}}}}}}}},
            "post": {"operationId": "createUpload",
                "summary": "upload a file for your jobs (an input's href names it by its link /uploads/ID)",
                "parameters": [{"name": "name", "in": "query", "required": true, "description": "the file's name (one plain name)",
                    "schema": {"type": "string", "minLength": 1, "maxLength": 128}}],
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "201": {"description": "the upload", "content": {"application/json": {"schema": upload_schema()}}},
                    "400": error("a wrong name"),
                    "409": error("over your quota of files or bytes"),
                    "413": error("larger than an upload may be")}}},
        "/uploads/{uploadId}": {
            "get": {"operationId": "getUpload", "summary": "one of your uploads",
                "parameters": [path_param("uploadId")],
                "responses": {"200": {"description": "the upload", "content": {"application/json": {"schema": upload_schema()}}},
                    "404": error("no such upload of yours")}},
            "delete": {"operationId": "deleteUpload", "summary": "remove one of your uploads",
                "parameters": [path_param("uploadId")],
                "responses": {"204": {"description": "removed"}, "404": error("no such upload of yours")}}},
    });
    if let (Some(paths), Some(uploads)) = (doc["paths"].as_object_mut(), uploads.as_object()) {
        paths.extend(uploads.clone());
    }
    if let (Some(paths), Value::Object(probes)) = (doc["paths"].as_object_mut(), probe_paths()) {
        paths.extend(probes);
    }
    if let (Some(paths), Value::Object(rules)) = (doc["paths"].as_object_mut(), rule_paths()) {
        paths.extend(rules);
    }
    refusable_queries(
        &mut doc,
        error("a wrong query parameter (not of its type, or given twice)"),
    );
    secure(&mut doc, access, error);
    doc
}

/// What the API documents say of identity: the route table, the policy, the OIDC
/// provider if any.
pub struct Access<'a> {
    /// The route table.
    pub rules: &'a [Rule],
    /// Which role each action needs.
    pub policy: Policy,
    /// The provider's discovery document, when one is trusted.
    pub oidc_discovery: Option<String>,
}

/// A path as the route table and the documents both write it: parameters unnamed,
/// no trailing slash.
pub fn normal_path(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    if out.len() > 1 {
        while out.ends_with('/') {
            out.pop();
        }
    }
    out
}

/// Declares the security schemes (a bearer token: personal or OIDC; the same in
/// `X-API-Key`; the OIDC provider when one is trusted) and, on each operation of
/// the route table, who may call it: public reads take a token or none, the rest a
/// token of the role named in `x-hysope-role`; every operation may answer 401 (a
/// bad token), the others 403 (a role that may not).
fn secure(doc: &mut Value, access: &Access, failure: fn(&str) -> Value) {
    let mut schemes = json!({
        "bearerAuth": {"type": "http", "scheme": "bearer",
            "description": "a personal access token (hysope_pat_...) or an access token (JWT) of the trusted OIDC provider"},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
            "description": "a personal access token"},
    });
    let mut any_token = vec![json!({"bearerAuth": []}), json!({"apiKey": []})];
    if let Some(url) = &access.oidc_discovery {
        schemes["oidc"] = json!({"type": "openIdConnect", "openIdConnectUrl": url});
        any_token.push(json!({"oidc": []}));
    }
    doc["components"]["securitySchemes"] = schemes;
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let rules: Vec<(String, &Rule)> = access
        .rules
        .iter()
        .map(|r| (normal_path(r.path), r))
        .collect();
    for (path, item) in paths.iter_mut() {
        let normal = normal_path(path);
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some((_, rule)) = rules
                .iter()
                .find(|(p, r)| *p == normal && r.method.as_str().eq_ignore_ascii_case(method))
            else {
                continue;
            };
            let role = access.policy.required(rule.action);
            op["x-hysope-role"] = json!(role.as_str());
            let mut security = any_token.clone();
            if role == Role::Anonymous {
                security.insert(0, json!({}));
            }
            op["security"] = Value::Array(security);
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.entry("401").or_insert_with(|| {
                    failure("no token, or a token not taken (unknown, expired, revoked)")
                });
                if role != Role::Anonymous {
                    responses
                        .entry("403")
                        .or_insert_with(|| failure("a token whose role or scopes may not do this"));
                }
            }
        }
    }
}

/// Every operation that reads query parameters answers 400 to a query string that
/// does not fit them (see `query::Params`): said once here for all of them.
fn refusable_queries(doc: &mut Value, refusal: Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for operation in paths.values_mut().filter_map(Value::as_object_mut) {
        for op in operation.values_mut() {
            let reads_query = op["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if let (true, Some(responses)) = (
                reads_query,
                op.get_mut("responses").and_then(Value::as_object_mut),
            ) {
                responses.entry("400").or_insert_with(|| refusal.clone());
            }
        }
    }
}

/// The plugin registry: its curation (`/registry`) and its bytes over the OCI
/// distribution API (`/v2/`, errors in the OCI envelope).
fn registry_paths() -> Value {
    let mut paths = registry_path_items();
    // The OCI routes refuse in the OCI envelope, 401 and 403 included; a query
    // string that does not parse is refused before them, as an OGC exception.
    if let Some(map) = paths.as_object_mut() {
        for (path, item) in map.iter_mut() {
            if !path.starts_with("/v2") {
                continue;
            }
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|i| i.values_mut())
            {
                for status in ["401", "403"] {
                    op["responses"][status] = json!({"description": "refused: the OCI error envelope says why",
                        "content": {"application/json": {"schema": {"type": "object", "required": ["errors"]}}}});
                }
                op["responses"]["400"] = json!({"description": "refused: the OCI error envelope (or, for a query string that does not parse, an OGC exception) says why",
                    "content": {"application/json": {"schema": {"type": "object"}}}});
            }
        }
    }
    paths
}

fn registry_path_items() -> Value {
    let object = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"type": "object"}}}});
    let page = |d: &str| {
        json!({"description": d, "content": {
        "application/json": {"schema": {"type": "object"}},
        "text/html": {"schema": {"type": "string"}}}})
    };
    let failure = || {
        json!({"description": "refused: the OGC exception or the OCI error envelope says why",
        "content": {"application/json": {"schema": {"type": "object"}}}})
    };
    let empty = |d: &str| json!({"description": d});
    let ns = || vec![path_param("ns"), path_param("name")];
    let with = |mut params: Vec<Value>, more: &[&str]| {
        params.extend(more.iter().map(|m| path_param(m)));
        params
    };
    let query = |name: &str, ty: &str| json!({"name": name, "in": "query", "required": false, "schema": {"type": ty}});
    json!({
        "/registry": {"get": {"operationId": "getRegistry", "tags": ["registry"], "summary": "the plugin registry's links",
            "parameters": [f_param()], "responses": {"200": page("links"), "default": failure()}}},
        "/registry/packages": {"get": {"operationId": "getPackages", "tags": ["registry"], "summary": "packages and their versions visible to the caller",
            "parameters": [f_param()], "responses": {"200": page("packages"), "default": failure()}}},
        "/registry/packages/{ns}/{name}": {"get": {"operationId": "getPackage", "tags": ["registry"], "summary": "a package's versions: state, digest, signer, check report, processes using them",
            "parameters": with(ns(), &[]).into_iter().chain([f_param()]).collect::<Vec<_>>(), "responses": {"200": page("the package"), "default": failure()}}},
        "/registry/packages/{ns}/{name}/versions/{version}": {"get": {"operationId": "getPackageVersion", "tags": ["registry"], "summary": "a version with its review log",
            "parameters": with(ns(), &["version"]).into_iter().chain([f_param()]).collect::<Vec<_>>(), "responses": {"200": page("the version"), "default": failure()}}},
        "/registry/packages/{ns}/{name}/versions/{version}/review": {"post": {"operationId": "reviewVersion", "tags": ["registry"],
            "summary": "approve, reject (operators, never their own), deprecate with a successor, undeprecate, yank, unyank (namespace members too), quarantine (operators); with a reason",
            "parameters": with(ns(), &["version"]),
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["action", "reason"], "properties": {
                "action": {"type": "string", "enum": ["approve", "reject", "deprecate", "undeprecate", "yank", "unyank", "quarantine"]},
                "reason": {"type": "string"}, "successor": {"type": "string"}}}}}},
            "responses": {"200": object("the version after the review"), "default": failure()}}},
        "/registry/queue": {"get": {"operationId": "getSubmissions", "tags": ["registry"], "summary": "versions waiting for review",
            "parameters": [f_param()], "responses": {"200": page("submissions"), "default": failure()}}},
        "/registry/audit": {"get": {"operationId": "getAudit", "tags": ["registry"], "summary": "the append-only audit log",
            "parameters": [query("subject", "string"), query("after", "integer"), query("limit", "integer"), f_param()],
            "responses": {"200": page("entries"), "default": failure()}}},
        "/registry/keys": {
            "get": {"operationId": "getSigningKeys", "tags": ["registry"], "summary": "the caller's SSH signing keys",
                "responses": {"200": object("keys"), "default": failure()}},
            "post": {"operationId": "addSigningKey", "tags": ["registry"], "summary": "add an SSH public key (ssh-ed25519 or ecdsa-sha2-nistp256)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["key"], "properties": {
                    "key": {"type": "string"}, "comment": {"type": "string"}}}}}},
                "responses": {"201": object("the key"), "default": failure()}}},
        "/registry/keys/{id}": {"delete": {"operationId": "removeSigningKey", "tags": ["registry"], "summary": "remove one of the caller's keys",
            "parameters": [path_param("id")], "responses": {"200": object("removed"), "default": failure()}}},
        "/registry/quota": {"get": {"operationId": "getQuota", "tags": ["registry"], "summary": "a namespace's use of its quotas (the caller's own by default)",
            "parameters": [query("namespace", "string")], "responses": {"200": object("usage and limits"), "default": failure()}}},
        "/registry/namespaces": {"get": {"operationId": "getNamespaces", "tags": ["registry"], "summary": "shared namespaces",
            "responses": {"200": object("namespaces"), "default": failure()}}},
        "/registry/namespaces/{ns}": {"put": {"operationId": "setNamespace", "tags": ["registry"], "summary": "create a shared namespace or set its members",
            "parameters": [path_param("ns")],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["members"], "properties": {
                "members": {"type": "array", "items": {"type": "string"}}, "reason": {"type": "string"}}}}}},
            "responses": {"200": object("the namespace"), "default": failure()}}},
        "/.well-known/wasm-pkg/registry.json": {"get": {"operationId": "getWasmPkgRegistry", "tags": ["registry"], "summary": "where wkg finds the registry",
            "responses": {"200": object("the registry's protocol and host"), "default": failure()}}},
        "/v2/": {"get": {"operationId": "ociBase", "tags": ["oci"], "summary": "the OCI distribution API",
            "responses": {"200": object("the API is here"), "default": failure()}}},
        "/v2/{ns}/{name}/blobs/{digest}": {"get": {"operationId": "ociGetBlob", "tags": ["oci"], "summary": "a blob",
            "parameters": with(ns(), &["digest"]),
            "responses": {"200": {"description": "the blob", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}, "default": failure()}}},
        "/v2/{ns}/{name}/blobs/uploads": {"post": {"operationId": "ociStartUpload", "tags": ["oci"], "summary": "start an upload, or store a blob (?digest=), or mount one (?mount=)",
            "parameters": with(ns(), &[]).into_iter().chain([query("digest", "string"), query("mount", "string")]).collect::<Vec<_>>(),
            "requestBody": {"required": false, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"201": empty("stored"), "202": empty("an upload session (Location)"), "default": failure()}}},
        "/v2/{ns}/{name}/blobs/uploads/{id}": {
            "get": {"operationId": "ociUploadStatus", "tags": ["oci"], "summary": "how far an upload is",
                "parameters": with(ns(), &["id"]), "responses": {"204": empty("Range says"), "default": failure()}},
            "patch": {"operationId": "ociUploadChunk", "tags": ["oci"], "summary": "a chunk, in order",
                "parameters": with(ns(), &["id"]),
                "requestBody": {"required": true, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"202": empty("taken"), "default": failure()}},
            "put": {"operationId": "ociFinishUpload", "tags": ["oci"], "summary": "the last chunk and the digest",
                "parameters": with(ns(), &["id"]).into_iter().chain([json!({"name": "digest", "in": "query", "required": true, "schema": {"type": "string"}})]).collect::<Vec<_>>(),
                "requestBody": {"required": false, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"201": empty("stored"), "default": failure()}},
            "delete": {"operationId": "ociCancelUpload", "tags": ["oci"], "summary": "give an upload up",
                "parameters": with(ns(), &["id"]), "responses": {"204": empty("gone"), "default": failure()}}},
        "/v2/{ns}/{name}/manifests/{reference}": {
            "get": {"operationId": "ociGetManifest", "tags": ["oci"], "summary": "a manifest by version or digest",
                "parameters": with(ns(), &["reference"]),
                "responses": {"200": {"description": "the manifest", "content": {"application/vnd.oci.image.manifest.v1+json": {"schema": {"type": "object"}}}}, "default": failure()}},
            "put": {"operationId": "ociPutManifest", "tags": ["oci"], "summary": "publish a signed component (by version) or attach a signature (by digest)",
                "parameters": with(ns(), &["reference"]),
                "requestBody": {"required": true, "content": {"application/vnd.oci.image.manifest.v1+json": {"schema": {"type": "object"}}}},
                "responses": {"201": empty("stored"), "default": failure()}}},
        "/v2/{ns}/{name}/tags/list": {"get": {"operationId": "ociTags", "tags": ["oci"], "summary": "the versions the caller may see",
            "parameters": with(ns(), &[]).into_iter().chain([query("n", "integer"), query("last", "string")]).collect::<Vec<_>>(),
            "responses": {"200": object("name and tags"), "default": failure()}}},
        "/v2/{ns}/{name}/referrers/{digest}": {"get": {"operationId": "ociReferrers", "tags": ["oci"], "summary": "the signatures of a manifest",
            "parameters": with(ns(), &["digest"]).into_iter().chain([query("artifactType", "string")]).collect::<Vec<_>>(),
            "responses": {"200": {"description": "an image index", "content": {"application/vnd.oci.image.index.v1+json": {"schema": {"type": "object"}}}}, "default": failure()}}},
    })
}

fn processes_document(base: &str) -> Value {
    let limit = json!({"name": "limit", "in": "query", "required": false,
        "schema": {"type": "integer", "minimum": 1, "maximum": 10000}});
    let offset = json!({"name": "offset", "in": "query", "required": false,
        "schema": {"type": "integer", "minimum": 0}});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Hysope",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "OGC API - Processes - Part 1: Core over CWL workflows of sandboxed WebAssembly plugins",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base}],
        "paths": {
            "/": {"get": {"operationId": "getLandingPage", "summary": "landing page",
                "parameters": [f_param()],
                "responses": {"200": ok("links to the API", r("landingPage"))}}},
            "/conformance": {"get": {"operationId": "getConformance", "summary": "conformance classes",
                "parameters": [f_param()],
                "responses": {"200": ok("conformance classes", r("confClasses"))}}},
            "/api": {"get": {"operationId": "getAPI", "summary": "this document",
                "parameters": [f_param()],
                "responses": {"200": {"description": "the API definition", "content": {
                    "application/vnd.oai.openapi+json;version=3.0": {"schema": {"type": "object"}},
                    "text/html": {"schema": {"type": "string"}}}}}}},
            "/processes": {
                "get": {"operationId": "getProcesses", "summary": "processes",
                    "parameters": [f_param(), limit, offset],
                    "responses": {"200": ok("process summaries", r("processList")),
                                  "400": error("a wrong parameter")}},
                "post": {"operationId": "deploy",
                    "summary": "deploy a process from a CWL document or an OGC application package",
                    "parameters": [{"name": "w", "in": "query", "required": false,
                        "description": "the workflow of a $graph document to deploy",
                        "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": deploy_body()},
                    "responses": {
                        "201": {"description": "deployed",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": r("processSummary")}}},
                        "400": error("an invalid or unsafe document"),
                        "403": error("the id is a built-in process"),
                        "409": error("the id is taken"),
                        "415": error("an unsupported media type")}}},
            "/processes/{processId}": {
                "get": {"operationId": "getProcessDescription",
                    "summary": "a process description",
                    "parameters": [path_param("processId"), f_param()],
                    "responses": {"200": ok("the process", r("process")),
                                  "404": error("no such process")}},
                "put": {"operationId": "replace", "summary": "replace a deployed process",
                    "parameters": [path_param("processId"),
                        {"name": "w", "in": "query", "required": false, "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": deploy_body()},
                    "responses": {"204": {"description": "replaced"},
                        "400": error("an invalid or unsafe document"),
                        "403": error("a built-in process"),
                        "404": error("no such process"),
                        "415": error("an unsupported media type")}},
                "delete": {"operationId": "undeploy", "summary": "undeploy a deployed process",
                    "parameters": [path_param("processId")],
                    "responses": {"204": {"description": "undeployed"},
                        "403": error("a built-in process"),
                        "404": error("no such process")}}},
            "/processes/{processId}/package": {"get": {"operationId": "getPackage",
                "summary": "the CWL document of a process",
                "parameters": [path_param("processId")],
                "responses": {"200": {"description": "the CWL document", "content": {
                    "application/cwl+json": {"schema": {}},
                    "application/cwl+yaml": {"schema": {}}}},
                    "404": error("no such process")}}},
            "/processes/{processId}/execution": {"post": {"operationId": "execute",
                "summary": "execute a process (synchronously, or asynchronously with Prefer: respond-async)",
                "parameters": [path_param("processId"),
                    {"name": "Prefer", "in": "header", "required": false, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": r("execute")}}},
                "responses": {
                    "200": {"description": "results (synchronous execution): the results document; with `response: raw`, the one output itself, or a multipart/related part per output",
                            "headers": {"Link": {"schema": {"type": "string"}, "description": "rel=monitor: the job"}},
                            "content": raw_content()},
                    "204": {"description": "`response: raw` with every output by reference: a Link header per output",
                            "headers": {"Link": {"schema": {"type": "string"}}}},
                    "201": {"description": "job created (asynchronous execution)",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": {"application/json": {"schema": r("statusInfo")}}},
                    "400": error("a wrong request or input"),
                    "404": error("no such process"),
                    "500": error("the process failed")}}},
            "/jobs": {"get": {"operationId": "getJobs", "summary": "jobs, newest first",
                "parameters": [f_param(), limit, offset,
                    {"name": "processID", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "status", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "datetime", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "rule", "in": "query", "required": false, "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"}}],
                "responses": {"200": ok("jobs", r("jobList")), "400": error("a wrong parameter")}}},
            "/jobs/{jobId}": {
                "get": {"operationId": "getStatus", "summary": "a job's status",
                    "parameters": [path_param("jobId"), f_param()],
                    "responses": {"200": ok("status", r("statusInfo")), "404": error("no such job")}},
                "delete": {"operationId": "dismiss", "summary": "dismiss a job (stops it if running)",
                    "parameters": [path_param("jobId")],
                    "responses": {"200": {"description": "dismissed",
                        "content": {"application/json": {"schema": r("statusInfo")}}},
                        "404": error("no such job")}}},
            "/jobs/{jobId}/results": {"get": {"operationId": "getResult", "summary": "a job's results",
                "parameters": [path_param("jobId")],
                "responses": {"200": {"description": "results (as the execute request asked: document or raw)",
                    "content": raw_content()},
                    "204": {"description": "`response: raw` with every output by reference: a Link header per output",
                        "headers": {"Link": {"schema": {"type": "string"}}}},
                    "400": error("the inputs were invalid"),
                    "404": error("no such job, or results not ready"),
                    "500": error("the process failed")}}},
            "/jobs/{jobId}/files/{path}": {"get": {"operationId": "getResultFile",
                "summary": "a file a job produced",
                "parameters": [path_param("jobId"), path_param("path")],
                "responses": {"200": {"description": "the file",
                    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                    "404": error("no such job or file")}}},
            "/metrics": {"get": {"operationId": "getMetrics", "summary": "Prometheus metrics",
                "responses": {"200": {"description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/ready": {"get": {"operationId": "getReadiness", "summary": "whether the server can take work (its stores can write)",
                "responses": {
                    "200": {"description": "ready", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "503": {"description": "not ready, with the reasons", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"ready": {"type": "boolean"},
                            "reasons": {"type": "array", "items": {"type": "string"}}}}}}}}}},
            "/portal": {
                "get": {"operationId": "getPortalRoot", "summary": "the web portal: redirected to /portal/",
                    "responses": {"308": {"description": "to /portal/"}}},
                "head": {"operationId": "headPortalRoot", "summary": "the web portal's address",
                    "responses": {"308": {"description": "to /portal/"}}}},
            "/portal/": {
                "get": {"operationId": "getPortal", "summary": "the web portal's page (the map)",
                    "responses": {"200": {"description": "the page shell; its modules draw the page",
                        "content": {"text/html": {"schema": {"type": "string"}}}}, "304": {"description": "not modified"}}},
                "head": {"operationId": "headPortal", "summary": "the web portal's page headers",
                    "responses": {"200": {"description": "its ETag and cache rules"}}}},
            "/portal/{path}": {
                "get": {"operationId": "getPortalFile", "summary": "a portal page (its shell) or a file under assets/BUILD/ (cached a year)",
                    "parameters": [path_param("path")],
                    "responses": {"200": {"description": "the page shell or the file, gzip for a client that takes it",
                        "content": {"text/html": {"schema": {"type": "string"}}, "text/javascript": {"schema": {"type": "string"}}}},
                        "304": {"description": "not modified"}, "404": error("no such portal file")}},
                "head": {"operationId": "headPortalFile", "summary": "a portal file's headers",
                    "parameters": [path_param("path")],
                    "responses": {"200": {"description": "its type, ETag and cache rules"}, "404": error("no such portal file")}}},
            "/me": {"get": {"operationId": "getIdentity", "summary": "who the server takes the caller for, and what they may do",
                "responses": {"200": {"description": "the caller's identity",
                    "content": {"application/json": {"schema": r("identity")}}}}}},
            "/admin/tokens": {
                "get": {"operationId": "getTokens", "summary": "personal access tokens (never their secrets)",
                    "parameters": [{"name": "user", "in": "query", "required": false, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the tokens",
                        "content": {"application/json": {"schema": {"type": "object", "required": ["tokens"],
                            "properties": {"tokens": {"type": "array", "items": r("tokenRecord")}}}}}}}},
                "post": {"operationId": "createToken", "summary": "make a personal access token (its secret is shown once)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": r("tokenRequest")}}},
                    "responses": {"201": {"description": "the token and its record",
                        "content": {"application/json": {"schema": {"type": "object", "required": ["token", "record"],
                            "properties": {"token": {"type": "string"}, "record": r("tokenRecord")}}}}},
                        "400": error("a wrong request")}}},
            "/admin/tokens/{tokenId}": {"delete": {"operationId": "revokeToken", "summary": "revoke a personal access token",
                "parameters": [path_param("tokenId")],
                "responses": {"200": {"description": "the revoked token",
                    "content": {"application/json": {"schema": r("tokenRecord")}}},
                    "404": error("no such token")}}},
        },
        "components": {"schemas": {
            "link": {"type": "object", "required": ["href"], "properties": {
                "href": {"type": "string"}, "rel": {"type": "string"},
                "type": {"type": "string"}, "title": {"type": "string"}}},
            "exception": {"type": "object", "required": ["type"], "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "instance": {"type": "string"}}},
            "landingPage": {"type": "object", "required": ["links"], "properties": {
                "title": {"type": "string"}, "description": {"type": "string"},
                "links": {"type": "array", "items": r("link")}}},
            "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
                "conformsTo": {"type": "array", "items": {"type": "string"}}}},
            "processSummary": {"type": "object", "required": ["id", "version"], "properties": {
                "id": {"type": "string"}, "title": {"type": "string"},
                "description": {"type": "string"}, "version": {"type": "string"},
                "jobControlOptions": {"type": "array", "items": {"type": "string",
                    "enum": ["sync-execute", "async-execute", "dismiss"]}},
                "outputTransmission": {"type": "array", "items": {"type": "string",
                    "enum": ["value", "reference"]}},
                "links": {"type": "array", "items": r("link")}}},
            "processList": {"type": "object", "required": ["processes", "links"], "properties": {
                "processes": {"type": "array", "items": r("processSummary")},
                "links": {"type": "array", "items": r("link")}}},
            "process": {"allOf": [r("processSummary"), {"type": "object", "properties": {
                "inputs": {"type": "object", "additionalProperties": {"type": "object"}},
                "outputs": {"type": "object", "additionalProperties": {"type": "object"}}}}]},
            "execute": {"type": "object", "properties": {
                "inputs": {"type": "object", "additionalProperties": true},
                "outputs": {"type": "object", "additionalProperties": {"type": "object"}},
                "response": {"type": "string", "enum": ["document", "raw"]},
                "subscriber": {"type": "object", "properties": {
                    "successUri": {"type": "string"}, "inProgressUri": {"type": "string"},
                    "failedUri": {"type": "string"}}}}},
            "statusInfo": {"type": "object", "required": ["jobID", "status", "type"], "properties": {
                "jobID": {"type": "string"}, "processID": {"type": "string"},
                "type": {"type": "string", "enum": ["process"]},
                "status": {"type": "string",
                    "enum": ["accepted", "running", "successful", "failed", "dismissed"]},
                "message": {"type": "string"},
                "created": {"type": "string", "format": "date-time"},
                "started": {"type": "string", "format": "date-time"},
                "finished": {"type": "string", "format": "date-time"},
                "updated": {"type": "string", "format": "date-time"},
                "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                "hysope:owner": {"type": "string", "description": "who submitted the job"},
                "hysope:log": job_log_schema(),
                "links": {"type": "array", "items": r("link")}}},
            "jobList": {"type": "object", "required": ["jobs", "links"], "properties": {
                "jobs": {"type": "array", "items": r("statusInfo")},
                "links": {"type": "array", "items": r("link")}}},
            "results": {"type": "object", "additionalProperties": true},
            "identity": {"type": "object", "required": ["subject", "role", "via", "may"], "properties": {
                "subject": {"type": "string"},
                "role": {"type": "string", "enum": ["anonymous", "user", "developer", "operator"]},
                "scopes": {"type": "array", "items": {"type": "string"}},
                "via": {"type": "object"},
                "may": {"type": "array", "items": {"type": "string"}}}},
            "tokenRequest": {"type": "object", "required": ["user", "role"], "additionalProperties": false, "properties": {
                "user": {"type": "string"},
                "role": {"type": "string", "enum": ["user", "developer", "operator"]},
                "scopes": {"type": "array", "items": {"type": "string",
                    "enum": ["read", "execute", "jobs", "deploy", "catalog", "ingest", "tokens", "metrics", "publish", "review"]}},
                "expires_in": {"type": "string"},
                "note": {"type": "string"}}},
            "tokenRecord": {"type": "object", "required": ["id", "user", "role", "created"], "properties": {
                "id": {"type": "string"}, "user": {"type": "string"}, "role": {"type": "string"},
                "scopes": {"type": "array", "items": {"type": "string"}},
                "created": {"type": "string"}, "expires": {"type": "string"}, "revoked": {"type": "string"},
                "created_by": {"type": "string"}, "note": {"type": "string"}}},
        }},
    })
}

/// The OpenAPI 3.0 document of the STAC API under `/stac` and the time series.
pub fn stac_document(base: &str, access: &Access) -> Value {
    let mut doc = stac_paths(base);
    let refusal = json!({"description": "a wrong query parameter (not of its type, or given twice)",
        "content": {"application/json": {"schema": {"type": "object"}}}});
    refusable_queries(&mut doc, refusal);
    secure(&mut doc, access, stac_failure);
    doc
}

fn stac_failure(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"type": "object",
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
}

fn stac_paths(base: &str) -> Value {
    let object = |d: &str, media: &str| json!({"description": d, "content": {media: {"schema": {"type": "object"}}}});
    let failure = |d: &str| {
        json!({"description": d, "content": {"application/json": {"schema": {"type": "object",
            "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                           "status": {"type": "integer"}, "detail": {"type": "string"}}}}}})
    };
    let q = |name: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "schema": schema});
    let text = json!({"type": "string"});
    let search_params = json!([
        q(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 10000})
        ),
        q("bbox", text.clone()),
        q("datetime", text.clone()),
        q("filter", text.clone()),
        q(
            "filter-lang",
            json!({"type": "string", "enum": ["cql2-text", "cql2-json"]})
        ),
        q("sortby", text.clone()),
        q("fields", text.clone()),
        q("query", text.clone()),
        q("token", text.clone()),
    ]);
    let mut search_get_params = search_params.as_array().cloned().unwrap_or_default();
    search_get_params.push(q("collections", text.clone()));
    search_get_params.push(q("ids", text.clone()));
    let path = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
    let body = |d: &str, media: &str| {
        json!({"description": d, "required": true,
        "content": {media: {"schema": {"type": "object"}}}})
    };
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Hysope catalogue",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "STAC API 1.0 of SWOT river and lake products, gauges and process results; per-feature time series",
            "license": {"name": "Apache-2.0"},
        },
        "servers": [{"url": base}],
        "paths": {
            "/stac": {"get": {"operationId": "getStacLandingPage", "summary": "STAC landing page",
                "responses": {"200": object("the catalogue", "application/json")}}},
            "/stac/conformance": {"get": {"operationId": "getStacConformance", "summary": "conformance classes",
                "responses": {"200": object("conformance classes", "application/json")}}},
            "/stac/queryables": {"get": {"operationId": "getQueryables", "summary": "queryable properties",
                "responses": {"200": object("a JSON schema", "application/schema+json")}}},
            "/stac/api": {"get": {"operationId": "getStacAPI", "summary": "this document",
                "responses": {"200": object("the API definition", "application/vnd.oai.openapi+json;version=3.0")}}},
            "/stac/collections/{collectionId}/queryables": {"get": {"operationId": "getCollectionQueryables",
                "summary": "queryable properties of a collection", "parameters": [path("collectionId")],
                "responses": {"200": object("a JSON schema", "application/schema+json"), "404": failure("no such collection")}}},
            "/stac/ingest": {"post": {"operationId": "ingest",
                "summary": "ingest product files (paths inside the input roots, or s3:// prefixes) into the catalogue",
                "requestBody": body("{\"paths\": [...]}", "application/json"),
                "responses": {"200": object("the ingestion report", "application/json"),
                              "400": failure("a wrong request or path")}}},
            "/stac/collections": {
                "get": {"operationId": "getCollections", "summary": "collections",
                    "responses": {"200": object("collections", "application/json")}},
                "post": {"operationId": "postCollection", "summary": "create a collection",
                    "requestBody": body("a STAC collection", "application/json"),
                    "responses": {"201": object("the collection", "application/json"),
                                  "400": failure("not a collection"), "409": failure("exists")}}},
            "/stac/collections/{collectionId}": {
                "get": {"operationId": "getCollection", "summary": "a collection", "parameters": [path("collectionId")],
                    "responses": {"200": object("the collection", "application/json"), "404": failure("no such collection")}},
                "put": {"operationId": "putCollection", "summary": "replace a collection", "parameters": [path("collectionId")],
                    "requestBody": body("a STAC collection", "application/json"),
                    "responses": {"200": object("the collection", "application/json"),
                                  "400": failure("not a collection"), "404": failure("no such collection")}},
                "delete": {"operationId": "deleteCollection", "summary": "delete a collection and its items", "parameters": [path("collectionId")],
                    "responses": {"204": {"description": "deleted"}, "404": failure("no such collection")}}},
            "/stac/collections/{collectionId}/items": {
                "get": {"operationId": "getFeatures", "summary": "items of a collection",
                    "parameters": std::iter::once(path("collectionId")).chain(search_params.as_array().cloned().unwrap_or_default()).collect::<Vec<_>>(),
                    "responses": {"200": object("an item collection", "application/geo+json"),
                                  "400": failure("a wrong parameter"), "404": failure("no such collection")}},
                "post": {"operationId": "postFeature", "summary": "create an item (or an item collection)", "parameters": [path("collectionId")],
                    "requestBody": body("a STAC item", "application/geo+json"),
                    "responses": {"201": object("the item", "application/geo+json"), "400": failure("not an item"),
                                  "404": failure("no such collection"), "409": failure("exists")}}},
            "/stac/collections/{collectionId}/items/{itemId}": {
                "get": {"operationId": "getFeature", "summary": "an item", "parameters": [path("collectionId"), path("itemId")],
                    "responses": {"200": object("the item", "application/geo+json"), "404": failure("no such item")}},
                "put": {"operationId": "putFeature", "summary": "replace an item", "parameters": [path("collectionId"), path("itemId")],
                    "requestBody": body("a STAC item", "application/geo+json"),
                    "responses": {"200": object("the item", "application/geo+json"), "400": failure("not an item"), "404": failure("no such item")}},
                "patch": {"operationId": "patchFeature", "summary": "update an item (JSON merge patch)", "parameters": [path("collectionId"), path("itemId")],
                    "requestBody": body("a JSON merge patch", "application/json"),
                    "responses": {"200": object("the item", "application/geo+json"), "400": failure("not an item"), "404": failure("no such item")}},
                "delete": {"operationId": "deleteFeature", "summary": "delete an item", "parameters": [path("collectionId"), path("itemId")],
                    "responses": {"204": {"description": "deleted"}, "404": failure("no such item")}}},
            "/stac/search": {
                "get": {"operationId": "getItemSearch", "summary": "item search", "parameters": search_get_params,
                    "responses": {"200": object("an item collection", "application/geo+json"), "400": failure("a wrong parameter")}},
                "post": {"operationId": "postItemSearch", "summary": "item search",
                    "requestBody": body("search parameters", "application/json"),
                    "responses": {"200": object("an item collection", "application/geo+json"), "400": failure("a wrong parameter")}}},
            "/timeseries/{kind}/{featureId}": {"get": {"operationId": "getTimeSeries",
                "summary": "time series of a reach, node or lake",
                "parameters": [
                    {"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": ["reaches", "nodes", "lakes"]}},
                    path("featureId"),
                    q("start_time", text.clone()), q("end_time", text.clone()), q("fields", text.clone()),
                    q("quality", json!({"type": "number"})),
                    q("output", json!({"type": "string", "enum": ["json", "csv"]})),
                ],
                "responses": {"200": {"description": "the observations", "content": {
                    "application/json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}}}},
                    "400": failure("a wrong parameter"), "404": failure("no such kind")}}},
        }
    });
    // The features and the series of many (a second literal: one would pass the
    // macro's recursion limit).
    let more = json!({
            "/stac/collections/{collectionId}/items/{itemId}/assets/{assetKey}": {
                "get": {"operationId": "downloadAsset", "summary": "the file of an ingested item's asset (byte ranges, ETag, Repr-Digest)",
                    "parameters": [path("collectionId"), path("itemId"), path("assetKey"),
                        {"name": "Range", "in": "header", "required": false, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                        "206": {"description": "a byte range of the file"}, "302": {"description": "the asset is a link: go there"},
                        "304": {"description": "not modified"}, "404": failure("no such item or asset"), "409": failure("the file changed since it was catalogued"),
                        "410": failure("the file is no longer there"), "416": {"description": "the range is outside the file"}}},
                "head": {"operationId": "headAsset", "summary": "the headers of an asset's download",
                    "parameters": [path("collectionId"), path("itemId"), path("assetKey")],
                    "responses": {"200": {"description": "the file's length, ETag and digest"}, "404": failure("no such item or asset")}}},
            "/features": {"get": {"operationId": "getFeaturesLandingPage", "summary": "landing page of the SWOT features (OGC API - Features)",
                "responses": {"200": object("the landing page", "application/json")}}},
            "/features/conformance": {"get": {"operationId": "getFeaturesConformance", "summary": "conformance classes of the features",
                "responses": {"200": object("the conformance classes", "application/json")}}},
            "/features/names": {"get": {"operationId": "searchFeatureNames", "summary": "features by the start of a river or lake name",
                "parameters": [q("q", text.clone()), q("kind", text.clone()), q("limit", json!({"type": "integer", "minimum": 1, "maximum": 100}))],
                "responses": {"200": object("names and the ids of their features", "application/json"), "400": failure("a wrong parameter")}}},
            "/features/collections": {"get": {"operationId": "getFeatureCollections", "summary": "reaches, nodes and lakes",
                "responses": {"200": object("the collections", "application/json")}}},
            "/features/collections/{collectionId}": {"get": {"operationId": "getFeatureCollection", "summary": "one feature collection",
                "parameters": [path("collectionId")],
                "responses": {"200": object("the collection", "application/json"), "404": failure("no such collection")}}},
            "/features/collections/{collectionId}/queryables": {"get": {"operationId": "getFeatureQueryables", "summary": "the properties a filter may use",
                "parameters": [path("collectionId")],
                "responses": {"200": object("a JSON schema", "application/schema+json"), "404": failure("no such collection")}}},
            "/features/collections/{collectionId}/items": {"get": {"operationId": "getFeatures", "summary": "features with their latest WSE, anomaly, days since and quality",
                "parameters": [path("collectionId"), q("bbox", text.clone()), q("bbox-crs", text.clone()), q("datetime", text.clone()),
                    q("ids", text.clone()), q("reach", text.clone()), q("filter", text.clone()), q("filter-lang", text.clone()),
                    q("limit", json!({"type": "integer", "minimum": 1, "maximum": 10000})), q("after", text.clone()),
                    q("skipGeometry", json!({"type": "boolean"}))],
                "responses": {"200": object("a feature collection", "application/geo+json"), "400": failure("a wrong parameter"), "404": failure("no such collection")}}},
            "/features/collections/{collectionId}/items/{featureId}": {"get": {"operationId": "getFeatureById", "summary": "one reach, node or lake",
                "parameters": [path("collectionId"), path("featureId")],
                "responses": {"200": object("the feature", "application/geo+json"), "400": failure("a malformed id"), "404": failure("no such feature")}}},
            "/timeseries/{kind}": {"get": {"operationId": "getTimeSeriesOfMany",
                "summary": "time series of many reaches, nodes or lakes (ids, a box, or the nodes of a reach): CSV and GeoJSON streamed, NetCDF (CF timeSeries)",
                "parameters": [
                    {"name": "kind", "in": "path", "required": true, "schema": {"type": "string", "enum": ["reaches", "nodes", "lakes"]}},
                    q("ids", text.clone()), q("bbox", text.clone()), q("reach", text.clone()),
                    q("start_time", text.clone()), q("end_time", text.clone()), q("fields", text.clone()),
                    q("quality", json!({"type": "number"})),
                    q("fills", json!({"type": "string", "enum": ["null", "drop"]})),
                    q("output", json!({"type": "string", "enum": ["csv", "geojson", "netcdf"]})),
                ],
                "responses": {"200": {"description": "the observations", "content": {
                    "application/geo+json": {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}},
                    "application/x-netcdf": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": failure("a wrong parameter"), "404": failure("no such kind")}}},
    });
    if let (Some(paths), Some(more)) = (doc["paths"].as_object_mut(), more.as_object()) {
        paths.extend(more.clone());
    }

    doc
}

/// `/livez` and `/readyz`: Kubernetes' probes, answered to anyone without a
/// token and never counted in the request metrics.
fn probe_paths() -> Value {
    let text = |what: &str| json!({"description": what, "content": {"text/plain": {"schema": {"type": "string"}}}});
    let verbose = json!({"name": "verbose", "in": "query", "required": false,
        "description": "list every check ([+]name ok / [-]name failed: why)", "schema": {"type": "string"}});
    let exclude = json!({"name": "exclude", "in": "query", "required": false,
        "description": "a check left out (store, catalog, queue, workers); repeatable",
        "schema": {"type": "array", "items": {"type": "string", "enum": ["store", "catalog", "queue", "workers"]}},
        "style": "form", "explode": true});
    json!({
        "/livez": {"get": {"operationId": "getLiveness",
            "summary": "the process answers (checks no dependency)",
            "parameters": [verbose.clone()],
            "responses": {"200": text("ok"), "400": error("an unknown parameter")}}},
        "/readyz": {"get": {"operationId": "getReadinessChecks",
            "summary": "whether the server can take work: its store can write, its catalogue is open and can write, its queue is reachable and below its bound, its worker loops run",
            "parameters": [verbose, exclude],
            "responses": {"200": text("ok, or the checks with verbose"),
                "400": error("an unknown parameter or check"),
                "503": text("the checks, the failing ones with their reasons")}}}
    })
}

/// `/rules`: the production rules (operators).
fn rule_paths() -> Value {
    let rule = json!({"type": "object", "required": ["id", "process", "trigger", "state", "position", "counts"],
        "properties": {
            "id": {"type": "string"}, "title": {"type": "string"}, "process": {"type": "string"},
            "trigger": {"type": "object", "required": ["type", "collections"], "properties": {
                "type": {"type": "string", "enum": ["item", "schedule"]},
                "collections": {"type": "array", "items": {"type": "string"}},
                "every": {"type": "integer", "description": "a schedule's period, seconds"},
                "filter": {"description": "CQL2 text or JSON on the item"}}},
            "inputs": {"type": "object", "additionalProperties": {"type": "object"},
                "description": "input id -> {\"asset\": KEY} | {\"property\": NAME} | {\"value\": V} | {\"previous\": {\"same\": [NAME]}, \"asset\": KEY} | {\"assets\": KEY} (schedules)"},
            "state": {"type": "string", "enum": ["active", "paused"]},
            "position": {"type": "string"},
            "backfill": {"type": "object"},
            "counts": {"type": "object"},
            "recent_jobs": {"type": "array", "items": {"type": "string"}}}});
    let one = json!({"description": "the rule", "content": {"application/json": {"schema": rule.clone()}}});
    let id = path_param("ruleId");
    json!({
        "/rules": {
            "get": {"operationId": "getRules", "summary": "the production rules",
                "responses": {"200": {"description": "the rules", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"rules": {"type": "array", "items": rule}}}}}}}},
            "post": {"operationId": "createRule",
                "summary": "make a production rule: run a process on each item entering the catalogue (or every period); backfill: true runs it on the items already there",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                "responses": {"201": one.clone(), "400": error("a wrong rule (says what and where)"),
                    "409": error("a rule of that id exists, or the server has as many rules as it takes")}}},
        "/rules/{ruleId}": {
            "get": {"operationId": "getRule", "summary": "one rule, its counts, backfill progress and latest jobs",
                "parameters": [id.clone()], "responses": {"200": one.clone(), "404": error("no such rule")}},
            "delete": {"operationId": "deleteRule", "summary": "remove a rule (its jobs stay)",
                "parameters": [id.clone()], "responses": {"200": {"description": "removed"}, "404": error("no such rule")}}},
        "/rules/{ruleId}/pause": {"post": {"operationId": "pauseRule", "summary": "stop following the catalogue (the position stays)",
            "parameters": [id.clone()], "responses": {"200": one.clone(), "404": error("no such rule")}}},
        "/rules/{ruleId}/resume": {"post": {"operationId": "resumeRule", "summary": "follow the catalogue again from where it stopped",
            "parameters": [id], "responses": {"200": one, "404": error("no such rule")}}},
    })
}

/// The schema of `GET /admin/status`.
fn status_schema() -> Value {
    json!({"type": "object",
                        "required": ["ready", "faults", "jobs", "failures", "requests", "registry"],
                        "properties": {
                            "ready": {"type": "boolean"},
                            "faults": {"type": "array", "items": {"type": "string"}},
                            "version": {"type": "string"}, "started": {"type": "string", "format": "date-time"},
                            "uptime_seconds": {"type": "integer"},
                            "jobs": {"type": "object", "required": ["by_state", "by_process", "queue_depth", "max_waiting"],
                                "properties": {"by_state": {"type": "object", "additionalProperties": {"type": "integer"}},
                                    "by_process": {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}}},
                                    "queue_depth": {"type": "integer"}, "max_waiting": {"type": "integer"}}},
                            "failures": {"type": "object", "properties": {
                                "by_cause": {"type": "object", "additionalProperties": {"type": "integer"}},
                                "recent": {"type": "array", "items": {"type": "object"}}}},
                            "requests": {"type": "object", "properties": {
                                "window_seconds": {"type": "integer"}, "count": {"type": "integer"},
                                "per_second": {"type": "number"}, "client_errors": {"type": "integer"},
                                "server_errors": {"type": "integer"}, "server_error_ratio": {"type": "number"},
                                "latency_ms_at_most": {"type": "object", "additionalProperties": {"type": "integer", "nullable": true}}}},
                            "registry": {"type": "object", "properties": {
                                "submitted": {"type": "integer"}, "quarantined": {"type": "integer"}}}}})
}

/// The schema of a job's log lines (`hysope:log` of its status).
fn job_log_schema() -> Value {
    json!({"type": "array", "description": "the last lines its plugins logged (a job's own status only)",
                    "items": {"type": "object", "required": ["time", "level", "message"], "properties": {
                        "time": {"type": "integer", "description": "milliseconds since 1970"},
                        "level": {"type": "string", "enum": ["debug", "info", "warn", "error"]},
                        "message": {"type": "string"}}}})
}

/// The schema of an upload's record.
fn upload_schema() -> Value {
    json!({"type": "object", "required": ["id", "owner", "name", "size", "sha256", "media_type", "created", "href"],
        "properties": {"id": {"type": "string"}, "owner": {"type": "string"}, "name": {"type": "string"},
            "size": {"type": "integer"}, "sha256": {"type": "string"}, "media_type": {"type": "string"},
            "created": {"type": "string", "format": "date-time"}, "href": {"type": "string"}}})
}
