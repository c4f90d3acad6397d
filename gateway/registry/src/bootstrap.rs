//! The bundled plugins in the registry: at first start the server publishes the
//! components it ships with into the shared namespace `hysope`, signed with an
//! operator key it makes then (`DATA/registry/bootstrap-key`, readable by the data
//! folder's owner only), through the same checks as any publish, and admits them
//! as approved (they are part of the server the operator installed; the audit log
//! says so). Deployers then name them like any plugin: `hysope/echo@0.1.0`.

use std::path::Path;

use ssh_key::private::Ed25519Keypair;
use ssh_key::{HashAlg, LineEnding, PrivateKey};

/// The namespace of the bundled plugins.
pub const NAMESPACE: &str = "hysope";

/// The user the bundled plugins are published as.
pub const PUBLISHER: &str = "hysope";

/// The key the bundled plugins are signed with.
pub struct BootstrapKey {
    key: PrivateKey,
}

impl BootstrapKey {
    /// The key kept at `path`, or a new Ed25519 key written there (mode 0600).
    pub fn load_or_make(path: &Path) -> Result<Self, String> {
        if path.exists() {
            let key = PrivateKey::read_openssh_file(path)
                .map_err(|e| format!("cannot read the bootstrap key {}: {e}", path.display()))?;
            return Ok(BootstrapKey { key });
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed)
            .map_err(|e| format!("no randomness for the bootstrap key: {e}"))?;
        let mut key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        key.set_comment("hysope bootstrap (bundled plugins)");
        let text = key
            .to_openssh(LineEnding::LF)
            .map_err(|e| format!("cannot encode the bootstrap key: {e}"))?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| format!("cannot write the bootstrap key {}: {e}", path.display()))?;
        Ok(BootstrapKey { key })
    }

    /// The public key, as a `.pub` line.
    pub fn public_line(&self) -> String {
        self.key.public_key().to_openssh().unwrap_or_default()
    }

    /// An `ssh-keygen -Y sign -n hysope-component` signature of `bytes`, armored.
    pub fn sign(&self, bytes: &[u8]) -> Result<String, String> {
        self.key
            .sign(crate::signatures::NAMESPACE, HashAlg::Sha512, bytes)
            .and_then(|sig| sig.to_pem(LineEnding::LF))
            .map_err(|e| format!("cannot sign: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bootstrap_key_signs_as_ssh_keygen_does_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry/bootstrap-key");
        let key = BootstrapKey::load_or_make(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let public = crate::signatures::parse_public_key(&key.public_line()).unwrap();
        let sig = key.sign(b"\0asm component").unwrap();
        assert_eq!(
            crate::signatures::verify(
                sig.as_bytes(),
                b"\0asm component",
                std::slice::from_ref(&public)
            )
            .unwrap(),
            crate::signatures::fingerprint(&public)
        );
        // `ssh-keygen -Y verify` takes it too.
        let allowed = dir.path().join("allowed");
        std::fs::write(&allowed, format!("hysope {}\n", key.public_line())).unwrap();
        let sig_file = dir.path().join("c.sig");
        std::fs::write(&sig_file, &sig).unwrap();
        use std::io::Write;
        let mut child = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(&allowed)
            .args(["-I", "hysope", "-n", "hysope-component", "-s"])
            .arg(&sig_file)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"\0asm component")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Kept: the same key again.
        let again = BootstrapKey::load_or_make(&path).unwrap();
        assert_eq!(again.public_line(), key.public_line());
    }
}
