//! Mesh naming rules and the names Istio derives: SPIFFE trust domains, workload identities (as
//! SPIFFE IDs and as Istio principals), and the SNI a client sends to an east-west gateway.

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

/// A workload's SPIFFE ID: `spiffe://<trust_domain>/ns/<namespace>/sa/<service_account>`, the
/// URI SAN of its certificate.
pub fn spiffe_id(trust_domain: &str, namespace: &str, service_account: &str) -> String {
    format!(
        "spiffe://{}",
        principal(trust_domain, namespace, service_account)
    )
}

/// A workload's identity as Istio's policies write it (AuthorizationPolicy `principals`):
/// `<trust_domain>/ns/<namespace>/sa/<service_account>`, the SPIFFE ID without its scheme.
pub fn principal(trust_domain: &str, namespace: &str, service_account: &str) -> String {
    format!("{trust_domain}/ns/{namespace}/sa/{service_account}")
}

/// The SNI a sidecar sends for `host`:`port` through an east-west gateway in
/// `AUTO_PASSTHROUGH` mode: `outbound_.<port>_._.<host>` (Istio's outbound cluster name, no
/// subset), which the gateway resolves against its own registry.
pub fn eastwest_sni(host: &str, port: u16) -> String {
    format!("outbound_.{port}_._.{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_and_the_gateway_sni_have_istio_s_forms() {
        assert_eq!(
            spiffe_id("cluster-b.local", "xyz", "bar"),
            "spiffe://cluster-b.local/ns/xyz/sa/bar"
        );
        assert_eq!(
            principal("cluster-a.local", "abc", "foo"),
            "cluster-a.local/ns/abc/sa/foo"
        );
        assert_eq!(
            eastwest_sni("bar.xyz.svc.cluster-b.local", 8080),
            "outbound_.8080_._.bar.xyz.svc.cluster-b.local"
        );
    }

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
