//! `hysope serve|worker --config FILE` (or `HYSOPE_CONFIG`): the flags of the
//! command from a TOML file, one key per long flag (`store = "postgres://…"`,
//! `workers = 4`, `processes = ["/opt/plugins", "/srv/cwl"]`,
//! `anonymous-execute = true`). What the command line says wins, then the
//! environment (`HYSOPE_*`), then the file: a file value is used only for a flag
//! given neither way. An unknown key, or a value of the wrong kind, is an error
//! that names the file and the key.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context, bail};

/// The commands that take a configuration file.
const CONFIGURED: [&str; 2] = ["serve", "worker"];

/// `argv` with the flags of the configuration file the command names (by
/// `--config FILE`, `--config=FILE` or `HYSOPE_CONFIG`) put in, before the
/// command line's own; `argv` as it is for other commands or without a file.
pub fn expand(argv: Vec<OsString>, command: &clap::Command) -> anyhow::Result<Vec<OsString>> {
    let Some(sub) = argv.get(1).and_then(|a| a.to_str()) else {
        return Ok(argv);
    };
    if !CONFIGURED.contains(&sub) {
        return Ok(argv);
    }
    let sub = sub.to_string();
    let mut rest: Vec<OsString> = Vec::with_capacity(argv.len());
    let mut file: Option<OsString> = None;
    let mut args = argv.into_iter();
    let program = args.next().unwrap_or_default();
    args.next();
    while let Some(arg) = args.next() {
        if arg == "--config" {
            file = Some(args.next().context("--config needs a file")?);
        } else if let Some(path) = arg.to_str().and_then(|a| a.strip_prefix("--config=")) {
            file = Some(path.into());
        } else {
            rest.push(arg);
        }
    }
    let file = file.or_else(|| std::env::var_os("HYSOPE_CONFIG").filter(|f| !f.is_empty()));
    let mut out = vec![program, sub.clone().into()];
    if let Some(file) = file {
        let given = given_flags(&rest);
        let sub_command = command
            .find_subcommand(&sub)
            .context("the command has no such subcommand")?;
        out.extend(file_flags(Path::new(&file), sub_command, &given)?);
    }
    out.extend(rest);
    Ok(out)
}

/// The long flags the command line gives.
fn given_flags(args: &[OsString]) -> Vec<String> {
    args.iter()
        .filter_map(|a| a.to_str())
        .filter_map(|a| a.strip_prefix("--"))
        .map(|a| a.split('=').next().unwrap_or(a).to_string())
        .collect()
}

/// The flags the file at `path` gives for `command`, less those the command line
/// (`given`) or the environment already gives.
fn file_flags(
    path: &Path,
    command: &clap::Command,
    given: &[String],
) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{}: not a TOML file", path.display()))?;
    let mut out = Vec::new();
    for (key, value) in &table {
        let where_ = || format!("{}: {key}", path.display());
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && key != "config" && key != "help")
        else {
            let known: Vec<&str> = command
                .get_arguments()
                .filter_map(|a| a.get_long())
                .filter(|l| *l != "help" && *l != "config")
                .collect();
            bail!(
                "{}: not a flag of `hysope {}` (the keys are its long flags: {})",
                where_(),
                command.get_name(),
                known.join(", ")
            );
        };
        let from_env = arg
            .get_env()
            .is_some_and(|var| std::env::var_os(var).is_some_and(|v| !v.is_empty()));
        if given.iter().any(|g| g == key) || from_env {
            continue;
        }
        let takes_value = arg.get_action().takes_values();
        let flag = format!("--{key}");
        let scalar = |v: &toml::Value| -> anyhow::Result<String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(n) => Ok(n.to_string()),
                toml::Value::Float(n) => Ok(n.to_string()),
                other => bail!(
                    "{}: expected a string or a number, got {}",
                    where_(),
                    other.type_str()
                ),
            }
        };
        match value {
            toml::Value::Boolean(on) if !takes_value => {
                if *on {
                    out.push(flag.into());
                }
            }
            toml::Value::Array(list) if takes_value => {
                for v in list {
                    out.push(flag.clone().into());
                    out.push(scalar(v)?.into());
                }
            }
            v if takes_value => {
                out.push(flag.into());
                out.push(scalar(v)?.into());
            }
            other => bail!(
                "{}: a switch takes true or false, got {}",
                where_(),
                other.type_str()
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    fn argv(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn texts(list: Vec<OsString>) -> Vec<String> {
        list.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn a_file_gives_the_flags_the_command_line_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hysope.toml");
        std::fs::write(
            &file,
            "store = \"postgres://db/hysope\"\nworkers = 8\nprocesses = [\"/a\", \"/b\"]\n\
             anonymous-execute = true\nno-publish-bundled = false\nmax-waiting = 5\n",
        )
        .unwrap();
        let cli = crate::Cli::command();
        let out = texts(
            expand(
                argv(&[
                    "hysope",
                    "serve",
                    "--config",
                    file.to_str().unwrap(),
                    "--workers",
                    "2",
                ]),
                &cli,
            )
            .unwrap(),
        );
        assert_eq!(&out[..2], ["hysope", "serve"]);
        let joined = out.join(" ");
        assert!(joined.contains("--store postgres://db/hysope"), "{joined}");
        assert!(joined.contains("--processes /a --processes /b"), "{joined}");
        assert!(joined.contains("--anonymous-execute"), "{joined}");
        assert!(!joined.contains("--no-publish-bundled"), "{joined}");
        // The command line's --workers wins: the file's is left out.
        assert!(!joined.contains("--workers 8"), "{joined}");
        assert!(joined.ends_with("--workers 2"), "{joined}");
        // The expanded line parses.
        crate::Cli::try_parse_from(out).unwrap();
    }

    #[test]
    fn a_bad_key_or_value_names_the_file_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let cli = crate::Cli::command();
        let file = dir.path().join("bad.toml");
        for (text, expect) in [
            ("stor = \"x\"", "stor: not a flag of `hysope worker`"),
            (
                "anonymous-execute = \"yes\"",
                "a switch takes true or false",
            ),
            ("workers = { n = 1 }", "expected a string or a number"),
            ("workers = ", "not a TOML file"),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = expand(
                argv(&["hysope", "worker", "--config", file.to_str().unwrap()]),
                &cli,
            )
            .unwrap_err();
            let text = format!("{e:#}");
            assert!(text.contains(expect) && text.contains("bad.toml"), "{text}");
        }
        let e = expand(
            argv(&["hysope", "serve", "--config", "/nonexistent.toml"]),
            &cli,
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("/nonexistent.toml"), "{e:#}");
    }

    #[test]
    fn other_commands_are_left_alone() {
        let cli = crate::Cli::command();
        let line = argv(&["hysope", "ingest", "--config", "x"]);
        assert_eq!(expand(line.clone(), &cli).unwrap(), line);
    }
}
