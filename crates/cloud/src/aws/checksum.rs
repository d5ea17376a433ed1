//! The digests S3 requests carry and answer with: SHA-256 and MD5 of a body, CRC32 of a part,
//! the composite checksum and the ETag of a multipart object, and their text forms.

use base64::Engine;
use sha2::{Digest, Sha256};

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn md5(bytes: &[u8]) -> [u8; 16] {
    use md5::Digest as _;
    md5::Md5::digest(bytes).into()
}

/// The bytes of a 32-digit hex MD5.
pub fn md5_of_hex(h: &str) -> Option<[u8; 16]> {
    let mut d = [0u8; 16];
    if h.len() != 32 {
        return None;
    }
    for (k, b) in d.iter_mut().enumerate() {
        *b = u8::from_str_radix(h.get(2 * k..2 * k + 2)?, 16).ok()?;
    }
    Some(d)
}

/// The S3 checksum header value of a CRC32 (base64 of its 4 big-endian bytes).
pub fn crc32_b64(crc: u32) -> String {
    b64(&crc.to_be_bytes())
}

/// The composite checksum S3 reports for a multipart upload with CRC32 part checksums:
/// base64(CRC32(part CRCs concatenated, big-endian)) followed by `-<parts>`.
pub fn composite_crc32(parts: &[u32]) -> String {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(&p.to_be_bytes());
    }
    format!("{}-{}", crc32_b64(h.finalize()), parts.len())
}

/// The ETag S3 gives a multipart object: hex(MD5(part MD5s concatenated)) followed by `-<parts>`.
pub fn multipart_etag(part_md5s: &[[u8; 16]]) -> String {
    use md5::Digest as _;
    let mut h = md5::Md5::new();
    for p in part_md5s {
        h.update(p);
    }
    format!("{}-{}", hex(&h.finalize()), part_md5s.len())
}

/// An ETag without its quotes.
pub fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// A single-part ETag that is the MD5 of the content (32 hex digits).
pub fn is_plain_md5(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The SHA-256 and MD5 of a body about to be PUT (the checksum or Content-MD5 it carries, and
/// what the store's answer is checked against).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digests {
    pub sha256: [u8; 32],
    pub md5: [u8; 16],
}

impl Digests {
    pub fn of(body: &[u8]) -> Digests {
        Digests {
            sha256: sha256(body),
            md5: md5(body),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_checksums() {
        // CRC32("123456789") = 0xCBF43926, the standard check value.
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_b64(0xCBF4_3926), "y/Q5Jg==");
        let (a, b) = (crc32fast::hash(b"a"), crc32fast::hash(b"b"));
        let mut cat = a.to_be_bytes().to_vec();
        cat.extend_from_slice(&b.to_be_bytes());
        assert_eq!(
            composite_crc32(&[a, b]),
            format!("{}-2", crc32_b64(crc32fast::hash(&cat)))
        );
        let (ma, mb) = (md5(b"a"), md5(b"b"));
        let mut cat = ma.to_vec();
        cat.extend_from_slice(&mb);
        assert_eq!(multipart_etag(&[ma, mb]), format!("{}-2", hex(&md5(&cat))));
        assert_eq!(md5_of_hex(&hex(&ma)), Some(ma));
        assert_eq!(md5_of_hex("xyz"), None);
    }

    #[test]
    fn digests_and_etags() {
        // MD5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(b64(&md5(b"")), "1B2M2Y8AsgTpgAmY7PhCfg==");
        let d = Digests::of(b"abc");
        assert_eq!(
            hex(&d.sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(unquote("\"abc\""), "abc");
        assert!(is_plain_md5("900150983cd24fb0d6963f7d28e17f72"));
        assert!(!is_plain_md5("900150983cd24fb0d6963f7d28e17f72-3"));
    }
}
