//! The conformance suite of [`Backend`], run by every implementation: the wasm
//! sandbox and local processes here (`tests/backend_suite.rs`), the HPC backend
//! when it comes. A backend runs the same behaviours in its own form: a
//! [`SuiteTools`] gives its command lines (the wasm backend runs the toolbox test
//! component, a native backend the equivalent shell commands). Each case goes
//! through the trait alone (stage, execute, unstage) in a fresh work folder;
//! [`backend_suite!`](crate::backend_suite) declares one test per case (the calling
//! crate needs `tempfile` and tokio with `macros` and `rt-multi-thread`).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::cwl::{Backend, ExecutionResult, Staging, ToolInvocation};
use crate::{Error, Result};

/// A backend under test and its command lines for the suite's behaviours.
pub trait SuiteTools: Send + Sync {
    /// The backend.
    fn backend(&self) -> Arc<dyn Backend>;
    /// The requirements of the suite's tools in this backend (those that make the
    /// backend accept them).
    fn requirements(&self) -> Vec<Value>;
    /// Prints the files `paths` (as the tool sees them) on stdout.
    fn cat(&self, paths: &[&str]) -> Vec<String>;
    /// Exits with `code`.
    fn exit(&self, code: i32) -> Vec<String>;
    /// Sleeps `seconds`.
    fn sleep(&self, seconds: u32) -> Vec<String>;
    /// Prints `NAME=value` or `NAME unset`, one line per name.
    fn env(&self, names: &[&str]) -> Vec<String>;
    /// Writes `text` into `path` (as the tool sees it).
    fn write(&self, path: &str, text: &str) -> Vec<String>;
    /// Prints `text` on stderr.
    fn stderr(&self, text: &str) -> Vec<String>;
}

/// The suite's behaviours as POSIX shell command lines, for backends that run
/// native commands (local processes, Slurm jobs, containers): their
/// [`SuiteTools`] return these.
pub mod shell {
    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// `sh -c SCRIPT sh OPERANDS...`.
    pub fn sh(script: &str, operands: &[&str]) -> Vec<String> {
        args(&[&["sh", "-c", script, "sh"][..], operands].concat())
    }

    /// See [`SuiteTools::cat`](super::SuiteTools::cat).
    pub fn cat(paths: &[&str]) -> Vec<String> {
        args(&[&["cat"][..], paths].concat())
    }

    /// See [`SuiteTools::exit`](super::SuiteTools::exit).
    pub fn exit(code: i32) -> Vec<String> {
        sh("exit \"$1\"", &[&code.to_string()])
    }

    /// See [`SuiteTools::sleep`](super::SuiteTools::sleep).
    pub fn sleep(seconds: u32) -> Vec<String> {
        args(&["sleep", &seconds.to_string()])
    }

    /// See [`SuiteTools::env`](super::SuiteTools::env).
    pub fn env(names: &[&str]) -> Vec<String> {
        let script = r#"for n; do eval "v=\${$n+set}"; if [ "$v" = set ]; then eval "printf '%s=%s\n' \"\$n\" \"\$$n\""; else printf '%s unset\n' "$n"; fi; done"#;
        sh(script, names)
    }

    /// See [`SuiteTools::write`](super::SuiteTools::write).
    pub fn write(path: &str, text: &str) -> Vec<String> {
        sh(
            "mkdir -p \"$(dirname \"$1\")\" && printf %s \"$2\" > \"$1\"",
            &[path, text],
        )
    }

    /// See [`SuiteTools::stderr`](super::SuiteTools::stderr).
    pub fn stderr(text: &str) -> Vec<String> {
        sh("printf '%s\\n' \"$1\" >&2", &[text])
    }
}

/// One tool run through the trait: staged with `inputs`, the command line made
/// from the staging by `argv`, executed.
struct Run {
    backend: Arc<dyn Backend>,
    outdir: std::path::PathBuf,
    inputs: Map<String, Value>,
    staging: Staging,
}

impl Run {
    fn stage(tools: &dyn SuiteTools, work: &Path, inputs: Map<String, Value>) -> Self {
        let backend = tools.backend();
        let requirements = tools.requirements();
        assert!(
            backend.accepts(&requirements, &[]),
            "{} does not accept the suite's tools",
            backend.name()
        );
        let outdir = work.join("out");
        std::fs::create_dir_all(&outdir).unwrap();
        let process = json!({"class": "CommandLineTool", "$path": work.join("tool.cwl")});
        let mut inputs = inputs;
        let staging = backend
            .stage(
                &crate::cwl::ToolContext::new(&process, &requirements),
                &mut inputs,
                &outdir,
            )
            .unwrap();
        Run {
            backend,
            outdir,
            inputs,
            staging,
        }
    }

    async fn execute(
        &self,
        argv: Vec<String>,
        configure: impl FnOnce(&mut ToolInvocation),
    ) -> Result<ExecutionResult> {
        let mut invocation = ToolInvocation {
            name: "suite".into(),
            at: "#".into(),
            cores: 1,
            ram_mib: 256,
            argv,
            env: Vec::new(),
            stdin: None,
            stdout: None,
            stderr: None,
            outdir: self.outdir.clone(),
            staging: self.staging.clone(),
            timeout: None,
            cancel: CancellationToken::new(),
        };
        configure(&mut invocation);
        self.backend.execute(invocation).await
    }

    /// The path the tool sees of input `name`.
    fn input_path(&self, name: &str) -> String {
        self.inputs[name]["path"].as_str().unwrap().to_string()
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.outdir.join(name)).unwrap_or_default()
    }
}

fn file(path: &Path) -> Value {
    json!({
        "class": "File",
        "location": format!("file://{}", path.display()),
        "path": path.display().to_string(),
        "basename": path.file_name().unwrap().to_string_lossy(),
    })
}

/// The backend's cases.
pub mod backend {
    use super::*;

    /// Staged inputs are read at the paths the staging gives the tool, the host
    /// files stay as they were, and stdout goes to the named file.
    pub async fn staged_inputs_are_read_where_the_staging_says(
        tools: &dyn SuiteTools,
        work: &Path,
    ) {
        let host = work.join("data").join("reach.csv");
        std::fs::create_dir_all(host.parent().unwrap()).unwrap();
        std::fs::write(&host, "reach_id,wse\n74230900181,12.5\n").unwrap();
        let mut inputs = Map::new();
        inputs.insert("table".into(), file(&host));
        let run = Run::stage(tools, work, inputs);
        let path = run.input_path("table");
        let result = run
            .execute(tools.cat(&[&path]), |i| i.stdout = Some("seen.txt".into()))
            .await
            .unwrap();
        assert_eq!(result.exit_code, 0);
        assert_eq!(run.read("seen.txt"), "reach_id,wse\n74230900181,12.5\n");
        assert_eq!(
            std::fs::read_to_string(&host).unwrap(),
            "reach_id,wse\n74230900181,12.5\n"
        );
    }

    /// The exit code comes back as the tool gave it; the engine decides.
    pub async fn exit_codes_come_back_as_they_are(tools: &dyn SuiteTools, work: &Path) {
        let run = Run::stage(tools, work, Map::new());
        for code in [0, 3, 42] {
            let result = run.execute(tools.exit(code), |_| {}).await.unwrap();
            assert_eq!(result.exit_code, code, "{}", run.backend.name());
        }
    }

    /// stderr goes to the named file in the output folder.
    pub async fn stderr_goes_to_the_named_file(tools: &dyn SuiteTools, work: &Path) {
        let run = Run::stage(tools, work, Map::new());
        let result = run
            .execute(tools.stderr("reach 74230900181 skipped"), |i| {
                i.stderr = Some("err.txt".into());
            })
            .await
            .unwrap();
        assert_eq!(result.exit_code, 0);
        assert_eq!(run.read("err.txt").trim(), "reach 74230900181 skipped");
    }

    /// The tool sees the environment it is given and none of the host's (but
    /// `PATH`, which a native backend may pass).
    pub async fn the_tool_sees_its_environment_only(tools: &dyn SuiteTools, work: &Path) {
        // A variable of the host's (cargo sets the first for tests; shells set
        // none of these themselves).
        let host_var = ["CARGO_MANIFEST_DIR", "HOME", "USER", "LANG"]
            .into_iter()
            .find(|k| std::env::var_os(k).is_some())
            .unwrap_or("HOME");
        let run = Run::stage(tools, work, Map::new());
        let result = run
            .execute(tools.env(&["HYSOPE_SUITE", host_var]), |i| {
                i.env = vec![("HYSOPE_SUITE".into(), "reach 7423".into())];
                i.stdout = Some("env.txt".into());
            })
            .await
            .unwrap();
        assert_eq!(result.exit_code, 0);
        assert_eq!(
            run.read("env.txt"),
            format!("HYSOPE_SUITE=reach 7423\n{host_var} unset\n")
        );
    }

    /// What the tool writes in its output folder is in the host's output folder,
    /// and unstaging an output value gives a host path there.
    pub async fn files_written_in_the_output_folder_reach_the_host(
        tools: &dyn SuiteTools,
        work: &Path,
    ) {
        let run = Run::stage(tools, work, Map::new());
        let inside = format!("{}/series/wse.csv", run.staging.outdir);
        let result = run
            .execute(tools.write(&inside, "t,wse\n0,12.5\n"), |_| {})
            .await
            .unwrap();
        assert_eq!(result.exit_code, 0);
        assert_eq!(run.read("series/wse.csv"), "t,wse\n0,12.5\n");
        let mut output = json!({
            "class": "File",
            "path": run.outdir.join("series/wse.csv").display().to_string(),
            "location": format!("file://{}", run.outdir.join("series/wse.csv").display()),
        });
        run.backend.unstage(&mut output, &run.outdir);
        let path = output["path"].as_str().unwrap();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "t,wse\n0,12.5\n",
            "{output}"
        );
    }

    /// A tool past its time limit is stopped and reported as such, long before it
    /// would have ended.
    pub async fn a_time_limit_stops_the_tool(tools: &dyn SuiteTools, work: &Path) {
        let run = Run::stage(tools, work, Map::new());
        let started = Instant::now();
        let result = run
            .execute(tools.sleep(120), |i| {
                i.timeout = Some(Duration::from_millis(500));
            })
            .await;
        assert!(
            matches!(result, Err(Error::Timeout { .. })),
            "{:?}",
            result.map(|r| r.exit_code)
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    /// A cancelled tool is stopped and reported as cancelled.
    pub async fn cancelling_stops_the_tool(tools: &dyn SuiteTools, work: &Path) {
        let run = Run::stage(tools, work, Map::new());
        let cancel = CancellationToken::new();
        let later = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            later.cancel();
        });
        let started = Instant::now();
        let result = run.execute(tools.sleep(120), |i| i.cancel = cancel).await;
        assert!(
            matches!(result, Err(Error::Cancelled { .. })),
            "{:?}",
            result.map(|r| r.exit_code)
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

/// Declares the backend suite's tests; `$make` is an expression giving a
/// [`SuiteTools`] (a fresh backend and its command lines).
#[macro_export]
macro_rules! backend_suite {
    ($make:expr) => {
        mod backend_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance::backend as case;

            $crate::backend_suite!(@cases $make;
                staged_inputs_are_read_where_the_staging_says,
                exit_codes_come_back_as_they_are,
                stderr_goes_to_the_named_file,
                the_tool_sees_its_environment_only,
                files_written_in_the_output_folder_reach_the_host,
                a_time_limit_stops_the_tool,
                cancelling_stops_the_tool
            );
        }
    };
    (@cases $make:expr; $($case:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let tools = $make;
            let work = tempfile::tempdir().unwrap();
            case::$case(&tools, work.path()).await;
        }
    )*};
}
