//! Who may call which route: enforced in one place, from one table.
//!
//! The router is built by [`Routes::route`], which takes each path with the action
//! of each of its methods ([`Rule`]); [`authorize`] reads the caller's token, asks
//! the [`Authenticator`](hysope_identity::Authenticator) who they are, and lets the
//! request through only when the [`Policy`](hysope_identity::Policy) says their
//! role (and their token's scopes) may do the route's action. A method the table
//! does not name for a path is answered 405 before any handler. The handlers find
//! the caller's [`Identity`] in the request (`Extension<Identity>`) for what only
//! they can decide: whose job or process it is.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State as AxState};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use hysope_identity::{Action, AuthError, Decision};

use crate::State;
use crate::errors::{ApiError, Kind};

/// One line of the table: a method of a path and the action it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The route's path, as the router matches it (`/jobs/{id}`).
    pub path: &'static str,
    /// The method.
    pub method: Method,
    /// What it does.
    pub action: Action,
}

/// A router under construction and its table: a route is added with its rules or
/// not at all.
pub struct Routes {
    router: Router<Arc<State>>,
    rules: Vec<Rule>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

impl Routes {
    /// No route yet.
    pub fn new() -> Self {
        Routes {
            router: Router::new(),
            rules: Vec::new(),
        }
    }

    /// Adds `path` served by `service`, each of its methods with its action.
    pub fn route(
        mut self,
        path: &'static str,
        rules: &[(Method, Action)],
        service: MethodRouter<Arc<State>>,
    ) -> Self {
        for (method, action) in rules {
            self.rules.push(Rule {
                path,
                method: method.clone(),
                action: *action,
            });
        }
        self.router = self.router.route(path, service);
        self
    }

    /// Adds the routes of `other`.
    pub fn merge(mut self, other: Routes) -> Self {
        self.rules.extend(other.rules);
        self.router = self.router.merge(other.router);
        self
    }

    /// The router and its table.
    pub fn into_parts(self) -> (Router<Arc<State>>, Vec<Rule>) {
        (self.router, self.rules)
    }
}

/// The table as the middleware reads it: each path's methods and their actions.
#[derive(Default)]
pub struct Table(HashMap<&'static str, Vec<(Method, Action)>>);

impl Table {
    /// The table of `rules`.
    pub fn new(rules: &[Rule]) -> Self {
        let mut table = Table::default();
        for rule in rules {
            table
                .0
                .entry(rule.path)
                .or_default()
                .push((rule.method.clone(), rule.action));
        }
        table
    }

    /// The methods of `path`.
    fn methods(&self, path: &str) -> &[(Method, Action)] {
        self.0.get(path).map(Vec::as_slice).unwrap_or_default()
    }

    /// The action of `method` on `path` (HEAD is GET's).
    fn action(&self, path: &str, method: &Method) -> Option<Action> {
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.methods(path)
            .iter()
            .find(|(m, _)| m == method)
            .map(|(_, a)| *a)
    }
}

/// The caller's token: `Authorization: Bearer TOKEN`, `X-API-Key: TOKEN` (the
/// example of OGC API Processes Part 2), or `Authorization: Basic` with the token
/// as password (OCI clients signing in to the registry); with the user name a
/// basic login gave, which must be the token's.
fn token(request: &Request) -> Result<Option<(String, Option<String>)>, ApiError> {
    let headers = request.headers();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().map_err(|_| {
            ApiError::new(Kind::InvalidToken, "the Authorization header is not ASCII")
        })?;
        let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ApiError::new(
                        Kind::InvalidToken,
                        "the Basic credentials are not base64 of USER:TOKEN",
                    )
                })?;
            let (user, password) = decoded.split_once(':').ok_or_else(|| {
                ApiError::new(
                    Kind::InvalidToken,
                    "the Basic credentials are not USER:TOKEN",
                )
            })?;
            return Ok(Some((password.to_string(), Some(user.to_string()))));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::new(
                Kind::InvalidToken,
                format!(
                    "the Authorization scheme must be Bearer (or Basic with a personal token as password), not {scheme:?}"
                ),
            ));
        }
        return Ok(Some((rest.trim().to_string(), None)));
    }
    if let Some(value) = headers.get("x-api-key") {
        let text = value
            .to_str()
            .map_err(|_| ApiError::new(Kind::InvalidToken, "the X-API-Key header is not ASCII"))?;
        return Ok(Some((text.trim().to_string(), None)));
    }
    Ok(None)
}

/// Under `/v2/` (the OCI distribution API) errors are OCI error envelopes, and a
/// missing or bad identity asks for basic authentication.
fn oci_shaped(path: &str, e: ApiError) -> Response {
    if !(path == "/v2/" || path.starts_with("/v2/")) {
        return e.into_response();
    }
    use hysope_registry::{Code, OciError};
    let code = match e.kind {
        Kind::Unauthorized | Kind::InvalidToken => Code::Unauthorized,
        Kind::Forbidden => Code::Denied,
        Kind::MethodNotAllowed => Code::Unsupported,
        _ => Code::Denied,
    };
    let mut r = crate::oci::Oci(OciError::new(code, e.detail.clone())).into_response();
    if e.kind == Kind::Unavailable {
        *r.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    r
}

/// Tells who calls and lets through what their role may do (see the module).
pub async fn authorize(
    AxState((state, table)): AxState<(Arc<State>, Arc<Table>)>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        // No route: the fallback answers 404 to anyone.
        return next.run(request).await;
    };
    let Some(action) = table.action(&path, request.method()) else {
        if path.starts_with("/v2/") {
            return oci_shaped(
                &path,
                ApiError::new(
                    Kind::MethodNotAllowed,
                    format!(
                        "{} is not a method of {path}: versions are never deleted or replaced",
                        request.method()
                    ),
                ),
            );
        }
        let allowed: Vec<&str> = table
            .methods(&path)
            .iter()
            .map(|(m, _)| m.as_str())
            .collect();
        let mut r = ApiError::new(
            Kind::MethodNotAllowed,
            format!(
                "{} is not a method of {path} (it takes {})",
                request.method(),
                allowed.join(", ")
            ),
        )
        .into_response();
        let mut allow = allowed.join(", ");
        if allowed.contains(&"GET") {
            allow.push_str(", HEAD");
        }
        if let Ok(v) = HeaderValue::from_str(&allow) {
            r.headers_mut().insert(header::ALLOW, v);
        }
        return r;
    };
    // A probe is answered to anyone: a platform's probe sends no token, and one
    // that did would not be failed for it.
    if super::api::PROBES.contains(&path.as_str()) {
        request
            .extensions_mut()
            .insert(hysope_identity::Identity::anonymous());
        return next.run(request).await;
    }
    let identity = match token(&request) {
        Ok(given) => {
            let (token, login) = given.map(|(t, u)| (Some(t), u)).unwrap_or((None, None));
            match state.auth.authenticate(token.as_deref()).await {
                Ok(identity) => {
                    if let Some(login) = login.filter(|l| !l.is_empty() && *l != identity.subject) {
                        return oci_shaped(
                            &path,
                            ApiError::new(
                                Kind::InvalidToken,
                                format!(
                                    "the login {login:?} is not the token's user {:?}",
                                    identity.subject
                                ),
                            ),
                        );
                    }
                    identity
                }
                Err(AuthError::Invalid(why)) => {
                    return oci_shaped(&path, ApiError::new(Kind::InvalidToken, why));
                }
                Err(AuthError::Unavailable(why)) => {
                    return oci_shaped(&path, ApiError::new(Kind::Unavailable, why));
                }
            }
        }
        Err(e) => return oci_shaped(&path, e),
    };
    match state.policy.decide(&identity, action) {
        Decision::Allowed => {}
        Decision::Unauthenticated(role) => {
            return oci_shaped(
                &path,
                ApiError::new(
                    Kind::Unauthorized,
                    format!(
                        "{} {path} needs a token of a {role} (Authorization: Bearer TOKEN)",
                        request.method()
                    ),
                ),
            );
        }
        Decision::Forbidden(why) => {
            return oci_shaped(&path, ApiError::new(Kind::Forbidden, why));
        }
    }
    request.extensions_mut().insert(identity);
    next.run(request).await
}
