//! Import of `meshfed_trust` by its member clusters: reads each member's `cacerts` Secret (a CA
//! meshfed can keep using, remembered without its key) or adopts the cluster's own root, then
//! reads back the objects a plan of that configuration would own.

use std::collections::BTreeMap;

use super::*;

pub async fn import(ctx: &Ctx<'_>, req: ImportRequest) -> ImportResponse {
    let err = |d: Diagnostic| ImportResponse {
        diagnostics: d.into(),
        ..ImportResponse::default()
    };
    let clusters: Vec<&str> = req
        .id
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if clusters.is_empty() {
        return err(Diagnostic::error(
            "Invalid import ID",
            "Expected the member cluster names, comma-separated, e.g. cluster-a.local,cluster-b.local.",
        ));
    }
    let mut private = Private::default();
    let mut members = Vec::new();
    let mut bundle = BundleMode::MeshConfig;
    for c in &clusters {
        let cfg =
            match crate::resources::cluster_of(ctx, c, crate::tfplugin::diag::AttrPath::root()) {
                Ok(cfg) => cfg,
                Err(d) => return err(d),
            };
        let Some(mesh) = cfg.mesh.known() else {
            return err(Diagnostic::error(
                "Mesh facts unknown",
                format!("The mesh facts of {c} are not known."),
            ));
        };
        let secret =
            ObjectRef::namespaced("v1", "Secret", &mesh.istio_namespace, tr::CACERTS_SECRET);
        let live = match ctx.clusters.get(c, &secret).await {
            Ok(l) => l,
            Err(e) => return err(objects::error_diag("Cannot read the cacerts Secret", &e)),
        };
        // A `ca` block only where the configuration needs one: adoption, or a generated CA whose
        // key algorithm is not the default.
        let member_block = |source: Option<&str>, algorithm: Option<&str>| {
            let ca = match (source, algorithm) {
                (None, None) => Value::List(vec![]),
                (s, a) => Value::List(vec![trust_input::ca_block_value(s, a)]),
            };
            Value::object([("cluster", Value::string(*c)), ("ca", ca)])
        };
        match live {
            Some(s) => {
                let field = |k: &str| s["data"][k].as_str().map(decode_b64).unwrap_or_default();
                let root_bundle = field(tr::ROOT_CERT_KEY);
                if root_bundle.matches("BEGIN CERTIFICATE").count() > 1 {
                    bundle = BundleMode::Cacerts;
                }
                private.generated.insert(
                    c.to_string(),
                    Remembered {
                        root_cert_pem: first_pem(&root_bundle),
                        ca_cert_pem: field("ca-cert.pem"),
                        cert_chain_pem: field("cert-chain.pem"),
                        key_display: tr::secret_value_display(
                            pem_text(&field("ca-key.pem")).as_bytes(),
                        ),
                        key_algorithm: cert::key_algorithm_of(&field("ca-cert.pem"))
                            .unwrap_or_default()
                            .as_str()
                            .to_string(),
                    },
                );
                let algorithm = cert::key_algorithm_of(&field("ca-cert.pem")).unwrap_or_default();
                members.push(member_block(
                    None,
                    (algorithm != cert::KeyAlgorithm::default()).then_some(algorithm.as_str()),
                ));
            }
            None => members.push(member_block(Some("cluster"), None)),
        }
    }
    let config = trust_input::config_value(Value::List(members), Value::List(vec![]), bundle);
    let mut diags = Diagnostics::new();
    let Some(p) = trust_input::parse(ctx, &config, &mut diags) else {
        return ImportResponse {
            diagnostics: diags,
            ..ImportResponse::default()
        };
    };
    // Adopted roots are read now, so that the imported state is complete.
    for m in &p.members {
        if matches!(m.ca, CaInput::Cluster) {
            match read_cluster_root(ctx, m).await {
                Ok(root) => {
                    private.adopted.insert(m.cluster.clone(), root);
                }
                Err(d) => return err(d),
            }
        }
    }
    // The keys and shapes a plan would give; then what the clusters hold of them.
    let everything: BTreeMap<String, String> = BTreeMap::new();
    let cas = plan_cas(&p, &private, &secret_displays(&p, &private));
    let planned = match planned_manifests(&p, &cas) {
        Ok(m) => m
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect::<BTreeMap<_, _>>(),
        Err(d) => return err(d),
    };
    let _ = everything;
    let live = match objects::refresh(ctx.clusters, &[], &planned).await {
        Ok(l) => l,
        Err(d) => {
            return ImportResponse {
                diagnostics: d,
                ..ImportResponse::default()
            };
        }
    };
    let (roots, prints) = roots_value(&p, &cas);
    let state = state(
        &config,
        &p,
        strip_unknown(roots),
        strip_unknown(prints),
        objects::manifests_value(&live),
    );
    ImportResponse {
        imported: vec![ImportedResource {
            type_name: TYPE_NAME.into(),
            state,
            private: private.to_bytes(),
        }],
        diagnostics: Diagnostics::new(),
    }
}

/// Secret manifests as the remembered material shows them (for import's planning).
fn secret_displays(p: &Parsed, private: &Private) -> BTreeMap<String, String> {
    p.members
        .iter()
        .filter_map(|m| {
            let r = private.generated.get(&m.cluster)?;
            let data = serde_json::json!({"ca-cert.pem": tr::secret_value_display(pem_text(&r.ca_cert_pem).as_bytes()), "ca-key.pem": r.key_display});
            let manifest = Manifest::new("v1", "Secret", serde_json::json!({"name": tr::CACERTS_SECRET, "namespace": m.istio_namespace}), "data", data);
            Some((secret_key(&m.cluster, &m.istio_namespace), manifest.to_yaml()))
        })
        .collect()
}
