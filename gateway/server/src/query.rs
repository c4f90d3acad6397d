//! Typed query strings: each handler names the parameters it reads in a struct, and
//! a query string that does not fit (a word for a number, a parameter twice) is an
//! OGC `InvalidParameterValue` (400) that names the parameter, never axum's own
//! plain-text rejection.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::errors::{ApiError, Kind};

/// The query string read into `T`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or("")).map(Params)
    }
}

/// Reads a query string into `T`.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|e| {
        let at = e.path().to_string();
        let detail = match at.as_str() {
            "." => format!("query string: {}", e.inner()),
            _ => format!("query parameter {at}: {}", e.inner()),
        };
        ApiError::new(Kind::InvalidParameterValue, detail)
    })
}

/// `f`: the representation asked for (`html`, `json`), when the URL says it.
#[derive(Debug, Default, Deserialize)]
pub struct Format {
    /// `html` for a page, anything else for JSON.
    pub f: Option<String>,
}

/// A list's page: `limit` (1 to the list's maximum), `offset`, and `f`.
#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    /// The representation asked for.
    pub f: Option<String>,
    /// How many entries at most.
    pub limit: Option<usize>,
    /// How many entries to skip.
    pub offset: Option<usize>,
}

impl Paging {
    /// The limit asked for (or `default`), refused outside 1..=`max`.
    pub fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(default),
            Some(n) if (1..=max).contains(&n) => Ok(n),
            Some(n) => Err(ApiError::new(
                Kind::InvalidParameterValue,
                format!("query parameter limit: must be from 1 to {max}, not {n}"),
            )),
        }
    }

    /// The offset asked for (0 by default).
    pub fn offset(&self) -> usize {
        self.offset.unwrap_or(0)
    }
}

/// `GET /jobs`: a page of jobs, filtered (OGC API - Processes' job list).
#[derive(Debug, Default, Deserialize)]
pub struct JobsQuery {
    /// The representation asked for.
    pub f: Option<String>,
    /// How many jobs at most.
    pub limit: Option<usize>,
    /// How many jobs to skip.
    pub offset: Option<usize>,
    /// Comma-separated process ids.
    #[serde(rename = "processID")]
    pub process_id: Option<String>,
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// An instant or an interval `a/b` (`..` for an open end).
    pub datetime: Option<String>,
    /// The id of the production rule that made the jobs.
    pub rule: Option<String>,
}

impl JobsQuery {
    /// Its paging part.
    pub fn paging(&self) -> Paging {
        Paging {
            f: self.f.clone(),
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// Deploy and replace (Part 2): `w`, the workflow of a document that has several.
#[derive(Debug, Default, Deserialize)]
pub struct DeployQuery {
    /// The id of the workflow to deploy.
    pub w: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_parameter_is_named_in_the_error() {
        let err = parse::<Paging>("limit=x").unwrap_err().to_string();
        assert!(err.contains("query parameter limit"), "{err}");
        let err = parse::<Paging>("offset=-1").unwrap_err().to_string();
        assert!(err.contains("query parameter offset"), "{err}");
        let err = parse::<Paging>("limit=1&limit=2").unwrap_err().to_string();
        assert!(err.contains("duplicate field `limit`"), "{err}");
        let q: JobsQuery = parse("processID=a%2Cb&status=running&other=1").unwrap();
        assert_eq!(q.process_id.as_deref(), Some("a,b"));
        assert_eq!(q.status.as_deref(), Some("running"));
        let err = Paging {
            limit: Some(0),
            ..Paging::default()
        }
        .limit(10, 100)
        .unwrap_err()
        .to_string();
        assert!(err.contains("from 1 to 100"), "{err}");
    }
}
