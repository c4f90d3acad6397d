//! File formats: comparing a file's `format` with a parameter's, as IRIs, with the
//! ontologies the document names in `$schemas` (RDF/XML OWL such as EDAM): a file
//! whose format is a subclass of, or equivalent to, the expected one matches.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Subclass and equivalence relations of one or more ontologies.
#[derive(Debug, Default)]
pub struct Ontology {
    parents: HashMap<String, Vec<String>>,
    namespaces: Vec<(String, String)>,
}

impl Ontology {
    /// Reads the `owl:Class` elements of RDF/XML files: `rdfs:subClassOf` and
    /// `owl:equivalentClass` with an `rdf:resource`.
    pub fn load(paths: &[PathBuf]) -> Ontology {
        let mut ontology = Ontology::default();
        for path in paths {
            // A regular file of a bounded size: `/dev/zero` named here never ends.
            let readable =
                std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= MAX_ONTOLOGY_BYTES);
            if !readable {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(path) {
                if text.trim_start().starts_with('<') {
                    ontology.add_rdf_xml(&text);
                } else {
                    ontology.add_turtle(&text);
                }
            }
        }
        ontology
    }

    fn add_rdf_xml(&mut self, text: &str) {
        let mut rest = text;
        while let Some(start) = rest.find("<owl:Class rdf:about=\"") {
            let after = &rest[start + "<owl:Class rdf:about=\"".len()..];
            let Some(end) = after.find('"') else { break };
            let about = after[..end].to_string();
            let body_end = after.find("</owl:Class>").unwrap_or(after.len());
            let self_closing = after[..after.find('>').unwrap_or(0)].ends_with('/');
            let body = if self_closing { "" } else { &after[..body_end] };
            for tag in [
                "<rdfs:subClassOf rdf:resource=\"",
                "<owl:equivalentClass rdf:resource=\"",
            ] {
                let mut b = body;
                while let Some(i) = b.find(tag) {
                    let v = &b[i + tag.len()..];
                    let Some(e) = v.find('"') else { break };
                    let parent = v[..e].to_string();
                    self.parents
                        .entry(about.clone())
                        .or_default()
                        .push(parent.clone());
                    if tag.starts_with("<owl:equivalentClass") {
                        self.parents.entry(parent).or_default().push(about.clone());
                    }
                    b = &v[e..];
                }
            }
            rest = &after[body_end.min(after.len())..];
        }
    }

    /// Reads simple Turtle: `@prefix` lines and `subject predicate object .` triples
    /// with `rdfs:subClassOf` or `owl:equivalentClass`.
    fn add_turtle(&mut self, text: &str) {
        let mut prefixes: Vec<(String, String)> = Vec::new();
        let expand = |term: &str, prefixes: &[(String, String)]| -> String {
            if let Some(iri) = term.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
                return iri.to_string();
            }
            if let Some((p, rest)) = term.split_once(':') {
                if let Some((_, base)) = prefixes.iter().find(|(q, _)| q == p) {
                    return format!("{base}{rest}");
                }
            }
            term.to_string()
        };
        for statement in text.split(" .") {
            let words: Vec<&str> = statement.split_whitespace().collect();
            match words.as_slice() {
                ["@prefix", name, iri, ..] => {
                    let iri = iri
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .trim_end_matches('.')
                        .trim_end_matches('>');
                    prefixes.push((name.trim_end_matches(':').to_string(), iri.to_string()));
                }
                [subject, predicate, object] => {
                    let (s, p, o) = (
                        expand(subject, &prefixes),
                        expand(predicate, &prefixes),
                        expand(object, &prefixes),
                    );
                    if p.ends_with("#subClassOf") || p.ends_with("#equivalentClass") {
                        self.parents.entry(s.clone()).or_default().push(o.clone());
                        if p.ends_with("#equivalentClass") {
                            self.parents.entry(o).or_default().push(s);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// Expands a prefixed name (`edam:format_1929`) with the document's `$namespaces`.
    pub fn expand(&self, name: &str) -> String {
        if let Some((prefix, rest)) = name.split_once(':') {
            if let Some((_, base)) = self.namespaces.iter().find(|(p, _)| p == prefix) {
                return format!("{base}{rest}");
            }
        }
        name.to_string()
    }

    /// True when `actual` is `expected`, a subclass of it, or equivalent to it.
    pub fn is_a(&self, actual: &str, expected: &str) -> bool {
        let mut seen = HashSet::new();
        let mut stack = vec![actual.to_string()];
        while let Some(node) = stack.pop() {
            if node == expected {
                return true;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            if let Some(parents) = self.parents.get(&node) {
                stack.extend(parents.iter().cloned());
            }
        }
        false
    }
}

/// The largest ontology file read (EDAM, the largest in use, is about 3 MB).
pub const MAX_ONTOLOGY_BYTES: u64 = 64 << 20;

/// The ontology files of a process (`$schemas`, absolute after loading), cached.
pub fn for_process(process: &serde_json::Value) -> Arc<Ontology> {
    type Key = (Vec<PathBuf>, Vec<(String, String)>);
    static CACHE: OnceLock<Mutex<HashMap<Key, Arc<Ontology>>>> = OnceLock::new();
    let namespaces: Vec<(String, String)> = process
        .get("$namespaces")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect();
    let paths: Vec<PathBuf> = process
        .get("$schemas")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            s.as_str()
                .map(|s| Path::new(s.strip_prefix("file://").unwrap_or(s)).to_path_buf())
        })
        .collect();
    let build = || {
        Arc::new(Ontology {
            namespaces: namespaces.clone(),
            ..Ontology::load(&paths)
        })
    };
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(mut cache) = cache.lock() {
        return cache
            .entry((paths.clone(), namespaces.clone()))
            .or_insert_with(build)
            .clone();
    }
    build()
}

/// True when a file of format `actual` satisfies a parameter of format `expected`.
pub fn format_matches(ontology: &Ontology, actual: &str, expected: &str) -> bool {
    let (actual, expected) = (ontology.expand(actual), ontology.expand(expected));
    actual == expected || ontology.is_a(&actual, &expected)
}

#[cfg(test)]
mod tests {
    use super::Ontology;

    #[test]
    fn subclasses_and_equivalents() {
        let mut o = Ontology::default();
        o.add_rdf_xml(r#"<owl:Class rdf:about="http://e/f1"><rdfs:subClassOf rdf:resource="http://e/f2"/></owl:Class>
            <owl:Class rdf:about="http://e/f2"><owl:equivalentClass rdf:resource="http://e/f3"/></owl:Class>"#);
        assert!(o.is_a("http://e/f1", "http://e/f2"));
        assert!(o.is_a("http://e/f1", "http://e/f3"));
        assert!(o.is_a("http://e/f3", "http://e/f2"));
        assert!(!o.is_a("http://e/f2", "http://e/f1"));
    }
}
