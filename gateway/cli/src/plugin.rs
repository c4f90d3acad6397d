//! `hysope plugin new` and `hysope plugin build`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use hysope_engine::wasm::RunRequest;

use super::{EXIT_USAGE, UsageError, fail};

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Create a plugin crate that builds into a WASI 0.2 component.
    New {
        /// The plugin's name (lowercase letters, digits and '-'); also the folder name.
        name: String,
        /// Parent folder of the new crate.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path of the hysope-sdk crate (default: the SDK this hysope was built with).
        #[arg(long, env = "HYSOPE_SDK_PATH")]
        sdk: Option<PathBuf>,
    },
    /// Build a plugin crate into a component and write its CWL descriptor beside Cargo.toml.
    Build {
        /// The plugin crate's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Build in debug mode (default: release).
        #[arg(long)]
        debug: bool,
    },
    /// Sign a component and publish it with its CWL descriptor to a Hysope
    /// registry, where it waits for an operator's review.
    Publish(crate::registry::PublishArgs),
    /// Your SSH signing keys on a Hysope registry.
    Keys {
        #[command(subcommand)]
        command: crate::registry::KeysCommand,
    },
}

pub fn main(command: PluginCommand) -> ExitCode {
    let result = match command {
        PluginCommand::New { name, dir, sdk } => new(&name, &dir, sdk),
        PluginCommand::Build { dir, debug } => build(&dir, !debug),
        PluginCommand::Publish(args) => return crate::registry::publish(args),
        PluginCommand::Keys { command } => return crate::registry::keys(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => fail(&e, EXIT_USAGE),
        Err(e) => fail(&e, 1),
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && name.len() <= 64
}

fn default_sdk() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("sdk")
}

fn new(name: &str, parent: &Path, sdk: Option<PathBuf>) -> anyhow::Result<()> {
    if !valid_name(name) {
        return Err(UsageError(format!(
            "{name:?} is not a valid plugin name: use lowercase letters, digits and '-', starting with a letter"
        ))
        .into());
    }
    let sdk = sdk.unwrap_or_else(default_sdk);
    let sdk = std::fs::canonicalize(&sdk)
        .ok()
        .filter(|p| p.join("Cargo.toml").is_file())
        .ok_or_else(|| {
            UsageError(format!(
                "hysope-sdk not found at {} (give --sdk PATH)",
                sdk.display()
            ))
        })?;
    let dir = parent.join(name);
    if dir.exists() {
        return Err(UsageError(format!("{} already exists", dir.display())).into());
    }
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk)),
        ("src/main.rs", main_rs(name)),
        ("src/lib.rs", LIB_RS.to_string()),
        ("README.md", readme(name)),
        (".gitignore", "/target\n".to_string()),
    ];
    for (file, content) in files {
        let path = dir.join(file);
        std::fs::write(&path, content)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created plugin {name} in {}", dir.display());
    println!(
        "next: cd {} && hysope plugin build && hysope run {name}.cwl values=<file> --out out",
        dir.display()
    );
    println!(
        "then: hysope plugin keys add KEY.pub && hysope plugin publish target/wasm32-wasip2/release/{name}.wasm --name USER/{name} --sign KEY (see README.md)"
    );
    Ok(())
}

fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

[dependencies]
hysope-sdk = {{ path = "{sdk}" }}

# Small, fast components.
[profile.release]
opt-level = 3
lto = true
codegen-units = 1
strip = true

# A plugin is its own workspace, wherever it is created.
[workspace]
"#,
        sdk = sdk.display()
    )
}

fn main_rs(name: &str) -> String {
    format!(
        r#"//! `{name}`: scales a series of values (one number per line) by a factor.
//! Replace the body with your algorithm; keep the declaration in step with it.

use hysope_sdk::{{Algorithm, DataError, Input, Output}};

fn algorithm() -> Algorithm {{
    Algorithm::new("{name}", env!("CARGO_PKG_VERSION"))
        .description("Scales a series of values by a factor")
        .input(Input::file("values").doc("text file, one number per line"))
        .input(Input::double("factor").default_value(1.0).doc("multiplier"))
        .output(Output::file("scaled").glob("scaled.txt").doc("the scaled values"))
}}

fn main() {{
    hysope_sdk::run(&algorithm(), |args| {{
        let text = std::fs::read_to_string(args.file("values")?)?;
        let values = {crate_name}::parse(&text).map_err(DataError)?;
        let factor = args.double("factor")?;
        let scaled = {crate_name}::scale(&values, factor);
        hysope_sdk::progress(50.0, "scaled");
        let lines: Vec<String> = scaled.iter().map(|v| v.to_string()).collect();
        std::fs::write("scaled.txt", lines.join("\n") + "\n")?;
        hysope_sdk::progress(100.0, "done");
        Ok(())
    }});
}}
"#,
        crate_name = name.replace('-', "_")
    )
}

const LIB_RS: &str = r#"//! The algorithm itself, free of I/O, so that `cargo test` checks it natively.

/// Parses one number per line; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<f64>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| line.trim().parse::<f64>().map_err(|_| format!("line {}: {:?} is not a number", i + 1, line.trim())))
        .collect()
}

/// Multiplies every value by `factor`.
pub fn scale(values: &[f64], factor: f64) -> Vec<f64> {
    values.iter().map(|v| v * factor).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn scales() {
        let values = super::parse("1\n\n2.5\n").unwrap();
        assert_eq!(super::scale(&values, 2.0), vec![2.0, 5.0]);
        assert!(super::parse("x").unwrap_err().contains("line 1"));
    }
}
"#;

fn readme(name: &str) -> String {
    format!(
        "# {name}\n\nA Hysope plugin.\n\n```sh\nhysope plugin build            # component + {name}.cwl\ncargo test                      # the algorithm, natively\nhysope run {name}.cwl values=values.txt factor=2 --out out\n```\n\n## Publishing it\n\nA Hysope registry takes components signed with your SSH key; an operator reviews\nthem before anyone else may run them.\n\n```sh\nexport HYSOPE_SERVER=https://hysope.example.org HYSOPE_TOKEN=hysope_pat_...\nhysope plugin keys add ~/.ssh/id_ed25519.pub          # once\nhysope plugin publish target/wasm32-wasip2/release/{name}.wasm --cwl {name}.cwl \\\n    --name YOUR_USER/{name} --sign ~/.ssh/id_ed25519 [--example job.yml]\n```\n\nThen deploy a process whose `hysope:WasmRequirement` names\n`component: YOUR_USER/{name}@VERSION`: it is pinned to the digest published.\n"
    )
}

fn build(dir: &Path, release: bool) -> anyhow::Result<()> {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(UsageError(format!("{} has no Cargo.toml", dir.display())).into());
    }
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args([
            "--target",
            "wasm32-wasip2",
            "--message-format",
            "json-render-diagnostics",
        ]);
    if release {
        cargo.arg("--release");
    }
    let output = cargo
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run cargo")?;
    if !output.status.success() {
        bail!("cargo build failed (is the target installed? rustup target add wasm32-wasip2)");
    }
    let manifest_dir = std::fs::canonicalize(dir)?;
    let mut components = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact"
            || !message["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bin"))
        {
            continue;
        }
        let in_crate = message["manifest_path"]
            .as_str()
            .map(|p| Path::new(p).parent() == Some(manifest_dir.as_path()))
            .unwrap_or(false);
        if !in_crate {
            continue;
        }
        for file in message["filenames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str())
        {
            if file.ends_with(".wasm") {
                components.push(PathBuf::from(file));
            }
        }
    }
    if components.is_empty() {
        bail!("cargo built no component binary in {}", dir.display());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let engine = super::run::open_engine()?;
    let engine = engine.wasm();
    for component in components {
        let plugin = engine.load_file(&component)?;
        let request = RunRequest {
            args: vec!["--cwl".into()],
            ..RunRequest::default()
        };
        let outcome = runtime
            .block_on(engine.run(&plugin, request))
            .with_context(|| format!("{} --cwl failed", component.display()))?;
        let descriptor: serde_json::Value =
            serde_json::from_slice(&outcome.stdout).map_err(|e| {
                anyhow!(
                    "{} --cwl did not print a CWL descriptor: {e}",
                    component.display()
                )
            })?;
        let cwl_path = dir.join(format!("{}.cwl", plugin.name()));
        std::fs::write(&cwl_path, serde_json::to_string_pretty(&descriptor)? + "\n")?;
        println!("built {} (sha256 {})", component.display(), plugin.sha256());
        println!("wrote {}", cwl_path.display());
    }
    Ok(())
}
