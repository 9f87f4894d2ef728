//! Kubernetes naming rules: DNS-1123 labels and subdomains, label keys and values, checked before
//! anything is sent.

/// Why a name is not valid, in words a person can act on.
pub type NameProblem = String;

/// A DNS-1123 label: 1–63 characters of `a-z`, `0-9` and `-`, starting and ending alphanumeric.
/// Namespaces and Service names are labels.
pub fn check_dns_label(s: &str) -> Result<(), NameProblem> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!("must be at most 63 characters (has {})", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "must consist of lower-case letters, digits and '-' (found {c:?})"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters. Most object names.
pub fn check_dns_subdomain(s: &str) -> Result<(), NameProblem> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!("must be at most 253 characters (has {})", s.len()));
    }
    for label in s.split('.') {
        check_dns_label(label).map_err(|e| {
            if label.is_empty() {
                "must not contain empty labels ('..', or a leading or trailing '.')".to_string()
            } else {
                format!("label {label:?} {e}")
            }
        })?;
    }
    Ok(())
}

/// A label value: empty, or 1–63 characters of letters, digits, `-`, `_` and `.`, starting and
/// ending with a letter or digit. Also the name part of a label key.
pub fn check_label_value(s: &str) -> Result<(), NameProblem> {
    if s.is_empty() {
        return Ok(());
    }
    if s.len() > 63 {
        return Err(format!("must be at most 63 characters (has {})", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "must consist of letters, digits, '-', '_' and '.' (found {c:?})"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A label key: a name (as [`check_label_value`], not empty), optionally after a DNS-1123
/// subdomain prefix and `/` (`app.kubernetes.io/name`).
pub fn check_label_key(s: &str) -> Result<(), NameProblem> {
    let (prefix, name) = match s.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix {
        check_dns_subdomain(prefix).map_err(|e| format!("prefix {prefix:?} {e}"))?;
    }
    if name.is_empty() {
        return Err("must have a name (after the prefix and '/', if any)".into());
    }
    check_label_value(name).map_err(|e| format!("name {name:?} {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_dns_1123() {
        assert!(check_dns_label("istio-system").is_ok());
        assert!(check_dns_label("a").is_ok());
        assert!(check_dns_label("").is_err());
        assert!(check_dns_label("Abc").is_err());
        assert!(check_dns_label("-abc").is_err());
        assert!(check_dns_label("a.b").is_err());
        assert!(check_dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn subdomains_are_dotted_labels() {
        assert!(check_dns_subdomain("cluster-a.local").is_ok());
        assert!(check_dns_subdomain("bar.xyz.svc.cluster-b.local").is_ok());
        let e = check_dns_subdomain("cluster_a.local").expect_err("underscore");
        assert!(e.contains("cluster_a"), "{e}");
        assert!(check_dns_subdomain("a..b").is_err());
        assert!(check_dns_subdomain("a.").is_err());
    }

    #[test]
    fn label_keys_and_values_follow_the_label_rules() {
        assert!(check_label_key("app").is_ok());
        assert!(check_label_key("app.kubernetes.io/name").is_ok());
        assert!(check_label_key("Version_2").is_ok());
        assert!(check_label_key("").is_err());
        assert!(check_label_key("a/").is_err());
        assert!(check_label_key("a b").is_err());
        assert!(check_label_key("Bad_Prefix/x").is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2_rc-3").is_ok());
        assert!(check_label_value("a,b").is_err());
        assert!(check_label_value("-a").is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
    }
}
