//! Signatures of components: files made by `ssh-keygen -Y sign -n hysope-component`
//! (an SSHSIG, armored), checked against the public keys registered on the
//! publisher's account before anything parses or compiles the component. The
//! namespace is inside the signed data, so a signature made for git or for another
//! use of the same key is refused. Keys: Ed25519 and ECDSA P-256.

use ssh_key::{HashAlg, PublicKey, SshSig};

use crate::oci::{Code, OciError};

/// The namespace a component's signature is made in.
pub const NAMESPACE: &str = "hysope-component";

/// The largest signature file read.
pub const MAX_SIGNATURE: usize = 16 << 10;

/// Parses a public key as `ssh-keygen` writes it (`ssh-ed25519 AAAA... comment`):
/// Ed25519 or ECDSA P-256 only.
pub fn parse_public_key(text: &str) -> Result<PublicKey, String> {
    let key = PublicKey::from_openssh(text.trim())
        .map_err(|e| format!("not an OpenSSH public key ({e}); give the line of the .pub file"))?;
    match key.algorithm() {
        ssh_key::Algorithm::Ed25519 => Ok(key),
        ssh_key::Algorithm::Ecdsa {
            curve: ssh_key::EcdsaCurve::NistP256,
        } => Ok(key),
        other => Err(format!(
            "{} keys are not taken; use ssh-ed25519 (ssh-keygen -t ed25519) or ecdsa-sha2-nistp256",
            other.as_str()
        )),
    }
}

/// The fingerprint of a key, as `ssh-keygen -l` shows it (`SHA256:...`).
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Checks that `signature` (an armored SSHSIG) signs `message` in the component
/// namespace with one of `keys`; returns that key's fingerprint.
pub fn verify(signature: &[u8], message: &[u8], keys: &[PublicKey]) -> Result<String, OciError> {
    let denied = |why: String| OciError::new(Code::Denied, why);
    if signature.len() > MAX_SIGNATURE {
        return Err(denied(format!(
            "the signature has {} bytes; one from ssh-keygen -Y sign has a few hundred",
            signature.len()
        )));
    }
    let sig = SshSig::from_pem(signature).map_err(|e| {
        denied(format!(
            "the signature is not an SSH signature ({e}); make it with ssh-keygen -Y sign -n {NAMESPACE}"
        ))
    })?;
    if sig.namespace() != NAMESPACE {
        return Err(denied(format!(
            "the signature was made for {:?}, not {NAMESPACE:?} (ssh-keygen -Y sign -n {NAMESPACE})",
            sig.namespace()
        )));
    }
    let key = keys
        .iter()
        .find(|k| k.key_data() == sig.public_key())
        .ok_or_else(|| {
            let signer = PublicKey::from(sig.public_key().clone());
            denied(format!(
                "the signing key {} is not registered on this account",
                fingerprint(&signer)
            ))
        })?;
    key.verify(NAMESPACE, message, &sig).map_err(|_| {
        denied(
            "the signature does not match these bytes (signed another file, or the file changed)"
                .into(),
        )
    })?;
    Ok(fingerprint(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    /// A key pair of type `kind` made by `ssh-keygen`; the public key's line.
    fn keygen_of(dir: &Path, name: &str, kind: &str) -> String {
        let path = dir.join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read_to_string(path.with_extension("pub")).unwrap()
    }

    fn keygen(dir: &Path, name: &str) -> String {
        keygen_of(dir, name, "ed25519")
    }

    /// `ssh-keygen -Y sign -f KEY -n NAMESPACE FILE`: the signature's bytes.
    fn sign(dir: &Path, key: &str, namespace: &str, file: &Path) -> Vec<u8> {
        let out = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", namespace, "-f"])
            .arg(dir.join(key))
            .arg(file)
            .output()
            .expect("ssh-keygen runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let sig = file.with_extension("wasm.sig");
        let bytes = std::fs::read(&sig).unwrap();
        std::fs::remove_file(sig).unwrap();
        bytes
    }

    #[test]
    fn signatures_by_ssh_keygen_are_checked_against_the_accounts_keys() {
        let dir = tempfile::tempdir().unwrap();
        let dora = parse_public_key(&keygen(dir.path(), "dora")).unwrap();
        let bob = parse_public_key(&keygen(dir.path(), "bob")).unwrap();
        let component = dir.path().join("filter.wasm");
        std::fs::write(&component, b"\0asm\x0d\0\x01\0 the component").unwrap();
        let bytes = std::fs::read(&component).unwrap();
        let good = sign(dir.path(), "dora", NAMESPACE, &component);
        assert_eq!(
            verify(&good, &bytes, &[bob.clone(), dora.clone()]).unwrap(),
            fingerprint(&dora)
        );
        // Another user's key, another namespace, other bytes, garbage: refused.
        let err = verify(&good, &bytes, std::slice::from_ref(&bob)).unwrap_err();
        assert!(err.message.contains("not registered"), "{err}");
        assert!(err.message.contains(&fingerprint(&dora)), "{err}");
        let git = sign(dir.path(), "dora", "git", &component);
        let err = verify(&git, &bytes, std::slice::from_ref(&dora)).unwrap_err();
        assert!(err.message.contains("\"git\""), "{err}");
        let err = verify(&good, b"\0asm other bytes", std::slice::from_ref(&dora)).unwrap_err();
        assert!(err.message.contains("does not match"), "{err}");
        let err = verify(b"not a signature", &bytes, std::slice::from_ref(&dora)).unwrap_err();
        assert_eq!(err.code, Code::Denied);
        assert!(verify(&vec![b'x'; MAX_SIGNATURE + 1], &bytes, &[dora]).is_err());
    }

    #[test]
    fn only_ed25519_and_p256_keys_are_taken() {
        let dir = tempfile::tempdir().unwrap();
        let rsa = keygen_of(dir.path(), "rsa", "rsa");
        assert!(parse_public_key(&rsa).unwrap_err().contains("not taken"));
        assert!(parse_public_key("ssh-ed25519 garbage").is_err());
    }
}
