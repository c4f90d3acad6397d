//! CSV as the plugins and the catalogue's time series write it (RFC 4180 quoting),
//! and a reader of such tables with errors that name the file and the row.

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
pub fn cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// A read table: the header's column names and the rows' cells (trimmed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells; a short row is padded with empty cells.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Index of a column, or an error naming the file and the column.
    pub fn column(&self, name: &str, file: &str) -> Result<usize, String> {
        self.columns.iter().position(|c| c == name).ok_or_else(|| {
            format!(
                "{file}: no {name} column (columns: {})",
                self.columns.join(", ")
            )
        })
    }
}

impl Table {
    /// The number in a cell (row and column indexes), None when the cell is empty (an
    /// unknown value), or an error naming the file, the row and the column.
    pub fn number(&self, row: usize, column: usize, file: &str) -> Result<Option<f64>, String> {
        match self.rows[row][column].as_str() {
            "" => Ok(None),
            text => text.parse::<f64>().map(Some).map_err(|_| {
                format!(
                    "{file}: row {}: {} {text:?} is not a number",
                    row + 1,
                    self.columns[column]
                )
            }),
        }
    }
}

/// Splits one line into cells, honouring quotes.
fn split(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => cells.push(std::mem::take(&mut cell).trim().to_string()),
            c => cell.push(c),
        }
    }
    cells.push(cell.trim().to_string());
    cells
}

/// Reads a CSV table with a header line; blank lines are skipped.
pub fn parse(text: &str, file: &str) -> Result<Table, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or_else(|| format!("{file}: empty file"))?;
    let columns = split(header);
    let rows = lines
        .map(|l| {
            let mut cells = split(l);
            cells.resize(columns.len().max(cells.len()), String::new());
            cells
        })
        .collect();
    Ok(Table { columns, rows })
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_what_needs_quoting_and_reads_it_back() {
        assert_eq!(super::cell("a"), "a");
        assert_eq!(super::cell("x, \"y\""), "\"x, \"\"y\"\"\"");
        let t = super::parse("a,b\n\"x, \"\"y\"\"\",2\n\n3\n", "t.csv").unwrap();
        assert_eq!(t.columns, ["a", "b"]);
        assert_eq!(t.rows, [vec!["x, \"y\"", "2"], vec!["3", ""]]);
        assert!(
            t.column("c", "t.csv")
                .unwrap_err()
                .contains("t.csv: no c column")
        );
    }
}
