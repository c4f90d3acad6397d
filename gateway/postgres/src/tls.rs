//! TLS to PostgreSQL, as the connection URL asks (`sslmode`), with rustls.
//!
//! - no `sslmode`, or `sslmode=disable`: in the clear (a server on loopback or
//!   a private network);
//! - `sslmode=prefer`: TLS when the server offers it, else in the clear;
//! - `sslmode=require`, `verify-ca`, `verify-full`: TLS or no connection.
//!
//! Whenever TLS is used the server's certificate is verified, chain and host
//! name, against the system's roots and the certificates of `sslrootcert=PATH`
//! (PEM): stricter than libpq's `require`, which accepts any certificate. A
//! managed service's CA (RDS, Cloud SQL, Azure) is given with `sslrootcert`.
//! Client certificates (`sslcert`, `sslkey`) are refused as not supported yet.

use std::sync::Arc;

use crate::{Error, redact};

/// How the connections are made: in the clear or with TLS (see the module).
#[derive(Clone, Default)]
pub struct Tls(Option<tokio_postgres_rustls::MakeRustlsConnect>);

impl Tls {
    /// True when connections try TLS.
    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// The connector for tokio-postgres, when connections try TLS.
    pub(crate) fn connector(&self) -> Option<&tokio_postgres_rustls::MakeRustlsConnect> {
        self.0.as_ref()
    }
}

/// The URL without the TLS options tokio-postgres does not know, the mode the
/// URL asked for, and its `sslrootcert`.
fn split(url: &str) -> Result<(String, Option<String>, Option<String>), Error> {
    let mut mode = None;
    let mut root = None;
    let unsupported = |key: &str| Error::Url {
        url: redact(url),
        reason: format!("{key}: client certificates are not supported yet"),
    };
    let mut take = |key: &str, value: &str| -> Result<bool, Error> {
        match key {
            "sslmode" => {
                mode = Some(value.to_string());
                Ok(false)
            }
            "sslrootcert" => {
                root = Some(value.to_string());
                Ok(false)
            }
            "sslcert" | "sslkey" => Err(unsupported(key)),
            _ => Ok(true),
        }
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            if take(key, &value)? {
                kept.push(pair.to_string());
            }
        }
        let cleaned = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok((cleaned, mode, root))
    } else {
        // key=value pairs separated by spaces (values without quotes).
        let mut kept = Vec::new();
        for pair in url.split_whitespace() {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if take(key, value)? {
                kept.push(pair);
            }
        }
        Ok((kept.join(" "), mode, root))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |k: usize| bytes.get(k).and_then(|&c| (c as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `url` (see [`crate::Pg::parse`]) and the TLS it asks for.
pub(crate) fn parse(url: &str) -> Result<(tokio_postgres::Config, Tls), Error> {
    let (cleaned, mode, root) = split(url)?;
    let bad = |reason: String| Error::Url {
        url: redact(url),
        reason,
    };
    let ssl_mode = match mode.as_deref() {
        None | Some("disable") => None,
        Some("prefer") | Some("allow") => Some(tokio_postgres::config::SslMode::Prefer),
        Some("require") | Some("verify-ca") | Some("verify-full") => {
            Some(tokio_postgres::config::SslMode::Require)
        }
        Some(other) => {
            return Err(bad(format!(
                "sslmode={other}: one of disable, prefer, require, verify-ca, verify-full"
            )));
        }
    };
    let mut config: tokio_postgres::Config = cleaned.parse().map_err(|e| bad(format!("{e}")))?;
    let Some(ssl_mode) = ssl_mode else {
        if root.is_some() {
            return Err(bad(
                "sslrootcert without sslmode: say sslmode=require (or verify-full)".into(),
            ));
        }
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        return Ok((config, Tls::default()));
    };
    config.ssl_mode(ssl_mode);
    let client = client_config(root.as_deref()).map_err(bad)?;
    Ok((
        config,
        Tls(Some(tokio_postgres_rustls::MakeRustlsConnect::new(client))),
    ))
}

/// A rustls client trusting the system's roots and the certificates of `root`.
fn client_config(root: Option<&str>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = root {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {path}: {e}"))?;
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("sslrootcert {path}: {e}"))?;
        if certs.is_empty() {
            return Err(format!("sslrootcert {path}: no PEM certificate in it"));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("sslrootcert {path}: {e}"))?;
        }
    } else if added == 0 {
        return Err(
            "TLS asked for, but the system has no root certificates: give the server's CA with sslrootcert=PATH".into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_options_are_taken_out_of_the_url() {
        let (url, mode, root) =
            split("postgres://ada:pw@db:5432/hysope?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x")
                .unwrap();
        assert_eq!(url, "postgres://ada:pw@db:5432/hysope?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca.pem"));
        let (url, mode, root) =
            split("host=db user=ada sslmode=require sslrootcert=/ca.pem").unwrap();
        assert_eq!(url, "host=db user=ada");
        assert_eq!(mode.as_deref(), Some("require"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let err = split("postgres://ada:secret@db/x?sslcert=/c.pem").unwrap_err();
        assert!(err.to_string().contains("client certificates"), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn a_url_without_sslmode_stays_in_the_clear_and_bad_modes_are_refused() {
        let (config, tls) = parse("postgres://ada@db/x").unwrap();
        assert!(!tls.enabled());
        assert_eq!(
            config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        let err = parse("postgres://ada@db/x?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(err.to_string().contains("sslmode=sometimes"), "{err}");
        let err = parse("postgres://ada@db/x?sslrootcert=/ca.pem")
            .err()
            .unwrap();
        assert!(err.to_string().contains("sslmode=require"), "{err}");
        let err = parse("postgres://ada@db/x?sslmode=require&sslrootcert=/nowhere/ca.pem")
            .err()
            .unwrap();
        assert!(err.to_string().contains("/nowhere/ca.pem"), "{err}");
    }
}
