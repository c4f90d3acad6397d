//! Property-based execute bodies (issue 18): whatever a request holds, the server
//! answers without a 5xx and touches nothing outside its data folder (a canary
//! folder, named by the generated values, stays as it was).

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::Router;
use proptest::prelude::*;
use serde_json::{Value, json};

struct Fixture {
    runtime: tokio::runtime::Runtime,
    app: Router,
    canary: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
}

/// One server for all cases (its data folder), and a canary folder beside it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let data = tempfile::tempdir().unwrap();
        let canary_dir = tempfile::tempdir().unwrap();
        let canary = canary_dir.path().to_path_buf();
        std::fs::write(canary.join("secret"), "canary").unwrap();
        let app = runtime.block_on(async { common::app(data.path()).await.0 });
        Fixture {
            runtime,
            app,
            canary,
            _dirs: vec![data, canary_dir],
        }
    })
}

/// Strings a hostile body would hold where a name or a location goes.
fn hostile_text(canary: String) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        Just(format!("file://{canary}/secret")),
        Just(format!("{canary}/secret")),
        Just(format!("{canary}/written")),
        Just("../../../../tmp/x".to_string()),
        Just("/etc/passwd".to_string()),
        Just("%2e%2e/%2e%2e/etc/passwd".to_string()),
        Just("file:///%".to_string()),
        Just("http://127.0.0.1:1/x".to_string()),
        Just("s3://b/k".to_string()),
        Just("..".to_string()),
        "\\PC{0,16}",
    ]
}

fn body(canary: String) -> impl Strategy<Value = Value> {
    let text = hostile_text(canary);
    let file = (
        prop_oneof![Just("File"), Just("Directory"), Just("Other")],
        prop_oneof![Just("location"), Just("path"), Just("href")],
        text.clone(),
        proptest::option::of(text.clone()),
    )
        .prop_map(
            |(class, key, place, name): (&str, &str, String, Option<String>)| {
                let mut map = serde_json::Map::new();
                map.insert("class".into(), json!(class));
                map.insert(key.into(), json!(place));
                if let Some(name) = name {
                    map.insert("basename".into(), json!(name));
                }
                Value::Object(map)
            },
        );
    let value = prop_oneof![
        file.clone(),
        text.clone().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        prop::collection::vec(file.clone(), 0..3).prop_map(Value::Array),
        file.clone().prop_map(|f| json!({"value": f})),
        file.clone()
            .prop_map(|f| json!({"href": f["location"].clone()})),
    ];
    let inputs = prop::collection::btree_map(
        prop_oneof![
            Just("stringInput".to_string()),
            Just("integerInput".to_string()),
            Just("fileInput".to_string()),
            Just("product".to_string()),
            "[a-zA-Z]{1,8}",
        ],
        value,
        0..4,
    );
    (inputs, proptest::option::of(text), any::<bool>()).prop_map(|(inputs, subscriber, raw)| {
        let mut body = json!({"inputs": inputs.into_iter().collect::<serde_json::Map<_, _>>()});
        if let Some(uri) = subscriber {
            body["subscriber"] = json!({"successUri": uri});
        }
        if raw {
            body["response"] = json!("raw");
        }
        body
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn execute_bodies_never_get_a_5xx_nor_touch_the_host(
        body in body(fixture().canary.display().to_string()),
        process in prop_oneof![Just("echo"), Just("swot-river-filter")],
    ) {
        let f = fixture();
        let reply = f.runtime.block_on(common::call(
            &f.app,
            "POST",
            &format!("/processes/{process}/execution"),
            &[("content-type", "application/json")],
            &body.to_string(),
        ));
        prop_assert!(reply.status.as_u16() < 500, "{} {}: {}", reply.status, body, reply.text);
        prop_assert!(!reply.text.contains("canary"), "{body}: {}", reply.text);
        let mut names: Vec<String> = std::fs::read_dir(&f.canary)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        prop_assert_eq!(names, vec!["secret".to_string()]);
        prop_assert_eq!(std::fs::read_to_string(f.canary.join("secret")).unwrap(), "canary");
    }
}
