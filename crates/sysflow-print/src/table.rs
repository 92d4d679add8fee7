//! The text table of `sysprint -o str`: the reference pads and truncates every cell to a fixed width, then renders
//! chunks of rows with `tabulate(..., tablefmt="github")` from tabulate 0.9 with `PRESERVE_WHITESPACE = True`.
//!
//! This module reproduces tabulate 0.9 for string cells: column type detection (a column whose cells all parse as
//! Python `int` is numeric and right-aligned; all-`float` columns are re-rendered with `format(x, "g")` and aligned on
//! the decimal point), the header minimum padding of 2, ANSI escape codes ignored in widths, multi-line cells, and the
//! `|---|` rule that tabulate prints above tables without headers. Widths are counted in code points (tabulate
//! without the optional `wcwidth` package, as in the reference environment).

use std::borrow::Cow;

use crate::py;

const ESC: char = '\x1b';

/// Python's `'{0: <{w}}'.format(text)` followed by sysprint's left truncation `(data[w:] and '..') + data[-w:]`:
/// pads `text` with spaces to `w` code points, or keeps its last `w` code points behind `..` when it is longer.
pub fn fit_cell(text: &str, w: usize) -> String {
    let n = text.chars().count();
    if n <= w {
        let mut s = String::with_capacity(text.len() + (w - n));
        s.push_str(text);
        s.extend(std::iter::repeat_n(' ', w - n));
        s
    } else {
        let skip = n - w;
        let start = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
        let mut s = String::with_capacity(2 + text.len() - start);
        s.push_str("..");
        s.push_str(&text[start..]);
        s
    }
}

/// [`fit_cell`] appended to `out`.
pub fn fit_cell_into(out: &mut String, text: &str, w: usize) {
    let n = chars(text);
    if n <= w {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', w - n));
    } else {
        let skip = n - w;
        let start = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
        out.push_str("..");
        out.push_str(&text[start..]);
    }
}

/// Finds the ANSI sequence tabulate's `_ansi_codes` matches at byte `i` of `s` (which holds ESC): a CSI sequence,
/// or an OSC 8 hyperlink. Returns the end of the match and the byte range of the text that replaces it.
fn ansi_at(s: &str, i: usize) -> Option<(usize, (usize, usize))> {
    let b = s.as_bytes();
    let at = |j: usize| b.get(j).copied();
    if at(i + 1) == Some(b'[') {
        let mut j = i + 2;
        while matches!(at(j), Some(0x30..=0x3f)) {
            j += 1;
        }
        while matches!(at(j), Some(0x20..=0x2f)) {
            j += 1;
        }
        return matches!(at(j), Some(0x40..=0x7e)).then_some((j + 1, (j + 1, j + 1)));
    }
    if !s[i + 1..].starts_with("]8;") {
        return None;
    }
    let mut j = i + 4;
    let word_run = |mut j: usize| {
        let start = j;
        while let Some(c) = s[j..].chars().next() {
            if c.is_alphanumeric() || c == '_' {
                j += c.len_utf8();
            } else {
                break;
            }
        }
        (j > start).then_some(j)
    };
    // (\w+=\w+:?)*
    while let Some(k) = word_run(j) {
        if at(k) != Some(b'=') {
            break;
        }
        let Some(mut k) = word_run(k + 1) else { break };
        if at(k) == Some(b':') {
            k += 1;
        }
        j = k;
    }
    if at(j) != Some(b';') {
        return None;
    }
    j += 1;
    // URI: [^ESC]+ then ST.
    let uri_end = s[j..].find(ESC).map(|p| p + j)?;
    if uri_end == j || !s[uri_end..].starts_with("\x1b\\") {
        return None;
    }
    let text_start = uri_end + 2;
    let text_end = s[text_start..].find(ESC).map(|p| p + text_start)?;
    if text_end == text_start || !s[text_end..].starts_with("\x1b]8;;\x1b\\") {
        return None;
    }
    Some((text_end + 7, (text_start, text_end)))
}

/// tabulate's `_strip_ansi`: removes CSI sequences and replaces OSC 8 hyperlinks by their text.
pub fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains(ESC) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while let Some(p) = s[i..].find(ESC) {
        let pos = i + p;
        match ansi_at(s, pos) {
            Some((end, (ts, te))) => {
                out.push_str(&s[last..pos]);
                out.push_str(&s[ts..te]);
                last = end;
                i = end;
            }
            None => i = pos + 1,
        }
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

fn has_ansi(s: &str) -> bool {
    let mut i = 0;
    while let Some(p) = s[i..].find(ESC) {
        if ansi_at(s, i + p).is_some() {
            return true;
        }
        i += p + 1;
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ColType {
    Bool = 1,
    Int = 2,
    Float = 3,
    Str = 5,
}

fn cell_type(cell: &str) -> ColType {
    // Most cells start with a printable ASCII character that no Python number (nor True/False) starts with.
    if let Some(&c) = cell.as_bytes().first() {
        if c.is_ascii_graphic()
            && !matches!(
                c,
                b'0'..=b'9' | b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N' | b'T' | b'F' | 0x1b
            )
        {
            return ColType::Str;
        }
    }
    let s = strip_ansi(cell);
    let s = s.as_ref();
    // Fast rejection: every Python number starts (after whitespace) with a digit, a sign, a point, or the
    // i/n of inf/nan.
    let first = py::strip(s).as_bytes().first().copied();
    if !matches!(
        first,
        Some(b'0'..=b'9' | b'+' | b'-' | b'.' | b'i' | b'I' | b'n' | b'N' | b'T' | b'F')
    ) {
        return ColType::Str;
    }
    if s == "True" || s == "False" {
        ColType::Bool
    } else if py::is_py_int(s) {
        ColType::Int
    } else if py::is_number(s) {
        ColType::Float
    } else {
        ColType::Str
    }
}

/// tabulate's `_afterpoint` for a cell of a numeric column.
fn afterpoint(s: &str) -> isize {
    if py::is_number(s) {
        if py::is_py_int(s) {
            return -1;
        }
        let pos = s.rfind('.').or_else(|| s.to_lowercase().rfind('e'));
        match pos {
            Some(p) => s[p..].chars().count() as isize - 1,
            None => -1,
        }
    } else {
        // tabulate also accepts numbers with thousands separators here; cells of numeric columns never have them.
        -1
    }
}

struct Ctx {
    has_invisible: bool,
}

impl Ctx {
    /// tabulate's `width_fn`: code points, ANSI codes left out when the table has any. (The github format is not
    /// one of tabulate's multi-line formats: a newline is just a character of the cell.)
    fn width(&self, s: &str) -> usize {
        if self.has_invisible {
            strip_ansi(s).chars().count()
        } else {
            s.chars().count()
        }
    }
}

fn pad(out: &mut String, s: &str, width: usize, right: bool) {
    let n = s.chars().count();
    let fill = width.saturating_sub(n);
    if right {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(s);
    } else {
        out.push_str(s);
        out.extend(std::iter::repeat_n(' ', fill));
    }
}

/// Renders one table exactly like tabulate 0.9 `tabulate(rows, headers, tablefmt="github")` with
/// `PRESERVE_WHITESPACE = True`, for rows of string cells. `headers` is empty for a table without headers. The
/// result has no trailing newline (Python `print` adds it).
pub fn github_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut cells = Cells::new(rows.first().map_or(headers.len(), Vec::len));
    for r in rows {
        for c in r {
            cells.text.push_str(c);
            cells.end_cell();
        }
    }
    let mut out = String::new();
    write_github_table(&mut out, headers, &cells);
    out
}

/// The cells of a table, row by row, in one string.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    /// Cells per row.
    ncols: usize,
    /// The text of all cells.
    pub text: String,
    /// End of each cell in `text`.
    ends: Vec<usize>,
}

impl Cells {
    /// An empty table of `ncols` columns.
    pub fn new(ncols: usize) -> Self {
        Cells {
            ncols,
            ..Default::default()
        }
    }

    /// Ends the cell whose text was appended to [`Cells::text`] since the previous cell.
    pub fn end_cell(&mut self) {
        self.ends.push(self.text.len());
    }

    /// Number of complete rows.
    pub fn rows(&self) -> usize {
        self.ends.len().checked_div(self.ncols).unwrap_or(0)
    }

    /// Removes every cell.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    /// Cell `c` of row `r`.
    #[inline]
    fn get(&self, r: usize, c: usize) -> &str {
        let i = r * self.ncols + c;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }
}

#[inline]
fn chars(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// [`github_table`] of the rows in `cells`, appended to `out`.
pub fn write_github_table(out: &mut String, headers: &[&str], cells: &Cells) {
    let ncols = if cells.rows() > 0 {
        cells.ncols
    } else {
        headers.len()
    };
    let nrows = cells.rows();
    if nrows == 0 && headers.is_empty() {
        return;
    }
    let any_esc = cells.text.contains(ESC);
    let has_invisible = any_esc && {
        let mut plain: Vec<&str> = headers.to_vec();
        plain.extend((0..nrows).flat_map(|r| (0..ncols).map(move |c| cells.get(r, c))));
        has_ansi(&plain.join("\t"))
    };
    let ctx = Ctx { has_invisible };

    // Column types, formatting and alignment. Columns of ints, bools or strings print their cells as they are
    // (an int column's cells all have no decimals); float columns and tables with ANSI codes are re-rendered.
    let mut formatted: Vec<Option<Vec<String>>> = Vec::with_capacity(ncols);
    let mut numeric = Vec::with_capacity(ncols);
    let mut widths = Vec::with_capacity(ncols);
    for c in 0..ncols {
        let cells_of = || (0..nrows).map(|r| cells.get(r, c));
        let mut ty = ColType::Bool;
        for cell in cells_of() {
            ty = ty.max(cell_type(cell));
            if ty == ColType::Str {
                break;
            }
        }
        let is_num = matches!(ty, ColType::Int | ColType::Float);
        let minw = headers.get(c).map_or(0, |h| ctx.width(h) + 2);
        if ty != ColType::Float && !has_invisible {
            let maxw = cells_of().map(chars).max().unwrap_or(0).max(minw);
            formatted.push(None);
            numeric.push(is_num);
            widths.push(maxw);
            continue;
        }
        let mut col: Vec<String> = match ty {
            ColType::Float => cells_of()
                .map(|cell| {
                    if has_invisible {
                        let raw = strip_ansi(cell).into_owned();
                        let f = py::format_g(py::py_float(&raw).unwrap_or(f64::NAN));
                        cell.replace(&raw, &f)
                    } else {
                        py::format_g(py::py_float(cell).unwrap_or(f64::NAN))
                    }
                })
                .collect(),
            _ => cells_of().map(str::to_string).collect(),
        };
        if is_num {
            let decs: Vec<isize> = col
                .iter()
                .map(|s| {
                    if has_invisible {
                        afterpoint(&strip_ansi(s))
                    } else {
                        afterpoint(s)
                    }
                })
                .collect();
            let maxdec = decs.iter().copied().max().unwrap_or(-1);
            for (s, d) in col.iter_mut().zip(decs) {
                s.extend(std::iter::repeat_n(' ', (maxdec - d).max(0) as usize));
            }
        }
        let maxw = col
            .iter()
            .map(|s| ctx.width(s))
            .max()
            .unwrap_or(0)
            .max(minw);
        formatted.push(Some(col));
        numeric.push(is_num);
        widths.push(maxw);
    }

    let rule = |out: &mut String| {
        out.push('|');
        for (c, w) in widths.iter().enumerate() {
            if c > 0 {
                out.push('|');
            }
            out.extend(std::iter::repeat_n('-', w + 2));
        }
        out.push('|');
    };
    if !headers.is_empty() {
        out.push('|');
        for (c, h) in headers.iter().enumerate() {
            if c > 0 {
                out.push('|');
            }
            out.push(' ');
            let w = widths.get(c).copied().unwrap_or(0) + h.chars().count() - ctx.width(h);
            pad(out, h, w, numeric.get(c).copied().unwrap_or(false));
            out.push(' ');
        }
        out.push('|');
        out.push('\n');
    }
    rule(out);
    for r in 0..nrows {
        out.push('\n');
        out.push('|');
        for c in 0..ncols {
            if c > 0 {
                out.push('|');
            }
            out.push(' ');
            let s = match &formatted[c] {
                Some(col) => col[r].as_str(),
                None => cells.get(r, c),
            };
            let n = chars(s);
            let w = if has_invisible {
                widths[c] + n - ctx.width(s)
            } else {
                widths[c]
            };
            let fill = w.saturating_sub(n);
            if numeric[c] {
                out.extend(std::iter::repeat_n(' ', fill));
                out.push_str(s);
            } else {
                out.push_str(s);
                out.extend(std::iter::repeat_n(' ', fill));
            }
            out.push(' ');
        }
        out.push('|');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cells_pad_and_truncate_from_the_left() {
        assert_eq!(fit_cell("PE", 2), "PE");
        assert_eq!(fit_cell("ab", 5), "ab   ");
        assert_eq!(
            fit_cell("http://x \"quoted, arg\"", 20),
            "..tp://x \"quoted, arg\""
        );
        assert_eq!(fit_cell("ééé", 2), "..éé");
    }

    #[test]
    fn numeric_columns_right_align_under_wide_headers() {
        let t = github_table(
            &["Rec #", "T"],
            &[row(&["0     ", "PE"]), row(&["1     ", "FF"])],
        );
        assert_eq!(
            t,
            "|   Rec # | T   |\n|---------|-----|\n|  0      | PE  |\n|  1      | FF  |"
        );
    }

    #[test]
    fn tables_without_headers_start_with_a_rule() {
        let t = github_table(&[], &[row(&["1001  ", "x "])]);
        assert_eq!(t, "|--------|----|\n| 1001   | x  |");
    }

    #[test]
    fn an_empty_cell_makes_a_column_textual() {
        let t = github_table(&["PPID"], &[row(&["1 "]), row(&["  "])]);
        assert_eq!(t, "| PPID   |\n|--------|\n| 1      |\n|        |");
    }

    #[test]
    fn float_columns_are_reformatted_and_decimal_aligned() {
        // Expected texts produced by tabulate 0.9.0 with PRESERVE_WHITESPACE = True.
        let t = github_table(&["A"], &[row(&["1.50 "]), row(&["10   "]), row(&["1e3"])]);
        assert_eq!(
            t,
            "|      A |\n|--------|\n|    1.5 |\n|   10   |\n| 1000   |"
        );
    }

    #[test]
    fn newlines_are_plain_characters_in_github_tables() {
        let t = github_table(&["Args"], &[row(&["a\nbcd "]), row(&["x     "])]);
        assert_eq!(t, "| Args   |\n|--------|\n| a\nbcd  |\n| x      |");
        let t = github_table(&["N"], &[row(&["1\n2 "]), row(&["3     "])]);
        assert_eq!(t, "| N      |\n|--------|\n| 1\n2    |\n| 3      |");
    }

    #[test]
    fn ansi_codes_do_not_count_in_widths() {
        assert_eq!(strip_ansi("\x1b[31mred\x1b[0m text"), "red text");
        assert_eq!(
            strip_ansi("\x1b]8;;https://e.com\x1b\\link\x1b]8;;\x1b\\!"),
            "link!"
        );
        let t = github_table(&["H"], &[row(&["\x1b[31mab\x1b[0m"]), row(&["abcd"])]);
        assert_eq!(t, "| H    |\n|------|\n| \x1b[31mab\x1b[0m   |\n| abcd |");
    }
}
