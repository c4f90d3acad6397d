//! Personal access tokens over HTTP (operators): `POST /admin/tokens` makes one
//! and shows its secret once, `GET /admin/tokens` lists them (never a secret nor
//! its hash), `DELETE /admin/tokens/{id}` revokes one at once.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::response::Response;
use hysope_identity::Identity;
use hysope_identity::tokens::{self, NewToken};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::json_response;
use crate::errors::{ApiError, ApiResult, Kind};
use crate::query::Params;

type Shared = std::sync::Arc<crate::State>;

/// The body of `POST /admin/tokens`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    user: String,
    role: String,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    /// How long it works (`90d`, `12h`); forever when absent.
    #[serde(default)]
    expires_in: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(Kind::InvalidParameterValue, detail)
}

impl From<hysope_identity::Error> for ApiError {
    fn from(e: hysope_identity::Error) -> Self {
        match e {
            hysope_identity::Error::Invalid(why) => invalid(why),
            hysope_identity::Error::NoSuchToken(id) => {
                ApiError::new(Kind::NotFound, format!("no token {id:?}"))
            }
            e => ApiError::new(Kind::Internal, e.to_string()),
        }
    }
}

pub(crate) async fn create(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    body: Bytes,
) -> ApiResult<Response> {
    let request: Create =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(&body))
            .map_err(|e| ApiError::new(Kind::InvalidBody, format!("token request: {e}")))?;
    let new = NewToken::parse(
        request.user,
        &request.role,
        request.scopes.as_deref(),
        request.expires_in.as_deref(),
        "expires_in",
        caller.subject.clone(),
        request.note,
    )?;
    let store = state.auth.tokens();
    let (secret, record) = hysope_jobs::worker::blocking(|| tokens::issue(store.as_ref(), new))?;
    tracing::info!(id = %record.id, user = %record.user, role = %record.role, by = %caller.subject, "personal token created");
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"token": secret, "record": record.public()}),
    ))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    user: Option<String>,
}

pub(crate) async fn list(
    AxState(state): AxState<Shared>,
    Params(q): Params<ListQuery>,
) -> ApiResult<Response> {
    let records = state.auth.tokens().list(q.user.as_deref())?;
    let shown: Vec<Value> = records.iter().map(|r| r.public()).collect();
    Ok(json_response(StatusCode::OK, &json!({"tokens": shown})))
}

pub(crate) async fn revoke(
    AxState(state): AxState<Shared>,
    Extension(caller): Extension<Identity>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let store = state.auth.tokens();
    let record = hysope_jobs::worker::blocking(|| store.revoke(&id, hysope_identity::now_ms()))?;
    tracing::info!(%id, by = %caller.subject, "personal token revoked");
    Ok(json_response(StatusCode::OK, &record.public()))
}
