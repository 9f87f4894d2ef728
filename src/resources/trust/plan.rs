//! What the trust knows of each member at plan ([`MemberPlan`]: its CA, its other roots during a
//! rotation, its staged next CA) and at apply ([`ResolvedMember`]).

use super::rotation::{InProgress, Step};
use super::state::Remembered;
use crate::cert::CaMaterial;
use crate::cert::encoding::pem_texts;
use crate::mesh::trust::MemberCa;

/// How the `cacerts` Secret shows the CA's key at plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyShown {
    /// As rendered from the material (a `key_pem`).
    Rendered,
    /// This `sha256:` display of a key that stays in the cluster (generated, or in a Secret).
    Display(String),
    /// Known after apply (a key in a Secret, not read yet).
    Unknown,
}

/// What a member's CA is at plan time.
pub enum Planned {
    /// Known, with how its key shows.
    Known(MemberCa, KeyShown),
    /// Known only at apply: to be generated, read from the cluster, or still unknown material.
    Unknown,
}

impl Planned {
    /// The digest shown for a key that stays in the cluster.
    pub fn key_display(&self) -> Option<&String> {
        match self {
            Planned::Known(_, KeyShown::Display(d)) => Some(d),
            _ => None,
        }
    }
}

/// The staged next CA of a member at plan (Secret `meshfed-cacerts-next`).
pub enum NextPlan {
    None,
    /// Staged at an earlier apply; its key stays in the cluster.
    Known(Remembered),
    /// Generated at this apply.
    Unknown,
}

/// A member at plan: its CA, its other roots during a rotation, its staged next CA.
pub struct MemberPlan {
    pub ca: Planned,
    /// The member's other roots (known ones).
    pub extra_roots: Vec<String>,
    /// A root of the member that is generated at this apply (a rotation begins).
    pub extra_unknown: bool,
    pub next: NextPlan,
    pub step: Step,
}

impl MemberPlan {
    pub fn steady(ca: Planned) -> MemberPlan {
        MemberPlan {
            ca,
            extra_roots: vec![],
            extra_unknown: false,
            next: NextPlan::None,
            step: Step::Steady,
        }
    }

    /// Nothing known (after an apply that did not write the member's `cacerts`).
    pub fn unknown() -> MemberPlan {
        MemberPlan::steady(Planned::Unknown)
    }

    /// A member as an apply resolved it.
    pub fn known(r: &ResolvedMember) -> MemberPlan {
        MemberPlan {
            ca: Planned::Known(r.ca.clone(), KeyShown::Rendered),
            extra_roots: r.extra_roots.clone(),
            extra_unknown: false,
            next: NextPlan::None,
            step: Step::Steady,
        }
    }

    /// Whether some root of the member is not known yet.
    pub fn roots_unknown(&self) -> bool {
        self.extra_unknown || matches!(self.ca, Planned::Unknown)
    }

    /// Every root of the member, signing root first; `None` while one is unknown.
    pub fn roots(&self) -> Option<Vec<String>> {
        let Planned::Known(ca, _) = &self.ca else {
            return None;
        };
        if self.extra_unknown {
            return None;
        }
        let mut all = pem_texts(ca.root_cert_pem());
        for r in self.extra_roots.iter().flat_map(|r| pem_texts(r)) {
            if !all.contains(&r) {
                all.push(r);
            }
        }
        Some(all)
    }
}

/// A member as apply resolves it.
pub struct ResolvedMember {
    /// The CA written to `cacerts` (or adopted).
    pub ca: MemberCa,
    /// The generation of `ca` when generated.
    pub generation: u64,
    /// The key algorithm of `ca` when generated.
    pub algorithm: String,
    pub extra_roots: Vec<String>,
    /// The generated CA staged for the switch.
    pub next: Option<CaMaterial>,
    /// The rotation in progress after this apply.
    pub progress: Option<InProgress>,
}
