//! Identity, roles and ownership (issue 18): every route of the table as each role,
//! with personal tokens and with access tokens of a real OIDC provider
//! (`oidc-provider` from npm, started here by `tests/oidc/provider.mjs`); 401 with
//! `WWW-Authenticate` and 403; jobs and processes owned; result items that publish
//! no host path; the documents declaring who may call what.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use common::{Reply, call, config, root};
use hysope_identity::tokens::{NewToken, issue};
use hysope_identity::{Action, OidcConfig, Policy, Role};
use hysope_server::api;
use serde_json::{Value, json};

/// The provider, killed when dropped.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider() -> Provider {
    let dir = root().join("tests/oidc");
    assert!(
        dir.join("node_modules/oidc-provider").is_dir(),
        "the OIDC provider is not installed: run tests/install-tools.sh (npm install in tests/oidc)"
    );
    let mut child = Command::new("node")
        .arg(dir.join("provider.mjs"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node runs the OIDC provider");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuer = serde_json::from_str::<Value>(&line)
        .unwrap_or_else(|e| panic!("the provider said {line:?}: {e}"))["issuer"]
        .as_str()
        .unwrap()
        .to_string();
    Provider { child, issuer }
}

/// An access token of `client` by client credentials.
async fn access_token(issuer: &str, client: &str) -> String {
    let body =
        format!("grant_type=client_credentials&client_id={client}&client_secret=secret-{client}");
    let bytes = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    reply["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {reply}"))
        .to_string()
}

/// A server trusting `issuer`, with `policy`, called without any default token.
async fn server(
    dir: &std::path::Path,
    issuer: Option<&str>,
    policy: Policy,
) -> (Router, std::sync::Arc<hysope_server::State>) {
    let mut config = config(dir);
    config.oidc = issuer.map(|i| {
        let mut c = OidcConfig::new(i);
        c.audience = Some("hysope".into());
        c
    });
    config.policy = policy;
    let (state, _) = hysope_server::start(config).await.unwrap();
    (api::router(state.clone()), state)
}

fn personal(
    state: &hysope_server::State,
    user: &str,
    role: Role,
    scopes: Option<Vec<Action>>,
) -> String {
    issue(
        state.auth().tokens().as_ref(),
        NewToken {
            user: user.into(),
            role,
            scopes,
            lifetime: None,
            created_by: "test".into(),
            note: None,
        },
    )
    .unwrap()
    .0
}

async fn as_(app: &Router, token: Option<&str>, method: &str, uri: &str, body: &str) -> Reply {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    call(app, method, uri, &headers, body).await
}

/// A route of the table with its parameters filled with names of nothing.
fn concrete(path: &str) -> String {
    path.replace("{*path}", "out.txt")
        .replace("{kind}", "reaches")
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                "nothing-here"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Every route x every role: a role below the route's is refused (401 for no
/// token, with `WWW-Authenticate`; 403 for a role that may not), a role at or above
/// it reaches the route's handler (never the fallback, never 401/403).
async fn matrix(app: &Router, callers: &[(Role, Option<String>)], policy: Policy, how: &str) {
    let rules = api::rules();
    assert!(rules.len() >= 30, "{} rules", rules.len());
    for rule in rules {
        let uri = concrete(rule.path);
        for (role, token) in callers {
            let r = as_(app, token.as_deref(), rule.method.as_str(), &uri, "{}").await;
            let needed = policy.required(rule.action);
            let what = format!(
                "{how}: {} {uri} as {role} (needs {needed}): {} {}",
                rule.method, r.status, r.text
            );
            // The registry's OCI routes answer in the OCI envelope and ask for
            // basic authentication; they answer an anonymous pull of what is not
            // public (or not there) 401, and a push to another's namespace 403.
            let oci = rule.path.starts_with("/v2/");
            if *role >= needed {
                let handler_said_so =
                    (r.status == StatusCode::UNAUTHORIZED && oci && r.text.contains("not public"))
                        || (r.status == StatusCode::FORBIDDEN
                            && !r.text.contains("this needs the role")
                            && !r.text.contains("scopes"));
                assert!(
                    handler_said_so || !matches!(r.status.as_u16(), 401 | 403 | 405),
                    "{what}"
                );
                assert!(!r.text.contains("no resource at"), "{what}");
            } else if *role == Role::Anonymous {
                assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
                let challenge = if oci {
                    "Basic realm=\"hysope\", charset=\"UTF-8\""
                } else {
                    "Bearer realm=\"hysope\""
                };
                assert_eq!(
                    r.headers["www-authenticate"].to_str().unwrap(),
                    challenge,
                    "{what}"
                );
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}");
                if oci {
                    assert_eq!(r.json()["errors"][0]["code"], "DENIED", "{what}");
                } else {
                    assert_eq!(r.json()["status"], 403, "{what}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_as_every_role_with_personal_and_oidc_tokens() {
    let provider = start_provider();
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy::default();
    let (app, state) = server(dir.path(), Some(&provider.issuer), policy).await;
    let mut personal_callers = vec![(Role::Anonymous, None)];
    let mut oidc_callers = vec![(Role::Anonymous, None)];
    for role in [Role::User, Role::Developer, Role::Operator] {
        personal_callers.push((
            role,
            Some(personal(&state, &format!("p-{role}"), role, None)),
        ));
        let client = format!("hysope-{role}");
        oidc_callers.push((role, Some(access_token(&provider.issuer, &client).await)));
    }
    // Who the server takes each for.
    for (role, token) in &oidc_callers {
        let me = as_(&app, token.as_deref(), "GET", "/me", "").await.json();
        assert_eq!(me["role"], role.as_str(), "{me}");
    }
    let me = as_(&app, oidc_callers[2].1.as_deref(), "GET", "/me", "")
        .await
        .json();
    assert_eq!(me["subject"], "hysope-developer");
    assert_eq!(me["via"]["kind"], "oidc");
    assert!(me["may"].as_array().unwrap().contains(&json!("deploy")));
    matrix(&app, &personal_callers, policy, "personal tokens").await;
    matrix(&app, &oidc_callers, policy, "OIDC tokens").await;

    // A provider's token without a role is a user's (the default role).
    let plain = access_token(&provider.issuer, "hysope-norole").await;
    let me = as_(&app, Some(&plain), "GET", "/me", "").await.json();
    assert_eq!(me["role"], "user");

    // Tampered, foreign-algorithm and unsigned tokens are refused with invalid_token.
    let good = &oidc_callers[3].1.clone().unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["roles"] = json!(["operator"]);
    claims["sub"] = json!("mallory");
    let forged_body = b64.encode(claims.to_string());
    let tampered = format!("{}.{forged_body}.{}", parts[0], parts[2]);
    let hs256 = format!(
        "{}.{forged_body}.{}",
        b64.encode(r#"{"alg":"HS256","typ":"JWT","kid":"test-key-1"}"#),
        parts[2]
    );
    let none = format!(
        "{}.{forged_body}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#)
    );
    for (what, token) in [("tampered", &tampered), ("HS256", &hs256), ("none", &none)] {
        let r = as_(&app, Some(token), "GET", "/jobs", "").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
        assert_eq!(
            r.headers["www-authenticate"].to_str().unwrap(),
            "Bearer realm=\"hysope\", error=\"invalid_token\"",
            "{what}"
        );
    }
    // A token of the same provider for another audience is refused.
    let dir2 = tempfile::tempdir().unwrap();
    let mut other = config(dir2.path());
    let mut c = OidcConfig::new(provider.issuer.clone());
    c.audience = Some("another-service".into());
    other.oidc = Some(c);
    let (state2, _) = hysope_server::start(other).await.unwrap();
    let app2 = api::router(state2);
    let r = as_(&app2, Some(good), "GET", "/jobs", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("not valid"),
        "{}",
        r.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_missing_bad_revoked_expired_or_narrow() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = server(dir.path(), None, Policy::default()).await;
    let body = json!({"inputs": {"stringInput": "hi"}}).to_string();
    let r = as_(&app, None, "POST", "/processes/echo/execution", &body).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("needs a token"),
        "{}",
        r.text
    );
    // Public reads need none; a bad token is refused even there.
    assert_eq!(
        as_(&app, None, "GET", "/processes", "").await.status,
        StatusCode::OK
    );
    let r = as_(&app, Some("hysope_pat_nope"), "GET", "/processes", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    let r = as_(&app, Some("eyJ.eyJ.sig"), "GET", "/processes", "").await;
    assert!(
        r.json()["detail"]
            .as_str()
            .unwrap()
            .contains("trusts no OIDC provider"),
        "{}",
        r.text
    );
    let r = call(&app, "GET", "/jobs", &[("authorization", "Basic YTpi")], "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // X-API-Key works as Bearer does.
    let ada = personal(&state, "ada", Role::User, None);
    let r = call(&app, "GET", "/me", &[("x-api-key", ada.as_str())], "").await;
    assert_eq!(r.json()["subject"], "ada");
    // Revoked at once (over the API, by an operator).
    let op = personal(&state, "root", Role::Operator, None);
    let listed = as_(&app, Some(&op), "GET", "/admin/tokens?user=ada", "")
        .await
        .json();
    let id = listed["tokens"][0]["id"].as_str().unwrap().to_string();
    assert!(
        !listed.to_string().contains(&ada),
        "a listing shows a secret"
    );
    assert!(listed["tokens"][0].get("hash").is_none());
    let r = as_(
        &app,
        Some(&op),
        "DELETE",
        &format!("/admin/tokens/{id}"),
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = as_(&app, Some(&ada), "GET", "/jobs", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.json()["detail"].as_str().unwrap().contains("revoked"));
    // Made over the API, expiring.
    let r = as_(
        &app,
        Some(&op),
        "POST",
        "/admin/tokens",
        r#"{"user": "bob", "role": "developer", "scopes": ["jobs"], "expires_in": "1s"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let bob = r.json()["token"].as_str().unwrap().to_string();
    // Scoped to jobs: may list its jobs, may not execute or deploy.
    assert_eq!(
        as_(&app, Some(&bob), "GET", "/jobs", "").await.status,
        StatusCode::OK
    );
    let r = as_(&app, Some(&bob), "POST", "/processes/echo/execution", &body).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("scopes"),
        "{}",
        r.text
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = as_(&app, Some(&bob), "GET", "/jobs", "").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("expired"),
        "{}",
        r.text
    );
    // Bad token requests: 400 saying what.
    for (bad, says) in [
        (r#"{"user": "../x", "role": "user"}"#, "not allowed"),
        (r#"{"user": "x", "role": "root"}"#, "root"),
        (r#"{"user": "x", "role": "anonymous"}"#, "anonymous"),
        (
            r#"{"user": "x", "role": "user", "scopes": ["everything"]}"#,
            "everything",
        ),
        (r#"{"user": "x", "role": "user", "admin": true}"#, "admin"),
    ] {
        let r = as_(&app, Some(&op), "POST", "/admin/tokens", bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert!(r.text.contains(says), "{bad}: {}", r.text);
    }
    // A user may not manage tokens.
    let carol = personal(&state, "carol", Role::User, None);
    assert_eq!(
        as_(&app, Some(&carol), "GET", "/admin/tokens", "")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn wait_done(app: &Router, token: &str, id: &str) -> Value {
    for _ in 0..400 {
        let s = as_(app, Some(token), "GET", &format!("/jobs/{id}"), "")
            .await
            .json();
        if matches!(
            s["status"].as_str(),
            Some("successful" | "failed" | "dismissed")
        ) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not finish");
}

/// Starts `echo` asynchronously as the bearer of `token` (or anonymously); its job id.
async fn execute_async(app: &Router, token: Option<&str>) -> String {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("content-type", "application/json"),
        ("prefer", "respond-async"),
    ];
    if let Some(b) = &bearer {
        headers.push(("authorization", b.as_str()));
    }
    let body = json!({"inputs": {"stringInput": "hi"}}).to_string();
    let r = call(app, "POST", "/processes/echo/execution", &headers, &body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["jobID"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_and_results_are_their_owners_and_the_operators() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = server(dir.path(), None, Policy::default()).await;
    let ada = personal(&state, "ada", Role::User, None);
    let bob = personal(&state, "bob", Role::User, None);
    let op = personal(&state, "olga", Role::Operator, None);
    let id = execute_async(&app, Some(&ada)).await;
    let done = wait_done(&app, &ada, &id).await;
    assert_eq!(done["status"], "successful");
    assert_eq!(done["hysope:owner"], "ada");
    // Bob: no such job, whatever he asks of it.
    for (method, uri) in [
        ("GET", format!("/jobs/{id}")),
        ("GET", format!("/jobs/{id}/results")),
        ("GET", format!("/jobs/{id}/files/echo.json")),
        ("DELETE", format!("/jobs/{id}")),
    ] {
        let r = as_(&app, Some(&bob), method, &uri, "").await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {uri}: {}",
            r.text
        );
        assert!(r.json()["type"].as_str().unwrap().ends_with("no-such-job"));
    }
    let ids = |v: Value| -> Vec<String> {
        v["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["jobID"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(ids(as_(&app, Some(&bob), "GET", "/jobs", "").await.json()).is_empty());
    assert_eq!(
        ids(as_(&app, Some(&ada), "GET", "/jobs", "").await.json()),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        ids(as_(&app, Some(&op), "GET", "/jobs", "").await.json()),
        std::slice::from_ref(&id)
    );
    assert_eq!(
        as_(&app, Some(&op), "GET", &format!("/jobs/{id}/results"), "")
            .await
            .status,
        StatusCode::OK
    );
    // The result item says whose it is, and shows no path of the server.
    let item = as_(
        &app,
        None,
        "GET",
        &format!("/stac/collections/results/items/{id}"),
        "",
    )
    .await
    .json();
    assert_eq!(item["properties"]["hysope:owner"], "ada", "{item}");
    let shown = item["properties"]["hysope:inputs"].to_string();
    assert!(!shown.contains(dir.path().to_str().unwrap()), "{shown}");

    // A deployed process is its developer's: another developer may not replace or
    // undeploy it, a user may not deploy, an operator may undeploy it.
    let dev1 = personal(&state, "dev1", Role::Developer, None);
    let dev2 = personal(&state, "dev2", Role::Developer, None);
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("plugins/echo/echo.cwl")).unwrap(),
    )
    .unwrap();
    doc["id"] = json!("echo-1");
    let cwl = doc.to_string();
    let deploy = |token: String, method: &'static str, uri: &'static str| {
        let cwl = cwl.clone();
        let app = app.clone();
        async move {
            call(
                &app,
                method,
                uri,
                &[
                    ("authorization", &format!("Bearer {token}")),
                    ("content-type", "application/cwl+json"),
                ],
                &cwl,
            )
            .await
        }
    };
    let r = deploy(ada.clone(), "POST", "/processes").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = deploy(dev1.clone(), "POST", "/processes").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let pid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(pid, "echo-1", "{}", r.text);
    let r = deploy(dev2.clone(), "PUT", "/processes/echo-1").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("another user"), "{}", r.text);
    let r = as_(&app, Some(&dev2), "DELETE", "/processes/echo-1", "").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = deploy(dev1.clone(), "PUT", "/processes/echo-1").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = as_(&app, Some(&op), "DELETE", "/processes/echo-1", "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_demo_lets_anonymous_callers_execute_and_follow_by_link() {
    let dir = tempfile::tempdir().unwrap();
    let policy = Policy {
        anonymous_execute: true,
    };
    let (app, state) = server(dir.path(), None, policy).await;
    let id = execute_async(&app, None).await;
    let status = as_(&app, None, "GET", &format!("/jobs/{id}"), "").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text);
    // Anonymous callers list nothing; a user does not see it; deploying still
    // needs a developer.
    let list = as_(&app, None, "GET", "/jobs", "").await.json();
    assert!(list["jobs"].as_array().unwrap().is_empty(), "{list}");
    let ada = personal(&state, "ada", Role::User, None);
    assert_eq!(
        as_(&app, Some(&ada), "GET", &format!("/jobs/{id}"), "")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        as_(&app, None, "POST", "/processes", "{}").await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Every route of the table is in an API document, with who may call it; the
/// documents declare the security schemes.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_documents_say_who_may_call_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _state) = server(dir.path(), Some("http://127.0.0.1:9/"), Policy::default()).await;
    let api_doc = as_(&app, None, "GET", "/api", "").await.json();
    let stac_doc = as_(&app, None, "GET", "/stac/api", "").await.json();
    assert_eq!(
        api_doc["components"]["securitySchemes"]["oidc"]["openIdConnectUrl"],
        "http://127.0.0.1:9/.well-known/openid-configuration"
    );
    for rule in api::rules() {
        let normal = hysope_server::openapi::normal_path(rule.path);
        let op = [&api_doc, &stac_doc].iter().find_map(|doc| {
            doc["paths"]
                .as_object()
                .unwrap()
                .iter()
                .find_map(|(path, item)| {
                    (hysope_server::openapi::normal_path(path) == normal)
                        .then(|| item.get(rule.method.as_str().to_ascii_lowercase()))
                        .flatten()
                })
        });
        let op =
            op.unwrap_or_else(|| panic!("{} {} is in no API document", rule.method, rule.path));
        let role = Policy::default().required(rule.action);
        assert_eq!(
            op["x-hysope-role"],
            role.as_str(),
            "{} {}",
            rule.method,
            rule.path
        );
        assert!(
            op["responses"]["401"].is_object(),
            "{} {}",
            rule.method,
            rule.path
        );
        let open = op["security"].as_array().unwrap().contains(&json!({}));
        assert_eq!(
            open,
            role == Role::Anonymous,
            "{} {}",
            rule.method,
            rule.path
        );
    }
}

/// Ingestion by an operator other than the local one names files inside the input
/// roots and buckets the server reads for its users only (the local operator, who
/// holds the data folder's secret, holds the machine's files anyway).
#[tokio::test(flavor = "multi_thread")]
async fn remote_operators_ingest_inside_the_input_roots_only() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = server(dir.path(), None, Policy::default()).await;
    let op = personal(&state, "olga", Role::Operator, None);
    for (paths, says) in [
        (json!(["/etc"]), "outside the allowed input roots"),
        (json!([dir.path()]), "outside the allowed input roots"),
        (json!(["s3://private-bucket/swot/"]), "bucket"),
    ] {
        let body = json!({ "paths": paths }).to_string();
        let r = as_(&app, Some(&op), "POST", "/stac/ingest", &body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{paths}: {}", r.text);
        assert!(r.text.contains(says), "{paths}: {}", r.text);
    }
    let usgs = root().join("../shared/data/usgs");
    let body = json!({ "paths": [usgs] }).to_string();
    let r = as_(&app, Some(&op), "POST", "/stac/ingest", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["stored"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_portal_is_told_how_to_sign_in_with_the_provider_and_may_reach_it() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = "https://id.example.org/realms/hydro";
    let mut config = config(dir.path());
    let mut oidc = OidcConfig::new(issuer);
    oidc.portal_client = Some("hysope-portal".into());
    oidc.portal_scope = "openid roles".into();
    config.oidc = Some(oidc);
    let (state, _) = hysope_server::start(config).await.unwrap();
    let app = api::router(state.clone());
    let me = as_(&app, None, "GET", "/me", "").await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["role"], "anonymous");
    assert_eq!(
        me["sign_in"],
        serde_json::json!({"issuer": issuer, "client_id": "hysope-portal", "scope": "openid roles",
            "redirect_path": "/portal/signed-in"})
    );
    // The portal's pages may fetch the provider's discovery document and token
    // endpoint: its origin, nothing else, joins connect-src.
    let shell = as_(&app, None, "GET", "/portal/", "").await;
    let csp = shell.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self' https://id.example.org;"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // A provider trusted for API tokens only: the portal signs in with personal
    // tokens, and reaches this server only.
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = server(dir.path(), Some(issuer), Policy::default()).await;
    let me = as_(&app, None, "GET", "/me", "").await.json();
    assert!(me.get("sign_in").is_none(), "{me}");
    let shell = as_(&app, None, "GET", "/portal/", "").await;
    assert_eq!(
        shell.headers["content-security-policy"],
        hysope_server::portal::PORTAL_CSP
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_is_its_owners_input_and_nobody_elses() {
    let dir = tempfile::tempdir().unwrap();
    let (app, state) = server(dir.path(), None, Policy::default()).await;
    let ada = personal(&state, "ada", Role::User, None);
    let bob = personal(&state, "bob", Role::User, None);
    let op = personal(&state, "olga", Role::Operator, None);
    let text = "time,stage_m\n2024-05-01T00:00:00Z,1.25\n";
    // Anonymous callers may not upload.
    let r = as_(&app, None, "POST", "/uploads?name=gauge.csv", text).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = as_(&app, Some(&ada), "POST", "/uploads?name=gauge.csv", text).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let up = r.json();
    let id = up["id"].as_str().unwrap().to_string();
    assert_eq!(up["size"], text.len());
    assert_eq!(up["owner"], "ada");
    assert_eq!(up["name"], "gauge.csv");
    {
        use sha2::Digest;
        assert_eq!(
            up["sha256"],
            hex::encode(sha2::Sha256::digest(text.as_bytes()))
        );
    }
    assert!(
        up["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/uploads/{id}"))
    );
    assert!(r.headers["location"].to_str().unwrap().ends_with(&id));
    // It is a job's input by its link: the job reads the file.
    let body = json!({"inputs": {"fileInput": {"href": format!("/uploads/{id}")}}}).to_string();
    let r = as_(&app, Some(&ada), "POST", "/processes/echo/execution", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let results = r.json();
    let copy = results["files"][0]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("{results}"));
    assert!(copy.ends_with("gauge.csv"), "{copy}");
    let path = copy
        .split_once("/jobs/")
        .map(|(_, p)| format!("/jobs/{p}"))
        .unwrap();
    let file = as_(&app, Some(&ada), "GET", &path, "").await;
    assert_eq!(file.status, StatusCode::OK, "{results}");
    assert_eq!(file.text, text);
    // Bob neither sees nor uses it; an operator sees it.
    let r = as_(&app, Some(&bob), "GET", &format!("/uploads/{id}"), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = as_(&app, Some(&bob), "POST", "/processes/echo/execution", &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("fileInput"),
        "{}",
        r.text
    );
    assert!(
        as_(&app, Some(&bob), "GET", "/uploads", "").await.json()["uploads"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = as_(&app, Some(&op), "GET", &format!("/uploads/{id}"), "").await;
    assert_eq!(r.status, StatusCode::OK);
    let listed = as_(&app, Some(&ada), "GET", "/uploads", "").await.json();
    assert_eq!(listed["uploads"][0]["id"], id.as_str());
    assert_eq!(listed["quota"]["used_bytes"], text.len());
    // Names that are not one plain name, and bodies larger than an upload may be.
    for bad in ["", "..", ".env", "a%2Fb", "x%0Ay"] {
        let r = as_(
            &app,
            Some(&ada),
            "POST",
            &format!("/uploads?name={bad}"),
            "x",
        )
        .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", r.text);
    }
    let r = as_(&app, Some(&ada), "POST", "/uploads", "x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let big = format!("{}", hysope_server::uploads::MAX_UPLOAD + 1);
    let r = call(
        &app,
        "POST",
        "/uploads?name=big.bin",
        &[
            ("authorization", &format!("Bearer {ada}")),
            ("content-length", &big),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    // Ids that are not this server's are no upload (never a path).
    for bad in ["../../etc/passwd", "nothing", "%2E%2E"] {
        let r = as_(&app, Some(&ada), "GET", &format!("/uploads/{bad}"), "").await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}");
    }
    // Removed by its owner: gone, file and record.
    let r = as_(&app, Some(&bob), "DELETE", &format!("/uploads/{id}"), "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = as_(&app, Some(&ada), "DELETE", &format!("/uploads/{id}"), "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(!dir.path().join("inputs/uploads").join(&id).exists());
    let r = as_(&app, Some(&ada), "POST", "/processes/echo/execution", &body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}
