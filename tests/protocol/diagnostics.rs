//! Reading diagnostics in protocol responses: errors, attribute paths as selector steps, and the
//! assertions the protocol tests share. Needs nothing external.

use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use pb::attribute_path::step::Selector;

fn is_error(d: &pb::Diagnostic) -> bool {
    d.severity == pb::diagnostic::Severity::Error as i32
}

pub fn errors(ds: &[pb::Diagnostic]) -> Vec<&pb::Diagnostic> {
    ds.iter().filter(|d| is_error(d)).collect()
}

pub fn steps(d: &pb::Diagnostic) -> Vec<Selector> {
    d.attribute
        .as_ref()
        .map(|p| p.steps.iter().filter_map(|s| s.selector.clone()).collect())
        .unwrap_or_default()
}

pub fn attr(name: &str) -> Selector {
    Selector::AttributeName(name.to_string())
}

pub fn key(k: &str) -> Selector {
    Selector::ElementKeyString(k.to_string())
}

pub fn assert_no_diagnostics(ds: &[pb::Diagnostic], what: &str) {
    assert!(
        ds.is_empty(),
        "{what}: expected no diagnostics, got {ds:#?}"
    );
}

/// Exactly one error, whose summary or detail says "not supported by meshfed".
pub fn assert_not_supported(ds: &[pb::Diagnostic], what: &str) {
    let errs = errors(ds);
    assert_eq!(errs.len(), 1, "{what}: expected one error, got {ds:#?}");
    let text = format!("{} {}", errs[0].summary, errs[0].detail);
    assert!(
        text.contains("not supported by meshfed"),
        "{what}: the error must say it is not supported by meshfed: {ds:#?}"
    );
}

/// Exactly one error, about an unknown type, naming it.
pub fn assert_unknown_type(ds: &[pb::Diagnostic], name: &str, what: &str) {
    let errs = errors(ds);
    assert_eq!(errs.len(), 1, "{what}: expected one error, got {ds:#?}");
    assert!(
        errs[0].summary.contains(name),
        "{what}: the error must name {name:?}: {ds:#?}"
    );
}
