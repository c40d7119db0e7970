//! Plain-text tables: a header row and rows of cells, each column as wide as its widest
//! cell, two spaces apart; the last column is not padded, so lines carry no trailing blanks.

use std::fmt;

/// A table to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// What separates two columns.
const GAP: &str = "  ";

impl Table {
    /// An empty table with these column headers.
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are dropped.
    pub fn push(&mut self, mut row: Vec<String>) {
        row.resize(self.headers.len(), String::new());
        self.rows.push(row);
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// How many rows it has.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    fn widths(&self) -> Vec<usize> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        widths
    }
}

/// Display width of a cell: characters, with control characters shown as one blank each.
fn width(cell: &str) -> usize {
    cell.chars().count()
}

/// A cell with line breaks and other control characters made blanks, so a row stays one
/// line.
fn clean(cell: &str) -> String {
    cell.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn write_row(f: &mut fmt::Formatter<'_>, cells: &[String], widths: &[usize]) -> fmt::Result {
    let last = cells.len().saturating_sub(1);
    let mut line = String::new();
    for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
        let cell = clean(cell);
        line.push_str(&cell);
        if i < last {
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(width(&cell))));
            line.push_str(GAP);
        }
    }
    writeln!(f, "{}", line.trim_end())
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        write_row(f, &self.headers, &widths)?;
        for row in &self.rows {
            write_row(f, row, &widths)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let mut table = Table::new(&["ID", "STATE", "FROM"]);
        table.push(vec!["1".into(), "answered".into(), "sip:1000@x".into()]);
        table.push(vec!["22".into(), "ringing".into(), "sip:10@x".into()]);
        assert_eq!(
            table.to_string(),
            "ID  STATE     FROM\n\
             1   answered  sip:1000@x\n\
             22  ringing   sip:10@x\n"
        );
    }

    #[test]
    fn a_row_stays_one_line_without_trailing_blanks() {
        let mut table = Table::new(&["A", "B", "C"]);
        table.push(vec!["x\ny".into(), "ü".into()]);
        let text = table.to_string();
        assert_eq!(text, "A    B  C\nx y  ü\n");
        assert_eq!(table.len(), 1);
    }
}
