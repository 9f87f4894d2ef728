//! Envoy's RBAC semantics, applied to the RBAC filters istiod pushes, for one question: may a
//! caller with a given mutual-TLS identity (SPIFFE ID) reach the workload at all?
//!
//! Envoy runs the chain's RBAC filters in order; a filter with `action: DENY` refuses a request
//! that matches any of its policies, one with `action: ALLOW` refuses a request that matches none;
//! a filter without `rules` (or with only `shadowRules`) decides nothing. A policy matches when
//! one of its permissions and one of its principals match. This evaluates the matchers an
//! AuthorizationPolicy `from.source.principals`/`notPrincipals` turns into (`authenticated`,
//! the `io.istio.peer_principal` filter state, and/or/not, `any`), and `any` permissions. Any
//! other matcher panics: a test must not pass because a matcher was not understood.

use serde_json::Value;

/// Whether every RBAC filter of `filters` (typed configs of `envoy.filters.http.rbac` or
/// `envoy.filters.network.rbac`, in chain order) lets a request from `principal` through.
pub fn allows(filters: &[&Value], principal: &str) -> bool {
    filters.iter().all(|f| filter_allows(f, principal))
}

fn filter_allows(filter: &Value, principal: &str) -> bool {
    let Some(rules) = filter.get("rules") else {
        return true; // shadow rules only: logged, never enforced
    };
    let policies = rules["policies"].as_object();
    let matched = policies
        .into_iter()
        .flatten()
        .any(|(_, p)| policy_matches(p, principal));
    match rules["action"].as_str().unwrap_or("ALLOW") {
        "ALLOW" => matched,
        "DENY" => !matched,
        other => panic!("RBAC action {other} is not evaluated here: {filter}"),
    }
}

fn policy_matches(policy: &Value, principal: &str) -> bool {
    let any_of = |k: &str, f: &dyn Fn(&Value) -> bool| {
        policy[k]
            .as_array()
            .unwrap_or_else(|| panic!("policy without {k}: {policy}"))
            .iter()
            .any(f)
    };
    any_of("permissions", &permission) && any_of("principals", &|p| principal_matches(p, principal))
}

fn permission(p: &Value) -> bool {
    if p.get("any").is_some() {
        true
    } else if let Some(and) = p.get("andRules") {
        list(and, "rules").iter().all(permission)
    } else if let Some(or) = p.get("orRules") {
        list(or, "rules").iter().any(permission)
    } else if let Some(not) = p.get("notRule") {
        !permission(not)
    } else {
        panic!("RBAC permission not evaluated here: {p}")
    }
}

fn principal_matches(p: &Value, principal: &str) -> bool {
    if p.get("any").is_some() {
        true
    } else if let Some(and) = p.get("andIds") {
        list(and, "ids")
            .iter()
            .all(|i| principal_matches(i, principal))
    } else if let Some(or) = p.get("orIds") {
        list(or, "ids")
            .iter()
            .any(|i| principal_matches(i, principal))
    } else if let Some(not) = p.get("notId") {
        !principal_matches(not, principal)
    } else if let Some(auth) = p.get("authenticated") {
        match auth.get("principalName") {
            Some(m) => string_matches(m, principal),
            None => !principal.is_empty(),
        }
    } else if p["filterState"]["key"] == "io.istio.peer_principal" {
        string_matches(&p["filterState"]["stringMatch"], principal)
    } else {
        panic!("RBAC principal not evaluated here: {p}")
    }
}

fn string_matches(m: &Value, s: &str) -> bool {
    if let Some(v) = m["exact"].as_str() {
        s == v
    } else if let Some(v) = m["prefix"].as_str() {
        s.starts_with(v)
    } else if let Some(v) = m["suffix"].as_str() {
        s.ends_with(v)
    } else if let Some(v) = m["contains"].as_str() {
        s.contains(v)
    } else if let Some(r) = m["safeRegex"]["regex"].as_str() {
        match r {
            ".+" => !s.is_empty(),
            ".*" => true,
            _ => panic!("regex {r:?} is not evaluated here"),
        }
    } else if m.get("presentMatch").is_some() {
        !s.is_empty()
    } else {
        panic!("string matcher not evaluated here: {m}")
    }
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is no list: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The shape istiod gives a DENY with `principals: ["*"]` and `notPrincipals`.
    fn deny_unlisted() -> Value {
        json!({"rules": {"action": "DENY", "policies": {"p": {
        "permissions": [{"andRules": {"rules": [{"any": true}]}}],
        "principals": [{"andIds": {"ids": [
            {"orIds": {"ids": [{"authenticated": {"principalName": {"safeRegex": {"regex": ".+"}}}}]}},
            {"notId": {"orIds": {"ids": [
                {"authenticated": {"principalName": {"prefix": "spiffe://b/"}}},
                {"authenticated": {"principalName": {"exact": "spiffe://a/ns/abc/sa/foo"}}}]}}}
        ]}}]}}}})
    }

    #[test]
    fn a_deny_of_unlisted_principals_lets_listed_and_local_callers_through() {
        let f = deny_unlisted();
        assert!(allows(&[&f], "spiffe://a/ns/abc/sa/foo"));
        assert!(allows(&[&f], "spiffe://b/ns/xyz/sa/qux"));
        assert!(!allows(&[&f], "spiffe://a/ns/abc/sa/intruder"));
        assert!(
            allows(&[&f], ""),
            "plaintext callers are not matched by principals: [*]"
        );
    }

    #[test]
    fn an_allow_filter_refuses_what_no_policy_matches_and_shadow_rules_decide_nothing() {
        let allow = json!({"rules": {"policies": {"p": {"permissions": [{"any": true}],
            "principals": [{"authenticated": {"principalName": {"exact": "spiffe://a/x"}}}]}}}});
        assert!(allows(&[&allow], "spiffe://a/x"));
        assert!(!allows(&[&allow], "spiffe://a/y"));
        let shadow = json!({"shadowRules": {"action": "DENY", "policies": {}}});
        assert!(allows(&[&shadow], "spiffe://a/y"));
    }
}
