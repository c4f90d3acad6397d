//! CSV output shared by the plugins and the catalogue's time series (RFC 4180 quoting).

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
pub fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_what_needs_quoting() {
        assert_eq!(super::cell("a"), "a");
        assert_eq!(super::cell("x, \"y\""), "\"x, \"\"y\"\"\"");
    }
}
