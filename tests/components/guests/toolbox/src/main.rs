//! Ordinary tools in one program, so that the backends' conformance suite runs the
//! same behaviours in every backend (the wasm backend runs this component; a
//! native backend runs the equivalent shell commands):
//!
//! - `cat [PATH...]`: the files (or stdin) on stdout;
//! - `exit CODE`: exits with CODE;
//! - `sleep SECONDS`: sleeps;
//! - `env NAME...`: one line per name, `NAME=value` or `NAME unset`;
//! - `write PATH TEXT`: writes TEXT into PATH (its folders made);
//! - `stderr TEXT`: TEXT on stderr.

use std::io::{Read, Write};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, rest) = args
        .split_first()
        .map_or(("", &[][..]), |(m, r)| (m.as_str(), r));
    let code = match run(mode, rest) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("toolbox {mode}: {e}");
            1
        }
    };
    exit(code);
}

/// Exits with `code` as it is: inside the sandbox through WASI 0.2.12's
/// `exit-with-code` (`std::process::exit` there says only success or failure).
fn exit(code: i32) -> ! {
    let code = u8::try_from(code).unwrap_or(255);
    #[cfg(target_arch = "wasm32")]
    {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().flush();
        wasip2::cli::exit::exit_with_code(code);
    }
    std::process::exit(i32::from(code))
}

fn run(mode: &str, args: &[String]) -> std::io::Result<i32> {
    let mut out = std::io::stdout().lock();
    match (mode, args) {
        ("cat", []) => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            out.write_all(&bytes)?;
        }
        ("cat", paths) => {
            for path in paths {
                out.write_all(&std::fs::read(path)?)?;
            }
        }
        ("exit", [code]) => return Ok(code.parse().unwrap_or(2)),
        ("sleep", [seconds]) => {
            std::thread::sleep(std::time::Duration::from_secs(seconds.parse().unwrap_or(1)));
        }
        ("env", names) => {
            for name in names {
                match std::env::var(name) {
                    Ok(value) => writeln!(out, "{name}={value}")?,
                    Err(_) => writeln!(out, "{name} unset")?,
                }
            }
        }
        ("write", [path, text]) => {
            if let Some(parent) = std::path::Path::new(path).parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, text)?;
        }
        ("stderr", [text]) => eprintln!("{text}"),
        _ => {
            eprintln!(
                "usage: toolbox cat|exit|sleep|env|write|stderr ARGS (got {mode:?} {args:?})"
            );
            return Ok(2);
        }
    }
    Ok(0)
}
