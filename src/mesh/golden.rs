//! The one golden-file check of the rendering tests: a rendering, done twice (it must be
//! deterministic, byte for byte), its objects each under a heading that says which object in which
//! cluster, compared with `tests/golden/<name>`. Run the tests with `UPDATE_GOLDEN=1` to write the
//! files after an intended change, then review the diff.

use super::Manifest;

/// Renders twice with `render` (objects with their clusters), and compares the text with
/// `tests/golden/<name>`.
pub fn check(name: &str, render: impl Fn() -> Vec<(String, Manifest)>) {
    let text = text_of(render());
    assert_eq!(text, text_of(render()), "rendering is not deterministic");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).expect("write golden");
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "read {} ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        text == want,
        "rendering differs from {}; if intended, rerun with UPDATE_GOLDEN=1 and review the diff\n--- rendered ---\n{text}",
        path.display()
    );
}

fn text_of(objects: Vec<(String, Manifest)>) -> String {
    objects
        .into_iter()
        .map(|(cluster, m)| {
            format!(
                "# {} {} {}/{} in {cluster}\n{}---\n",
                m.api_version,
                m.kind,
                m.namespace,
                m.name,
                m.to_yaml()
            )
        })
        .collect()
}
