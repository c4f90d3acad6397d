//! Helpers of the tests that run the real `hysope` command: a personal token made
//! by `hysope admin token create`, `hysope serve` started on a free port, and one
//! HTTP/1.1 request over a fresh connection.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A personal token of `user` with `role` for `data` (no server holds it yet).
pub fn make_token(data: &Path, user: &str, role: &str) -> String {
    let data = data.to_str().unwrap();
    admin_token(&["--user", user, "--role", role, "--data-dir", data])
}

/// A personal token of `user` with `role` in the shared store `store` (the
/// gateways started on it take it, whatever their data folder).
pub fn make_shared_token(store: &str, user: &str, role: &str) -> String {
    admin_token(&["--user", user, "--role", role, "--store", store])
}

/// `hysope admin token create ARGS...`: the token it printed on its last line.
fn admin_token(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(["admin", "token", "create"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    token.lines().last().unwrap().trim().to_string()
}

/// The number of jobs a server said it queued again at start, from the line
/// [`serve`] returns.
pub fn requeued(line: &str) -> usize {
    line.split(" jobs re-queued")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no re-queued count in {line:?}"))
}

/// `--workers 2` and the process folders the tests serve: the bundled plugins
/// and the gateway's test processes (`sleep`, `fail`, ...).
pub fn process_args() -> Vec<String> {
    let root = hysope_test_components::workspace_root();
    let plugins = root.join("plugins");
    let processes = root.join("gateway/server/tests/processes");
    [
        "--workers",
        "2",
        "--processes",
        plugins.to_str().unwrap(),
        "--processes",
        processes.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

/// Starts `hysope serve --addr 127.0.0.1:0 --data-dir DATA ARGS...`: the child, its
/// address and the line it printed when it listened (its later lines are read and
/// dropped, so that its stderr stays open).
pub fn serve(data: &Path, args: &[&str]) -> (Child, String, String) {
    start("serve", data, args)
}

/// [`serve`] for another command that listens (`worker`).
pub fn start(command: &str, data: &Path, args: &[&str]) -> (Child, String, String) {
    start_with(command, data, args, &[])
}

/// [`start`] with more environment variables.
pub fn start_with(
    command: &str,
    data: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([command, "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The line that says where it listens; log lines of its start (a shared
    // store's sweep, say) may come first.
    let mut line = String::new();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    for _ in 0..1000 {
        line.clear();
        if stderr.read_line(&mut line).unwrap() == 0 || line.contains("http://") {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr, line)
}

/// One HTTP/1.1 request with `headers` (`Name: value`); the status and the body,
/// or the connection's failure (a server killed).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes())?;
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply)?;
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, body.to_string()))
}

/// A server the test started, killed however the test ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hysope serve --addr 127.0.0.1:0 --data-dir DATA ARGS...` with `envs`,
/// its stderr to `stderr`; the server and its address, read from the
/// `server.json` it writes (its stderr may be a file, or JSON lines).
pub fn serve_quietly(
    data: &Path,
    args: &[String],
    envs: &[(&str, &str)],
    stderr: Stdio,
) -> (Running, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .envs(envs.iter().copied())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let server = Running(child);
    let started = std::time::Instant::now();
    loop {
        let url = std::fs::read(data.join("server.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["url"].as_str().map(str::to_string));
        if let Some(url) = url {
            return (server, url.trim_start_matches("http://").to_string());
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no server.json in 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
