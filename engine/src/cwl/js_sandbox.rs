//! JavaScript expressions in worker processes, for a server that runs documents
//! written by strangers: boa bounds loops, recursion and the stack, but not memory
//! (`'x'.repeat(2**30)` asks for gigabytes, and an allocation that fails aborts the
//! whole process) nor time (a regular expression that backtracks). A worker is the
//! same program started with a hidden command (`hysope js-worker`) under an address
//! space limit (`ulimit -v`); it evaluates one expression per line of JSON it
//! reads. An expression that runs out of memory kills its worker, one that runs
//! out of time is killed: either fails with the reason, and a new worker takes the
//! next expression. Idle workers are kept for the next expressions.
//!
//! Without [`install`], expressions run in the calling process (the command line
//! runner, whose documents are its user's own).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use super::expr::Scope;

/// How expressions are run out of process.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// The program, started as `PROGRAM js-worker`.
    pub program: PathBuf,
    /// The address space of a worker, in bytes.
    pub memory: u64,
    /// The time one expression may take.
    pub time: Duration,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    /// Taken by the thread that reads a reply, given back with it.
    stdout: Option<BufReader<ChildStdout>>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The workers of this process.
pub struct Sandbox {
    settings: SandboxSettings,
    idle: Mutex<Vec<Worker>>,
}

/// Idle workers kept, at most.
const MAX_IDLE: usize = 8;

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

/// Runs every JavaScript expression of this process in workers (once; a second
/// call changes nothing and returns false).
pub fn install(settings: SandboxSettings) -> bool {
    SANDBOX
        .set(Sandbox {
            settings,
            idle: Mutex::new(Vec::new()),
        })
        .is_ok()
}

pub(crate) fn current() -> Option<&'static Sandbox> {
    SANDBOX.get()
}

impl Sandbox {
    fn spawn(&self) -> Result<Worker, String> {
        let kib = (self.settings.memory / 1024).max(1);
        // `ulimit -v` then exec: the limit is the worker's alone.
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("ulimit -v {kib} && exec \"$0\" js-worker"))
            .arg(&self.settings.program)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start an expression worker: {e}"))?;
        let stdin = child.stdin.take().ok_or("the worker has no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("the worker has no stdout")?);
        Ok(Worker {
            child,
            stdin,
            stdout: Some(stdout),
        })
    }

    /// Evaluates `body` after `library` in a worker.
    pub(crate) fn eval(
        &self,
        library: &[String],
        body: &str,
        scope: &Scope<'_>,
    ) -> Result<Value, String> {
        let request = json!({
            "library": library,
            "body": body,
            "inputs": scope.inputs,
            "self": scope.self_,
            "runtime": scope.runtime,
        })
        .to_string();
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut worker = match idle {
            Some(w) => w,
            None => self.spawn()?,
        };
        let sent = worker
            .stdin
            .write_all(request.as_bytes())
            .and_then(|()| worker.stdin.write_all(b"\n"))
            .and_then(|()| worker.stdin.flush());
        if sent.is_err() {
            // An idle worker that died meanwhile: one more try with a new one.
            worker = self.spawn()?;
            worker
                .stdin
                .write_all(format!("{request}\n").as_bytes())
                .map_err(|e| format!("cannot reach the expression worker: {e}"))?;
        }
        // The reply is read on a thread of its own, so that a worker past its time
        // is killed (its pipe then ends and the thread with it).
        let (tx, rx) = std::sync::mpsc::channel();
        let mut stdout = worker.stdout.take().ok_or("the worker has no stdout")?;
        std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line);
            let _ = tx.send((read, line, stdout));
        });
        let limit = self.settings.time;
        match rx.recv_timeout(limit) {
            Ok((Ok(n), line, stdout)) if n > 0 => {
                worker.stdout = Some(stdout);
                let reply: Value = serde_json::from_str(&line)
                    .map_err(|e| format!("the expression worker said something else: {e}"))?;
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() < MAX_IDLE {
                    idle.push(worker);
                }
                match reply.get("error").and_then(Value::as_str) {
                    Some(error) => Err(error.to_string()),
                    None => Ok(reply.get("value").cloned().unwrap_or(Value::Null)),
                }
            }
            Ok(_) => {
                // The worker ended without a reply: killed by a signal (an
                // allocation past its limit aborts it), or it never started.
                use std::os::unix::process::ExitStatusExt;
                match worker.child.wait() {
                    Ok(status) if status.signal().is_none() => Err(format!(
                        "the expression worker stopped before it evaluated anything ({status}); is /bin/sh there, and may it set ulimit -v?"
                    )),
                    _ => Err(format!(
                        "the expression needed more than its {} MiB of memory (its evaluation was stopped)",
                        self.settings.memory >> 20
                    )),
                }
            }
            Err(_) => Err(format!(
                "the expression took more than {} s (its evaluation was stopped)",
                limit.as_secs_f64()
            )),
        }
    }
}

/// The worker's loop (`hysope js-worker`): one JSON request a line on stdin, one
/// JSON reply a line on stdout (`{"value": ...}` or `{"error": "..."}`), until
/// stdin ends.
pub fn worker_main() -> std::io::Result<()> {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line?;
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(request) => {
                let library: Vec<String> = request["library"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|s| s.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let body = request["body"].as_str().unwrap_or("");
                let scope = Scope {
                    inputs: Some(&request["inputs"]),
                    self_: Some(&request["self"]),
                    runtime: Some(&request["runtime"]),
                };
                match super::expr::js_eval_here(&library, body, &scope) {
                    Ok(value) => json!({ "value": value }),
                    Err(error) => json!({ "error": error }),
                }
            }
            Err(e) => json!({"error": format!("not a request: {e}")}),
        };
        writeln!(stdout, "{reply}")?;
        stdout.flush()?;
    }
    Ok(())
}
