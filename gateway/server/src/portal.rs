//! The web portal under `/portal/`: every page path answers the page shell (the
//! portal's modules draw the page in the browser), files under
//! `/portal/assets/BUILD/` are the portal's modules and the libraries' published
//! files ([`hysope_portal`]). Assets of the current build are cached for a year
//! (their URL changes with their content), the shell never is; both carry a
//! strong ETag (304 on `If-None-Match`) and are sent gzip-compressed to a client
//! that takes it. Readable by anyone, as the catalogue is: the data the pages
//! show comes from the API, under its own rules.

use std::sync::{Arc, LazyLock};

use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use hysope_identity::Action;
use hysope_portal::{Asset, Portal};

use super::State;
use super::auth::Routes;
use super::errors::{ApiError, Kind};

/// What the portal's pages may load and reach: this server only (and the OIDC
/// provider's origin when the portal signs in there: [`csp_for`]). Styles may be
/// inline (MapLibre and uPlot position their elements by `style`), workers and
/// images may be `blob:` (MapLibre's worker, a chart's PNG).
pub const PORTAL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; font-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How the portal signs people in with the trusted OIDC provider (authorization
/// code with PKCE, a public client), when one is configured for it: the issuer,
/// the client id, the scopes. Told to the portal by `/me`.
pub(crate) fn sign_in(state: &State) -> Option<serde_json::Value> {
    let config = state.auth.oidc_config()?;
    let client = config.portal_client.as_ref()?;
    Some(serde_json::json!({
        "issuer": config.issuer,
        "client_id": client,
        "scope": config.portal_scope,
        "redirect_path": "/portal/signed-in",
    }))
}

/// The portal's content security policy: [`PORTAL_CSP`], with the OIDC provider's
/// origin added to `connect-src` when the portal signs in there (its discovery
/// document and token endpoint are fetched by the page). Made once, at start.
pub fn csp_for(oidc: Option<&hysope_identity::OidcConfig>) -> HeaderValue {
    let origin = oidc
        .filter(|c| c.portal_client.is_some())
        .and_then(|c| url::Url::parse(&c.issuer).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .map(|u| u.origin().ascii_serialization());
    match origin {
        Some(origin) => HeaderValue::from_str(&PORTAL_CSP.replace(
            "connect-src 'self'",
            &format!("connect-src 'self' {origin}"),
        ))
        .unwrap_or(HeaderValue::from_static(PORTAL_CSP)),
        None => HeaderValue::from_static(PORTAL_CSP),
    }
}

static PORTAL: LazyLock<Portal> = LazyLock::new(Portal::load);

/// The portal's routes.
pub fn routes() -> Routes {
    let read = &[(Method::GET, Action::Read), (Method::HEAD, Action::Read)];
    Routes::new()
        .route(
            "/portal",
            read,
            get(|| async { Redirect::permanent("/portal/") }),
        )
        .route("/portal/", read, get(shell))
        .route("/portal/{*path}", read, get(path))
}

/// Loads the portal's files now (a debug build reads them from the repository),
/// rather than at the first request.
pub fn load() -> &'static Portal {
    &PORTAL
}

async fn shell(AxState(state): AxState<Arc<State>>, headers: HeaderMap) -> Response {
    reply(
        &headers,
        PORTAL.shell(),
        "no-cache",
        state.portal_csp.clone(),
    )
}

async fn path(
    AxState(state): AxState<Arc<State>>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(rest) = path.strip_prefix("assets/") {
        let Some((build, file)) = rest.split_once('/') else {
            return missing(&path);
        };
        let Some(asset) = PORTAL.asset(file) else {
            return missing(&path);
        };
        // A page of an earlier build asks for its files by that build's name: it
        // gets today's, not to be kept.
        let cache = if build == PORTAL.build() {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return reply(&headers, asset, cache, state.portal_csp.clone());
    }
    // A page: no extension in its last segment (`reaches/74230900011`, `map`).
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return missing(&path);
    }
    reply(
        &headers,
        PORTAL.shell(),
        "no-cache",
        state.portal_csp.clone(),
    )
}

fn missing(path: &str) -> Response {
    ApiError::new(Kind::NotFound, format!("no portal file /portal/{path}")).into_response()
}

/// True when `Accept-Encoding` takes gzip (a `q=0` refuses it).
fn takes_gzip(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let coding = pieces.next().unwrap_or_default();
        let refused = pieces.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

fn reply(headers: &HeaderMap, asset: &Asset, cache: &'static str, csp: HeaderValue) -> Response {
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| {
            tags.split(',')
                .any(|t| t.trim() == asset.etag() || t.trim() == "*")
        });
    let gzip = takes_gzip(headers).then(|| asset.gzip()).flatten();
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match gzip {
            Some(bytes) => {
                let mut r = Response::new(Body::from(bytes.to_vec()));
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => Response::new(Body::from(asset.bytes().to_vec())),
        }
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type()),
    );
    if let Ok(etag) = HeaderValue::from_str(asset.etag()) {
        h.insert(header::ETAG, etag);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        assert!(takes_gzip(&with(
            header::ACCEPT_ENCODING,
            "gzip, deflate, br"
        )));
        assert!(takes_gzip(&with(
            header::ACCEPT_ENCODING,
            "br;q=1, GZIP;q=0.5"
        )));
        assert!(takes_gzip(&with(header::ACCEPT_ENCODING, "*")));
        assert!(!takes_gzip(&with(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!takes_gzip(&with(header::ACCEPT_ENCODING, "br, identity")));
        assert!(!takes_gzip(&HeaderMap::new()));
    }
}
