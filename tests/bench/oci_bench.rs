//! `oci-bench`: pushes and pulls a wasm artifact over the OCI distribution API,
//! for the registry benchmark (tests/bench/registry-bench.sh). One keep-alive
//! HTTP/1.1 connection, raw requests, so that the client costs the same against
//! any registry.
//!
//!     oci-bench push URL REPO TAG FILE [--token T] [--annotations JSON]
//!         uploads the config and FILE (a session, then one PUT), then the manifest
//!         (CNCF wasm layout, with the annotations given); prints the milliseconds.
//!     oci-bench pull URL REPO TAG [--rounds N]
//!         N times: the manifest by tag, then its layer, read to the end; prints one
//!         JSON line: median and p99 milliseconds, MB/s.

use std::time::Instant;

use sha2::Digest as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Conn {
    host: String,
    stream: BufReader<TcpStream>,
    auth: Option<String>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Conn {
    async fn open(url: &str, auth: Option<String>) -> Result<Conn, String> {
        let host = url
            .strip_prefix("http://")
            .ok_or("only http:// URLs")?
            .trim_end_matches('/')
            .to_string();
        let stream = TcpStream::connect(&host).await.map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Conn {
            host,
            stream: BufReader::with_capacity(1 << 20, stream),
            auth,
        })
    }

    /// One request; the body is kept when `keep` (else read and dropped).
    async fn call(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
        keep: bool,
    ) -> Result<Reply, String> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if let Some(c) = content_type {
            head.push_str(&format!("Content-Type: {c}\r\n"));
        }
        if let Some(a) = &self.auth {
            head.push_str(&format!("Authorization: Bearer {a}\r\n"));
        }
        if path.contains("/manifests/") {
            head.push_str("Accept: application/vnd.oci.image.manifest.v1+json\r\n");
        }
        head.push_str("\r\n");
        let s = self.stream.get_mut();
        s.write_all(head.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(body).await.map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.stream
            .read_line(&mut line)
            .await
            .map_err(|e| e.to_string())?;
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(format!("no status in {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.stream
                .read_line(&mut h)
                .await
                .map_err(|e| e.to_string())?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let length = reply
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok());
        let chunked = reply
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let no_body = method == "HEAD" || status == 204 || status == 304;
        let mut buf = vec![0u8; 1 << 20];
        if no_body {
        } else if chunked {
            loop {
                let mut size = String::new();
                self.stream
                    .read_line(&mut size)
                    .await
                    .map_err(|e| e.to_string())?;
                let n = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
                let mut left = n + 2;
                while left > 0 {
                    let take = left.min(buf.len());
                    self.stream
                        .read_exact(&mut buf[..take])
                        .await
                        .map_err(|e| e.to_string())?;
                    if keep {
                        reply
                            .body
                            .extend_from_slice(&buf[..take.min(left.saturating_sub(2))]);
                    }
                    left -= take;
                }
                if n == 0 {
                    break;
                }
            }
        } else if let Some(mut left) = length {
            while left > 0 {
                let take = left.min(buf.len());
                self.stream
                    .read_exact(&mut buf[..take])
                    .await
                    .map_err(|e| e.to_string())?;
                if keep {
                    reply.body.extend_from_slice(&buf[..take]);
                }
                left -= take;
            }
        }
        Ok(reply)
    }
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

fn path_of(location: &str) -> String {
    match location.strip_prefix("http://") {
        Some(rest) => rest
            .find('/')
            .map(|i| rest[i..].to_string())
            .unwrap_or_default(),
        None => location.to_string(),
    }
}

async fn upload(conn: &mut Conn, repo: &str, bytes: &[u8]) -> Result<String, String> {
    let d = digest(bytes);
    let r = conn
        .call(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            None,
            &[],
            true,
        )
        .await?;
    if r.status != 202 {
        return Err(format!(
            "start upload: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    let location = path_of(r.header("location").ok_or("no Location")?);
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = conn
        .call(
            "PUT",
            &format!("{location}{sep}digest={d}"),
            Some("application/octet-stream"),
            bytes,
            true,
        )
        .await?;
    if r.status != 201 {
        return Err(format!(
            "upload: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    Ok(d)
}

async fn push(args: &[String]) -> Result<(), String> {
    let [url, repo, tag, file, rest @ ..] = args else {
        return Err("push URL REPO TAG FILE [--token T] [--annotations JSON]".into());
    };
    let mut token = None;
    let mut annotations = serde_json::json!({});
    let mut it = rest.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--token" => token = Some(value.clone()),
            "--annotations" => {
                annotations = serde_json::from_str(
                    &std::fs::read_to_string(value).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
    let started = Instant::now();
    let mut conn = Conn::open(url, token).await?;
    let config = upload(&mut conn, repo, b"{}").await?;
    let layer = upload(&mut conn, repo, &bytes).await?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/wasm", "digest": layer, "size": bytes.len()}],
        "annotations": annotations,
    })
    .to_string();
    let r = conn
        .call(
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            Some("application/vnd.oci.image.manifest.v1+json"),
            manifest.as_bytes(),
            true,
        )
        .await?;
    if r.status != 201 {
        return Err(format!(
            "manifest: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        ));
    }
    println!("{:.3}", started.elapsed().as_secs_f64() * 1000.0);
    Ok(())
}

async fn pull(args: &[String]) -> Result<(), String> {
    let [url, repo, tag, rest @ ..] = args else {
        return Err("pull URL REPO TAG [--rounds N]".into());
    };
    let rounds: usize = match rest {
        [flag, n] if flag == "--rounds" => n.parse().map_err(|e| format!("{e}"))?,
        [] => 20,
        _ => return Err("pull URL REPO TAG [--rounds N]".into()),
    };
    let mut conn = Conn::open(url, None).await?;
    let mut times = Vec::with_capacity(rounds);
    let mut bytes = 0usize;
    for _ in 0..rounds {
        let started = Instant::now();
        let m = conn
            .call(
                "GET",
                &format!("/v2/{repo}/manifests/{tag}"),
                None,
                &[],
                true,
            )
            .await?;
        if m.status != 200 {
            return Err(format!(
                "manifest: {} {}",
                m.status,
                String::from_utf8_lossy(&m.body)
            ));
        }
        let manifest: serde_json::Value =
            serde_json::from_slice(&m.body).map_err(|e| e.to_string())?;
        let layer = manifest["layers"][0]["digest"].as_str().ok_or("no layer")?;
        let b = conn
            .call(
                "GET",
                &format!("/v2/{repo}/blobs/{layer}"),
                None,
                &[],
                false,
            )
            .await?;
        if b.status != 200 {
            return Err(format!("blob: {}", b.status));
        }
        bytes = b
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(bytes);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() as f64 - 1.0) * q).round() as usize];
    let median = at(0.5);
    println!(
        "{}",
        serde_json::json!({"rounds": rounds, "bytes": bytes, "median_ms": median, "p99_ms": at(0.99),
            "min_ms": times[0], "mb_s": bytes as f64 / (median / 1000.0) / 1e6})
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("push") => push(&args[1..]).await,
        Some("pull") => pull(&args[1..]).await,
        _ => Err("oci-bench push|pull ...".into()),
    };
    if let Err(e) = result {
        eprintln!("oci-bench: {e}");
        std::process::exit(1);
    }
}
