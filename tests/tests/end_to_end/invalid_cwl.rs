//! Broken CWL documents are refused before anything runs, each with the message its
//! first line announces (`# expect: ...`): file, JSON pointer and what is wrong.

use hysope_test_components::workspace_root;

#[test]
fn every_broken_document_is_refused_with_its_message() {
    let dir = workspace_root().join("tests").join("cwl-invalid");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwl"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "the corpus has {} documents",
        files.len()
    );
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} has no # expect: line", file.display()));
        let error = match hysope_engine::cwl::load(&file.display().to_string()) {
            Ok(_) => panic!("{} was accepted", file.display()),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains(expected),
            "{}:\n  expected: {expected}\n  got:      {error}",
            file.display()
        );
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            error.contains(&name) || error.contains("no-such-tool.cwl"),
            "{}: the error does not name the file: {error}",
            file.display()
        );
    }
}

#[test]
fn an_unknown_hint_or_an_extension_requirement_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tool.cwl");
    std::fs::write(
        &path,
        "cwlVersion: v1.2\nclass: CommandLineTool\n$namespaces:\n  ext: https://example.org/ext#\n\
         requirements:\n  - class: ext:Special\nhints:\n  - class: FooHint\n\
         baseCommand: echo\ninputs: []\noutputs: []\n",
    )
    .unwrap();
    let loaded = hysope_engine::cwl::load(&path.display().to_string());
    assert!(loaded.is_ok(), "{:?}", loaded.err());
}
