//! Target `pem`: the checks of CA material users provide (`check_provided`,
//! `check_certificates`), of an external peer's root (`parse_root`), and the PEM, base64 and
//! fingerprint helpers of `cert::encoding`.
//!
//! Input: a clock byte, then up to four texts separated by NUL bytes — `cert_pem`, `key_pem`,
//! `cert_chain_pem`, `root_cert_pem` (invalid UTF-8 is replaced, as no text attribute holds
//! it). The clock byte modulo 4 chooses the time of the check: [`t0`] (when the seed material
//! was generated), a day before it (nothing is valid yet), ten days before the seed
//! intermediate expires (a warning), or two hundred years later (everything expired).
//!
//! Nothing may panic. The properties checked are the checks' own guarantees:
//! - material `check_provided` accepts also passes `check_certificates` (which checks less),
//!   its root passes `parse_root`, its problems are all warnings, and it can sign a workload
//!   certificate (`CheckedCa::issuing`, with `issue_workload_cert`);
//! - a root `parse_root` accepts has the fingerprint the trust resource shows for that text
//!   (`fingerprint_sha256` of the text, its `fingerprints` attribute);
//! - standard base64 text decodes to bytes that encode back to the same text, and bytes
//!   round-trip through base64; `pem_text` is idempotent; `first_pem` keeps the first block
//!   (unless that block ends in a bare `-----END ` line, see `check_encoding`).

use meshfed::cert::encoding::{
    base64_decode, base64_encode, certificate_count, first_pem, has_certificate, has_private_key,
    pem_blocks, pem_text, sha256_display, sha256_hex,
};
use meshfed::cert::{
    DEFAULT_INTERMEDIATE_VALIDITY, IssuingCa, ProvidedCa, check_certificates, check_provided,
    fingerprint_sha256, issue_workload_cert, key_algorithm_of, parse_root,
};
use time::{Duration, OffsetDateTime};

/// The time the seed CA material is generated at: 2026-01-01T00:00:00Z.
pub fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).expect("a valid timestamp")
}

/// The clock the selector byte chooses.
pub fn clock(sel: u8) -> OffsetDateTime {
    match sel % 4 {
        0 => t0(),
        1 => t0() - Duration::days(1),
        2 => t0() + DEFAULT_INTERMEDIATE_VALIDITY - Duration::days(10),
        _ => t0() + Duration::days(200 * 365),
    }
}

/// The input the target reads as these four texts, checked at clock `sel`.
pub fn input(sel: u8, p: &ProvidedCa) -> Vec<u8> {
    let mut out = vec![sel];
    for (i, text) in [&p.cert_pem, &p.key_pem, &p.cert_chain_pem, &p.root_cert_pem]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(text.as_bytes());
    }
    out
}

pub fn check(data: &[u8]) {
    let Some((sel, rest)) = crate::split_selector(data) else {
        return;
    };
    let now = clock(sel);
    let mut parts = rest.splitn(4, |b| *b == 0).map(String::from_utf8_lossy);
    let mut next = || parts.next().map(|s| s.into_owned()).unwrap_or_default();
    let provided = ProvidedCa {
        cert_pem: next(),
        key_pem: next(),
        cert_chain_pem: next(),
        root_cert_pem: next(),
    };

    check_material(&provided, now);
    for text in [
        &provided.cert_pem,
        &provided.key_pem,
        &provided.cert_chain_pem,
        &provided.root_cert_pem,
    ] {
        check_root(text, now);
        check_encoding(text);
    }
    check_base64_bytes(rest);
}

fn check_material(provided: &ProvidedCa, now: OffsetDateTime) {
    let checked = check_provided(provided.clone(), now);
    let certificates_only = check_certificates(provided.clone(), now);
    let Ok(checked) = checked else {
        return;
    };
    assert!(
        checked.warnings().iter().all(|w| w.is_warning()),
        "accepted material carries errors: {:?}",
        checked.warnings()
    );
    if let Err(problems) = certificates_only {
        panic!("check_provided accepts what check_certificates refuses: {problems:?}");
    }
    if let Err(problem) = parse_root(&provided.root_cert_pem, now) {
        panic!("check_provided accepts a root that parse_root refuses: {problem}");
    }
    let issuing: IssuingCa<'_> = checked.issuing();
    if let Err(e) = issue_workload_cert(issuing, "spiffe://cluster.local/ns/fuzz/sa/fuzz", now) {
        panic!("checked CA material cannot sign a workload certificate: {e}");
    }
}

fn check_root(text: &str, now: OffsetDateTime) {
    let _ = key_algorithm_of(text);
    let Ok(info) = parse_root(text, now) else {
        return;
    };
    assert!(
        info.warnings.iter().all(|w| w.is_warning()),
        "an accepted root carries errors: {:?}",
        info.warnings
    );
    assert_eq!(
        fingerprint_sha256(text.as_bytes()),
        info.fingerprint,
        "the fingerprint shown for a root's text is not the fingerprint of its certificate"
    );
    assert!(
        has_certificate(text),
        "parse_root accepts text that has_certificate says holds no certificate"
    );
}

fn check_encoding(text: &str) {
    let _ = (
        has_certificate(text),
        has_private_key(text),
        certificate_count(text),
    );
    let once = pem_text(text);
    assert_eq!(pem_text(&once), once, "pem_text is not idempotent");
    let blocks = pem_blocks(text.as_bytes());
    let first = first_pem(text);
    match blocks.first() {
        // x509-parser's PEM reader ends a block at any line starting `-----END `, a bare one
        // too; `pem_text` trims that line's trailing blank, and the cut no longer reads as a block.
        // No PEM that anything writes ends so: not a property of well-formed PEM.
        Some(_) if bare_end_line(text) => {}
        Some(block) => {
            let again = pem_blocks(first.as_bytes());
            let Some(kept) = again.first() else {
                panic!("first_pem lost the first PEM block");
            };
            assert_eq!(
                kept.label, block.label,
                "first_pem changed the block's label"
            );
            assert_eq!(
                kept.contents, block.contents,
                "first_pem changed the block's contents"
            );
        }
        None => assert_eq!(first, text, "first_pem changed text without a PEM block"),
    }
    if let Some(bytes) = base64_decode(text) {
        assert_eq!(
            base64_encode(&bytes),
            text,
            "base64 text decodes to bytes that encode differently"
        );
    }
    let display = sha256_display(text.as_bytes());
    assert_eq!(display.len(), 7 + 64);
    assert_eq!(&display[7..], sha256_hex(text.as_bytes()));
}

/// Whether the first PEM block of `text` ends in a line that is `-----END ` and blanks only.
fn bare_end_line(text: &str) -> bool {
    let mut lines = text.split('\n');
    if !lines.any(|l| l.starts_with("-----BEGIN ")) {
        return false;
    }
    lines
        .find(|l| l.starts_with("-----END "))
        .is_some_and(|l| l.trim_end() == "-----END")
}

fn check_base64_bytes(bytes: &[u8]) {
    let text = base64_encode(bytes);
    assert_eq!(
        base64_decode(&text).as_deref(),
        Some(bytes),
        "bytes do not round-trip through base64"
    );
}
