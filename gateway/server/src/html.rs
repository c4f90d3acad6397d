//! HTML pages of API resources: the same document as the JSON, readable in a
//! browser, with its links clickable.

use axum::response::Html;
use serde_json::Value;

/// Escapes text for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn links_of(value: &Value, out: &mut Vec<(String, String, String)>) {
    match value {
        Value::Object(map) => {
            if let (Some(Value::String(href)), Some(rel)) = (map.get("href"), map.get("rel")) {
                let title = map.get("title").and_then(Value::as_str).unwrap_or_default();
                out.push((
                    href.clone(),
                    rel.as_str().unwrap_or("").to_string(),
                    title.to_string(),
                ));
            }
            for v in map.values() {
                links_of(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| links_of(v, out)),
        _ => {}
    }
}

/// True for an `http(s)://` URL or a reference relative to the page (no scheme).
fn is_web_link(href: &str) -> bool {
    let lower = href.trim_start().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return true;
    }
    // A scheme is letters, digits, `+`, `-`, `.` before the first `:`, which comes
    // before any `/`, `?` or `#`.
    match lower.find([':', '/', '?', '#']) {
        Some(i) => lower.as_bytes()[i] != b':',
        None => true,
    }
}

/// A page showing `body` under `title`, its links first.
pub fn page(title: &str, body: &Value) -> Html<String> {
    let mut links = Vec::new();
    links_of(body, &mut links);
    let items: String = links
        .iter()
        .map(|(href, rel, t)| {
            // Only web links are links: `javascript:` or `data:` in a document (a
            // user's STAC item, a job's input) stays text.
            if !is_web_link(href) {
                return format!(
                    "<li>{} <small>({})</small></li>\n",
                    escape(if t.is_empty() { href } else { t }),
                    escape(rel)
                );
            }
            // Links to JSON resources open their HTML page.
            let shown = if href.contains('?') || href.ends_with("/api") || href.contains("/files/")
            {
                href.clone()
            } else {
                format!("{href}?f=html")
            };
            format!(
                "<li><a href=\"{}\">{}</a> <small>({})</small></li>\n",
                escape(&shown),
                escape(if t.is_empty() { href } else { t }),
                escape(rel)
            )
        })
        .collect();
    let json = serde_json::to_string_pretty(body).unwrap_or_default();
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} - Hysope</title>\
         <style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;overflow:auto}}</style>\
         </head><body><h1>{t}</h1><ul>\n{items}</ul><pre>{json}</pre></body></html>\n",
        t = escape(title),
        json = escape(&json),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_are_clickable() {
        let body = serde_json::json!({"links": [
            {"href": "javascript:alert(1)", "rel": "x", "title": "click"},
            {"href": " JavaScript:alert(2)", "rel": "y"},
            {"href": "data:text/html,<script>alert(3)</script>", "rel": "z"},
            {"href": "https://example.org/a", "rel": "ok"},
            {"href": "/stac/collections", "rel": "ok2"},
        ]});
        let html = page("t", &body).0;
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(
            !html.to_ascii_lowercase().contains("href=\" javascript"),
            "{html}"
        );
        assert!(!html.contains("href=\"data:"), "{html}");
        assert!(
            html.contains("href=\"https://example.org/a?f=html\""),
            "{html}"
        );
        assert!(html.contains("href=\"/stac/collections?f=html\""), "{html}");
    }

    #[test]
    fn pages_escape_text_and_list_links() {
        let body = serde_json::json!({
            "title": "<script>alert(1)</script>",
            "links": [{"href": "http://h/processes", "rel": "self", "title": "processes"}],
        });
        let Html(text) = page("A & B", &body);
        assert!(text.contains("<h1>A &amp; B</h1>"));
        assert!(!text.contains("<script>"));
        assert!(text.contains("<a href=\"http://h/processes?f=html\">processes</a>"));
    }
}
