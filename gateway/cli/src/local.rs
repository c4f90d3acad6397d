//! Talking to the server that holds a data folder, as its local operator: the
//! folder's `server.json` says where it listens and holds the local secret (the
//! file is the folder owner's only, mode 0600).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use hysope_server::SERVER_FILE;
use serde_json::Value;

/// The running server of `data_dir`, from its `server.json`.
pub struct LocalServer {
    url: String,
    token: String,
}

impl LocalServer {
    /// Reads `DATA/server.json`; `why` says why the store could not be opened
    /// directly (shown if there is no file).
    pub fn of(data_dir: &Path, why: &dyn std::fmt::Display) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(data_dir.join(SERVER_FILE)).with_context(|| {
            format!("{why}; and no {SERVER_FILE} in the data folder says where the server listens")
        })?;
        let server: Value =
            serde_json::from_str(&text).with_context(|| format!("{SERVER_FILE} is not JSON"))?;
        let url = server["url"]
            .as_str()
            .with_context(|| format!("{SERVER_FILE} has no url"))?
            .to_string();
        let token = server["local_token"]
            .as_str()
            .with_context(|| {
                format!("{SERVER_FILE} has no local_token (a server of an older version?)")
            })?
            .to_string();
        Ok(LocalServer { url, token })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The local operator's secret.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Sends `method path` with a JSON body (or none) and returns the reply's
    /// status and JSON body; a reply that is not 2xx is an error saying why.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let host = self
            .url
            .strip_prefix("http://")
            .context("the server's url is not http://")?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut stream = std::net::TcpStream::connect(host).with_context(|| {
            format!(
                "cannot reach the server at {} (stale {SERVER_FILE}?)",
                self.url
            )
        })?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.token,
            body.len()
        )?;
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        let text = String::from_utf8_lossy(&reply);
        let (head, payload) = text
            .split_once("\r\n\r\n")
            .context("no HTTP reply from the server")?;
        let status = head.split(' ').nth(1).unwrap_or("?");
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        let payload = if chunked {
            dechunk(payload)
        } else {
            payload.to_string()
        };
        let value: Value = serde_json::from_str(payload.trim())
            .with_context(|| format!("the server replied {status} without JSON"))?;
        if !status.starts_with('2') {
            anyhow::bail!(
                "the server refused ({status}): {}",
                value["detail"].as_str().unwrap_or(&payload)
            );
        }
        Ok(value)
    }
}

/// The body of a chunked reply.
fn dechunk(mut text: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = text.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        text = rest[n..].trim_start_matches("\r\n");
    }
    out
}
