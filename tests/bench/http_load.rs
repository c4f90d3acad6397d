//! `http-load`: a small HTTP/1.1 load generator for the gateway benchmarks. Keeps
//! CONNECTIONS keep-alive connections busy for DURATION seconds (after a warm-up)
//! and prints one JSON line: requests, req/s, latency percentiles, statuses.
//!
//!     http-load URL [--method GET] [--body TEXT] [--header 'Name: value']...
//!               [--connections 16] [--duration 10] [--warmup 1]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Options {
    host: String,
    path: String,
    method: String,
    body: String,
    headers: Vec<String>,
    connections: usize,
    duration: f64,
    warmup: f64,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: http-load URL [options]")?;
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = match rest.find('/') {
        Some(i) => (rest[..i].to_string(), rest[i..].to_string()),
        None => (rest.to_string(), "/".to_string()),
    };
    let mut o = Options {
        host,
        path,
        method: "GET".into(),
        body: String::new(),
        headers: Vec::new(),
        connections: 16,
        duration: 10.0,
        warmup: 1.0,
    };
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--method" => o.method = value,
            "--body" => o.body = value,
            "--header" => o.headers.push(value),
            "--connections" => o.connections = value.parse().map_err(|e| format!("{e}"))?,
            "--duration" => o.duration = value.parse().map_err(|e| format!("{e}"))?,
            "--warmup" => o.warmup = value.parse().map_err(|e| format!("{e}"))?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// Reads one response; returns its status and whether the connection stays open.
async fn read_response(reader: &mut BufReader<TcpStream>) -> std::io::Result<(u16, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = None;
    let mut chunked = false;
    let mut keep = !line.starts_with("HTTP/1.0");
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        } else if let Some(v) = lower.strip_prefix("connection:") {
            keep = v.trim() != "close";
        }
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        reader.read_exact(&mut body).await?;
    } else {
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).await?;
        keep = false;
    }
    Ok((status, keep))
}

async fn worker(
    request: std::sync::Arc<Vec<u8>>,
    host: String,
    start: Instant,
    warm: Duration,
    end: Duration,
) -> (Vec<u32>, BTreeMap<u16, u64>, u64) {
    let mut latencies = Vec::new();
    let mut statuses = BTreeMap::new();
    let mut errors = 0;
    let mut conn: Option<BufReader<TcpStream>> = None;
    while start.elapsed() < end {
        if conn.is_none() {
            match TcpStream::connect(&host).await {
                Ok(s) => {
                    let _ = s.set_nodelay(true);
                    conn = Some(BufReader::new(s));
                }
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connection");
        let t = Instant::now();
        let result = async {
            c.get_mut().write_all(&request).await?;
            read_response(c).await
        }
        .await;
        match result {
            Ok((status, keep)) => {
                if start.elapsed() > warm {
                    latencies.push(t.elapsed().as_micros() as u32);
                    *statuses.entry(status).or_insert(0) += 1;
                }
                if !keep {
                    conn = None;
                }
            }
            Err(_) => {
                errors += 1;
                conn = None;
            }
        }
    }
    (latencies, statuses, errors)
}

#[tokio::main]
async fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("http-load: {e}");
            std::process::exit(2);
        }
    };
    let mut request = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
        o.method,
        o.path,
        o.host,
        o.body.len()
    );
    for h in &o.headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(&o.body);
    let request = std::sync::Arc::new(request.into_bytes());
    let start = Instant::now();
    let warm = Duration::from_secs_f64(o.warmup);
    let end = Duration::from_secs_f64(o.warmup + o.duration);
    let tasks: Vec<_> = (0..o.connections)
        .map(|_| tokio::spawn(worker(request.clone(), o.host.clone(), start, warm, end)))
        .collect();
    let mut latencies = Vec::new();
    let mut statuses: BTreeMap<u16, u64> = BTreeMap::new();
    let mut errors = 0;
    for t in tasks {
        let (l, s, e) = t.await.expect("worker");
        latencies.extend(l);
        for (k, v) in s {
            *statuses.entry(k).or_insert(0) += v;
        }
        errors += e;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[i] as f64 / 1000.0
    };
    let measured = (start.elapsed().as_secs_f64() - o.warmup)
        .min(o.duration)
        .max(1e-9);
    let statuses: Vec<String> = statuses
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    println!(
        "{{\"requests\":{},\"seconds\":{:.3},\"rps\":{:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":{},\"statuses\":{{{}}}}}",
        latencies.len(),
        measured,
        latencies.len() as f64 / measured,
        pct(0.5),
        pct(0.99),
        errors,
        statuses.join(",")
    );
}
