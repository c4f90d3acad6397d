//! `hysope plugin keys`, `hysope plugin publish` and `hysope registry` against a
//! running `hysope serve`: a developer registers a key made by `ssh-keygen`,
//! signs and publishes the echo component, the local operator sees it in the
//! queue and approves it; refusals say why.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{make_token, request, serve};

fn hysope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hysope"))
        .args(args)
        .env_remove("HYSOPE_SERVER")
        .env_remove("HYSOPE_TOKEN")
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_developer_publishes_and_an_operator_approves_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let dora = make_token(&data, "dora", "developer");
    let (mut server, addr, _) = serve(&data, &[]);
    let url = format!("http://{addr}");
    let key = dir.path().join("dora");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "dora@laptop", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let remote = ["--server", url.as_str(), "--token", dora.as_str()];
    // A private key is not taken as a signing key.
    let out = hysope(&[&["plugin", "keys", "add", path(&key)][..], &remote].concat());
    assert!(!out.status.success());
    assert!(text(&out).contains("private key"), "{}", text(&out));
    let pubkey = key.with_extension("pub");
    let out = hysope(&[&["plugin", "keys", "add", path(&pubkey)][..], &remote].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("SHA256:"), "{}", text(&out));
    let out = hysope(&[&["plugin", "keys", "list"][..], &remote].concat());
    assert!(text(&out).contains("dora@laptop"), "{}", text(&out));

    let wasm = hysope_test_components::component("echo");
    let cwl = hysope_test_components::workspace_root().join("plugins/echo/echo.cwl");
    let publish = |version: &str, cwl: &Path, extra: &[&str]| {
        hysope(
            &[
                &[
                    "plugin",
                    "publish",
                    path(&wasm),
                    "--cwl",
                    path(cwl),
                    "--name",
                    "dora/echo",
                    "--version",
                    version,
                ][..],
                extra,
                &remote,
            ]
            .concat(),
        )
    };
    // Unsigned: refused before anything is sent.
    let out = publish("1.0.0", &cwl, &[]);
    assert!(!out.status.success());
    assert!(text(&out).contains("--sign"), "{}", text(&out));
    let out = publish("1.0.0", &cwl, &["--sign", path(&key)]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        stdout.lines().last().unwrap(),
        "dora/echo@1.0.0",
        "{stdout}"
    );
    // With an example job, run in the sandbox at publish.
    let job = dir.path().join("job.yml");
    std::fs::write(&job, "stringInput: hello from the example\n").unwrap();
    let out = publish(
        "1.0.1",
        &cwl,
        &["--sign", path(&key), "--example", path(&job)],
    );
    assert!(out.status.success(), "{}", text(&out));
    // The same version with another descriptor: refused, saying why.
    let other = dir.path().join("echo.cwl");
    std::fs::write(
        &other,
        std::fs::read_to_string(&cwl)
            .unwrap()
            .replace("Returns", "Gives back"),
    )
    .unwrap();
    let out = publish("1.0.0", &other, &["--sign", path(&key)]);
    assert!(!out.status.success());
    assert!(text(&out).contains("never changes"), "{}", text(&out));

    // The local operator reviews.
    let local = ["--data-dir", path(&data)];
    let out = hysope(&[&["registry", "queue"][..], &local].concat());
    assert!(
        text(&out).contains("dora/echo@1.0.0  by dora"),
        "{}",
        text(&out)
    );
    let out = hysope(
        &[
            &[
                "registry",
                "review",
                "dora/echo@1.0.0",
                "approve",
                "--reason",
                "read and ran it",
            ][..],
            &local,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is approved"), "{}", text(&out));
    let out = hysope(
        &[
            &[
                "registry",
                "review",
                "dora/echo@1.0.0",
                "approve",
                "--reason",
                "again",
            ][..],
            &local,
        ]
        .concat(),
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("409"), "{}", text(&out));
    // Now public.
    let (status, body) = request(&addr, "GET", "/v2/dora/echo/tags/list", &[], "").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1.0.0"), "{body}");
    let out = hysope(&[&["registry", "show", "dora/echo@1.0.0"][..], &local].concat());
    assert!(text(&out).contains("\"review_log\""), "{}", text(&out));
    let _ = server.kill();
    let _ = server.wait();
}
