//! Property-based tests (issue 18): generated input to the CWL loader, the
//! path and percent decoding of File values, names, and the CQL2 filter path
//! never panics; what is refused is refused with an error.

use hysope_engine::cwl::{self, values};
use proptest::prelude::*;
use serde_json::{Value, json};

/// JSON values of a few levels, with the keys a CWL document or a filter uses.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("File"),
            Just("Directory"),
            Just("CommandLineTool"),
            Just("Workflow"),
            Just("ExpressionTool"),
            Just("string"),
            Just("int[]"),
            Just("$(inputs.x)"),
            Just("${ return 1; }"),
            Just("#main"),
            Just("../x.cwl"),
            Just("/dev/zero"),
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let key = prop_oneof![
            Just("class".to_string()),
            Just("cwlVersion".to_string()),
            Just("inputs".to_string()),
            Just("outputs".to_string()),
            Just("steps".to_string()),
            Just("run".to_string()),
            Just("type".to_string()),
            Just("id".to_string()),
            Just("baseCommand".to_string()),
            Just("requirements".to_string()),
            Just("location".to_string()),
            Just("basename".to_string()),
            Just("$graph".to_string()),
            Just("op".to_string()),
            Just("args".to_string()),
            "[a-z]{1,6}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text as a File's location or path gives a path or none, never a panic.
    #[test]
    fn file_locations_decode_without_panicking(text in "\\PC{0,40}", prefix in prop_oneof![Just(""), Just("file://"), Just("file:///")]) {
        let location = format!("{prefix}{text}");
        let _ = values::path_of(&json!({"class": "File", "location": location}));
        let _ = values::path_of(&json!({"class": "File", "path": location}));
    }

    /// A name is accepted only when it is one path component.
    #[test]
    fn names_accepted_are_one_component(name in "\\PC{0,12}") {
        if values::check_name(&name, "basename").is_ok() {
            prop_assert!(!name.is_empty() && name != "." && name != ".." && !name.contains('/'));
            let joined = std::path::Path::new("/base").join(&name);
            prop_assert_eq!(joined.parent(), Some(std::path::Path::new("/base")));
        }
    }

    /// The loader takes any document (text or JSON) and answers a result.
    #[test]
    fn the_cwl_loader_never_panics(doc in json_value(), text in "\\PC{0,64}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.cwl");
        let _ = cwl::load_text(&path, &doc.to_string(), None);
        let _ = cwl::load_text(&path, &text, None);
    }

    /// Any CQL2 text and any JSON filter: a query or an error, never a panic.
    #[test]
    fn cql2_filters_never_panic(text in "[ a-z0-9_()'<>=!.,-]{0,80}", depth in 0usize..80, filter in json_value()) {
        let pairs = |f: String| vec![("filter".to_string(), f)];
        let _ = hysope_catalog::SearchQuery::from_get(&pairs(text.clone()));
        let nested = format!("{}{text}{}", "(".repeat(depth), ")".repeat(depth));
        let _ = hysope_catalog::SearchQuery::from_get(&pairs(nested));
        let _ = hysope_catalog::SearchQuery::from_post(&json!({"filter": filter, "filter-lang": "cql2-json"}));
    }
}
