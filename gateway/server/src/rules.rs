//! Production rules over HTTP (operators; see [`hysope_jobs::rules`]): `GET
//! /rules` lists them, `POST /rules` makes one (placed in the catalogue's change
//! feed: at its end, or at its start for a backfill), `GET /rules/{id}` shows one
//! with its counts, backfill progress and latest jobs, `POST
//! /rules/{id}/pause` and `/resume`, `DELETE /rules/{id}`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hysope_identity::Identity;
use hysope_jobs::rules::{self, MAX_RULES, RULE_WRITES, Rule, RuleState};
use serde_json::{Value, json};

use crate::api::{base_url, json_response};
use crate::errors::{ApiError, ApiResult, Kind};

type Shared = std::sync::Arc<crate::State>;

/// Runs rule-store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> hysope_jobs::Result<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(Kind::Internal, e.to_string()))?
        .map_err(ApiError::from)
}

fn not_found(id: &str) -> ApiError {
    ApiError::new(Kind::NotFound, format!("no rule {id:?}"))
}

/// A rule as the API shows it, with its links.
fn shown(state: &crate::State, rule: &Rule, base: &str) -> Value {
    let mut doc = rules::document(rule);
    doc["recent_states"] = json!(rules::recent_states(&state.jobs, rule));
    doc["links"] = json!([
        {"href": format!("{base}/rules/{}", rule.id), "rel": "self", "type": "application/json"},
        {"href": format!("{base}/processes/{}", rule.process), "rel": "related", "type": "application/json", "title": "its process"},
    ]);
    doc
}

pub(crate) async fn list(
    AxState(state): AxState<Shared>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let store = state.rules.clone();
    let all = blocking(move || store.list()).await?;
    let base = base_url(&headers);
    let shown: Vec<Value> = all.iter().map(|r| shown(&state, r, &base)).collect();
    Ok(json_response(StatusCode::OK, &json!({"rules": shown})))
}

pub(crate) async fn create(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Kind::InvalidBody, format!("rule: not JSON ({e})")))?;
    let mut rule = rules::new_rule(&state.jobs, &value, &caller.subject, hysope_jobs::now_ms())
        .map_err(|why| ApiError::new(Kind::InvalidParameterValue, format!("rule: {why}")))?;
    let _guard = RULE_WRITES.lock().await;
    let (store, catalog) = (state.rules.clone(), state.catalog().clone());
    let rule = blocking(move || {
        let existing = store.list()?;
        if existing.iter().any(|r| r.id == rule.id) {
            return Ok(Err(ApiError::new(
                Kind::Conflict,
                format!("a rule {:?} exists already", rule.id),
            )));
        }
        if existing.len() >= MAX_RULES {
            return Ok(Err(ApiError::new(
                Kind::Conflict,
                format!("this server has {MAX_RULES} rules, as many as it takes"),
            )));
        }
        rules::place(catalog.as_ref(), &mut rule)?;
        store.put(&rule)?;
        Ok(Ok(rule))
    })
    .await??;
    drop(_guard);
    state.rules_wake.notify_one();
    let base = base_url(&headers);
    let mut r = json_response(StatusCode::CREATED, &shown(&state, &rule, &base));
    if let Ok(v) = HeaderValue::from_str(&format!("{base}/rules/{}", rule.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

pub(crate) async fn show(
    AxState(state): AxState<Shared>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let store = state.rules.clone();
    let key = id.clone();
    let rule = blocking(move || store.get(&key))
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        &shown(&state, &rule, &base_url(&headers)),
    ))
}

/// Sets a rule's state (pause, resume).
async fn set_state(
    state: Shared,
    headers: axum::http::HeaderMap,
    id: String,
    to: RuleState,
) -> ApiResult<Response> {
    let _guard = RULE_WRITES.lock().await;
    let store = state.rules.clone();
    let key = id.clone();
    let rule = blocking(move || {
        let Some(mut rule) = store.get(&key)? else {
            return Ok(None);
        };
        rule.state = to;
        rule.updated = hysope_jobs::now_ms();
        store.put(&rule)?;
        Ok(Some(rule))
    })
    .await?
    .ok_or_else(|| not_found(&id))?;
    drop(_guard);
    state.rules_wake.notify_one();
    Ok(json_response(
        StatusCode::OK,
        &shown(&state, &rule, &base_url(&headers)),
    ))
}

pub(crate) async fn pause(
    AxState(state): AxState<Shared>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    set_state(state, headers, id, RuleState::Paused).await
}

pub(crate) async fn resume(
    AxState(state): AxState<Shared>,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    set_state(state, headers, id, RuleState::Active).await
}

pub(crate) async fn remove(
    AxState(state): AxState<Shared>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let _guard = RULE_WRITES.lock().await;
    let store = state.rules.clone();
    let key = id.clone();
    if !blocking(move || store.delete(&key)).await? {
        return Err(not_found(&id));
    }
    Ok(json_response(StatusCode::OK, &json!({"deleted": id})))
}

/// Makes the rules of the `*.json` files of `dir` (each a `POST /rules` body)
/// that no rule has the id of yet, owned by the local operator; a file that is
/// not a rule stops the start, naming it.
pub(crate) fn load_dir(state: &crate::State, dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("rules: cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read(&file)
            .with_context(|| format!("rules: cannot read {}", file.display()))?;
        let value: Value = serde_json::from_slice(&text)
            .with_context(|| format!("{}: not JSON", file.display()))?;
        let mut rule = rules::new_rule(
            &state.jobs,
            &value,
            hysope_identity::LOCAL_OPERATOR,
            hysope_jobs::now_ms(),
        )
        .map_err(|why| anyhow::anyhow!("{}: {why}", file.display()))?;
        if state.rules.get(&rule.id)?.is_some() {
            continue;
        }
        rules::place(state.catalog().as_ref(), &mut rule)?;
        state.rules.put(&rule)?;
        tracing::info!(rule = %rule.id, file = %file.display(), "rule made from its file");
    }
    Ok(())
}
