//! Diagnostics: the only way an error or warning reaches the person running Terraform.
//!
//! A [`Diagnostic`] is a value with a severity, a one-line summary, a detail and, where the
//! problem is in configuration, the [`AttrPath`] of the attribute at fault (Terraform underlines
//! that attribute in its output). Any Rust error becomes one diagnostic whose detail is the
//! error's cause chain ([`Diagnostic::from_error`]). Knows nothing of Kubernetes or meshfed.
//! Must not import the rest of the protocol layer (`wire` converts diagnostics to protobuf).

use std::fmt;

/// One step of an attribute path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// An attribute or nested block by name.
    Attr(String),
    /// A map element (or a map block, e.g. `cluster "name" {}`) by key.
    Key(String),
    /// A list element by index.
    Index(i64),
}

/// A path to an attribute, e.g. `cluster["cluster-a.local"].host`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct AttrPath(pub Vec<PathStep>);

impl AttrPath {
    pub fn root() -> AttrPath {
        AttrPath(Vec::new())
    }
    /// A path of one attribute.
    pub fn attr(name: impl Into<String>) -> AttrPath {
        AttrPath(vec![PathStep::Attr(name.into())])
    }
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }
    /// This path extended by an attribute.
    pub fn then(&self, name: impl Into<String>) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Attr(name.into()));
        p
    }
    /// This path extended by a map key.
    pub fn key(&self, key: impl Into<String>) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Key(key.into()));
        p
    }
    /// This path extended by a list index.
    pub fn index(&self, i: usize) -> AttrPath {
        let mut p = self.clone();
        p.0.push(PathStep::Index(i as i64));
        p
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                PathStep::Attr(a) if i == 0 => write!(f, "{a}")?,
                PathStep::Attr(a) => write!(f, ".{a}")?,
                PathStep::Key(k) => write!(f, "[{k:?}]")?,
                PathStep::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One message for the person running Terraform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub summary: String,
    pub detail: String,
    pub attribute: Option<AttrPath>,
    /// Diagnostics sharing this key say the same thing (e.g. one missing permission met by
    /// several requests): [`Diagnostics`] keeps only the first. Never sent to the CLI.
    pub once: Option<String>,
}

impl Diagnostic {
    pub fn error(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
            once: None,
        }
    }
    pub fn warning(summary: impl Into<String>, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            summary: summary.into(),
            detail: detail.into(),
            attribute: None,
            once: None,
        }
    }
    /// Attaches the attribute at fault.
    pub fn at(mut self, path: AttrPath) -> Diagnostic {
        self.attribute = if path.is_root() { None } else { Some(path) };
        self
    }
    /// Marks this diagnostic as the same as any other with `key`: only the first one added to
    /// [`Diagnostics`] is kept.
    pub fn once(mut self, key: impl Into<String>) -> Diagnostic {
        self.once = Some(key.into());
        self
    }
    /// One diagnostic for an error: the summary given, the error and its causes as detail.
    pub fn from_error(
        summary: impl Into<String>,
        e: &(dyn std::error::Error + 'static),
    ) -> Diagnostic {
        Diagnostic::error(summary, cause_chain(e))
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
    /// The detail as sent to the CLI. Where the path goes into a list or map element (e.g.
    /// `ports[0].number`), CLIs before Terraform 1.15 (and OpenTofu) underline only the resource
    /// block, so the detail names the path itself, or the user could not tell which element.
    pub fn detail_for_cli(&self) -> String {
        let Some(path) = &self.attribute else {
            return self.detail.clone();
        };
        let into_element = path
            .0
            .iter()
            .any(|s| matches!(s, PathStep::Index(_) | PathStep::Key(_)));
        let shown = path.to_string();
        if !into_element || self.detail.contains(&shown) {
            return self.detail.clone();
        }
        if self.detail.is_empty() {
            format!("At {shown}.")
        } else {
            format!("At {shown}: {}", self.detail)
        }
    }
}

/// An error and each of its sources, one per line, outermost first.
pub fn cause_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str("\ncaused by: ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

/// A list of diagnostics, as every RPC response carries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn new() -> Diagnostics {
        Diagnostics(Vec::new())
    }
    /// Adds `d`, unless a diagnostic with the same [`Diagnostic::once`] key is already here.
    pub fn push(&mut self, d: Diagnostic) {
        let repeated = d
            .once
            .as_ref()
            .is_some_and(|key| self.0.iter().any(|o| o.once.as_ref() == Some(key)));
        if !repeated {
            self.0.push(d);
        }
    }
    pub fn extend(&mut self, other: Diagnostics) {
        for d in other.0 {
            self.push(d);
        }
    }
    /// Adds an error about the attribute at `path`.
    pub fn error_at(
        &mut self,
        path: AttrPath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Diagnostic::error(summary, detail).at(path));
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect to cluster-a.local failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_path_into_a_list_element_is_named_in_the_detail_sent_to_the_cli() {
        let path = AttrPath::attr("ports").index(0).then("number");
        let d = Diagnostic::error("Invalid port number", "70000 is not in 1..=65535.").at(path);
        assert_eq!(
            d.detail_for_cli(),
            "At ports[0].number: 70000 is not in 1..=65535."
        );
        let plain = Diagnostic::error("Unknown cluster", "x").at(AttrPath::attr("cluster"));
        assert_eq!(
            plain.detail_for_cli(),
            "x",
            "a top-level attribute is underlined"
        );
        let named = Diagnostic::error("s", "ports[0].number is bad")
            .at(AttrPath::attr("ports").index(0).then("number"));
        assert_eq!(
            named.detail_for_cli(),
            "ports[0].number is bad",
            "not named twice"
        );
    }

    #[test]
    fn an_error_becomes_one_diagnostic_with_its_cause_chain() {
        let e = Outer(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        ));
        let d = Diagnostic::from_error("Cannot read ServiceEntry", &e);
        assert_eq!(d.summary, "Cannot read ServiceEntry");
        assert_eq!(
            d.detail,
            "connect to cluster-a.local failed\ncaused by: connection refused"
        );
        assert!(d.is_error());
    }

    #[test]
    fn diagnostics_sharing_a_once_key_are_kept_once() {
        let mut diags = Diagnostics::new();
        diags.push(Diagnostic::error("Denied", "first").once("k"));
        diags.push(Diagnostic::error("Other", "kept"));
        let mut more = Diagnostics::new();
        more.push(Diagnostic::error("Denied", "second").once("k"));
        more.push(Diagnostic::error("Denied", "another key").once("j"));
        diags.extend(more);
        let details: Vec<&str> = diags.iter().map(|d| d.detail.as_str()).collect();
        assert_eq!(details, ["first", "kept", "another key"]);
    }

    #[test]
    fn paths_print_as_terraform_writes_them() {
        let p = AttrPath::attr("cluster")
            .key("cluster-a.local")
            .then("host");
        assert_eq!(p.to_string(), r#"cluster["cluster-a.local"].host"#);
        assert_eq!(
            AttrPath::attr("ports").index(2).then("number").to_string(),
            "ports[2].number"
        );
    }

    #[test]
    fn a_root_path_is_no_attribute() {
        assert_eq!(
            Diagnostic::error("x", "y").at(AttrPath::root()).attribute,
            None
        );
    }
}
