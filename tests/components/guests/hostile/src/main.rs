//! A hostile plugin: each mode tries one thing the sandbox must prevent, and reports
//! on stdout what it could and could not do. `denied:` lines are the sandbox working;
//! an `ESCAPED:` line is a failure of the sandbox.

use std::hint::black_box;
use std::io::{Read, Write};

fn attempt(what: &str, result: std::io::Result<String>) -> bool {
    match result {
        Ok(detail) => {
            println!("ESCAPED: {what}: {detail}");
            true
        }
        Err(e) => {
            println!("denied: {what}: {e}");
            false
        }
    }
}

fn read(path: &str) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?.read_to_string(&mut text)?;
    Ok(format!("read {} bytes", text.len()))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("");
    let mut escaped = false;
    match mode {
        "fs" => {
            for path in [
                "/etc/passwd",
                "/in/../etc/passwd",
                "/out/../../etc/passwd",
                "../etc/passwd",
                "/in/escape-link",
                "/proc/self/environ",
            ] {
                escaped |= attempt(&format!("read {path}"), read(path));
            }
            escaped |= attempt(
                "list /",
                std::fs::read_dir("/").map(|d| format!("{} entries", d.count())),
            );
            escaped |= attempt(
                "write /in/new",
                std::fs::write("/in/new", b"x").map(|_| "written".into()),
            );
            escaped |= attempt(
                "write /out/../outside",
                std::fs::write("/out/../outside", b"x").map(|_| "written".into()),
            );
            escaped |= attempt(
                "write /tmp/x",
                std::fs::write("/tmp/x", b"x").map(|_| "written".into()),
            );
            let env: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            println!("env: {}", env.join(","));
        }
        "socket" => {
            let port = args.get(2).cloned().unwrap_or_else(|| "9".into());
            escaped |= attempt(
                "tcp connect",
                std::net::TcpStream::connect(format!("127.0.0.1:{port}"))
                    .and_then(|mut s| s.write_all(b"hello").map(|_| "connected".into())),
            );
            escaped |= attempt(
                "tcp listen",
                std::net::TcpListener::bind("127.0.0.1:0").map(|l| format!("{:?}", l.local_addr())),
            );
            escaped |= attempt(
                "udp send",
                std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| {
                    s.send_to(b"x", format!("127.0.0.1:{port}"))
                        .map(|n| format!("sent {n}"))
                }),
            );
            escaped |= attempt(
                "dns lookup",
                std::net::ToSocketAddrs::to_socket_addrs("localhost:80")
                    .map(|a| format!("{} addresses", a.count())),
            );
        }
        "loop" => {
            let mut x: u64 = 0;
            loop {
                x = black_box(x.wrapping_add(1));
            }
        }
        "sleep" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "alloc" => {
            let mut blocks: Vec<Vec<u8>> = Vec::new();
            for i in 0..256 {
                let mut block = vec![0u8; 16 << 20];
                block[i] = 1;
                blocks.push(black_box(block));
            }
            println!("allocated {} MiB", blocks.len() * 16);
        }
        "write" => {
            let chunk = vec![7u8; 1 << 20];
            let mut file = std::fs::File::create("/out/big.bin").expect("create /out/big.bin");
            for _ in 0..4096 {
                if let Err(e) = file.write_all(&chunk) {
                    println!("write failed: {e}");
                    std::process::exit(1);
                }
            }
        }
        "handles" => {
            let mut open = Vec::new();
            loop {
                match std::fs::File::open("/in/data.txt") {
                    Ok(f) => open.push(f),
                    Err(e) => {
                        println!("limited after {} open files: {e}", open.len());
                        break;
                    }
                }
                if open.len() > 100_000 {
                    println!("ESCAPED: opened {} files", open.len());
                    escaped = true;
                    break;
                }
            }
        }
        "link-out" => {
            // Links in /out that the sandbox lets a plugin make (relative targets) but
            // that lead out of it: the host must not follow them when it reads the
            // outputs. `kept.txt` is an ordinary output beside them.
            std::fs::write("/out/kept.txt", b"kept").expect("write /out/kept.txt");
            let target = args
                .get(2)
                .map(String::as_str)
                .unwrap_or("../../../etc/passwd");
            #[cfg(target_arch = "wasm32")]
            {
                let (out, _) = wasip2::filesystem::preopens::get_directories()
                    .into_iter()
                    .find(|(_, path)| path == "/out")
                    .expect("/out is preopened");
                match out.symlink_at(target, "leak.txt") {
                    Ok(()) => println!("made /out/leak.txt -> {target}"),
                    Err(e) => println!("denied: symlink /out/leak.txt -> {target}: {e}"),
                }
            }
            #[cfg(not(target_arch = "wasm32"))]
            println!("not a wasm build: no link to {target}");
        }
        "panic" => panic!("hostile plugin panics on purpose"),
        "cat" => {
            // Not hostile: copies stdin to stdout, to check that stdin reaches the plugin.
            let mut input = Vec::new();
            std::io::stdin()
                .read_to_end(&mut input)
                .expect("read stdin");
            std::io::stdout().write_all(&input).expect("write stdout");
        }
        "stdout" => {
            let line = "x".repeat(1023) + "\n";
            for _ in 0..8192 {
                print!("{line}");
            }
        }
        "host" => {
            hysope_sdk::log(hysope_sdk::LogLevel::Info, "starting");
            for step in 0..=4 {
                hysope_sdk::progress(step as f32 * 25.0, &format!("step {step}"));
            }
            hysope_sdk::progress(f32::NAN, "not a number");
            hysope_sdk::log(hysope_sdk::LogLevel::Warn, &"w".repeat(10_000));
            println!("cancelled: {}", hysope_sdk::cancelled());
        }
        "paced" => {
            // A well-behaved slow run: STEPS steps of MILLIS each, a log line and a
            // progress report at each (the portal's job page is seen moving).
            let steps: u32 = args
                .get(2)
                .and_then(|a| a.parse().ok())
                .unwrap_or(4)
                .clamp(1, 100);
            let millis: u64 = args
                .get(3)
                .and_then(|a| a.parse().ok())
                .unwrap_or(500)
                .min(10_000);
            for step in 1..=steps {
                std::thread::sleep(std::time::Duration::from_millis(millis));
                hysope_sdk::log(
                    hysope_sdk::LogLevel::Info,
                    &format!("step {step} of {steps} done"),
                );
                hysope_sdk::progress(
                    step as f32 * 100.0 / steps as f32,
                    &format!("step {step} of {steps}"),
                );
                if hysope_sdk::cancelled() {
                    std::process::exit(1);
                }
            }
            println!("{steps} steps");
        }
        "poll-cancel" => {
            // A well-behaved long computation: polls cancellation and stops early.
            let mut x: u64 = 0;
            loop {
                for _ in 0..100_000 {
                    x = black_box(x.wrapping_add(1));
                }
                if hysope_sdk::cancelled() {
                    eprintln!("cancelled, stopping");
                    std::process::exit(1);
                }
            }
        }
        other => {
            eprintln!("unknown mode {other:?}");
            std::process::exit(2);
        }
    }
    std::process::exit(i32::from(escaped));
}
