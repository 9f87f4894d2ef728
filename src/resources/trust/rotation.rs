//! Rotating a member's CA without breaking calls, in the three phases of Istio's plug-in CA
//! rotation, each one plan and one apply:
//!
//! 1. `overlap`: the new root is trusted next to the old one — in the member's own
//!    `root-cert.pem` and in every other member's bundle — while istiod still signs with the old
//!    CA. A generated new CA waits in Secret `meshfed-cacerts-next` (its key never in state).
//! 2. `switch`: `cacerts` holds the new CA, so istiod signs with it; both roots stay trusted, so
//!    certificates of either CA verify everywhere until workloads have rotated.
//! 3. `retire`: the old root leaves every bundle.
//!
//! istiod accepts a new `root-cert.pem` without a restart only when one set of roots contains
//! the other (Istio's `pemBundleHasSubsetRelation`, with `ISTIO_MULTIROOT_MESH`): each phase keeps
//! to that, a direct swap of roots would not. So [`decide`] refuses a new CA without `overlap`, a
//! skipped phase, and a second rotation before the first is retired. A lost `cacerts` whose
//! root is remembered is regenerated into phase `switch`: the old root stays trusted until the
//! operator retires it.
//!
//! What a rotation in progress remembers ([`InProgress`]) lives in the private data next to the
//! signing CA; the configuration says only which phase to go to.

use serde::{Deserialize, Serialize};

use super::input::{CaInput, MemberInput};
use super::state::{Private, Remembered};
use crate::cert::CheckedCa;
use crate::cert::encoding::pem_text;
use crate::tfplugin::diag::Diagnostic;

/// The phase a member's `rotation` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Overlap,
    Switch,
    Retire,
}

impl Phase {
    /// Every phase with its configuration name, in order.
    pub const ALL: [(Phase, &'static str); 3] = [
        (Phase::Overlap, "overlap"),
        (Phase::Switch, "switch"),
        (Phase::Retire, "retire"),
    ];

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.iter().find(|(_, n)| *n == s).map(|(p, _)| *p)
    }

    pub fn names() -> String {
        Phase::ALL.map(|(_, n)| n).join(", ")
    }
}

/// A rotation in progress, remembered between applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum InProgress {
    /// The new CA's root is trusted; the member still signs with its remembered CA. A
    /// generated new CA's key is in `meshfed-cacerts-next`.
    Overlap { incoming: Remembered },
    /// The member signs with its new CA; these old roots are still trusted.
    Switch { retiring: Vec<String> },
}

/// The CA a member rotates to during `overlap`.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// To be generated at this apply.
    Generate,
    /// Generated at an earlier apply; its key is in `meshfed-cacerts-next`.
    Staged(Remembered),
    /// The provided material of the configuration (its key given at the switch).
    Provided(CheckedCa),
}

impl Incoming {
    /// Its root, when known at plan.
    pub fn root(&self) -> Option<String> {
        match self {
            Incoming::Generate => None,
            Incoming::Staged(r) => Some(r.root_cert_pem.clone()),
            Incoming::Provided(c) => Some(c.root_cert_pem().to_string()),
        }
    }
}

/// The CA a member signs with after `switch`.
#[derive(Clone, Debug)]
pub enum Signing {
    /// What the member's configuration resolves to without a rotation (kept, provided, …).
    Configured,
    /// The generated CA staged at `overlap`, key read from `meshfed-cacerts-next`.
    Staged(Remembered),
    /// A new generated CA, because `cacerts` is lost.
    Regenerate,
}

/// What this plan does with a member's CA.
#[derive(Clone, Debug)]
pub enum Step {
    /// No rotation in progress or asked for: the member's CA as the configuration says.
    Steady,
    /// Phase `overlap` (begun or kept): sign with `signing`, trust `incoming` too.
    Overlap {
        signing: Remembered,
        incoming: Incoming,
    },
    /// Phase `switch` (reached or kept): sign with the new CA, keep `retiring` trusted.
    Switch {
        signing: Signing,
        retiring: Vec<String>,
    },
}

/// The member's CA as remembered in `cacerts` (`None` when that Secret no longer holds it).
pub struct Current<'a> {
    pub remembered: Option<&'a Remembered>,
    /// Whether a generated CA was remembered even though the Secret lost it.
    pub lost: Option<&'a Remembered>,
}

/// Decides the step for member `m` from its configuration, what is remembered and whether the
/// Secrets still hold it. `next_intact` says whether `meshfed-cacerts-next` still holds the staged
/// CA. An error names the member's `rotation` (or `ca`) and says which apply comes next.
pub fn decide(
    m: &MemberInput,
    private: &Private,
    current: Current<'_>,
    next_intact: bool,
) -> Result<Step, Diagnostic> {
    let progress = private.rotations.get(&m.cluster);
    let target = Target::of(m);
    let Some(cur) = current.remembered else {
        return Ok(lost(m, current.lost, progress, next_intact));
    };
    let differs = target.differs(cur);
    match (progress, m.rotation) {
        (None, None | Some(Phase::Retire)) if !differs => Ok(Step::Steady),
        (None, Some(Phase::Overlap)) if differs => Ok(Step::Overlap {
            signing: cur.clone(),
            incoming: target.incoming(None),
        }),
        (None, Some(Phase::Overlap)) => Err(refusal(m, target.nothing_new(cur))),
        (None, _) => Err(refusal(m, start_first(m, cur))),
        (Some(InProgress::Overlap { incoming }), phase) => {
            if !differs && phase.is_none() {
                return Ok(Step::Steady); // back to the old CA before switching: abandoned
            }
            if target.differs(incoming) {
                return Err(refusal(m, busy(m, "overlap")));
            }
            let staged = next_intact.then(|| incoming.clone());
            match phase {
                None | Some(Phase::Overlap) => Ok(Step::Overlap {
                    signing: cur.clone(),
                    incoming: target.incoming(staged),
                }),
                Some(Phase::Switch) => Ok(Step::Switch {
                    signing: match (&m.ca, staged) {
                        (CaInput::Generate { .. }, Some(r)) => Signing::Staged(r),
                        (CaInput::Generate { .. }, None) => Signing::Regenerate,
                        _ => Signing::Configured,
                    },
                    retiring: vec![pem_text(&cur.root_cert_pem)],
                }),
                Some(Phase::Retire) => Err(refusal(m, skip(m, "retire", "switch"))),
            }
        }
        (Some(InProgress::Switch { retiring }), phase) => {
            if differs {
                return Err(refusal(m, busy(m, "switch")));
            }
            match phase {
                None | Some(Phase::Switch) => Ok(Step::Switch {
                    signing: Signing::Configured,
                    retiring: retiring.clone(),
                }),
                Some(Phase::Retire) => Ok(Step::Steady),
                Some(Phase::Overlap) => Err(refusal(m, busy(m, "switch"))),
            }
        }
    }
}

/// A member whose `cacerts` no longer holds its CA: regenerated (or switched to the staged CA)
/// with the old roots still trusted when they are known, else as before rotation existed.
fn lost(
    m: &MemberInput,
    was: Option<&Remembered>,
    progress: Option<&InProgress>,
    next_intact: bool,
) -> Step {
    let CaInput::Generate { .. } = m.ca else {
        return Step::Steady;
    };
    let Some(was) = was else {
        return Step::Steady;
    };
    let mut retiring = vec![pem_text(&was.root_cert_pem)];
    let signing = match progress {
        Some(InProgress::Overlap { incoming }) if next_intact => Signing::Staged(incoming.clone()),
        Some(InProgress::Switch { retiring: old }) => {
            retiring.extend(old.iter().cloned());
            Signing::Regenerate
        }
        _ => Signing::Regenerate,
    };
    Step::Switch { signing, retiring }
}

/// What the configuration asks the member's CA to be.
enum Target<'a> {
    Generated { generation: u64, algorithm: &'a str },
    Provided(Option<&'a CheckedCa>),
    Other,
}

impl<'a> Target<'a> {
    fn of(m: &'a MemberInput) -> Target<'a> {
        match &m.ca {
            CaInput::Generate {
                generation,
                algorithm,
                ..
            } => Target::Generated {
                generation: *generation,
                algorithm: algorithm.as_str(),
            },
            CaInput::Provided(c) => Target::Provided(c.as_ref()),
            CaInput::Cluster => Target::Other,
        }
    }

    /// Whether the configuration asks for another CA than `r`: another generation or key
    /// algorithm, or provided material with another root (a new intermediate under the same
    /// root needs no rotation).
    fn differs(&self, r: &Remembered) -> bool {
        match self {
            Target::Generated {
                generation,
                algorithm,
            } => r.generation != *generation || r.key_algorithm != *algorithm,
            Target::Provided(Some(c)) => pem_text(c.root_cert_pem()) != pem_text(&r.root_cert_pem),
            Target::Provided(None) | Target::Other => false,
        }
    }

    fn incoming(&self, staged: Option<Remembered>) -> Incoming {
        match (self, staged) {
            (Target::Provided(Some(c)), _) => Incoming::Provided((*c).clone()),
            (_, Some(r)) => Incoming::Staged(r),
            _ => Incoming::Generate,
        }
    }

    fn nothing_new(&self, cur: &Remembered) -> String {
        match self {
            Target::Generated { .. } => format!(
                "rotation = \"overlap\" begins a rotation to a new CA, but the configuration asks for the CA the member has (generation {}). Raise ca.generation to {} to rotate to a new generated CA.",
                cur.generation,
                cur.generation + 1
            ),
            _ => "rotation = \"overlap\" begins a rotation to a new CA, but the configured root is the one the member has. Give the new CA's material in the ca block.".to_string(),
        }
    }
}

fn start_first(m: &MemberInput, cur: &Remembered) -> String {
    let asked = match m.rotation {
        Some(Phase::Switch) => "rotation = \"switch\" skips the overlap: ",
        _ => "",
    };
    format!(
        "{asked}{c} would get a new CA (its root {fp}… replaced at once). Other clusters and workloads would stop trusting certificates of the current CA before they trust the new one, and istiod does not reload a root-cert.pem that swaps roots. Rotate in three applies: set rotation = \"overlap\" on this member (the new root is trusted everywhere), then \"switch\" (istiod signs with the new CA), then \"retire\" (the old root leaves every bundle). See the rotation guide.",
        c = m.cluster,
        fp = short_fingerprint(&cur.root_cert_pem),
    )
}

fn busy(m: &MemberInput, phase: &str) -> String {
    format!(
        "{c} is in phase \"{phase}\" of a rotation to another CA than this configuration asks for. Finish that rotation first (rotation = \"switch\", then \"retire\", with the CA it began with), or, while still in \"overlap\", go back to the old CA by restoring its configuration and removing rotation.",
        c = m.cluster
    )
}

fn skip(m: &MemberInput, asked: &str, next: &str) -> String {
    format!(
        "{c} is in phase \"overlap\"; rotation = \"{asked}\" would skip \"{next}\". Apply rotation = \"{next}\" first.",
        c = m.cluster
    )
}

fn refusal(m: &MemberInput, detail: String) -> Diagnostic {
    let d = Diagnostic::error(format!("Rotation of {} refused", m.cluster), detail);
    d.at(m.path.then("rotation"))
}

fn short_fingerprint(pem: &str) -> String {
    let fp = crate::cert::fingerprint_sha256(pem.as_bytes());
    fp.chars().take(16).collect()
}

/// At plan, for a member whose `cacerts` no longer holds the remembered CA: says what the plan
/// does instead of a hard switch, and what comes next.
pub fn warn_lost(
    m: &MemberInput,
    plan: &super::ca::MemberPlan,
    diags: &mut crate::tfplugin::diag::Diagnostics,
) {
    let Step::Switch {
        signing: Signing::Regenerate,
        retiring,
    } = &plan.step
    else {
        return;
    };
    let now = match m.rotation {
        Some(Phase::Retire) => {
            " This member's configuration still says rotation = \"retire\": the apply after this one would drop the old root at once. Set rotation = \"switch\" (or remove it) now to keep it trusted until the workloads have restarted."
        }
        _ => "",
    };
    diags.push(
        Diagnostic::warning(
            format!("The CA of {} is lost and will be regenerated", m.cluster),
            format!(
                "The cacerts Secret of {c} no longer holds the CA meshfed wrote there. This apply generates a new CA and writes it into cacerts, while the old root{s} stay{v} trusted in {c} and in every other member (rotation phase \"switch\"), so workloads still holding certificates of the old CA keep working until they rotate. Then restart the workloads of {c} (e.g. the meshfed_rollout_restart action), and set rotation = \"retire\" on this member to drop the old root{s}.{now}",
                c = m.cluster,
                s = if retiring.len() > 1 { "s" } else { "" },
                v = if retiring.len() > 1 { "" } else { "s" },
            ),
        )
        .at(m.path.clone()),
    );
}

#[cfg(test)]
#[path = "rotation_tests.rs"]
mod tests;

/// At plan: refuses a peer whose roots are replaced outright (no root in common with the roots
/// in `prior_state`), which would stop trusting its current certificates before its workloads
/// hold new ones. A peer rotates with an overlap: both roots, then the new one alone.
pub fn check_peers(
    p: &super::input::TrustInput,
    prior_state: &crate::tfplugin::value::Value,
    diags: &mut crate::tfplugin::diag::Diagnostics,
) {
    use crate::cert::encoding::pem_texts;
    let prior_peers = prior_state
        .get("peer")
        .and_then(crate::tfplugin::value::Value::elements)
        .unwrap_or_default();
    let prior_roots = |td: &str| -> Option<Vec<String>> {
        let peer = prior_peers.iter().find(|v| {
            crate::resources::values::string(v, "trust_domain")
                .known()
                .as_deref()
                == Some(td)
        })?;
        let pem = crate::resources::values::string(peer, "root_cert_pem").known()?;
        Some(pem_texts(&pem))
    };
    for (i, peer) in p.peers.iter().enumerate() {
        let Some(before) = prior_roots(&peer.trust_domain) else {
            continue;
        };
        let now = peer.roots();
        if before.is_empty() || now.iter().any(|r| before.contains(r)) {
            continue;
        }
        let path = crate::tfplugin::diag::AttrPath::attr("peer")
            .index(i)
            .then("root_cert_pem");
        diags.push(Diagnostic::error(
            format!("Rotation of peer {} refused", peer.trust_domain),
            format!(
                "root_cert_pem replaces every root trusted for {td} at once: every member would stop accepting certificates of {td}'s current CA in this apply, before {td}'s workloads hold certificates of the new one. Rotate with an overlap: first list the current root and the new one in root_cert_pem (one after the other) and apply; once {td} signs with its new CA and its workloads have new certificates, list the new root alone. To stop trusting {td} at once (a compromised root), remove the peer block in one apply and add it back in the next.",
                td = peer.trust_domain
            ),
        )
        .at(path));
    }
}
