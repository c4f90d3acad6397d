//! The plugin registry (issue 19) through the server's routes: publishing over the
//! OCI distribution API with signatures made by `ssh-keygen -Y sign`, every
//! refusal with its OCI code and nothing stored, the distribution API's MUST
//! statements (pull, push, chunked upload, tag paging, referrers), the review
//! state machine by role with the four-eyes rule, and processes deployed by
//! registry reference: pinned, private until approved, yanked versions still
//! running, quarantine cancelling queued jobs.

use crate::common;

use std::path::Path;
use std::process::Command;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Reply, config, root};
use http_body_util::BodyExt;
use hysope_identity::Role;
use hysope_identity::tokens::{NewToken, issue};
use hysope_server::api;
use serde_json::{Value, json};
use sha2::Digest as _;
use tower::ServiceExt;

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn token(state: &hysope_server::State, user: &str, role: Role) -> String {
    issue(
        state.auth().tokens().as_ref(),
        NewToken {
            user: user.into(),
            role,
            scopes: None,
            lifetime: None,
            created_by: "test".into(),
            note: None,
        },
    )
    .unwrap()
    .0
}

/// An Ed25519 key pair made by `ssh-keygen`; the public key's line.
fn keygen(dir: &Path, name: &str) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(dir.join(name))
        .output()
        .expect("ssh-keygen runs (tests/install-tools.sh installs openssh-client)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap()
}

/// `ssh-keygen -Y sign -n NAMESPACE -f KEY` of `bytes`: the armored signature.
fn sign(dir: &Path, key: &str, namespace: &str, bytes: &[u8]) -> String {
    let file = dir.join(format!("to-sign-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, bytes).unwrap();
    let out = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", namespace, "-f"])
        .arg(dir.join(key))
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sig = file.with_file_name(format!(
        "{}.sig",
        file.file_name().unwrap().to_string_lossy()
    ));
    std::fs::read_to_string(sig).unwrap()
}

/// A request as `token`'s holder (anonymous without one), with a body of
/// `ctype`.
async fn send(
    app: &Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
    ctype: Option<&str>,
    body: Vec<u8>,
) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![match &bearer {
        Some(b) => ("authorization", b.as_str()),
        None => ("x-test-anonymous", "1"),
    }];
    if let Some(c) = ctype {
        headers.push(("content-type", c));
    }
    common::call(app, method, uri, &headers, body).await
}

async fn json_as(
    app: &Router,
    token: Option<&str>,
    method: &str,
    uri: &str,
    body: &Value,
) -> Reply {
    send(
        app,
        token,
        method,
        uri,
        Some("application/json"),
        body.to_string().into_bytes(),
    )
    .await
}

fn oci_code(r: &Reply) -> String {
    r.json()["errors"][0]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Pushes `bytes` as a blob of `repo` in one request; its digest.
async fn put_blob(app: &Router, token: &str, repo: &str, bytes: &[u8]) -> String {
    let d = digest(bytes);
    let r = send(
        app,
        Some(token),
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
        Some("application/octet-stream"),
        bytes.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    d
}

/// Pushes `bytes` as a blob of `repo` in chunks of `chunk` bytes (POST, PATCH..., PUT).
async fn put_blob_chunked(
    app: &Router,
    token: &str,
    repo: &str,
    bytes: &[u8],
    chunk: usize,
) -> Reply {
    let d = digest(bytes);
    let r = send(
        app,
        Some(token),
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mut location = r.headers["location"].to_str().unwrap().to_string();
    let mut at = 0;
    for part in bytes.chunks(chunk) {
        let mut request = Request::builder()
            .method("PATCH")
            .uri(&location)
            .header("host", "test.local")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{at}-{}", at + part.len() - 1));
        request = request.header("content-length", part.len().to_string());
        let response = app
            .clone()
            .oneshot(request.body(Body::from(part.to_vec())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        if status != StatusCode::ACCEPTED {
            let headers = response.headers().clone();
            let text =
                String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
                    .into_owned();
            return Reply {
                status,
                headers,
                text,
            };
        }
        assert_eq!(
            response.headers()["range"].to_str().unwrap(),
            format!("0-{}", at + part.len() - 1)
        );
        location = response.headers()["location"].to_str().unwrap().to_string();
        at += part.len();
    }
    send(
        app,
        Some(token),
        "PUT",
        &format!("{location}?digest={d}"),
        Some("application/octet-stream"),
        vec![],
    )
    .await
}

fn manifest(config: &str, layers: &[(&str, &[u8])], annotations: &Value) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": config, "size": 2},
        "layers": layers.iter().map(|(t, b)| json!({"mediaType": t, "digest": digest(b), "size": b.len()})).collect::<Vec<_>>(),
        "annotations": annotations,
    })
    .to_string()
    .into_bytes()
}

struct World {
    app: Router,
    state: std::sync::Arc<hysope_server::State>,
    keys: tempfile::TempDir,
    _data: tempfile::TempDir,
    dora: String,
    bob: String,
    op1: String,
    op2: String,
}

async fn world(workers: usize, max_component: u64) -> World {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.workers = workers;
    c.quotas.max_component = max_component;
    let (state, _) = hysope_server::start(c).await.unwrap();
    let app = api::router(state.clone());
    let keys = tempfile::tempdir().unwrap();
    let w = World {
        dora: token(&state, "dora", Role::Developer),
        bob: token(&state, "bob", Role::Developer),
        op1: token(&state, "op1", Role::Operator),
        op2: token(&state, "op2", Role::Operator),
        app,
        state,
        keys,
        _data: data,
    };
    for user in ["dora", "bob", "op1"] {
        let line = keygen(w.keys.path(), user);
        let t = w.token_of(user).to_string();
        let r = json_as(
            &w.app,
            Some(&t),
            "POST",
            "/registry/keys",
            &json!({"key": line}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert!(
            r.json()["fingerprint"]
                .as_str()
                .unwrap()
                .starts_with("SHA256:")
        );
    }
    w
}

impl World {
    fn token_of(&self, user: &str) -> &str {
        match user {
            "dora" => &self.dora,
            "bob" => &self.bob,
            "op1" => &self.op1,
            _ => &self.op2,
        }
    }

    /// Publishes `wasm` as `repo:version` signed by `signer`'s key, pushed by `user`.
    async fn publish(
        &self,
        user: &str,
        repo: &str,
        version: &str,
        wasm: &[u8],
        cwl: &str,
        signer: Option<&str>,
    ) -> Reply {
        self.publish_with(user, repo, version, wasm, cwl, signer, json!({}))
            .await
    }

    /// [`World::publish`] with more manifest annotations.
    #[allow(clippy::too_many_arguments)]
    async fn publish_with(
        &self,
        user: &str,
        repo: &str,
        version: &str,
        wasm: &[u8],
        cwl: &str,
        signer: Option<&str>,
        more: Value,
    ) -> Reply {
        let t = self.token_of(user).to_string();
        let r = send(
            &self.app,
            Some(&t),
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={}", digest(b"{}")),
            Some("application/octet-stream"),
            b"{}".to_vec(),
        )
        .await;
        if r.status != StatusCode::CREATED {
            return r;
        }
        let config = digest(b"{}");
        let r = put_blob_chunked(&self.app, &t, repo, wasm, 1 << 20).await;
        if r.status != StatusCode::CREATED {
            return r;
        }
        let mut annotations = json!({"dev.hysope.cwl": cwl});
        for (k, v) in more.as_object().into_iter().flatten() {
            annotations[k] = v.clone();
        }
        if let Some(signer) = signer {
            annotations["dev.hysope.signature"] =
                json!(sign(self.keys.path(), signer, "hysope-component", wasm));
        }
        let m = manifest(&config, &[("application/wasm", wasm)], &annotations);
        send(
            &self.app,
            Some(&t),
            "PUT",
            &format!("/v2/{repo}/manifests/{version}"),
            Some(MANIFEST),
            m,
        )
        .await
    }

    async fn review(
        &self,
        user: &str,
        reference: &str,
        action: &str,
        successor: Option<&str>,
    ) -> Reply {
        let (repo, version) = reference.split_once('@').unwrap();
        let mut body = json!({"action": action, "reason": format!("{action} in a test")});
        if let Some(s) = successor {
            body["successor"] = json!(s);
        }
        json_as(
            &self.app,
            Some(self.token_of(user)),
            "POST",
            &format!("/registry/packages/{repo}/versions/{version}/review"),
            &body,
        )
        .await
    }
}

fn echo_wasm() -> Vec<u8> {
    std::fs::read(hysope_test_components::component("echo")).unwrap()
}

fn echo_cwl() -> String {
    std::fs::read_to_string(root().join("plugins/echo/echo.cwl")).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_that_must_fail_store_nothing_and_say_why() {
    let w = world(1, 8 << 20).await;
    let wasm = echo_wasm();
    let cwl = echo_cwl();
    let cases: Vec<(&str, Reply, &str, &str)> = vec![
        (
            "no signature",
            w.publish("dora", "dora/echo", "1.0.0", &wasm, &cwl, None)
                .await,
            "DENIED",
            "not signed",
        ),
        (
            "another user's key",
            w.publish("dora", "dora/echo", "1.0.0", &wasm, &cwl, Some("bob"))
                .await,
            "DENIED",
            "not registered",
        ),
        (
            "a non-component",
            w.publish(
                "dora",
                "dora/echo",
                "1.0.0",
                b"just some bytes, not wasm",
                &cwl,
                Some("dora"),
            )
            .await,
            "MANIFEST_INVALID",
            "not a WebAssembly component",
        ),
        // An empty component: a component, of no world of ours (no wasi:cli/run).
        (
            "a component of another world",
            w.publish(
                "dora",
                "dora/echo",
                "1.0.0",
                b"\0asm\x0d\0\x01\0",
                &cwl,
                Some("dora"),
            )
            .await,
            "MANIFEST_INVALID",
            "wasi:cli/run",
        ),
        (
            "a descriptor of something else",
            w.publish(
                "dora",
                "dora/echo",
                "1.0.0",
                &wasm,
                &cwl.replace("\"echo.wasm\"", "\"bob/other@1.0.0\""),
                Some("dora"),
            )
            .await,
            "MANIFEST_INVALID",
            "not this one",
        ),
        (
            "another namespace",
            w.publish("dora", "bob/echo", "1.0.0", &wasm, &cwl, Some("dora"))
                .await,
            "DENIED",
            "may not push",
        ),
        (
            "an oversized blob",
            w.publish(
                "dora",
                "dora/echo",
                "1.0.0",
                &vec![0u8; 9 << 20],
                &cwl,
                Some("dora"),
            )
            .await,
            "SIZE_INVALID",
            "the most",
        ),
    ];
    for (what, r, code, says) in &cases {
        assert!(
            r.status.is_client_error(),
            "{what}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(oci_code(r), *code, "{what}: {}", r.text);
        assert!(r.text.contains(says), "{what}: {}", r.text);
    }
    // A bad signature: other bytes signed, garbage, another namespace.
    let t = w.dora.clone();
    let config = put_blob(&w.app, &t, "dora/echo", b"{}").await;
    put_blob(&w.app, &t, "dora/echo", &wasm).await;
    for (what, sig, says) in [
        (
            "other bytes",
            sign(w.keys.path(), "dora", "hysope-component", b"other"),
            "does not match",
        ),
        (
            "garbage",
            "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n".to_string(),
            "not an SSH signature",
        ),
        (
            "git namespace",
            sign(w.keys.path(), "dora", "git", &wasm),
            "made for",
        ),
    ] {
        let m = manifest(
            &config,
            &[("application/wasm", &wasm)],
            &json!({"dev.hysope.cwl": cwl, "dev.hysope.signature": sig}),
        );
        let r = send(
            &w.app,
            Some(&t),
            "PUT",
            "/v2/dora/echo/manifests/1.0.0",
            Some(MANIFEST),
            m,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text);
        assert_eq!(oci_code(&r), "DENIED");
        assert!(r.text.contains(says), "{what}: {}", r.text);
    }
    // Two layers.
    let sig = sign(w.keys.path(), "dora", "hysope-component", &wasm);
    let two = manifest(
        &config,
        &[("application/wasm", &wasm), ("application/wasm", &wasm)],
        &json!({"dev.hysope.cwl": cwl, "dev.hysope.signature": sig}),
    );
    let r = send(
        &w.app,
        Some(&t),
        "PUT",
        "/v2/dora/echo/manifests/1.0.0",
        Some(MANIFEST),
        two,
    )
    .await;
    assert_eq!(oci_code(&r), "MANIFEST_INVALID", "{}", r.text);
    assert!(r.text.contains("exactly one layer"), "{}", r.text);
    // Nothing was stored: no tag, no version, no audit entry.
    let r = send(
        &w.app,
        Some(&t),
        "GET",
        "/v2/dora/echo/tags/list",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(oci_code(&r), "NAME_UNKNOWN");
    assert!(
        w.state
            .registry()
            .curation
            .versions(None, |_| true)
            .unwrap()
            .is_empty()
    );
    assert!(
        w.state
            .registry()
            .curation
            .audit(None, 0, 100)
            .unwrap()
            .is_empty()
    );

    // The good push, then a re-push of the version with other bytes.
    let r = w
        .publish("dora", "dora/echo", "1.0.0", &wasm, &cwl, Some("dora"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mut other = wasm.clone();
    other.extend_from_slice(b"\0custom"); // not a valid component any more, but refused before
    let r = w
        .publish(
            "dora",
            "dora/echo",
            "1.0.0",
            &wasm,
            &cwl.replace("Returns", "Gives back"),
            Some("dora"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(oci_code(&r), "DENIED");
    assert!(r.text.contains("never changes"), "{}", r.text);
    let v = w
        .state
        .registry()
        .curation
        .versions(None, |_| true)
        .unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].state.as_str(), "submitted");
    assert_eq!(v[0].component, digest(&wasm));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_distribution_api_does_what_the_specification_says() {
    let w = world(1, 64 << 20).await;
    let wasm = echo_wasm();
    let cwl = echo_cwl();
    let app = &w.app;
    // end-1: GET /v2/ answers 200.
    let r = send(app, None, "GET", "/v2/", None, vec![]).await;
    assert_eq!(r.status, StatusCode::OK);
    // Pushing needs credentials: 401 with a Basic challenge, in the OCI envelope.
    let r = send(
        app,
        None,
        "POST",
        "/v2/dora/echo/blobs/uploads/",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm=")
    );
    assert_eq!(oci_code(&r), "UNAUTHORIZED");
    // Basic authentication with a personal token as password works; a wrong user does not.
    use base64::Engine;
    let basic = |user: &str, t: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{t}"))
        )
    };
    for (user, status) in [
        ("dora", StatusCode::ACCEPTED),
        ("mallory", StatusCode::UNAUTHORIZED),
    ] {
        let request = Request::builder()
            .method("POST")
            .uri("/v2/dora/echo/blobs/uploads/")
            .header("host", "t")
            .header("authorization", basic(user, &w.dora))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{user}");
    }
    // Chunked upload: an out-of-order chunk is 416 and the session stays.
    let r = send(
        app,
        Some(&w.dora),
        "POST",
        "/v2/dora/echo/blobs/uploads/",
        None,
        vec![],
    )
    .await;
    let location = r.headers["location"].to_str().unwrap().to_string();
    assert!(location.starts_with("/v2/dora/echo/blobs/uploads/"));
    let request = Request::builder()
        .method("PATCH")
        .uri(&location)
        .header("host", "t")
        .header("authorization", format!("Bearer {}", w.dora))
        .header("content-type", "application/octet-stream")
        .header("content-range", "10-19")
        .body(Body::from(vec![1u8; 10]))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    let r = send(app, Some(&w.dora), "GET", &location, None, vec![]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers["range"].to_str().unwrap(), "0-0");
    // A session is its starter's: another (an operator, who may push anywhere)
    // finds none there.
    let r = send(app, Some(&w.op1), "GET", &location, None, vec![]).await;
    assert_eq!(oci_code(&r), "BLOB_UPLOAD_UNKNOWN", "{}", r.text);
    let r = send(app, Some(&w.dora), "DELETE", &location, None, vec![]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = send(app, Some(&w.dora), "GET", &location, None, vec![]).await;
    assert_eq!(oci_code(&r), "BLOB_UPLOAD_UNKNOWN");
    // A wrong digest at the end stores nothing.
    let r = send(
        app,
        Some(&w.dora),
        "POST",
        &format!("/v2/dora/echo/blobs/uploads/?digest={}", digest(b"other")),
        Some("application/octet-stream"),
        b"bytes".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(oci_code(&r), "DIGEST_INVALID");
    let r = send(
        app,
        Some(&w.dora),
        "GET",
        &format!("/v2/dora/echo/blobs/{}", digest(b"bytes")),
        None,
        vec![],
    )
    .await;
    assert_eq!(oci_code(&r), "BLOB_UNKNOWN");

    // Publish 1.0.0 in small chunks, then 1.1.0 and 1.2.0.
    let config = put_blob(app, &w.dora, "dora/echo", b"{}").await;
    let r = put_blob_chunked(app, &w.dora, "dora/echo", &wasm, 100_000).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.headers["docker-content-digest"].to_str().unwrap(),
        digest(&wasm)
    );
    let sig = sign(w.keys.path(), "dora", "hysope-component", &wasm);
    let m = manifest(
        &config,
        &[("application/wasm", &wasm)],
        &json!({"dev.hysope.cwl": cwl, "dev.hysope.signature": sig}),
    );
    let r = send(
        app,
        Some(&w.dora),
        "PUT",
        "/v2/dora/echo/manifests/1.0.0",
        Some(MANIFEST),
        m.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.headers["docker-content-digest"].to_str().unwrap(),
        digest(&m)
    );
    assert_eq!(
        r.headers["location"].to_str().unwrap(),
        format!("/v2/dora/echo/manifests/{}", digest(&m))
    );
    // The same bytes again: accepted, nothing changes.
    let r = send(
        app,
        Some(&w.dora),
        "PUT",
        "/v2/dora/echo/manifests/1.0.0",
        Some(MANIFEST),
        m.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for v in ["1.1.0", "1.2.0"] {
        assert_eq!(
            w.publish("dora", "dora/echo", v, &wasm, &cwl, Some("dora"))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    // A tag that is not a version, a manifest of another media type.
    let r = send(
        app,
        Some(&w.dora),
        "PUT",
        "/v2/dora/echo/manifests/latest",
        Some(MANIFEST),
        m.clone(),
    )
    .await;
    assert_eq!(oci_code(&r), "MANIFEST_INVALID");
    let r = send(
        app,
        Some(&w.dora),
        "PUT",
        "/v2/dora/echo/manifests/2.0.0",
        Some("application/vnd.docker.distribution.manifest.v2+json"),
        m.clone(),
    )
    .await;
    assert_eq!(oci_code(&r), "MANIFEST_INVALID");
    // Pull by tag and by digest, HEAD, the blob, with their digests.
    for reference in ["1.0.0".to_string(), digest(&m)] {
        let r = send(
            app,
            Some(&w.dora),
            "GET",
            &format!("/v2/dora/echo/manifests/{reference}"),
            None,
            vec![],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.text.as_bytes(), m.as_slice());
        assert_eq!(r.headers["content-type"].to_str().unwrap(), MANIFEST);
        assert_eq!(
            r.headers["docker-content-digest"].to_str().unwrap(),
            digest(&m)
        );
        let r = send(
            app,
            Some(&w.dora),
            "HEAD",
            &format!("/v2/dora/echo/manifests/{reference}"),
            None,
            vec![],
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.headers["content-length"].to_str().unwrap(),
            m.len().to_string()
        );
    }
    let request = Request::builder()
        .uri(format!("/v2/dora/echo/blobs/{}", digest(&wasm)))
        .header("host", "t")
        .header("authorization", format!("Bearer {}", w.dora))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .as_ref(),
        wasm.as_slice()
    );
    // Unknown manifest: 404 MANIFEST_UNKNOWN to a user, 401 to anonymous (as private).
    let r = send(
        app,
        Some(&w.dora),
        "GET",
        "/v2/dora/echo/manifests/9.9.9",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, oci_code(&r).as_str()),
        (StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN")
    );
    let r = send(
        app,
        None,
        "GET",
        "/v2/dora/echo/manifests/9.9.9",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Versions waiting for review are their namespace's: 401 anonymous, 404 to bob.
    let r = send(
        app,
        None,
        "GET",
        "/v2/dora/echo/manifests/1.0.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = send(
        app,
        Some(&w.bob),
        "GET",
        "/v2/dora/echo/manifests/1.0.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = send(
        app,
        Some(&w.bob),
        "GET",
        &format!("/v2/dora/echo/blobs/{}", digest(&wasm)),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = send(
        app,
        Some(&w.bob),
        "GET",
        "/v2/dora/echo/tags/list",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.json()["tags"], json!([]), "{}", r.text);
    // Tag paging (n, last, Link).
    let r = send(
        app,
        Some(&w.dora),
        "GET",
        "/v2/dora/echo/tags/list?n=2",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        r.json(),
        json!({"name": "dora/echo", "tags": ["1.0.0", "1.1.0"]})
    );
    assert_eq!(
        r.headers["link"].to_str().unwrap(),
        "</v2/dora/echo/tags/list?n=2&last=1.1.0>; rel=\"next\""
    );
    let r = send(
        app,
        Some(&w.dora),
        "GET",
        "/v2/dora/echo/tags/list?n=2&last=1.1.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.json()["tags"], json!(["1.2.0"]));
    assert!(r.headers.get("link").is_none());
    // Referrers: a signature attached to 1.0.0 (an `oras attach`), checked against
    // the pusher's keys; one by another user's key is refused.
    let subject = json!({"mediaType": MANIFEST, "digest": digest(&m), "size": m.len()});
    let empty = put_blob(app, &w.dora, "dora/echo", b"{}").await;
    for (signer, status) in [
        ("bob", StatusCode::FORBIDDEN),
        ("dora", StatusCode::CREATED),
    ] {
        let sig = sign(w.keys.path(), signer, "hysope-component", &wasm);
        let sig_digest = put_blob(app, &w.dora, "dora/echo", sig.as_bytes()).await;
        let attach = json!({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": "application/vnd.hysope.signature.v1+sshsig",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [{"mediaType": "application/vnd.hysope.signature.v1+sshsig", "digest": sig_digest, "size": sig.len()}],
            "subject": subject}).to_string().into_bytes();
        let r = send(
            app,
            Some(&w.dora),
            "PUT",
            &format!("/v2/dora/echo/manifests/{}", digest(&attach)),
            Some(MANIFEST),
            attach.clone(),
        )
        .await;
        assert_eq!(r.status, status, "{signer}: {}", r.text);
        if status == StatusCode::CREATED {
            assert_eq!(r.headers["oci-subject"].to_str().unwrap(), digest(&m));
            let r = send(
                app,
                Some(&w.dora),
                "GET",
                &format!("/v2/dora/echo/referrers/{}", digest(&m)),
                None,
                vec![],
            )
            .await;
            assert_eq!(r.status, StatusCode::OK);
            assert_eq!(
                r.headers["content-type"].to_str().unwrap(),
                "application/vnd.oci.image.index.v1+json"
            );
            let index = r.json();
            assert_eq!(index["manifests"].as_array().unwrap().len(), 1, "{index}");
            assert_eq!(index["manifests"][0]["digest"], digest(&attach));
            let r = send(
                app,
                Some(&w.dora),
                "GET",
                &format!("/v2/dora/echo/referrers/{}?artifactType=other", digest(&m)),
                None,
                vec![],
            )
            .await;
            assert_eq!(r.json()["manifests"], json!([]));
            assert_eq!(
                r.headers["oci-filters-applied"].to_str().unwrap(),
                "artifactType"
            );
        }
    }
    // Versions are never deleted.
    let r = send(
        app,
        Some(&w.dora),
        "DELETE",
        "/v2/dora/echo/manifests/1.0.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, oci_code(&r).as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "UNSUPPORTED")
    );
    // wkg finds the registry.
    let r = send(
        app,
        None,
        "GET",
        "/.well-known/wasm-pkg/registry.json",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.json()["preferredProtocol"], "oci");
}

#[tokio::test(flavor = "multi_thread")]
async fn reviews_follow_the_state_machine_by_role_with_four_eyes() {
    let w = world(1, 64 << 20).await;
    let wasm = echo_wasm();
    let cwl = echo_cwl();
    for v in ["1.0.0", "1.1.0"] {
        assert_eq!(
            w.publish("dora", "dora/echo", v, &wasm, &cwl, Some("dora"))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    assert_eq!(
        w.publish("op1", "op1/tool", "1.0.0", &wasm, &cwl, Some("op1"))
            .await
            .status,
        StatusCode::CREATED
    );
    // The queue is the operators'.
    let r = json_as(&w.app, Some(&w.dora), "GET", "/registry/queue", &json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = json_as(&w.app, Some(&w.op2), "GET", "/registry/queue", &json!({})).await;
    assert_eq!(
        r.json()["submissions"].as_array().unwrap().len(),
        3,
        "{}",
        r.text
    );
    // Approve and reject are the operators', never of their own submission.
    let r = w.review("dora", "dora/echo@1.0.0", "approve", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = w.review("bob", "dora/echo@1.0.0", "approve", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = w.review("op1", "op1/tool@1.0.0", "approve", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("four eyes"), "{}", r.text);
    assert_eq!(
        w.review("op2", "op1/tool@1.0.0", "reject", None)
            .await
            .status,
        StatusCode::OK
    );
    // A reason is required; unknown actions are refused.
    let r = json_as(
        &w.app,
        Some(&w.op1),
        "POST",
        "/registry/packages/dora/echo/versions/1.0.0/review",
        &json!({"action": "approve", "reason": " "}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = json_as(
        &w.app,
        Some(&w.op1),
        "POST",
        "/registry/packages/dora/echo/versions/1.0.0/review",
        &json!({"action": "bless", "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    for (user, reference, action, successor, status, state) in [
        (
            "op1",
            "dora/echo@1.0.0",
            "approve",
            None,
            StatusCode::OK,
            "approved",
        ),
        (
            "op1",
            "dora/echo@1.0.0",
            "approve",
            None,
            StatusCode::CONFLICT,
            "",
        ),
        (
            "op1",
            "dora/echo@1.0.0",
            "undeprecate",
            None,
            StatusCode::CONFLICT,
            "",
        ),
        (
            "op1",
            "dora/echo@1.0.0",
            "unyank",
            None,
            StatusCode::CONFLICT,
            "",
        ),
        (
            "op1",
            "dora/echo@1.0.0",
            "deprecate",
            None,
            StatusCode::BAD_REQUEST,
            "",
        ),
        // The successor must be approved: 1.1.0 is not yet.
        (
            "op1",
            "dora/echo@1.0.0",
            "deprecate",
            Some("dora/echo@1.1.0"),
            StatusCode::BAD_REQUEST,
            "",
        ),
        (
            "op2",
            "dora/echo@1.1.0",
            "approve",
            None,
            StatusCode::OK,
            "approved",
        ),
        (
            "dora",
            "dora/echo@1.0.0",
            "deprecate",
            Some("dora/echo@1.1.0"),
            StatusCode::OK,
            "deprecated",
        ),
        (
            "dora",
            "dora/echo@1.0.0",
            "undeprecate",
            None,
            StatusCode::OK,
            "approved",
        ),
        (
            "op1",
            "dora/echo@1.0.0",
            "deprecate",
            Some("dora/echo@1.1.0"),
            StatusCode::OK,
            "deprecated",
        ),
        (
            "bob",
            "dora/echo@1.0.0",
            "yank",
            None,
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            "dora",
            "dora/echo@1.0.0",
            "yank",
            None,
            StatusCode::OK,
            "yanked",
        ),
        (
            "dora",
            "dora/echo@1.0.0",
            "unyank",
            None,
            StatusCode::OK,
            "deprecated",
        ),
        (
            "dora",
            "dora/echo@1.0.0",
            "quarantine",
            None,
            StatusCode::FORBIDDEN,
            "",
        ),
        (
            "op2",
            "dora/echo@1.0.0",
            "quarantine",
            None,
            StatusCode::OK,
            "quarantined",
        ),
        (
            "op2",
            "dora/echo@1.0.0",
            "quarantine",
            None,
            StatusCode::CONFLICT,
            "",
        ),
        (
            "op2",
            "dora/echo@1.0.0",
            "unyank",
            None,
            StatusCode::CONFLICT,
            "",
        ),
    ] {
        let r = w.review(user, reference, action, successor).await;
        assert_eq!(r.status, status, "{user} {action} {reference}: {}", r.text);
        if !state.is_empty() {
            assert_eq!(r.json()["state"], state, "{}", r.text);
        }
    }
    // A quarantined version cannot be downloaded, by anyone.
    let r = send(
        &w.app,
        Some(&w.op1),
        "GET",
        "/v2/dora/echo/manifests/1.0.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, oci_code(&r).as_str()),
        (StatusCode::FORBIDDEN, "DENIED")
    );
    // Approved versions are public.
    let r = send(
        &w.app,
        None,
        "GET",
        "/v2/dora/echo/manifests/1.1.0",
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The audit log holds every change, in order, with its actor and reason.
    let r = json_as(
        &w.app,
        Some(&w.op1),
        "GET",
        "/registry/audit?subject=dora/echo@1.0.0",
        &json!({}),
    )
    .await;
    let actions: Vec<String> = r.json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "publish",
            "approve",
            "deprecate",
            "undeprecate",
            "deprecate",
            "yank",
            "unyank",
            "quarantine"
        ]
    );
    let r = json_as(
        &w.app,
        Some(&w.dora),
        "GET",
        "/registry/packages/dora/echo/versions/1.0.0",
        &json!({}),
    )
    .await;
    let v = r.json();
    assert_eq!(v["signer"]["user"], "dora");
    assert_eq!(v["review_log"].as_array().unwrap().len(), 8);
    assert_eq!(v["report"]["cwl"]["id"], "echo", "{v}");
    // A shared namespace: members publish in it.
    let r = json_as(
        &w.app,
        Some(&w.op1),
        "PUT",
        "/registry/namespaces/hydro",
        &json!({"members": ["bob"], "reason": "the team"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        w.publish("bob", "hydro/echo", "1.0.0", &wasm, &cwl, Some("bob"))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        w.publish("dora", "hydro/echo", "1.0.1", &wasm, &cwl, Some("dora"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The caller reads their quota.
    let r = json_as(&w.app, Some(&w.dora), "GET", "/registry/quota", &json!({})).await;
    assert_eq!(
        r.json()["usage"]["storage_bytes"],
        (2 * wasm.len()) as u64,
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn quotas_answer_429_with_retry_after() {
    let data = tempfile::tempdir().unwrap();
    let mut c = config(data.path());
    c.quotas.versions_per_day = 2;
    let (state, _) = hysope_server::start(c).await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let w = World {
        app: api::router(state.clone()),
        dora: token(&state, "dora", Role::Developer),
        bob: token(&state, "bob", Role::Developer),
        op1: token(&state, "op1", Role::Operator),
        op2: token(&state, "op2", Role::Operator),
        state,
        keys,
        _data: data,
    };
    let line = keygen(w.keys.path(), "dora");
    json_as(
        &w.app,
        Some(&w.dora),
        "POST",
        "/registry/keys",
        &json!({"key": line}),
    )
    .await;
    let wasm = echo_wasm();
    let cwl = echo_cwl();
    for v in ["1.0.0", "1.0.1"] {
        assert_eq!(
            w.publish("dora", "dora/echo", v, &wasm, &cwl, Some("dora"))
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let r = w
        .publish("dora", "dora/echo", "1.0.2", &wasm, &cwl, Some("dora"))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(oci_code(&r), "TOOMANYREQUESTS");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 80_000 && wait <= 86_400, "{wait}");
}

/// The CWL of a process that runs `component` (a registry reference).
fn process_cwl(id: &str, component: &str) -> String {
    let mut tool: Value = serde_json::from_str(&echo_cwl()).unwrap();
    tool["id"] = json!(id);
    tool["requirements"]["hysope:WasmRequirement"]["component"] = json!(component);
    tool.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn processes_pin_registry_versions_private_until_approved() {
    let w = world(2, 64 << 20).await;
    let wasm = echo_wasm();
    assert_eq!(
        w.publish(
            "dora",
            "dora/echo",
            "1.0.0",
            &wasm,
            &echo_cwl(),
            Some("dora")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    let deploy = |user: &'static str, id: &'static str, component: &'static str| {
        let body = process_cwl(id, component);
        let app = w.app.clone();
        let t = w.token_of(user).to_string();
        async move {
            send(
                &app,
                Some(&t),
                "POST",
                "/processes",
                Some("application/cwl+json"),
                body.into_bytes(),
            )
            .await
        }
    };
    // Bob cannot pin what he cannot see; dora pins her submitted version.
    assert_eq!(
        deploy("bob", "bobs-echo", "dora/echo@1.0.0").await.status,
        StatusCode::BAD_REQUEST
    );
    let r = deploy("dora", "doras-echo", "dora/echo@1.0.0").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let package = send(
        &w.app,
        Some(&w.dora),
        "GET",
        "/processes/doras-echo/package",
        None,
        vec![],
    )
    .await;
    assert!(
        package.text.contains(&digest(&wasm)),
        "pinned: {}",
        package.text
    );
    assert!(package.text.contains("\"registry\""), "{}", package.text);
    // Private to dora until approved.
    assert_eq!(
        send(
            &w.app,
            Some(&w.bob),
            "GET",
            "/processes/doras-echo",
            None,
            vec![]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    let list = send(&w.app, Some(&w.bob), "GET", "/processes", None, vec![]).await;
    assert!(!list.text.contains("doras-echo"));
    let run = |user: &'static str| {
        let app = w.app.clone();
        let t = w.token_of(user).to_string();
        async move {
            json_as(
                &app,
                Some(&t),
                "POST",
                "/processes/doras-echo/execution",
                &json!({"inputs": {"stringInput": "hello"}}),
            )
            .await
        }
    };
    let r = run("dora").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        w.review("op1", "dora/echo@1.0.0", "approve", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = run("bob").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Its result item says which digest ran, by its registry reference.
    let items = send(
        &w.app,
        Some(&w.op1),
        "GET",
        "/stac/collections/results/items",
        None,
        vec![],
    )
    .await;
    let text = items.text.clone();
    assert!(
        text.contains("dora/echo@1.0.0")
            && text.contains(&hex::encode(sha2::Sha256::digest(&wasm))),
        "{text}"
    );
    // The version page names the process that uses it.
    let r = json_as(
        &w.app,
        Some(&w.dora),
        "GET",
        "/registry/packages/dora/echo/versions/1.0.0",
        &json!({}),
    )
    .await;
    assert_eq!(r.json()["processes"], json!(["doras-echo"]));
    // Yanked: no new deploys, the deployed process still runs.
    assert_eq!(
        w.review("dora", "dora/echo@1.0.0", "yank", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = deploy("dora", "another-echo", "dora/echo@1.0.0").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("yanked"), "{}", r.text);
    let r = run("bob").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn quarantine_disables_processes_and_cancels_their_queued_jobs() {
    // One worker, kept busy: the jobs after stay queued.
    let w = world(1, 64 << 20).await;
    let wasm = echo_wasm();
    assert_eq!(
        w.publish(
            "dora",
            "dora/echo",
            "1.0.0",
            &wasm,
            &echo_cwl(),
            Some("dora")
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        w.review("op1", "dora/echo@1.0.0", "approve", None)
            .await
            .status,
        StatusCode::OK
    );
    let r = send(
        &w.app,
        Some(&w.dora),
        "POST",
        "/processes",
        Some("application/cwl+json"),
        process_cwl("q-echo", "dora/echo@1.0.0").into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let submit = |process: &str, token: &str, inputs: Value| {
        Request::builder()
            .method("POST")
            .uri(format!("/processes/{process}/execution"))
            .header("host", "t")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("prefer", "respond-async")
            .body(Body::from(json!({"inputs": inputs}).to_string()))
            .unwrap()
    };
    let busy = w
        .app
        .clone()
        .oneshot(submit("sleep", &w.op1, json!({"seconds": 60})))
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::CREATED);
    let busy: Value =
        serde_json::from_slice(&busy.into_body().collect().await.unwrap().to_bytes()).unwrap();
    // Wait until the worker has it.
    for _ in 0..100 {
        let s = send(
            &w.app,
            Some(&w.op1),
            "GET",
            &format!("/jobs/{}", busy["jobID"].as_str().unwrap()),
            None,
            vec![],
        )
        .await
        .json();
        if s["status"] == "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        let request = Request::builder()
            .method("POST")
            .uri("/processes/q-echo/execution")
            .header("host", "t")
            .header("authorization", format!("Bearer {}", w.bob))
            .header("content-type", "application/json")
            .header("prefer", "respond-async")
            .body(Body::from(
                json!({"inputs": {"stringInput": "x"}}).to_string(),
            ))
            .unwrap();
        let response = w.app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        ids.push(body["jobID"].as_str().unwrap().to_string());
    }
    let r = w.review("op2", "dora/echo@1.0.0", "quarantine", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut cancelled: Vec<String> =
        serde_json::from_value(r.json()["cancelled_jobs"].clone()).unwrap();
    cancelled.sort();
    ids.sort();
    assert_eq!(cancelled, ids);
    let status = send(
        &w.app,
        Some(&w.bob),
        "GET",
        &format!("/jobs/{}", ids[0]),
        None,
        vec![],
    )
    .await
    .json();
    assert_eq!(status["status"], "dismissed");
    assert!(
        status["message"].as_str().unwrap().contains("quarantined"),
        "{status}"
    );
    let r = json_as(
        &w.app,
        Some(&w.bob),
        "POST",
        "/processes/q-echo/execution",
        &json!({"inputs": {"stringInput": "x"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("quarantined"), "{}", r.text);
    send(
        &w.app,
        Some(&w.op1),
        "DELETE",
        &format!("/jobs/{}", busy["jobID"].as_str().unwrap()),
        None,
        vec![],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_plugins_are_published_signed_and_approved_once() {
    let w = world(1, 64 << 20).await;
    let published = hysope_server::publish_bundled(&w.state).await.unwrap();
    let bundled: Vec<String> = std::fs::read_to_string(root().join("plugins/bundled.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("hysope-").to_string())
        .collect();
    for name in &bundled {
        assert!(
            published
                .iter()
                .any(|r| r.starts_with(&format!("hysope/{name}@"))),
            "{name} not in {published:?}"
        );
    }
    // Approved, signed by the bootstrap key (registered on the publisher), public.
    let echo = published
        .iter()
        .find(|r| r.starts_with("hysope/echo@"))
        .unwrap()
        .clone();
    let (repo, version) = echo.split_once('@').unwrap();
    let v = send(
        &w.app,
        None,
        "GET",
        &format!("/registry/packages/{repo}/versions/{version}"),
        None,
        vec![],
    )
    .await
    .json();
    assert_eq!(v["state"], "approved", "{v}");
    assert_eq!(v["signer"]["user"], "hysope");
    assert!(
        v["review_log"][1]["reason"]
            .as_str()
            .unwrap()
            .contains("bundled"),
        "{v}"
    );
    assert_eq!(v["component"], digest(&echo_wasm()));
    let r = send(
        &w.app,
        None,
        "GET",
        &format!("/v2/{repo}/manifests/{version}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let key = std::fs::metadata(w.state.data_dir().join("registry/bootstrap-key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
    // Once: a second start publishes nothing.
    assert!(
        hysope_server::publish_bundled(&w.state)
            .await
            .unwrap()
            .is_empty()
    );
    // Deployed by reference like any plugin.
    let body = process_cwl("echo-by-reference", &echo);
    let r = send(
        &w.app,
        Some(&w.dora),
        "POST",
        "/processes",
        Some("application/cwl+json"),
        body.into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = json_as(
        &w.app,
        Some(&w.bob),
        "POST",
        "/processes/echo-by-reference/execution",
        &json!({"inputs": {"stringInput": "hi"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_example_job_runs_in_the_sandbox_at_publish() {
    let w = world(1, 64 << 20).await;
    let wasm = echo_wasm();
    let cwl = echo_cwl();
    let example = |job: &str| json!({"dev.hysope.example": job});
    // A job that does not fit the tool, and one that names a file of the server.
    for (job, says) in [
        ("integerInput: not a number", "example job failed"),
        (
            "{\"fileInput\": {\"class\": \"File\", \"path\": \"/etc/passwd\"}}",
            "names a place",
        ),
        ("[1, 2]", "not an object"),
    ] {
        let r = w
            .publish_with(
                "dora",
                "dora/echo",
                "1.0.0",
                &wasm,
                &cwl,
                Some("dora"),
                example(job),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{job}: {}", r.text);
        assert_eq!(oci_code(&r), "MANIFEST_INVALID");
        assert!(r.text.contains(says), "{job}: {}", r.text);
    }
    let job =
        "stringInput: hello\nfileInput: {class: File, basename: in.txt, contents: some text}\n";
    let r = w
        .publish_with(
            "dora",
            "dora/echo",
            "1.0.0",
            &wasm,
            &cwl,
            Some("dora"),
            example(job),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = json_as(
        &w.app,
        Some(&w.dora),
        "GET",
        "/registry/packages/dora/echo/versions/1.0.0",
        &json!({}),
    )
    .await
    .json();
    assert_eq!(v["report"]["example"]["ran"], true, "{v}");
    assert!(
        !v["report"]["example"]["outputs"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{v}"
    );
    // Without an example the report says it was not run.
    let r = w
        .publish("dora", "dora/echo", "1.0.1", &wasm, &cwl, Some("dora"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let v = json_as(
        &w.app,
        Some(&w.dora),
        "GET",
        "/registry/packages/dora/echo/versions/1.0.1",
        &json!({}),
    )
    .await
    .json();
    assert_eq!(v["report"]["example"]["ran"], false, "{v}");
}
