//! Resource `meshfed_trust`: each member cluster gets its own CA (generated, provided, or the
//! cluster's own) and trusts every other party's root, in its `cacerts` Secret (bundle mode
//! `cacerts`), per-party root ConfigMaps and the shared mesh config; see
//! [`crate::mesh::trust`].
//!
//! Private keys never enter Terraform state or plan output. A generated key lives only in the
//! member's `cacerts` Secret; the resource's private data keeps the member's certificates and the
//! key's fingerprint, and apply reads the key back from the Secret when it must rewrite it. When
//! the Secret is gone or changed, the plan says the member's CA will be regenerated (its root
//! becomes "known after apply") and every other member's bundle changes with it.
//! Import ID: the member cluster names, comma-separated.
//!
//! - [`input`]: configuration → checked members and peers; [`ca`]: each member's CA at plan and
//!   apply; [`state`]: state and private data; [`import`](mod@import).
//!
//! Uses the shared modules of `resources`; must not import another resource or the provider.

mod ca;
mod checks;
mod expiry;
mod import;
mod input;
mod key_secret;
mod list;
mod plan;
mod rotation;
mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use self::ca::{ResolvedMember, plan_cas, resolve_cas};
use self::input::{MemberInput, TrustInput};
use self::state::{Private, planned_manifests, remember, roots_value, strip_unknown};
use crate::cert::KeyAlgorithm;
use crate::mesh::trust::{self as tr, Member, TrustSpec};
use crate::resources::context::Ctx;
use crate::resources::objects::{Desired, ObjectKey, manifests_of, manifests_value};
use crate::resources::query::Candidate;
use crate::resources::resource::{Call, Outcome, Resource, Writes, Written};
use crate::resources::writes::Order;
use crate::tfplugin::diag::{Diagnostic, Diagnostics};
use crate::tfplugin::identity::IdentitySchema;
use crate::tfplugin::provider::{ApplyRequest, PlanRequest};
use crate::tfplugin::schema::{Attribute, Block, NestedBlock, Nesting, Schema};
use crate::tfplugin::value::{Type, Value};

pub const TYPE_NAME: &str = "meshfed_trust";

/// `meshfed_trust`.
pub struct Trust;

/// What apply resolved: the checked configuration and every member's CA.
pub struct Resolved {
    input: TrustInput,
    members: BTreeMap<String, ResolvedMember>,
    prior: Private,
}

#[tonic::async_trait]
impl Resource for Trust {
    const TYPE_NAME: &'static str = TYPE_NAME;
    type Change = Resolved;

    fn schema(&self) -> Schema {
        let ca = Block::new()
            .describe("Where the member's CA comes from. Default: `source = \"generate\"`.")
            .attr(Attribute::optional("source", Type::String).describe("`generate` (default): meshfed generates a root CA and an intermediate for istiod. `provided`: the CA below. `cluster`: adopt the root the cluster already uses; meshfed never writes its `cacerts` Secret."))
            .attr(Attribute::optional("key_algorithm", Type::String).describe(&format!("Key algorithm of a generated CA: one of {}. Default `ECDSA_P256`.", KeyAlgorithm::names())))
            .attr(Attribute::optional("generation", Type::Number).describe("`generate`: which generated CA the member has, default 1. Raise it by one, together with `rotation = \"overlap\"` on the member, to rotate to a new CA (see the rotation guide)."))
            .attr(Attribute::optional("root_validity_days", Type::Number).describe("Validity of a generated root, in days. Default 3650."))
            .attr(Attribute::optional("intermediate_validity_days", Type::Number).describe("Validity of a generated intermediate, in days. Default 1825; never beyond the root."))
            .attr(Attribute::optional("cert_pem", Type::String).describe("`provided`: istiod's signing (intermediate) CA certificate, PEM."))
            .attr(Attribute::optional("key_pem", Type::String).sensitive().write_only().describe("`provided`: the private key of `cert_pem`, PEM. Sensitive and write-only: never stored in state. Needs Terraform or OpenTofu 1.11 or later (older ones would store it, so meshfed refuses it there); with any version, use `key_secret` instead."))
            .attr(Attribute::optional("cert_chain_pem", Type::String).describe("`provided`: the chain from `cert_pem` up to the root, PEM, starting with `cert_pem`."))
            .attr(Attribute::optional("root_cert_pem", Type::String).describe("`provided`: the root CA certificate, PEM."))
            .block(key_secret::block());
        let member = Block::new()
            .describe("A member cluster: it gets its own CA and trusts every other party.")
            .attr(
                Attribute::required("cluster", Type::String)
                    .describe("A `cluster` label of the provider configuration."),
            )
            .attr(Attribute::optional("rotation", Type::String).describe("The phase of a rotation of this member's CA to the one `ca` now describes (a raised `generation`, or new provided material), one plan and apply each: `overlap` (the new root is trusted everywhere; istiod still signs with the old CA), `switch` (istiod signs with the new CA; both roots trusted), `retire` (the old root leaves every bundle). A phase cannot be skipped. Unset or `retire` when no rotation is going on."))
            .block(NestedBlock::new("ca", Nesting::List, ca).max_items(1));
        let peer = Block::new()
            .describe("An external party: every member trusts its root; it receives nothing.")
            .attr(
                Attribute::required("trust_domain", Type::String)
                    .describe("The peer's SPIFFE trust domain."),
            )
            .attr(
                Attribute::required("root_cert_pem", Type::String)
                    .describe("The peer's root CA certificate, PEM. While the peer rotates its CA, both roots, one after the other: the old one leaves once the peer has switched."),
            );
        Schema::new(
            0,
            Block::new()
                .describe("Mutual trust among member clusters, each with its own root CA, plus trust of external parties. Private keys never enter Terraform state.")
                .attr(Attribute::computed("id", Type::String).describe("The member cluster names, comma-separated; also the import ID."))
                .attr(Attribute::optional_computed("bundle", Type::String).describe("Where other parties' roots go: `mesh_config` (default; the `meshfed-mesh-config` ConfigMap's `caCertificates`) or `cacerts` (also appended to each member's `cacerts` `root-cert.pem`)."))
                .attr(Attribute::optional("expiry_warning_days", Type::Number).describe("Plan warns about a root or intermediate CA, of any member or peer, that expires within this many days (default 90), and refuses a member CA that has expired unless it is being rotated."))
                .attr(Attribute::computed("root_certificates", Type::map(Type::String)).describe("Root certificates (PEM) of every party, by trust domain: one, or two during a rotation (the signing root first)."))
                .attr(Attribute::computed("fingerprints", Type::map(Type::String)).describe("SHA-256 fingerprint (hex, of the DER) of every party's root, by trust domain; comma-separated, in the order of `root_certificates`, during a rotation."))
                .attr(Attribute::computed("not_after", Type::map(expiry::not_after_type())).describe("When each party's CA certificates expire (RFC 3339), by trust domain: `root` (the root its CA chains to; for a peer, the root that expires last) and `intermediate` (the CA istiod signs with; null for adopted CAs and peers)."))
                .attr(Attribute::computed("manifests", Type::map(Type::String)).describe("The Kubernetes objects meshfed owns, as YAML (Secret values as `sha256:` digests), keyed `<cluster>/<apiVersion>/<kind>/<namespace>/<name>`."))
                .block(NestedBlock::new("member", Nesting::List, member).min_items(1))
                .block(NestedBlock::new("peer", Nesting::List, peer)),
        )
    }

    fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        // Members' clusters and their facts need the provider configuration: they come at plan.
        input::check(config, diags);
    }

    async fn plan(&self, call: Call<'_>, req: &PlanRequest) -> Option<Outcome> {
        let Call { ctx, diags } = call;
        let p = input::parse(ctx, &req.config, diags)?;
        let private = Private::from_bytes(&req.prior_private);
        let prior = manifests_of(&req.prior_state);
        let cas = plan_cas(&p, &private, &prior, diags)?;
        let manifests = planned_manifests(&p, &cas)
            .map_err(|d| diags.push(d))
            .ok()?;
        let manifests = manifests.into_iter().map(|(k, v)| {
            let v = v.map_or_else(Value::unknown, Value::String);
            (k.to_string(), v)
        });
        let manifests = Value::Map(manifests.collect());
        let roots = roots_value(&p, &cas);
        expiry::check(&p, &cas, crate::cert::now(), diags);
        rotation::check_peers(&p, &req.prior_state, diags);
        for m in &p.members {
            checks::warn_self_signed(ctx, m, &prior, diags).await;
            rotation::warn_lost(m, &cas[&m.cluster], diags);
        }
        let not_after = expiry::value(&p, &cas);
        Some(Outcome {
            state: state::state(&req.config, &p, roots, not_after, manifests),
            private: req.prior_private.clone(),
        })
    }

    async fn prepare(&self, call: Call<'_>, req: &ApplyRequest) -> Option<(Resolved, Writes)> {
        let Call { ctx, diags } = call;
        let p = input::parse(ctx, &req.config, diags)?;
        let private = Private::from_bytes(&req.planned_private);
        let prior = manifests_of(&req.prior_state);
        let members = resolve_cas(ctx, &p, &private, &prior, diags).await?;
        let spec = TrustSpec {
            members: p.members.iter().map(|m| member(m, &members)).collect(),
            peers: p.peers.clone(),
            bundle: p.bundle,
        };
        let rendered = tr::render(&spec)
            .map_err(|e| diags.push(Diagnostic::from_error("Invalid trust configuration", &e)))
            .ok()?;
        let objects = rendered
            .into_iter()
            .map(|r| Desired {
                cluster: r.cluster,
                manifest: r.apply,
            })
            .collect();
        let writes = Writes {
            objects,
            order: Order::PerCluster,
        };
        let r = Resolved {
            input: p,
            members,
            prior: private,
        };
        Some((r, writes))
    }

    async fn finish(&self, call: Call<'_>, req: &ApplyRequest, w: Written<Resolved>) -> Outcome {
        let Call { ctx, diags } = call;
        let (r, in_place) = (w.change, &w.in_place);
        // Warnings only: skipped once the apply is being stopped, each member's at once.
        if !req.stop.is_raised() {
            let each = r.input.members.iter().map(|m| async move {
                let mut d = Diagnostics::new();
                checks::warn_istiod(ctx, m, &mut d).await;
                d
            });
            for d in futures::future::join_all(each).await {
                diags.extend(d);
            }
        }
        let (remembered, known) = remember(&r.input, &r.members, &r.prior, in_place);
        let (roots, prints) = roots_value(&r.input, &known);
        let not_after = strip_unknown(expiry::value(&r.input, &known));
        let roots = if diags.has_errors() {
            (strip_unknown(roots), strip_unknown(prints))
        } else {
            (roots, prints)
        };
        let manifests = manifests_value(in_place);
        let state = state::state(&req.config, &r.input, roots, not_after, manifests);
        Outcome {
            state,
            private: remembered.to_bytes(),
        }
    }

    fn instead_of_write_only(&self) -> &'static str {
        "Keep the key in a Secret of the member cluster and name it instead: key_secret { namespace = \"...\", name = \"...\", key = \"tls.key\" }. meshfed reads it only at apply and never stores it. Or use Terraform 1.11 or OpenTofu 1.11 or later."
    }

    fn replace_cost(&self) -> &'static str {
        "every member's objects would be deleted and new CAs generated, so the identities of the workloads in members whose cacerts Secret was written would change again"
    }

    fn adopt_hint(&self, key: &ObjectKey) -> String {
        checks::adopt_hint(key)
    }

    async fn import(&self, ctx: &Ctx<'_>, id: &str) -> Result<Outcome, Diagnostics> {
        import::import(ctx, id).await
    }

    fn identity_schema(&self) -> IdentitySchema {
        import::identity_schema()
    }

    fn identity(&self, state: &Value) -> Value {
        import::identity(state)
    }

    fn import_id(&self, identity: &Value) -> Result<String, String> {
        import::import_id(identity)
    }

    fn list_schema(&self) -> Schema {
        list::schema()
    }

    async fn discover(
        &self,
        ctx: &Ctx<'_>,
        config: &Value,
        diags: &mut Diagnostics,
    ) -> Vec<Candidate> {
        list::discover(ctx, config, diags).await
    }
}

/// A member of the trust spec, as resolved.
fn member(m: &MemberInput, members: &BTreeMap<String, ResolvedMember>) -> Member {
    let r = &members[&m.cluster];
    Member {
        cluster: m.cluster.clone(),
        trust_domain: m.trust_domain.clone(),
        istio_namespace: m.istio_namespace.clone(),
        ca: r.ca.clone(),
        extra_roots: r.extra_roots.clone(),
        next: r.next.clone(),
    }
}
