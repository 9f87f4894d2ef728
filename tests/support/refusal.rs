//! Refusals at plan as users see them in `plan -json` (every supported CLI has it: Terraform since
//! 0.15.3, OpenTofu since its first release): the error diagnostics, and the source line each
//! points at; and in the text a terminal shows (`plan -no-color`). A test marks the line of the refused attribute in its configuration with
//! [`MARK`] (one attribute, or one list element, per line); the diagnostic must then point at
//! exactly that line of that file: `range.start.line` is its number and the snippet is its text.
//! Needs nothing itself; the suites that use it run real Terraform and OpenTofu.

use serde_json::Value;

use super::tf::{Cli, TfOutput};

/// Ends the line a refusal must point at.
pub const MARK: &str = " # <- refused here";

/// `text` with [`MARK`] appended to the `nth` (from 0) line that contains `needle`.
pub fn mark(text: &str, needle: &str, nth: usize) -> String {
    let mut seen = 0;
    let mut marked = false;
    let mut out = String::with_capacity(text.len() + MARK.len());
    for line in text.split_inclusive('\n') {
        let body = line.strip_suffix('\n').unwrap_or(line);
        if body.contains(needle) && !marked {
            if seen == nth {
                out.push_str(body);
                out.push_str(MARK);
                out.push_str(&line[body.len()..]);
                marked = true;
                continue;
            }
            seen += 1;
        }
        out.push_str(line);
    }
    assert!(marked, "no line {nth} containing {needle:?} in:\n{text}");
    out
}

/// The error diagnostics of a `-json` command's output, in order.
pub fn error_diagnostics(out: &TfOutput) -> Vec<Value> {
    out.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .map(|m| m["diagnostic"].clone())
        .collect()
}

/// The first error diagnostic of a refused `plan -json`, whose summary must start with `summary`.
pub fn first_error(cli: Cli, out: &TfOutput, summary: &str) -> Value {
    let d = error_diagnostics(out)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{cli}: no error diagnostic for {summary}\n{out}"));
    assert!(
        d["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with(summary)),
        "{cli}: expected {summary:?}, got {d}"
    );
    d
}

/// Where a refusal must point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The line that ends with [`MARK`].
    Marked,
    /// The first line of the resource block holding the marked line: where OpenTofu (1.6 and
    /// 1.12) and Terraform 1.0 point an attribute path they cannot find in the source, one that
    /// goes into an attribute's list of objects or object value (`ports[1].name`, `gateway.port`,
    /// `gateway.addresses[0]`). Terraform 1.15 places those on the element's own line; every CLI
    /// places paths to top-level attributes, to elements of a list of strings, and into nested
    /// blocks.
    ResourceBlock,
}

impl Place {
    /// [`Place::Marked`], or for a path into an attribute's list of objects or object value
    /// (`into_attribute_value`) with any CLI but the newest Terraform, [`Place::ResourceBlock`].
    pub fn of(cli: Cli, into_attribute_value: bool) -> Place {
        if cli != Cli::Terraform && into_attribute_value {
            Place::ResourceBlock
        } else {
            Place::Marked
        }
    }

    /// The 1-based number and the text of this place's line in `main`.
    pub fn line(self, main: &str) -> (u64, String) {
        let lines: Vec<&str> = main.lines().collect();
        let marked: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].ends_with(MARK))
            .collect();
        assert_eq!(marked.len(), 1, "exactly one marked line in:\n{main}");
        let index = match self {
            Place::Marked => marked[0],
            Place::ResourceBlock => (0..marked[0])
                .rev()
                .find(|&i| lines[i].starts_with("resource "))
                .unwrap_or_else(|| panic!("no resource block above the marked line:\n{main}")),
        };
        (index as u64 + 1, lines[index].to_string())
    }
}

/// Whether diagnostic `d` points at `place` of file `file`, whose text is `main`.
pub fn points_at(d: &Value, file: &str, main: &str, place: Place) -> bool {
    let (line, text) = place.line(main);
    d["range"]["filename"] == file
        && d["range"]["start"]["line"].as_u64() == Some(line)
        && d["snippet"]["code"].as_str() == Some(text.as_str())
}

/// Panics unless diagnostic `d` points at `place` of `file` (text `main`), showing both.
pub fn assert_points_at(cli: Cli, what: &str, d: &Value, file: &str, main: &str, place: Place) {
    let (line, text) = place.line(main);
    assert!(
        points_at(d, file, main, place),
        "{cli}: {what}: expected the diagnostic on {file} line {line} ({text:?}), got range {} \
         and snippet {:?}\n{d}",
        d["range"],
        d["snippet"]["code"],
    );
}

/// Panics unless the text output of a refused command (`plan -no-color`) shows the error
/// `summary` and, as every CLI prints a diagnostic's source, `on <file> line <n>, in resource ...`
/// with line `n` of `main` (`<n>: <text>`), for `place` of `file`.
pub fn assert_text_points_at(
    cli: Cli,
    out: &TfOutput,
    summary: &str,
    file: &str,
    main: &str,
    place: Place,
) {
    let (line, text) = place.line(main);
    let shown = out.combined();
    for part in [
        format!("Error: {summary}"),
        format!("on {file} line {line}, in resource "),
        format!("{line}: {text}"),
    ] {
        assert!(
            shown.contains(&part),
            "{cli}: {summary}: expected {part:?} in the output\n{out}"
        );
    }
}
