//! File formats: comparing a file's `format` with a parameter's, IRIs or
//! namespace-prefixed names (`edam:format_2330` is `http://edamontology.org/format_2330`).

/// The local name of a format IRI or prefixed name.
fn local_name(format: &str) -> &str {
    format.rsplit(['/', '#', ':']).next().unwrap_or(format)
}

/// True when a file of format `actual` satisfies a parameter of format `expected`.
/// Without an ontology loaded, only the same format (by IRI or local name) does.
pub fn format_matches(actual: &str, expected: &str) -> bool {
    actual == expected || local_name(actual) == local_name(expected)
}
