//! Where the registry keeps its records (DESIGN's pattern: one trait, an embedded
//! default, a scale-out implementation, one conformance suite). The records are
//! the rows of a few tables keyed by one to three strings (see [`Table`]), and an
//! append-only audit log numbered from 1. A writer's change is a function of a
//! transaction ([`RecordTx`]): it reads, checks and writes, and everything it
//! wrote commits together or not at all; changes are applied one after the other
//! (a change sees every change committed before it), so a check made inside a
//! change (a version tag taken, a review's state) holds at its commit.
//!
//! - [`RedbRecords`]: the server's redb file (the embedded default), the tables
//!   as they always were.
//! - `hysope_postgres::PgRecords`: a PostgreSQL database shared by every gateway
//!   (one table per [`Table`], writers serialised by a transaction-wide advisory
//!   lock), so that a plugin published through one gateway is reviewed, pulled
//!   and deployed through any.
//!
//! Keys are compared byte by byte, part after part (as redb's tuples and
//! PostgreSQL's `COLLATE "C"` do).

use std::sync::Arc;

use hysope_store::SharedDb;
use redb::{ReadableTable, TableDefinition, WriteTransaction};

/// The registry's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// manifest digest -> manifest bytes.
    Manifests,
    /// (repository, manifest digest) -> (nothing): the manifests of a repository.
    InRepository,
    /// (repository, tag) -> manifest digest (UTF-8).
    Tags,
    /// (repository, subject digest, referrer digest) -> artifact type (UTF-8).
    Referrers,
    /// (repository, version) -> version record (JSON).
    Versions,
    /// (component digest, repository, version) -> (nothing): each component's versions.
    ComponentVersions,
    /// (user, key fingerprint) -> signing key (JSON).
    Keys,
    /// namespace -> shared namespace (JSON).
    Namespaces,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 8] = [
        Table::Manifests,
        Table::InRepository,
        Table::Tags,
        Table::Referrers,
        Table::Versions,
        Table::ComponentVersions,
        Table::Keys,
        Table::Namespaces,
    ];

    /// The table's name (redb's table is `registry_NAME`).
    pub fn name(self) -> &'static str {
        match self {
            Table::Manifests => "manifests",
            Table::InRepository => "repository_manifests",
            Table::Tags => "tags",
            Table::Referrers => "referrers",
            Table::Versions => "versions",
            Table::ComponentVersions => "component_versions",
            Table::Keys => "keys",
            Table::Namespaces => "namespaces",
        }
    }

    /// The parts of its keys.
    pub fn arity(self) -> usize {
        match self {
            Table::Manifests | Table::Namespaces => 1,
            Table::InRepository | Table::Tags | Table::Versions | Table::Keys => 2,
            Table::Referrers | Table::ComponentVersions => 3,
        }
    }
}

/// Why a read or a change of the records failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The store failed.
    #[error("{0}")]
    Failed(String),
    /// The store is out of reach (a later attempt may succeed).
    #[error("{0}")]
    Unavailable(String),
    /// A key has not the parts its table's keys have (a caller's mistake).
    #[error("the registry's table {table} has keys of {arity} parts, not {given}")]
    Key {
        /// The table's name.
        table: &'static str,
        /// Its keys' parts.
        arity: usize,
        /// The parts given.
        given: usize,
    },
    /// A writer's own refusal, raised inside its change, handed back to it.
    #[error(transparent)]
    Refused(Box<dyn std::error::Error + Send + Sync>),
}

impl RecordsError {
    /// Wraps a writer's refusal (it gets it back with [`RecordsError::into_refusal`]).
    pub fn refused(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        RecordsError::Refused(Box::new(e))
    }

    /// The writer's refusal of type `E` this error carries, or `Err(self)`.
    pub fn into_refusal<E: std::error::Error + 'static>(self) -> Result<E, Self> {
        match self {
            RecordsError::Refused(e) => match e.downcast::<E>() {
                Ok(mine) => Ok(*mine),
                Err(other) => Err(RecordsError::Refused(other)),
            },
            other => Err(other),
        }
    }
}

/// The records' results.
pub type Result<T, E = RecordsError> = std::result::Result<T, E>;

/// One entry of a table: its key's parts and its value.
pub type Entry = (Vec<String>, Vec<u8>);

/// A change in progress (see the module).
pub trait RecordTx {
    /// The value at `key` in `table`.
    fn get(&mut self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>>;
    /// Sets the value at `key` in `table`.
    fn put(&mut self, table: Table, key: &[&str], value: &[u8]) -> Result<()>;
    /// Removes `key` from `table`; true when it was there.
    fn remove(&mut self, table: Table, key: &[&str]) -> Result<bool>;
    /// Appends to the audit log the entry `entry` makes of its number (one more
    /// than the last); returns the number.
    fn append_audit(&mut self, entry: &dyn Fn(u64) -> Vec<u8>) -> Result<u64>;
}

/// A change: run in a transaction that commits when it returns `Ok`. It may be
/// run again (a store retries a batch that failed), so it only reads and writes
/// through its transaction.
pub type Change = Box<dyn Fn(&mut dyn RecordTx) -> Result<()> + Send>;

/// Where the registry's records are kept.
pub trait Records: Send + Sync {
    /// The value at `key` in `table`.
    fn get(&self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>>;

    /// The entries of `table` whose keys begin with the parts `prefix`, in key
    /// order; when `after` is given, only those whose next part comes after it;
    /// at most `limit`.
    fn scan(
        &self,
        table: Table,
        prefix: &[&str],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Entry>>;

    /// The audit log's entries numbered after `after`, in order, at most `limit`.
    fn audit(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Applies `change` (see [`Change`]); durable when it returns `Ok`. A
    /// refusal the change raised comes back as [`RecordsError::Refused`].
    fn write(&self, change: Change) -> Result<()>;

    /// True when other servers share these records.
    fn shared(&self) -> bool {
        false
    }
}

/// Checks that `key` has the parts `table`'s keys have.
pub fn check_key(table: Table, key: &[&str]) -> Result<()> {
    if key.len() == table.arity() {
        Ok(())
    } else {
        Err(RecordsError::Key {
            table: table.name(),
            arity: table.arity(),
            given: key.len(),
        })
    }
}

/// Checks that `prefix` (and `after`) leave a part of `table`'s keys to range over.
pub fn check_prefix(table: Table, prefix: &[&str], after: Option<&str>) -> Result<()> {
    let parts = prefix.len() + usize::from(after.is_some());
    if prefix.len() < table.arity() && parts <= table.arity() {
        Ok(())
    } else {
        Err(RecordsError::Key {
            table: table.name(),
            arity: table.arity(),
            given: parts,
        })
    }
}

// The redb tables, as the registry always had them.
const MANIFESTS: TableDefinition<&str, &[u8]> = TableDefinition::new("registry_manifests");
const IN_REPOSITORY: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("registry_repository_manifests");
const TAGS: TableDefinition<(&str, &str), &str> = TableDefinition::new("registry_tags");
const REFERRERS: TableDefinition<(&str, &str, &str), &str> =
    TableDefinition::new("registry_referrers");
const VERSIONS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("registry_versions");
const COMPONENT_VERSIONS: TableDefinition<(&str, &str, &str), ()> =
    TableDefinition::new("registry_component_versions");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("registry_audit");
const KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("registry_keys");
const NAMESPACES: TableDefinition<&str, &[u8]> = TableDefinition::new("registry_namespaces");

// Keys of one, two and three parts, and back.
fn k1<'a>(k: &[&'a str]) -> &'a str {
    k[0]
}
fn k2<'a>(k: &[&'a str]) -> (&'a str, &'a str) {
    (k[0], k[1])
}
fn k3<'a>(k: &[&'a str]) -> (&'a str, &'a str, &'a str) {
    (k[0], k[1], k[2])
}
fn u1(k: &str) -> Vec<String> {
    vec![k.to_string()]
}
fn u2(k: (&str, &str)) -> Vec<String> {
    vec![k.0.to_string(), k.1.to_string()]
}
fn u3(k: (&str, &str, &str)) -> Vec<String> {
    vec![k.0.to_string(), k.1.to_string(), k.2.to_string()]
}
// The lowest and highest keys that begin with a prefix of one or two parts.
const TOP: &str = "\u{10ffff}";
fn r2<'a>(p: &[&'a str], after: &'a str) -> ((&'a str, &'a str), (&'a str, &'a str)) {
    match p {
        [] => ((after, ""), (TOP, TOP)),
        [a, ..] => ((a, after), (a, TOP)),
    }
}
type Key3<'a> = (&'a str, &'a str, &'a str);
fn r3<'a>(p: &[&'a str], after: &'a str) -> (Key3<'a>, Key3<'a>) {
    match p {
        [] => ((after, "", ""), (TOP, TOP, TOP)),
        [a] => ((a, after, ""), (a, TOP, TOP)),
        [a, b, ..] => ((a, b, after), (a, b, TOP)),
    }
}
// Values: bytes, UTF-8 text, nothing.
fn bytes_in(v: &[u8]) -> Result<&[u8]> {
    Ok(v)
}
fn text_in(v: &[u8]) -> Result<&str> {
    std::str::from_utf8(v).map_err(|e| RecordsError::Failed(format!("a text value: {e}")))
}
fn unit_in(_: &[u8]) -> Result<()> {
    Ok(())
}
fn bytes_out(v: &[u8]) -> Vec<u8> {
    v.to_vec()
}
fn text_out(v: &str) -> Vec<u8> {
    v.as_bytes().to_vec()
}
fn unit_out(_: ()) -> Vec<u8> {
    Vec::new()
}

/// Runs `$body` with the redb definition of `$table` as `$def` and its key and
/// value conversions (each table's types differ, so the body is expanded per
/// table).
macro_rules! with_table {
    ($table:expr, |$def:ident, $key:ident, $unkey:ident, $range:ident, $enc:ident, $dec:ident| $body:expr) => {
        with_table!(@arms $table, ($def, $key, $unkey, $range, $enc, $dec), $body;
            Manifests => (MANIFESTS, k1, u1, r1, bytes_in, bytes_out),
            Namespaces => (NAMESPACES, k1, u1, r1, bytes_in, bytes_out),
            InRepository => (IN_REPOSITORY, k2, u2, r2, unit_in, unit_out),
            Tags => (TAGS, k2, u2, r2, text_in, text_out),
            Versions => (VERSIONS, k2, u2, r2, bytes_in, bytes_out),
            Keys => (KEYS, k2, u2, r2, bytes_in, bytes_out),
            Referrers => (REFERRERS, k3, u3, r3, text_in, text_out),
            ComponentVersions => (COMPONENT_VERSIONS, k3, u3, r3, unit_in, unit_out))
    };
    (@arms $table:expr, $names:tt, $body:expr; $($variant:ident => $parts:tt),*) => {
        match $table {
            $(Table::$variant => {
                let $names = $parts;
                $body
            })*
        }
    };
}

fn r1<'a>(_: &[&'a str], after: &'a str) -> (&'a str, &'a str) {
    (after, TOP)
}

fn failed(e: impl std::fmt::Display) -> RecordsError {
    RecordsError::Failed(format!("the registry's store failed: {e}"))
}

/// The records in tables of the server's redb file (the embedded default).
pub struct RedbRecords {
    db: Arc<SharedDb>,
}

impl RedbRecords {
    /// The tables in the server's file, made when missing.
    pub fn open_shared(db: Arc<SharedDb>) -> Result<Self> {
        let tx = db.begin_write().map_err(failed)?;
        for table in Table::ALL {
            with_table!(table, |def, _k, _u, _r, _e, _d| {
                tx.open_table(def).map_err(failed)?;
            });
        }
        tx.open_table(AUDIT).map_err(failed)?;
        tx.commit().map_err(failed)?;
        Ok(RedbRecords { db })
    }
}

/// Reads the entries of a readable table in the range `$range` gives, keeping
/// those past `after` (exclusive) and at most `limit`.
macro_rules! scan_table {
    ($t:expr, $prefix:expr, $after:expr, $limit:expr, $unkey:ident, $range:ident, $dec:ident) => {{
        let start = $after.unwrap_or("");
        let (low, high) = $range($prefix, start);
        let depth = $prefix.len();
        let mut out: Vec<Entry> = Vec::new();
        for entry in $t.range(low..=high).map_err(failed)? {
            if out.len() >= $limit {
                break;
            }
            let (key, value) = entry.map_err(failed)?;
            let parts = $unkey(key.value());
            if $after.is_some() && parts[depth] == start {
                continue;
            }
            out.push((parts, $dec(value.value())));
        }
        out
    }};
}

impl Records for RedbRecords {
    // The tables without values convert `()` like the others convert theirs.
    #[allow(clippy::unit_arg)]
    fn get(&self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>> {
        check_key(table, key)?;
        let tx = self.db.begin_read().map_err(failed)?;
        with_table!(table, |def, k, _u, _r, _e, dec| {
            let t = tx.open_table(def).map_err(failed)?;
            let found = t.get(k(key)).map_err(failed)?;
            Ok(found.map(|v| dec(v.value())))
        })
    }

    fn scan(
        &self,
        table: Table,
        prefix: &[&str],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Entry>> {
        check_prefix(table, prefix, after)?;
        let tx = self.db.begin_read().map_err(failed)?;
        with_table!(table, |def, _k, unkey, range, _e, dec| {
            let t = tx.open_table(def).map_err(failed)?;
            Ok(scan_table!(t, prefix, after, limit, unkey, range, dec))
        })
    }

    fn audit(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>> {
        let tx = self.db.begin_read().map_err(failed)?;
        let t = tx.open_table(AUDIT).map_err(failed)?;
        let mut out = Vec::new();
        for entry in t.range(after.saturating_add(1)..).map_err(failed)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = entry.map_err(failed)?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn write(&self, change: Change) -> Result<()> {
        let outcome = self.db.write(
            Box::new(move |tx| {
                let mut rtx = RedbTx { tx };
                change(&mut rtx).map_err(|e| match e {
                    RecordsError::Refused(mine) => hysope_store::Error::Change(mine),
                    other => hysope_store::Error::change(other),
                })
            }),
            true,
        );
        outcome.map_err(|e| match e.into_change::<RecordsError>() {
            Ok(inner) => inner,
            Err(hysope_store::Error::Change(mine)) => RecordsError::Refused(mine),
            Err(e) => failed(e),
        })
    }
}

struct RedbTx<'t> {
    tx: &'t WriteTransaction,
}

impl RecordTx for RedbTx<'_> {
    #[allow(clippy::unit_arg)]
    fn get(&mut self, table: Table, key: &[&str]) -> Result<Option<Vec<u8>>> {
        check_key(table, key)?;
        with_table!(table, |def, k, _u, _r, _e, dec| {
            let t = self.tx.open_table(def).map_err(failed)?;
            let found = t.get(k(key)).map_err(failed)?;
            Ok(found.map(|v| dec(v.value())))
        })
    }

    fn put(&mut self, table: Table, key: &[&str], value: &[u8]) -> Result<()> {
        check_key(table, key)?;
        with_table!(table, |def, k, _u, _r, enc, _d| {
            let mut t = self.tx.open_table(def).map_err(failed)?;
            t.insert(k(key), enc(value)?).map_err(failed)?;
            Ok(())
        })
    }

    fn remove(&mut self, table: Table, key: &[&str]) -> Result<bool> {
        check_key(table, key)?;
        with_table!(table, |def, k, _u, _r, _e, _d| {
            let mut t = self.tx.open_table(def).map_err(failed)?;
            let removed = t.remove(k(key)).map_err(failed)?.is_some();
            Ok(removed)
        })
    }

    fn append_audit(&mut self, entry: &dyn Fn(u64) -> Vec<u8>) -> Result<u64> {
        let mut t = self.tx.open_table(AUDIT).map_err(failed)?;
        let last = t.last().map_err(failed)?.map(|(k, _)| k.value());
        let seq = last.unwrap_or(0) + 1;
        t.insert(seq, entry(seq).as_slice()).map_err(failed)?;
        Ok(seq)
    }
}

/// A redb file in a temporary folder, for the registry's tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Records in a new file (kept while the folder lives).
    pub fn redb() -> (tempfile::TempDir, Arc<dyn Records>) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SharedDb::open(&dir.path().join("store.redb")).unwrap());
        (dir, Arc::new(RedbRecords::open_shared(db).unwrap()))
    }
}

/// The conformance suite every [`Records`] passes (run by
/// [`records_suite!`](crate::records_suite) on each implementation).
pub mod conformance {
    use super::*;

    /// A refusal of the suite's changes.
    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    #[error("refused: {0}")]
    pub struct No(pub String);

    fn keys(entries: &[Entry]) -> Vec<String> {
        entries.iter().map(|(k, _)| k.join("|")).collect()
    }

    /// Values are kept per table and key, read back inside and outside changes,
    /// and removed.
    pub fn values_are_kept_per_table_and_key(records: &dyn Records) {
        records
            .write(Box::new(|tx| {
                tx.put(Table::Manifests, &["sha256:aa"], b"{\"m\":1}")?;
                tx.put(Table::Namespaces, &["sha256:aa"], b"other table")?;
                tx.put(Table::Tags, &["dora/filter", "1.0.0"], b"sha256:aa")?;
                tx.put(Table::InRepository, &["dora/filter", "sha256:aa"], &[])?;
                tx.put(
                    Table::Referrers,
                    &["dora/filter", "sha256:aa", "sha256:bb"],
                    b"sig",
                )?;
                tx.put(
                    Table::ComponentVersions,
                    &["sha256:cc", "dora/filter", "1.0.0"],
                    &[],
                )?;
                // Read back in the same change.
                assert_eq!(
                    tx.get(Table::Tags, &["dora/filter", "1.0.0"])?.unwrap(),
                    b"sha256:aa"
                );
                Ok(())
            }))
            .unwrap();
        let get = |t, k: &[&str]| records.get(t, k).unwrap();
        assert_eq!(get(Table::Manifests, &["sha256:aa"]).unwrap(), b"{\"m\":1}");
        assert_eq!(
            get(Table::Namespaces, &["sha256:aa"]).unwrap(),
            b"other table"
        );
        assert_eq!(
            get(Table::Tags, &["dora/filter", "1.0.0"]).unwrap(),
            b"sha256:aa"
        );
        assert_eq!(
            get(Table::InRepository, &["dora/filter", "sha256:aa"]).unwrap(),
            b""
        );
        assert_eq!(
            get(Table::Referrers, &["dora/filter", "sha256:aa", "sha256:bb"]).unwrap(),
            b"sig"
        );
        assert!(
            get(
                Table::ComponentVersions,
                &["sha256:cc", "dora/filter", "1.0.0"]
            )
            .is_some()
        );
        assert!(get(Table::Tags, &["dora/filter", "1.0.1"]).is_none());
        assert!(get(Table::Tags, &["bob/filter", "1.0.0"]).is_none());
        assert!(get(Table::Versions, &["dora/filter", "1.0.0"]).is_none());
        // A value is replaced; a removal says whether the key was there.
        records
            .write(Box::new(|tx| {
                tx.put(Table::Manifests, &["sha256:aa"], b"{\"m\":2}")?;
                assert!(tx.remove(Table::Tags, &["dora/filter", "1.0.0"])?);
                assert!(!tx.remove(Table::Tags, &["dora/filter", "1.0.0"])?);
                assert!(tx.get(Table::Tags, &["dora/filter", "1.0.0"])?.is_none());
                Ok(())
            }))
            .unwrap();
        assert_eq!(get(Table::Manifests, &["sha256:aa"]).unwrap(), b"{\"m\":2}");
        assert!(get(Table::Tags, &["dora/filter", "1.0.0"]).is_none());
        // Keys with the wrong parts are the caller's mistake, said as such.
        let err = records.get(Table::Tags, &["dora/filter"]).unwrap_err();
        assert!(
            matches!(
                err,
                RecordsError::Key {
                    given: 1,
                    arity: 2,
                    ..
                }
            ),
            "{err}"
        );
        let err = records
            .write(Box::new(|tx| tx.put(Table::Manifests, &["a", "b"], b"")))
            .unwrap_err();
        assert!(matches!(err, RecordsError::Key { .. }), "{err}");
    }

    /// Scans give the entries under a prefix in byte order of their keys' parts,
    /// after a part (exclusive), at most a limit.
    pub fn scans_follow_key_order_prefix_after_and_limit(records: &dyn Records) {
        let tags = ["b", "B", "a0", "a", "a-", "é", "z", "1.10.0", "1.9.0"];
        records
            .write(Box::new(move |tx| {
                for t in tags {
                    tx.put(Table::Tags, &["dora/x", t], t.as_bytes())?;
                }
                tx.put(Table::Tags, &["dora/w", "zz"], b"zz")?;
                tx.put(Table::Tags, &["dora/y", "0"], b"0")?;
                for (r, v) in [("dora/x", "1"), ("bob/y", "2"), ("dora/x", "0")] {
                    tx.put(Table::ComponentVersions, &["sha256:c1", r, v], &[])?;
                }
                tx.put(Table::ComponentVersions, &["sha256:c0", "amy/z", "9"], &[])?;
                for n in ["m", "c", "x"] {
                    tx.put(Table::Namespaces, &[n], n.as_bytes())?;
                }
                Ok(())
            }))
            .unwrap();
        let scan = |t, p: &[&str], after, limit| keys(&records.scan(t, p, after, limit).unwrap());
        let all = scan(Table::Tags, &["dora/x"], None, usize::MAX);
        assert_eq!(
            all,
            ["1.10.0", "1.9.0", "B", "a", "a-", "a0", "b", "z", "é"].map(|t| format!("dora/x|{t}"))
        );
        let entries = records
            .scan(Table::Tags, &["dora/x"], Some("a-"), 2)
            .unwrap();
        assert_eq!(keys(&entries), ["dora/x|a0", "dora/x|b"]);
        assert_eq!(entries[1].1, b"b");
        assert!(scan(Table::Tags, &["dora/x"], Some("é"), 5).is_empty());
        assert!(scan(Table::Tags, &["dora/v"], None, 5).is_empty());
        assert_eq!(
            scan(Table::Tags, &["dora/y"], None, 0),
            Vec::<String>::new()
        );
        assert_eq!(scan(Table::Tags, &[], None, usize::MAX).len(), 11);
        assert_eq!(
            scan(Table::Tags, &[], Some("dora/x"), usize::MAX),
            ["dora/y|0"]
        );
        assert_eq!(
            scan(Table::ComponentVersions, &["sha256:c1"], None, usize::MAX),
            [
                "sha256:c1|bob/y|2",
                "sha256:c1|dora/x|0",
                "sha256:c1|dora/x|1"
            ]
        );
        assert_eq!(
            scan(
                Table::ComponentVersions,
                &["sha256:c1", "dora/x"],
                Some("0"),
                9
            ),
            ["sha256:c1|dora/x|1"]
        );
        assert_eq!(scan(Table::Namespaces, &[], None, 9), ["c", "m", "x"]);
        assert_eq!(scan(Table::Namespaces, &[], Some("c"), 1), ["m"]);
        // Nothing to range over: the whole key given.
        assert!(records.scan(Table::Namespaces, &["c"], None, 1).is_err());
    }

    /// A change that refuses writes nothing, and its refusal comes back as it was.
    pub fn a_refused_change_writes_nothing(records: &dyn Records) {
        let err = records
            .write(Box::new(|tx| {
                tx.put(Table::Namespaces, &["kept?"], b"no")?;
                tx.append_audit(&|seq| format!("entry {seq}").into_bytes())?;
                Err(RecordsError::refused(No("the check failed".into())))
            }))
            .unwrap_err();
        assert_eq!(
            err.into_refusal::<No>().unwrap(),
            No("the check failed".into())
        );
        assert!(
            records
                .get(Table::Namespaces, &["kept?"])
                .unwrap()
                .is_none()
        );
        assert!(records.audit(0, 10).unwrap().is_empty());
        // The next entry is the first.
        records
            .write(Box::new(|tx| {
                assert_eq!(
                    tx.append_audit(&|seq| format!("entry {seq}").into_bytes())?,
                    1
                );
                Ok(())
            }))
            .unwrap();
        assert_eq!(records.audit(0, 10).unwrap(), [(1, b"entry 1".to_vec())]);
    }

    /// The audit log is numbered from 1 in commit order and read in pages.
    pub fn the_audit_log_is_numbered_and_read_in_pages(records: &dyn Records) {
        for round in 0..3 {
            records
                .write(Box::new(move |tx| {
                    for _ in 0..2 {
                        tx.append_audit(&|seq| format!("{round}:{seq}").into_bytes())?;
                    }
                    Ok(())
                }))
                .unwrap();
        }
        let all = records.audit(0, 100).unwrap();
        let seqs: Vec<u64> = all.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
        assert_eq!(all[4].1, b"2:5");
        let page: Vec<u64> = records
            .audit(2, 3)
            .unwrap()
            .iter()
            .map(|(s, _)| *s)
            .collect();
        assert_eq!(page, [3, 4, 5]);
        assert!(records.audit(6, 3).unwrap().is_empty());
        assert!(records.audit(u64::MAX, 3).unwrap().is_empty());
    }

    /// Changes from several threads are applied one after the other: each sees
    /// the one before (no update is lost), and the audit numbers are unique.
    pub fn concurrent_changes_see_each_other(records: Arc<dyn Records>) {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let records = records.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        records
                            .write(Box::new(|tx| {
                                let n: u64 = match tx.get(Table::Namespaces, &["counter"])? {
                                    Some(v) => String::from_utf8_lossy(&v).parse().unwrap_or(0),
                                    None => 0,
                                };
                                tx.put(
                                    Table::Namespaces,
                                    &["counter"],
                                    (n + 1).to_string().as_bytes(),
                                )?;
                                tx.append_audit(&|seq| seq.to_string().into_bytes())?;
                                Ok(())
                            }))
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let n = records
            .get(Table::Namespaces, &["counter"])
            .unwrap()
            .unwrap();
        assert_eq!(n, b"100");
        let audit = records.audit(0, 1000).unwrap();
        let seqs: Vec<u64> = audit.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (1..=100).collect::<Vec<u64>>());
        assert!(audit.iter().all(|(s, v)| v == s.to_string().as_bytes()));
    }
}

/// Runs the [`Records`] conformance suite; `$make` gives `(guard, Arc<dyn
/// Records>)` with new, empty records (the guard keeps them alive).
#[macro_export]
macro_rules! records_suite {
    ($make:expr) => {
        mod records_suite {
            #[allow(unused_imports)]
            use super::*;
            use $crate::records::conformance as case;

            #[test]
            fn values_are_kept_per_table_and_key() {
                let (_guard, records) = $make;
                case::values_are_kept_per_table_and_key(&*records);
            }
            #[test]
            fn scans_follow_key_order_prefix_after_and_limit() {
                let (_guard, records) = $make;
                case::scans_follow_key_order_prefix_after_and_limit(&*records);
            }
            #[test]
            fn a_refused_change_writes_nothing() {
                let (_guard, records) = $make;
                case::a_refused_change_writes_nothing(&*records);
            }
            #[test]
            fn the_audit_log_is_numbered_and_read_in_pages() {
                let (_guard, records) = $make;
                case::the_audit_log_is_numbered_and_read_in_pages(&*records);
            }
            #[test]
            fn concurrent_changes_see_each_other() {
                let (_guard, records) = $make;
                case::concurrent_changes_see_each_other(records);
            }
        }
    };
}

#[cfg(test)]
crate::records_suite!(crate::records::testing::redb());
