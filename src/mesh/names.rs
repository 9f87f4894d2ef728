//! Mesh naming rules: SPIFFE trust domains.

/// A SPIFFE trust domain: lower-case letters, digits, `.`, `-` and `_`, at most 255 characters,
/// no scheme, port, path or user info (SPIFFE ID specification, section 2.1).
pub fn check_trust_domain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 255 {
        return Err(format!("must be at most 255 characters (has {})", s.len()));
    }
    if s.contains("://") {
        return Err("must be a bare trust domain, without a scheme such as spiffe://".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "may contain only lower-case letters, digits, '.', '-' and '_' (found {c:?})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_trust_domain;

    #[test]
    fn trust_domains_follow_the_spiffe_rules() {
        assert!(check_trust_domain("cluster-a.local").is_ok());
        assert!(check_trust_domain("td_1").is_ok());
        assert!(check_trust_domain("").is_err());
        assert!(check_trust_domain("Cluster.local").is_err());
        assert!(check_trust_domain("spiffe://cluster.local").is_err());
        assert!(check_trust_domain("cluster.local:8080").is_err());
    }
}
