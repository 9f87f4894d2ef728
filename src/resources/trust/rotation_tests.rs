//! The rotation's phases decided without a cluster: each allowed move, each refused skip, and
//! what a lost `cacerts` becomes.

use super::*;
use crate::cert::{CaRequest, KeyAlgorithm, ProvidedCa, check_provided, generate_ca, now};
use crate::tfplugin::diag::AttrPath;

const A: &str = "cluster-a.local";

fn member(ca: CaInput, rotation: Option<Phase>) -> MemberInput {
    MemberInput {
        cluster: A.into(),
        trust_domain: A.into(),
        istio_namespace: "istio-system".into(),
        ca,
        key_secret: None,
        rotation,
        path: AttrPath::attr("member").index(0),
    }
}

fn generated(generation: u64, rotation: Option<Phase>) -> MemberInput {
    let ca = CaInput::Generate {
        generation,
        algorithm: KeyAlgorithm::default(),
        root_validity: None,
        intermediate_validity: None,
    };
    member(ca, rotation)
}

fn remembered(generation: u64) -> Remembered {
    let m = generate_ca(CaRequest::new(A, now())).expect("ca");
    Remembered::of(&m, KeyAlgorithm::default().as_str(), generation)
}

fn private_with(r: &Remembered, progress: Option<InProgress>) -> Private {
    let mut p = Private::default();
    p.generated.insert(A.into(), r.clone());
    if let Some(progress) = progress {
        p.rotations.insert(A.into(), progress);
    }
    p
}

fn intact(r: &Remembered) -> Current<'_> {
    Current {
        remembered: Some(r),
        lost: None,
    }
}

fn refused(result: Result<Step, Diagnostic>, says: &str) {
    let d = result.expect_err("refused");
    assert_eq!(
        d.attribute.as_ref().map(ToString::to_string).as_deref(),
        Some("member[0].rotation"),
        "{d:?}"
    );
    assert!(d.detail.contains(says), "{says:?} not in: {}", d.detail);
}

#[test]
fn without_a_new_ca_nothing_rotates_and_retire_is_a_no_op() {
    let old = remembered(1);
    let p = private_with(&old, None);
    for phase in [None, Some(Phase::Retire)] {
        let step = decide(&generated(1, phase), &p, intact(&old), false);
        assert!(matches!(step, Ok(Step::Steady)), "{phase:?}: {step:?}");
    }
}

#[test]
fn a_new_ca_needs_the_overlap_first() {
    let old = remembered(1);
    let p = private_with(&old, None);
    let without = decide(&generated(2, None), &p, intact(&old), false);
    refused(without, "set rotation = \"overlap\"");
    let skipping = decide(&generated(2, Some(Phase::Switch)), &p, intact(&old), false);
    refused(skipping, "skips the overlap");
    let nothing_new = decide(&generated(1, Some(Phase::Overlap)), &p, intact(&old), false);
    refused(nothing_new, "Raise ca.generation to 2");
    let begun = decide(&generated(2, Some(Phase::Overlap)), &p, intact(&old), false);
    match begun {
        Ok(Step::Overlap {
            signing,
            incoming: Incoming::Generate,
        }) => assert_eq!(signing, old),
        other => panic!("{other:?}"),
    }
}

#[test]
fn overlap_goes_on_to_switch_with_the_staged_ca_and_cannot_skip_to_retire() {
    let (old, new) = (remembered(1), remembered(2));
    let overlap = InProgress::Overlap {
        incoming: new.clone(),
    };
    let p = private_with(&old, Some(overlap));
    let kept = decide(&generated(2, Some(Phase::Overlap)), &p, intact(&old), true);
    assert!(
        matches!(&kept, Ok(Step::Overlap { incoming: Incoming::Staged(r), .. }) if *r == new),
        "{kept:?}"
    );
    let switched = decide(&generated(2, Some(Phase::Switch)), &p, intact(&old), true);
    match switched {
        Ok(Step::Switch {
            signing: Signing::Staged(r),
            retiring,
        }) => {
            assert_eq!(r, new);
            assert_eq!(retiring, vec![pem_text(&old.root_cert_pem)]);
        }
        other => panic!("{other:?}"),
    }
    let retire = decide(&generated(2, Some(Phase::Retire)), &p, intact(&old), true);
    refused(retire, "would skip \"switch\"");
    let third = decide(&generated(3, Some(Phase::Overlap)), &p, intact(&old), true);
    refused(third, "Finish that rotation first");
    let back = decide(&generated(1, None), &p, intact(&old), true);
    assert!(matches!(back, Ok(Step::Steady)), "{back:?}");
}

#[test]
fn switch_stays_until_retired_and_refuses_another_rotation() {
    let (old, new) = (remembered(1), remembered(2));
    let retiring = vec![pem_text(&old.root_cert_pem)];
    let switch = InProgress::Switch {
        retiring: retiring.clone(),
    };
    let p = private_with(&new, Some(switch));
    for phase in [None, Some(Phase::Switch)] {
        let step = decide(&generated(2, phase), &p, intact(&new), false);
        match step {
            Ok(Step::Switch {
                signing: Signing::Configured,
                retiring: r,
            }) => assert_eq!(r, retiring),
            other => panic!("{phase:?}: {other:?}"),
        }
    }
    let retired = decide(&generated(2, Some(Phase::Retire)), &p, intact(&new), false);
    assert!(matches!(retired, Ok(Step::Steady)), "{retired:?}");
    let again = decide(&generated(3, Some(Phase::Overlap)), &p, intact(&new), false);
    refused(again, "phase \"switch\"");
}

#[test]
fn a_lost_cacerts_is_regenerated_into_switch_keeping_the_old_root_trusted() {
    let old = remembered(1);
    let p = private_with(&old, None);
    let lost = Current {
        remembered: None,
        lost: Some(&old),
    };
    match decide(&generated(1, None), &p, lost, false) {
        Ok(Step::Switch {
            signing: Signing::Regenerate,
            retiring,
        }) => assert_eq!(retiring, vec![pem_text(&old.root_cert_pem)]),
        other => panic!("{other:?}"),
    }
    let never = Current {
        remembered: None,
        lost: None,
    };
    let fresh = decide(&generated(1, None), &Private::default(), never, false);
    assert!(matches!(fresh, Ok(Step::Steady)), "{fresh:?}");
}

fn provided(root_of: &str) -> CheckedCa {
    let m = generate_ca(CaRequest::new(root_of, now())).expect("ca");
    let p = ProvidedCa {
        cert_pem: m.intermediate_cert_pem,
        key_pem: m.intermediate_key_pem,
        cert_chain_pem: m.cert_chain_pem,
        root_cert_pem: m.root_cert_pem,
    };
    check_provided(p, now()).expect("valid")
}

#[test]
fn provided_material_with_a_new_root_rotates_in_phases_and_a_new_intermediate_does_not() {
    let old = provided(A);
    let kept = Remembered {
        root_cert_pem: old.root_cert_pem().into(),
        ca_cert_pem: old.cert_pem().into(),
        ..Remembered::default()
    };
    let mut p = Private::default();
    p.provided.insert(A.into(), kept.clone());
    let same_root = member(CaInput::Provided(Some(old.clone())), None);
    let step = decide(&same_root, &p, intact(&kept), false);
    assert!(matches!(step, Ok(Step::Steady)), "{step:?}");
    let new = provided(A);
    let at_once = member(CaInput::Provided(Some(new.clone())), None);
    refused(decide(&at_once, &p, intact(&kept), false), "three applies");
    let overlap = member(CaInput::Provided(Some(new)), Some(Phase::Overlap));
    let step = decide(&overlap, &p, intact(&kept), false);
    assert!(
        matches!(
            &step,
            Ok(Step::Overlap {
                incoming: Incoming::Provided(_),
                ..
            })
        ),
        "{step:?}"
    );
}
