//! How certificates and keys are written down, in one place: PEM text (read with x509-parser,
//! never sniffed by substring), base64 (the form of a Secret's `data`), and SHA-256 digests —
//! the certificate fingerprint users compare with `openssl x509 -fingerprint -sha256`, and the
//! `sha256:<hex>` form in which meshfed shows a Secret value instead of the value itself.
//!
//! Pure functions over bytes and text; imports nothing of the crate.

use std::io::Cursor;

use base64::Engine as _;
use sha2::Digest as _;
use x509_parser::pem::Pem;

/// Lower-case hex of the SHA-256 digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = sha2::Sha256::digest(bytes);
    hex(&digest)
}

/// `sha256:<64 lower-case hex digits>` of `bytes`: how a Secret value (a key included) appears
/// in state, plans and logs. Any change to a stored byte changes it; the value never appears.
pub fn sha256_display(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

/// SHA-256 fingerprint (lower-case hex) of a certificate or key given as PEM text or DER bytes.
///
/// For PEM, the digest covers the DER bytes of every PEM block, in order (one block for a
/// certificate or a key), so a certificate's fingerprint is the same whether it is given as PEM
/// or DER, and equals `openssl x509 -noout -fingerprint -sha256` without the colons. Input that
/// is not PEM is digested as it is. The fingerprint of a key depends on its encoding (PKCS#8 and
/// PKCS#1 forms of one key differ): it identifies the bytes stored, which is what drift
/// detection compares.
pub fn fingerprint_sha256(data: &[u8]) -> String {
    let blocks = pem_blocks(data);
    if blocks.is_empty() {
        return sha256_hex(data);
    }
    let mut hasher = sha2::Sha256::new();
    for block in &blocks {
        hasher.update(&block.contents);
    }
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every PEM block in `data`, decoded (none when it is not PEM).
pub fn pem_blocks(data: &[u8]) -> Vec<Pem> {
    Pem::iter_from_buffer(data).map_while(Result::ok).collect()
}

/// Whether `text` holds at least one well-formed PEM `CERTIFICATE` block.
pub fn has_certificate(text: &str) -> bool {
    certificate_count(text) > 0
}

/// How many well-formed PEM `CERTIFICATE` blocks `text` holds (a bundle holds several).
pub fn certificate_count(text: &str) -> usize {
    pem_blocks(text.as_bytes())
        .iter()
        .filter(|p| p.label == "CERTIFICATE")
        .count()
}

/// Whether `text` holds a well-formed PEM private key block (`PRIVATE KEY`, `RSA PRIVATE KEY`,
/// `EC PRIVATE KEY`).
pub fn has_private_key(text: &str) -> bool {
    pem_blocks(text.as_bytes())
        .iter()
        .any(|p| p.label.ends_with("PRIVATE KEY"))
}

/// The text of the first PEM block in `text`, as written (not re-encoded), ending in one newline;
/// `text` itself when it holds no well-formed block. A bundle's first certificate is its own
/// root in a `root-cert.pem`.
pub fn first_pem(text: &str) -> String {
    match Pem::read(Cursor::new(text.as_bytes())) {
        Ok((_, end)) => pem_text(text.get(..end).unwrap_or(text)),
        Err(_) => text.to_string(),
    }
}

/// The text of every PEM block in `text`, each as [`pem_text`] of what was written (a root
/// bundle's certificates, one by one); empty when `text` holds no well-formed block.
pub fn pem_texts(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Ok((_, end)) = Pem::read(Cursor::new(rest.as_bytes())) {
        let Some((block, tail)) = rest.split_at_checked(end) else {
            break;
        };
        out.push(pem_text(block.trim_start()));
        rest = tail;
    }
    out
}

/// PEM text ending in exactly one newline, so that texts concatenate into a valid bundle and
/// compare equal however they were entered.
pub fn pem_text(pem: &str) -> String {
    format!("{}\n", pem.trim_end())
}

/// Standard base64 of `bytes`, as a Secret's `data` holds values.
pub fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The bytes behind standard base64 text; `None` when it is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nAwQF\n-----END EC PRIVATE KEY-----\n";

    #[test]
    fn a_display_digest_is_sha256_prefixed_hex() {
        assert_eq!(
            sha256_display(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn pem_is_recognised_by_its_blocks_not_by_substrings() {
        assert!(has_certificate(CERT));
        assert!(!has_certificate("-----BEGIN CERTIFICATE----- but no block"));
        assert!(!has_certificate(KEY));
        assert!(has_private_key(KEY));
        assert!(!has_private_key("PRIVATE KEY-----"));
        assert_eq!(certificate_count(&format!("{CERT}{CERT}")), 2);
    }

    #[test]
    fn the_first_block_of_a_bundle_is_cut_as_written() {
        let other = "-----BEGIN CERTIFICATE-----\nBgcI\n-----END CERTIFICATE-----";
        assert_eq!(first_pem(&format!("{CERT}{other}")), CERT);
        assert_eq!(first_pem(other), format!("{other}\n"));
        assert_eq!(first_pem("not pem"), "not pem");
    }

    #[test]
    fn every_block_of_a_bundle_is_cut_as_written_and_normalised() {
        let other = "-----BEGIN CERTIFICATE-----\nBgcI\n-----END CERTIFICATE-----";
        let bundle = format!("\n{CERT}\n\n{other}");
        assert_eq!(
            pem_texts(&bundle),
            vec![CERT.to_string(), format!("{other}\n")]
        );
        assert_eq!(pem_texts(CERT), vec![CERT.to_string()]);
        assert!(pem_texts("not pem").is_empty());
    }

    #[test]
    fn base64_round_trips_and_refuses_what_is_not_base64() {
        assert_eq!(
            base64_decode(&base64_encode(b"\x00key")),
            Some(b"\x00key".to_vec())
        );
        assert_eq!(base64_decode("not base64!"), None);
    }
}
