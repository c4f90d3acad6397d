//! The `hysope` command as a user runs it: exit codes, messages, output objects.

use std::path::Path;
use std::process::{Command, Output};

use hysope_test_components::{component, component_dir, workspace_root};
use serde_json::Value;

fn hysope(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(args)
        .current_dir(cwd)
        .env("HYSOPE_PLUGIN_PATH", component_dir())
        .env(
            "HYSOPE_CACHE_DIR",
            workspace_root().join("target").join("test-compile-cache"),
        )
        .output()
        .expect("run hysope")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts that a run failed with `code` and said `message` on stderr.
fn assert_fails(output: &Output, code: i32, message: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(message),
        "expected {message:?} in: {stderr}"
    );
}

#[test]
fn a_run_leaves_nothing_in_the_temporary_folder() {
    let root = workspace_root();
    let tmp = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let cwl = root.join("plugins/echo/echo.cwl");
    let job = root.join("plugins/echo/example.yml");
    let output = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([
            "run",
            cwl.to_str().unwrap(),
            job.to_str().unwrap(),
            "--quiet",
        ])
        .arg("--out")
        .arg(out.path())
        .current_dir(&root)
        .env("TMPDIR", tmp.path())
        .env("HYSOPE_PLUGIN_PATH", component_dir())
        .env(
            "HYSOPE_CACHE_DIR",
            root.join("target").join("test-compile-cache"),
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn runs_the_bundled_plugins_from_their_cwl_and_example_jobs() {
    let root = workspace_root();
    for plugin in ["echo", "swot-river-filter"] {
        let out = tempfile::tempdir().unwrap();
        let cwl = root.join(format!("plugins/{plugin}/{plugin}.cwl"));
        let job = root.join(format!("plugins/{plugin}/example.yml"));
        let output = hysope(
            &[
                "run",
                cwl.to_str().unwrap(),
                job.to_str().unwrap(),
                "--out",
                out.path().to_str().unwrap(),
                "--quiet",
            ],
            &root,
        );
        assert!(
            output.status.success(),
            "{plugin}: {}",
            text(&output.stderr)
        );
        let result: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("{plugin}: {e}: {}", text(&output.stdout)));
        for (id, value) in result.as_object().unwrap() {
            let files: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                other => vec![other],
            };
            for file in files {
                assert_eq!(file["class"], "File", "{plugin}.{id}");
                let path = Path::new(file["path"].as_str().unwrap());
                assert!(
                    path.starts_with(std::fs::canonicalize(out.path()).unwrap()),
                    "{plugin}.{id}: {}",
                    path.display()
                );
                assert_eq!(
                    file["size"].as_u64().unwrap(),
                    std::fs::metadata(path).unwrap().len()
                );
                assert!(file["location"].as_str().unwrap().starts_with("file:///"));
            }
        }
    }
}

#[test]
fn key_value_pairs_make_a_job() {
    let out = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let cwl = root.join("plugins/echo/echo.cwl");
    let output = hysope(
        &[
            "run",
            cwl.to_str().unwrap(),
            "stringInput=Lot et Garonne",
            "doubleInput=0.5",
            "booleanInput=true",
            "--out",
            out.path().to_str().unwrap(),
        ],
        &root,
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let echoed: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("echo.json")).unwrap()).unwrap();
    assert_eq!(echoed["stringInput"], "Lot et Garonne");
    assert_eq!(echoed["doubleInput"], 0.5);
    assert_eq!(echoed["booleanInput"], true);
}

#[test]
fn a_bare_component_gets_its_argv_and_only_the_mounts_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let echo = component("echo");
    let output = hysope(
        &[
            "run",
            echo.to_str().unwrap(),
            "--stringInput",
            "hi",
            "--out",
            "o",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).trim(),
        r#"{"booleanInput":false,"stringInput":"hi"}"#
    );
    assert!(dir.path().join("o/echo.json").is_file());

    // Without --out the plugin has nowhere to write, and says so.
    let output = hysope(
        &["run", echo.to_str().unwrap(), "--stringInput", "hi"],
        dir.path(),
    );
    assert_fails(
        &output,
        1,
        "no output directory is mounted: run with --out DIR",
    );

    // The component's own flags pass through; its usage error is its own, with
    // its own exit code (the SDK's EX_USAGE, through WASI's exit-with-code).
    let output = hysope(
        &["run", echo.to_str().unwrap(), "--out", "o", "--", "--bogus"],
        dir.path(),
    );
    assert_fails(&output, 64, "unknown option --bogus");

    // A file in the current directory is invisible unless mounted.
    std::fs::write(dir.path().join("secret.txt"), "secret").unwrap();
    let output = hysope(
        &[
            "run",
            echo.to_str().unwrap(),
            "--out",
            "o",
            "--fileInput",
            "secret.txt",
        ],
        dir.path(),
    );
    assert_ne!(output.status.code(), Some(0));
    std::fs::create_dir(dir.path().join("shared")).unwrap();
    std::fs::write(dir.path().join("shared/visible.txt"), "visible").unwrap();
    let output = hysope(
        &[
            "run",
            echo.to_str().unwrap(),
            "--in",
            "shared",
            "--out",
            "o",
            "--fileInput",
            "/in/visible.txt",
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("o/copy-visible.txt")).unwrap(),
        "visible"
    );
}

#[test]
fn limits_come_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = component("hostile");
    let output = hysope(
        &[
            "run",
            hostile.to_str().unwrap(),
            "--timeout",
            "300ms",
            "--",
            "loop",
        ],
        dir.path(),
    );
    assert_fails(&output, 1, "plugin hostile exceeded its deadline of 300ms");
    let output = hysope(
        &[
            "run",
            hostile.to_str().unwrap(),
            "--memory",
            "32MiB",
            "--",
            "alloc",
        ],
        dir.path(),
    );
    assert!(
        text(&output.stderr).contains("exceeded its memory cap of 33554432 bytes"),
        "{}",
        text(&output.stderr)
    );
    let output = hysope(
        &[
            "run",
            hostile.to_str().unwrap(),
            "--memory",
            "lots",
            "--",
            "alloc",
        ],
        dir.path(),
    );
    assert_fails(&output, 2, "--memory: \"lots\" is not a size");
}

#[test]
fn bad_input_gets_a_clear_error_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let cwl = root.join("plugins/swot-river-filter/swot-river-filter.cwl");
    let cases: Vec<(Vec<String>, i32, String)> = vec![
        (
            vec!["run".into()],
            2,
            "missing the component or tool to run".into(),
        ),
        (
            vec!["run".into(), "nope.wasm".into()],
            1,
            "nope.wasm".into(),
        ),
        (
            vec![
                "run".into(),
                cwl.display().to_string(),
                "max_reach_q=high".into(),
            ],
            2,
            "\"high\" is not a number".into(),
        ),
        (
            vec![
                "run".into(),
                cwl.display().to_string(),
                "colour=blue".into(),
            ],
            2,
            "has no input \"colour\"".into(),
        ),
        (
            vec!["run".into(), cwl.display().to_string()],
            2,
            "job#/product: missing required input".into(),
        ),
        (
            vec!["plugin".into(), "new".into(), "Bad_Name".into()],
            2,
            "not a valid plugin name".into(),
        ),
    ];
    for (args, code, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = hysope(&args, dir.path());
        assert_eq!(
            output.status.code(),
            Some(code),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(&message),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }

    let broken = dir.path().join("broken.cwl");
    std::fs::write(
        &broken,
        "cwlVersion: v1.2\nclass: CommandLineTool\nbaseCommand: echo\ninputz: {}\noutputs: {}\n",
    )
    .unwrap();
    let output = hysope(&["run", broken.to_str().unwrap()], dir.path());
    assert_fails(&output, 2, "broken.cwl#/inputz: unknown field \"inputz\"");

    std::fs::write(&broken, "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  - class: MPIRequirement\n    processes: 2\ninputs: {}\noutputs: {}\n").unwrap();
    let output = hysope(&["run", broken.to_str().unwrap()], dir.path());
    assert_eq!(output.status.code(), Some(33), "{}", text(&output.stderr));

    std::fs::write(
        &broken,
        "cwlVersion: v1.2\nclass: CommandLineTool\ninputs: [\n",
    )
    .unwrap();
    let output = hysope(&["run", broken.to_str().unwrap()], dir.path());
    assert_fails(&output, 2, "broken.cwl:");
}

#[test]
fn committed_descriptors_match_what_the_plugins_declare() {
    let dir = tempfile::tempdir().unwrap();
    for plugin in ["echo", "swot-river-filter"] {
        let output = hysope(
            &["run", component(plugin).to_str().unwrap(), "--cwl"],
            dir.path(),
        );
        assert!(output.status.success());
        let declared: Value = serde_json::from_slice(&output.stdout).unwrap();
        let committed: Value = serde_json::from_slice(
            &std::fs::read(workspace_root().join(format!("plugins/{plugin}/{plugin}.cwl")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            declared, committed,
            "plugins/{plugin}/{plugin}.cwl is stale: regenerate it with hysope plugin build plugins/{plugin}"
        );
    }
}

#[test]
fn a_new_plugin_builds_describes_itself_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let output = hysope(
        &[
            "plugin",
            "new",
            "wse-scale",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    let crate_dir = dir.path().join("wse-scale");
    // A shared target folder keeps the SDK's compiled dependencies between test runs.
    let target = workspace_root().join("target").join("plugin-new-test");
    let output = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(["plugin", "build", crate_dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target)
        .env(
            "HYSOPE_CACHE_DIR",
            workspace_root().join("target").join("test-compile-cache"),
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let cwl = crate_dir.join("wse-scale.cwl");
    let descriptor: Value = serde_json::from_slice(&std::fs::read(&cwl).unwrap()).unwrap();
    assert_eq!(descriptor["inputs"]["factor"]["default"], 1.0);

    std::fs::write(dir.path().join("values.txt"), "1.5\n2\n\n-4\n").unwrap();
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args([
            "run",
            cwl.to_str().unwrap(),
            "values=values.txt",
            "factor=2",
            "--out",
            out.to_str().unwrap(),
        ])
        .current_dir(dir.path())
        .env(
            "HYSOPE_PLUGIN_PATH",
            target.join("wasm32-wasip2").join("release"),
        )
        .env(
            "HYSOPE_CACHE_DIR",
            workspace_root().join("target").join("test-compile-cache"),
        )
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(out.join("scaled.txt")).unwrap(),
        "3\n4\n-8\n"
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["scaled"]["basename"], "scaled.txt");
}

#[test]
fn validate_refuses_an_unknown_requirement_and_accepts_extensions_and_unknown_hints() {
    let dir = tempfile::tempdir().unwrap();
    let tool = dir.path().join("tool.cwl");
    std::fs::write(
        &tool,
        "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  - class: FooRequirement\n\
         baseCommand: echo\ninputs: []\noutputs: []\n",
    )
    .unwrap();
    let output = hysope(&["cwl-runner", "--validate", "tool.cwl"], dir.path());
    assert_fails(
        &output,
        1,
        "tool.cwl#/requirements/FooRequirement: unknown requirement class \"FooRequirement\"",
    );
    // The same class in a workflow step's tool is found there.
    std::fs::write(
        dir.path().join("flow.cwl"),
        "cwlVersion: v1.2\nclass: Workflow\ninputs: []\noutputs: []\nsteps:\n  s:\n    run: tool.cwl\n    in: []\n    out: []\n",
    )
    .unwrap();
    let output = hysope(&["cwl-runner", "--validate", "flow.cwl"], dir.path());
    assert_fails(&output, 1, "unknown requirement class \"FooRequirement\"");
    std::fs::write(
        &tool,
        "cwlVersion: v1.2\nclass: CommandLineTool\n$namespaces:\n  ext: https://example.org/ext#\n\
         requirements:\n  - class: ext:Special\nhints:\n  - class: FooHint\n\
         baseCommand: echo\ninputs: []\noutputs: []\n",
    )
    .unwrap();
    let output = hysope(&["cwl-runner", "--validate", "tool.cwl"], dir.path());
    assert!(output.status.success(), "{}", text(&output.stderr));
}

/// `hysope admin token`: made without any provider or server, the token alone on
/// the last line of stdout; listed without a secret or hash; revoked; bad requests
/// refused saying why; the data folder made private.
#[test]
fn admin_tokens_without_a_server() {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let data_arg = data.to_str().unwrap();
    let made = hysope(
        &[
            "admin",
            "token",
            "create",
            "--user",
            "ada",
            "--role",
            "developer",
            "--scopes",
            "execute,jobs",
            "--expires",
            "30d",
            "--data-dir",
            data_arg,
        ],
        work.path(),
    );
    assert!(made.status.success(), "{}", text(&made.stderr));
    let stdout = text(&made.stdout);
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("hysope_pat_"), "{stdout}");
    assert!(text(&made.stderr).contains("shown once"));
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let listed = hysope(
        &["admin", "token", "list", "--data-dir", data_arg],
        work.path(),
    );
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listing = text(&listed.stdout);
    assert!(
        !listing.contains(&token) && !listing.contains("hash"),
        "{listing}"
    );
    let record: Value = serde_json::from_str(listing.lines().next().unwrap()).unwrap();
    assert_eq!(record["user"], "ada");
    assert_eq!(record["scopes"], serde_json::json!(["execute", "jobs"]));
    assert!(record["expires"].is_string());
    let id = record["id"].as_str().unwrap();
    let revoked = hysope(
        &["admin", "token", "revoke", id, "--data-dir", data_arg],
        work.path(),
    );
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listed = hysope(
        &["admin", "token", "list", "--data-dir", data_arg],
        work.path(),
    );
    let record: Value = serde_json::from_str(text(&listed.stdout).lines().next().unwrap()).unwrap();
    assert!(record["revoked"].is_string(), "{record}");
    for (args, says) in [
        (vec!["--user", "../x", "--role", "user"], "not allowed"),
        (vec!["--user", "bob", "--role", "root"], "root"),
        (
            vec!["--user", "bob", "--role", "user", "--scopes", "all"],
            "not a scope",
        ),
        (
            vec!["--user", "bob", "--role", "user", "--expires", "soon"],
            "--expires",
        ),
    ] {
        let mut full = vec!["admin", "token", "create"];
        full.extend(args);
        full.extend(["--data-dir", data_arg]);
        assert_fails(&hysope(&full, work.path()), 1, says);
    }
    assert_fails(
        &hysope(
            &["admin", "token", "revoke", "nope", "--data-dir", data_arg],
            work.path(),
        ),
        1,
        "no token",
    );
}
