//! When each party's CA certificates expire: the computed `not_after`, and the plan's warnings
//! (within `expiry_warning_days`) and errors (expired), each naming the member or peer, the date,
//! and the way out: a rotation for a member's CA meshfed holds, the cluster's own rotation for
//! an adopted CA, the peer's new root for a peer.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::ca::{MemberPlan, Planned};
use super::input::{CaInput, MemberInput, TrustInput};
use super::rotation::{Phase, Step};
use crate::cert::{self, encoding::pem_texts};
use crate::mesh::trust::MemberCa;
use crate::tfplugin::diag::{AttrPath, Diagnostic, Diagnostics};
use crate::tfplugin::value::{Type, Value};

/// The type of one `not_after` entry.
pub fn not_after_type() -> Type {
    Type::object([("root", Type::String), ("intermediate", Type::String)])
}

/// The certificate istiod signs with, when meshfed holds the member's CA.
fn intermediate(ca: &MemberCa) -> Option<&str> {
    ca.signing().map(|(cert, _, _)| cert)
}

/// `not_after` by trust domain; unknown for a member whose CA is not known yet.
pub fn value(p: &TrustInput, plans: &BTreeMap<String, MemberPlan>) -> Value {
    let text = |pem: Option<&str>| {
        pem.and_then(cert::not_after)
            .map_or(Value::Null, |t| Value::string(cert::rfc3339_text(t)))
    };
    let mut out = BTreeMap::new();
    for m in &p.members {
        let v = match &plans[&m.cluster].ca {
            Planned::Known(ca, _) => Value::object([
                ("root", text(Some(ca.root_cert_pem()))),
                ("intermediate", text(intermediate(ca))),
            ]),
            Planned::Unknown => Value::unknown(),
        };
        out.insert(m.trust_domain.clone(), v);
    }
    for peer in &p.peers {
        let last = pem_texts(&peer.root_cert_pem)
            .iter()
            .filter_map(|r| cert::not_after(r))
            .max();
        let root = last.map_or(Value::Null, |t| Value::string(cert::rfc3339_text(t)));
        let v = Value::object([("root", root), ("intermediate", Value::Null)]);
        out.insert(peer.trust_domain.clone(), v);
    }
    Value::Map(out)
}

/// Warns about every CA certificate that expires within the window, and refuses a member's CA
/// that has expired unless the member is rotating away from it.
pub fn check(
    p: &TrustInput,
    plans: &BTreeMap<String, MemberPlan>,
    now: OffsetDateTime,
    diags: &mut Diagnostics,
) {
    for m in &p.members {
        let plan = &plans[&m.cluster];
        let Planned::Known(ca, _) = &plan.ca else {
            continue;
        };
        let rotating = !matches!(plan.step, Step::Steady) || m.rotation == Some(Phase::Overlap);
        let certs = [
            ("root", Some(ca.root_cert_pem())),
            ("intermediate", intermediate(ca)),
        ];
        for (what, pem) in certs {
            let Some(t) = pem.and_then(cert::not_after) else {
                continue;
            };
            let ctx = Judged {
                subject: format!("The {what} CA of {}", m.cluster),
                path: m.path.then("ca"),
                way_out: member_way_out(m),
            };
            ctx.judge(t, now, p.expiry_window, !rotating, diags);
        }
    }
    for (i, peer) in p.peers.iter().enumerate() {
        for root in pem_texts(&peer.root_cert_pem) {
            let Some(t) = cert::not_after(&root) else {
                continue;
            };
            let ctx = Judged {
                subject: format!("A root of peer {}", peer.trust_domain),
                path: AttrPath::attr("peer").index(i).then("root_cert_pem"),
                way_out: "Ask the peer for its new root and list both roots in root_cert_pem until the peer has switched to it; then remove the old one.".into(),
            };
            ctx.judge(t, now, p.expiry_window, false, diags);
        }
    }
}

struct Judged {
    subject: String,
    path: AttrPath,
    way_out: String,
}

impl Judged {
    fn judge(
        &self,
        t: OffsetDateTime,
        now: OffsetDateTime,
        window: time::Duration,
        refuse_expired: bool,
        diags: &mut Diagnostics,
    ) {
        let date = cert::rfc3339_text(t);
        let (summary, detail, error) = if t <= now {
            let s = format!("{} has expired", self.subject);
            let d = format!(
                "{} expired at {date}: workloads can no longer verify certificates it issued. {}",
                self.subject, self.way_out
            );
            (s, d, refuse_expired)
        } else if t - now < window {
            let days = (t - now).whole_days();
            let s = format!("{} expires in {days} days", self.subject);
            let d = format!(
                "{} expires at {date} ({days} days from now; warned within {} days, expiry_warning_days). {}",
                self.subject,
                window.whole_days(),
                self.way_out
            );
            (s, d, false)
        } else {
            return;
        };
        let d = if error {
            Diagnostic::error(summary, detail)
        } else {
            Diagnostic::warning(summary, detail)
        };
        diags.push(d.at(self.path.clone()));
    }
}

fn member_way_out(m: &MemberInput) -> String {
    match &m.ca {
        CaInput::Generate { generation, .. } => format!(
            "Rotate it without downtime: set ca.generation = {} and rotation = \"overlap\" on this member and apply, then rotation = \"switch\", then \"retire\" (docs/guides/rotation.md).",
            generation + 1
        ),
        CaInput::Provided(_) => "Rotate it without downtime: put the new CA's material in the ca block with rotation = \"overlap\" on this member and apply, then rotation = \"switch\", then \"retire\" (docs/guides/rotation.md).".into(),
        CaInput::Cluster => "This CA is the cluster's own (source = \"cluster\"): rotate it where it is managed, adding the new root next to the old one first; meshfed follows the roots istiod publishes at each apply.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::{CaRequest, KeyAlgorithm, generate_ca};
    use crate::mesh::trust::{BundleMode, Peer};
    use crate::resources::trust::plan::KeyShown;

    const A: &str = "cluster-a.local";

    /// A trust of member A whose generated CA was made at `made` with a root valid `days`, and
    /// a peer whose root expires in 400 days; planned in `step`.
    fn judged(made: OffsetDateTime, days: i64, step: Step) -> Diagnostics {
        let mut req = CaRequest::new(A, made);
        req.root_validity = time::Duration::days(days);
        req.intermediate_validity = time::Duration::days(days);
        let ca = generate_ca(req).expect("ca");
        let peer = generate_ca(CaRequest::new("peer.example", cert::now())).expect("peer");
        let m = MemberInput {
            cluster: A.into(),
            trust_domain: A.into(),
            istio_namespace: "istio-system".into(),
            ca: CaInput::Generate {
                generation: 1,
                algorithm: KeyAlgorithm::default(),
                root_validity: None,
                intermediate_validity: None,
            },
            key_secret: None,
            rotation: None,
            path: AttrPath::attr("member").index(0),
        };
        let p = TrustInput {
            members: vec![m],
            peers: vec![Peer {
                trust_domain: "peer.example".into(),
                root_cert_pem: peer.root_cert_pem,
            }],
            bundle: BundleMode::MeshConfig,
            expiry_window: time::Duration::days(90),
        };
        let mut plan =
            MemberPlan::steady(Planned::Known(MemberCa::Generated(ca), KeyShown::Rendered));
        plan.step = step;
        let plans = BTreeMap::from([(A.to_string(), plan)]);
        let mut diags = Diagnostics::new();
        check(&p, &plans, cert::now(), &mut diags);
        let v = value(&p, &plans);
        assert!(matches!(&v, Value::Map(m) if m.len() == 2), "{v:?}");
        diags
    }

    #[test]
    fn a_ca_within_the_window_is_warned_about_with_its_date_and_the_rotation() {
        let d = judged(cert::now(), 30, Step::Steady);
        assert_eq!(d.iter().count(), 2, "root and intermediate: {d:?}");
        for w in d.iter() {
            assert!(!w.is_error(), "{w:?}");
            assert!(w.summary.contains("expires in"), "{w:?}");
            assert!(w.detail.contains("ca.generation = 2"), "{w:?}");
            assert_eq!(
                w.attribute.as_ref().map(ToString::to_string).as_deref(),
                Some("member[0].ca")
            );
        }
        assert!(
            judged(cert::now(), 365, Step::Steady)
                .iter()
                .next()
                .is_none()
        );
    }

    #[test]
    fn an_expired_ca_is_refused_unless_it_is_being_rotated_away() {
        let long_ago = cert::now() - time::Duration::days(40);
        let d = judged(long_ago, 30, Step::Steady);
        assert!(d.iter().all(Diagnostic::is_error), "{d:?}");
        assert!(d.iter().any(|e| e.summary.contains("has expired")), "{d:?}");
        let switching = Step::Switch {
            signing: super::super::rotation::Signing::Configured,
            retiring: vec![],
        };
        let d = judged(long_ago, 30, switching);
        assert!(!d.has_errors(), "{d:?}");
    }
}
