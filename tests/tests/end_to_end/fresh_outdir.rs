//! A CommandLineTool run in place in a fresh output folder (as the gateway runs a
//! job's tool in its results folder): the folder ends with the outputs only, as
//! when the tool runs in a work folder and its outputs are moved; and empty when
//! the tool fails.

use std::path::Path;
use std::sync::Arc;

use hysope_engine::cwl::{self, LocalBackend, Runner};
use hysope_engine::wasm::Limits;
use serde_json::{Map, Value, json};

/// Every file under `dir`, as sorted relative paths.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn tool(dir: &Path, script: &str) -> Value {
    let path = dir.join("tool.cwl");
    let doc = json!({
        "cwlVersion": "v1.2",
        "class": "CommandLineTool",
        "baseCommand": ["sh", "-c", script],
        "inputs": {},
        "outputs": {
            "out": {"type": "File", "outputBinding": {"glob": "out.txt"}},
            "deep": {"type": "File", "outputBinding": {"glob": "sub/deeper/x.txt"}},
            "folder": {"type": "Directory", "outputBinding": {"glob": "kept-folder"}}
        }
    });
    std::fs::write(&path, doc.to_string()).unwrap();
    cwl::load(&path.display().to_string()).unwrap().process
}

fn runner(scratch: &Path, fresh: bool) -> Runner {
    Runner::new(
        vec![Arc::new(LocalBackend::new(Limits::default()))],
        scratch.to_path_buf(),
    )
    .with_fresh_outdir(fresh)
}

const SCRIPT: &str = "echo kept > out.txt; echo junk > junk.txt; mkdir -p sub/deeper kept-folder/in \
     stray/deep; echo x > sub/deeper/x.txt; echo no > sub/no.txt; echo in > kept-folder/in/f; \
     echo s > stray/deep/s";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_leaves_the_outputs_only() {
    let dir = tempfile::tempdir().unwrap();
    let process = tool(dir.path(), SCRIPT);
    let scratch = dir.path().join("scratch");
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let output = runner(&scratch, true)
        .run(&process, &Map::new(), &fresh)
        .await
        .unwrap();
    assert_eq!(
        files(&fresh),
        ["kept-folder/in/f", "out.txt", "sub/deeper/x.txt"]
    );
    let real = std::fs::canonicalize(&fresh).unwrap();
    for name in ["out", "deep", "folder"] {
        let path = output[name]["path"].as_str().unwrap();
        assert!(Path::new(path).starts_with(&real), "{name}: {path}");
        assert!(Path::new(path).exists(), "{name}: {path}");
    }
    assert_eq!(
        std::fs::read_to_string(output["out"]["path"].as_str().unwrap()).unwrap(),
        "kept\n"
    );
    // Nothing left in the scratch area either.
    assert!(std::fs::read_dir(&scratch).unwrap().next().is_none());

    // The same tool run the usual way (work folder, outputs moved) gives the same
    // files, moved to the top of the output folder.
    let moved = dir.path().join("moved");
    std::fs::create_dir_all(&moved).unwrap();
    let usual = runner(&scratch, false)
        .run(&process, &Map::new(), &moved)
        .await
        .unwrap();
    assert_eq!(files(&moved), ["kept-folder/in/f", "out.txt", "x.txt"]);
    assert_eq!(usual["out"]["checksum"], output["out"]["checksum"]);
    assert_eq!(usual["deep"]["checksum"], output["deep"]["checksum"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_tool_leaves_the_folder_empty() {
    let dir = tempfile::tempdir().unwrap();
    let process = tool(dir.path(), &format!("{SCRIPT}; exit 3"));
    let fresh = dir.path().join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    let error = runner(&dir.path().join("scratch"), true)
        .run(&process, &Map::new(), &fresh)
        .await
        .unwrap_err();
    assert!(error.to_string().contains('3'), "{error}");
    assert_eq!(files(&fresh), Vec::<String>::new());
    assert!(std::fs::read_dir(&fresh).unwrap().next().is_none());
}
