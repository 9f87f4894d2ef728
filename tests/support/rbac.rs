//! meshfed's identity in the test control planes, set up as an operator would with
//! `examples/rbac/`: every document of `examples/rbac/*.yaml` (ServiceAccount
//! `meshfed-system/meshfed`, each resource's Role or ClusterRole and their bindings) is
//! server-side applied with the admin client, and a token of that ServiceAccount is minted with
//! the TokenRequest API. The provider blocks of the e2e suites use that token
//! ([`super::controlplanes::ControlPlanes::provider_kubeconfig`]), never the admin's.
//!
//! A RoleBinding needs its namespace: the namespaces the documents bind in (the seed's `abc` and
//! `xyz`) are created first, as the operator's clusters would already have them.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// Namespace and name of meshfed's ServiceAccount in `examples/rbac/service-account.yaml`.
pub const SERVICE_ACCOUNT: (&str, &str) = ("meshfed-system", "meshfed");

/// The user the API server sees for a token of [`SERVICE_ACCOUNT`].
pub const IDENTITY: &str = "system:serviceaccount:meshfed-system:meshfed";

/// The field manager of the set-up's writes (so that a test can take rules away by applying a
/// document again without them).
const MANAGER: &str = "meshfed-tests-rbac";

/// How long a minted token is valid: longer than any test.
const TOKEN_SECONDS: i64 = 6 * 3600;

/// `examples/rbac/`.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/rbac")
}

/// Every document of `examples/rbac/*.yaml`, files in name order, documents in file order.
pub fn documents() -> Vec<Value> {
    let dir = examples_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let parsed: Vec<Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|e| panic!("{} is no multi-document YAML: {e}", file.display()));
        docs.extend(parsed.into_iter().filter(|d| d.is_object()));
    }
    assert!(!docs.is_empty(), "{} holds no document", dir.display());
    docs
}

/// The document of `kind` named `name` (in `namespace`, for a namespaced one).
pub fn document(kind: &str, namespace: Option<&str>, name: &str) -> Value {
    documents()
        .into_iter()
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"] == name
                && d["metadata"]["namespace"].as_str() == namespace
        })
        .unwrap_or_else(|| panic!("examples/rbac has no {kind} {namespace:?}/{name}"))
}

/// Applies `examples/rbac/` to the cluster of `admin` and returns a fresh token of meshfed's
/// ServiceAccount.
pub async fn set_up(admin: &kube::Client) -> String {
    let docs = documents();
    let mut namespaces: Vec<&str> = docs
        .iter()
        .filter_map(|d| d["metadata"]["namespace"].as_str())
        .collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for ns in namespaces {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        apply(admin, &namespace).await;
    }
    for doc in &docs {
        apply(admin, doc).await;
    }
    token(admin).await
}

/// Server-side applies `doc` (an object with `apiVersion`, `kind` and `metadata`) as the set-up's
/// field manager, so applying a document again replaces what the set-up wrote before.
pub async fn apply(admin: &kube::Client, doc: &Value) {
    let (group, version) = match doc["apiVersion"].as_str().expect("apiVersion") {
        v if v.contains('/') => v.split_once('/').expect("group/version"),
        v => ("", v),
    };
    let kind = doc["kind"].as_str().expect("kind");
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
    let name = doc["metadata"]["name"].as_str().expect("metadata.name");
    let api: Api<DynamicObject> = match doc["metadata"]["namespace"].as_str() {
        Some(ns) => Api::namespaced_with(admin.clone(), ns, &resource),
        None => Api::all_with(admin.clone(), &resource),
    };
    api.patch(
        name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(doc),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {kind} {name} of examples/rbac: {e}"));
}

/// A token of meshfed's ServiceAccount (TokenRequest), valid for hours.
pub async fn token(admin: &kube::Client) -> String {
    let (ns, name) = SERVICE_ACCOUNT;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(TOKEN_SECONDS),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    Api::<ServiceAccount>::namespaced(admin.clone(), ns)
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("requesting a token of ServiceAccount {ns}/{name}: {e}"))
        .status
        .expect("a TokenRequest status")
        .token
        .expect("a token in the TokenRequest status")
}

/// One cluster as a kubeconfig names it: the server, its CA (PEM) and a bearer token.
pub struct Entry<'a> {
    pub name: &'a str,
    pub server: &'a str,
    pub ca_pem: &'a str,
    pub token: &'a str,
}

/// Writes a kubeconfig with one context (and cluster and user) per entry, named after it.
pub fn write_kubeconfig(path: &Path, entries: &[Entry<'_>]) {
    let engine = base64::engine::general_purpose::STANDARD;
    let clusters: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({"name": e.name, "cluster": {
                "server": e.server,
                "certificate-authority-data": engine.encode(e.ca_pem),
            }})
        })
        .collect();
    let users: Vec<Value> = entries
        .iter()
        .map(|e| json!({"name": e.name, "user": {"token": e.token}}))
        .collect();
    let contexts: Vec<Value> = entries
        .iter()
        .map(|e| json!({"name": e.name, "context": {"cluster": e.name, "user": e.name}}))
        .collect();
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": clusters,
        "users": users,
        "contexts": contexts,
        "current-context": entries.first().map_or("", |e| e.name),
    });
    let text = serde_json::to_string_pretty(&config).expect("kubeconfig JSON");
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// `role` (a Role or ClusterRole document) with `verb` taken away on `resource` (a plural, e.g.
/// `configmaps`) and on nothing else: each rule naming `resource` loses it, and a copy of that
/// rule for `resource` alone keeps every other verb.
pub fn without_verb(role: &Value, resource: &str, verb: &str) -> Value {
    let mut out = role.clone();
    let mut rules = Vec::new();
    let mut found = false;
    for rule in role["rules"].as_array().expect("rules") {
        let names = |r: &Value| -> Vec<String> {
            r["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        };
        let resources = names(rule);
        if !resources.iter().any(|r| r == resource) {
            rules.push(rule.clone());
            continue;
        }
        found = true;
        let others: Vec<&String> = resources.iter().filter(|r| *r != resource).collect();
        if !others.is_empty() {
            let mut rest = rule.clone();
            rest["resources"] = json!(others);
            rules.push(rest);
        }
        let verbs: Vec<&Value> = rule["verbs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v.as_str() != Some(verb))
            .collect();
        let mut only = rule.clone();
        only["resources"] = json!([resource]);
        only["verbs"] = json!(verbs);
        rules.push(only);
    }
    assert!(found, "no rule for {resource} in {role}");
    out["rules"] = json!(rules);
    out
}

/// Asserts that a failed command (`out`: its output, `-no-color`) reported exactly one error, and
/// that it names the cluster, the identity, the verb refused and the resource (`<plural>` or
/// `<plural>.<group>`) in `namespace`.
pub fn assert_one_denial(
    what: &str,
    out: &str,
    cluster: &str,
    verb: &str,
    resource: &str,
    namespace: &str,
) {
    let errors: Vec<&str> = out
        .lines()
        .map(|l| l.trim_start_matches(['│', ' ']))
        .filter(|l| l.starts_with("Error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "{what}: one error, got {errors:?} in\n{out}"
    );
    let flat = out
        .replace('│', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for part in [
        format!("in {cluster}: permission denied"),
        format!("{IDENTITY} may not {verb} {resource} in namespace \"{namespace}\" of {cluster}"),
        "docs/guides/rbac.md".to_string(),
    ] {
        assert!(flat.contains(&part), "{what}: {part:?} in\n{out}");
    }
}
