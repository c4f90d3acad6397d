//! USGS NWIS tab-separated RDB files (ratings, peaks, daily and instantaneous values):
//! `#` comment lines (ratings put `//KEY=...` metadata there), a header line of
//! column names, a line of column formats (`5s`, `10d`), then the rows.

use crate::ReadError;

/// A read RDB table.
#[derive(Debug, Clone, Default)]
pub struct RdbTable {
    /// The comment lines, without the leading `#` and spaces.
    pub comments: Vec<String>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one text cell per column (empty when the file left it empty).
    pub rows: Vec<Vec<String>>,
}

impl RdbTable {
    /// Index of a column.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// Distinct values of a column, in first-seen order.
    pub fn distinct(&self, name: &str) -> Vec<String> {
        let Some(index) = self.column(name) else {
            return Vec::new();
        };
        let mut seen: Vec<String> = Vec::new();
        for row in &self.rows {
            if let Some(cell) = row.get(index) {
                if !cell.is_empty() && !seen.contains(cell) {
                    seen.push(cell.clone());
                }
            }
        }
        seen
    }

    /// A `KEY="value"` of the `//` metadata comments, such as `STATION NAME` or `LABEL`.
    pub fn metadata(&self, line_key: &str, field: &str) -> Option<String> {
        let prefix = format!("//{line_key} ");
        self.comments
            .iter()
            .filter_map(|c| c.strip_prefix(&prefix))
            .find_map(|rest| {
                let start = rest.find(&format!("{field}=\""))? + field.len() + 2;
                let end = rest[start..].find('"')? + start;
                Some(rest[start..end].trim().to_string())
            })
    }
}

/// Parses an RDB file's text; `name` is used in errors.
pub fn parse(text: &str, name: &str) -> Result<RdbTable, ReadError> {
    let mut table = RdbTable::default();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((_, line)) = lines.peek() {
        match line.strip_prefix('#') {
            Some(comment) => {
                table.comments.push(comment.trim().to_string());
                lines.next();
            }
            None => break,
        }
    }
    let (_, header) = lines
        .next()
        .ok_or_else(|| ReadError(format!("{name}: no header line after the comments")))?;
    table.columns = header.split('\t').map(|c| c.trim().to_string()).collect();
    if table.columns.len() < 2 {
        return Err(ReadError(format!(
            "{name}: line {}: not an RDB header (tab-separated column names)",
            table.comments.len() + 1
        )));
    }
    let (format_line, formats) = lines
        .next()
        .ok_or_else(|| ReadError(format!("{name}: no column-format line")))?;
    let valid_format = |f: &str| {
        let f = f.trim();
        !f.is_empty()
            && f[..f.len() - 1].bytes().all(|b| b.is_ascii_digit())
            && f.to_ascii_lowercase().ends_with(['s', 'd', 'n'])
    };
    let formats: Vec<&str> = formats.split('\t').collect();
    if formats.len() != table.columns.len() || !formats.iter().all(|f| valid_format(f)) {
        return Err(ReadError(format!(
            "{name}: line {}: not an RDB column-format line (such as 5s, 10d)",
            format_line + 1
        )));
    }
    for (number, line) in lines {
        if line.is_empty() {
            continue;
        }
        let cells: Vec<String> = line.split('\t').map(|c| c.trim().to_string()).collect();
        if cells.len() != table.columns.len() {
            return Err(ReadError(format!(
                "{name}: line {}: {} cells where the header has {} columns (truncated file?)",
                number + 1,
                cells.len(),
                table.columns.len()
            )));
        }
        table.rows.push(cells);
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATING: &str = "# //STATION AGENCY=\"USGS \" NUMBER=\"01594440       \"\n# //LABEL=\"Discharge ft^3/s\"\nINDEP\tSHIFT\tDEP\tSTOR\n16N\t16N\t16N\t1S\n1.20\t0.00\t3.22\t*\n1.21\t0.00\t3.40\t\n";

    #[test]
    fn reads_columns_rows_and_metadata() {
        let t = parse(RATING, "r.txt").unwrap();
        assert_eq!(t.columns, ["INDEP", "SHIFT", "DEP", "STOR"]);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1][3], "");
        assert_eq!(t.metadata("STATION", "NUMBER").as_deref(), Some("01594440"));
    }

    #[test]
    fn truncated_rows_are_reported_with_their_line() {
        let text = "a\tb\n5s\t5s\n1\t2\n3\n";
        let err = parse(text, "t.rdb").unwrap_err();
        assert!(err.0.contains("t.rdb: line 4: 1 cells"), "{err}");
    }

    #[test]
    fn foreign_text_is_refused() {
        assert!(parse("{\"json\": true}", "x.txt").is_err());
    }
}
