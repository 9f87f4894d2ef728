//! The one golden-file check of the rendering tests: rendered objects, each under a heading that
//! says which object in which cluster, compared with `tests/golden/<name>`. Run the tests with
//! `UPDATE_GOLDEN=1` to write the files after an intended change, then review the diff.

use super::Manifest;

/// Compares the rendering of `objects` (cluster, object) with `tests/golden/<name>`.
pub fn check<'a>(name: &str, objects: impl IntoIterator<Item = (&'a str, &'a Manifest)>) {
    let text: String = objects
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
        .collect();
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
