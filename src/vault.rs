//! Sealing the coach's session notes before they are stored, so that a database dump, a backup
//! or a replica holds no readable notes (DOMAIN.md "Who may see what": what the coachee tells the
//! coach belongs to the coaching relationship).
//!
//! AES-256-GCM with a fresh random 96-bit nonce per write, the session's id as associated data
//! (a sealed note cannot be moved to another session), and the key's id in the stored text so a
//! note sealed under an unknown key fails loudly instead of reading as garbage:
//! `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
//!
//! The key is `TRAJECTUM_NOTES_KEY` (32 random bytes, base64). On SQLite without one, a key is
//! generated once and kept beside the database (mode 0600), like the generated JWT secret; on
//! PostgreSQL the service refuses to start without one. Keep it apart from the database's
//! backups: whoever holds both can read the notes.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

const NONCE_BYTES: usize = 12;

/// The key that seals and opens session notes.
#[derive(Clone)]
pub struct NotesKey {
    id: String,
    cipher: Aes256Gcm,
}

impl fmt::Debug for NotesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotesKey").field("id", &self.id).finish()
    }
}

/// Why a stored note cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("the note was sealed under key {0}, which is not configured")]
    UnknownKey(String),
    #[error("the sealed note is malformed or was altered")]
    Corrupt,
}

impl NotesKey {
    /// The key from its base64 text (32 bytes).
    pub fn from_base64(text: &str) -> anyhow::Result<NotesKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("TRAJECTUM_NOTES_KEY must be base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "TRAJECTUM_NOTES_KEY must hold 32 bytes (it holds {})",
            bytes.len()
        );
        // The id names the key without revealing it: the start of a hash of it.
        let id = hex::encode(&Sha256::digest([b"trajectum-notes-key:", &bytes[..]].concat())[..4]);
        Ok(NotesKey {
            id,
            cipher: Aes256Gcm::new_from_slice(&bytes).expect("32 bytes make an AES-256 key"),
        })
    }

    /// A new random key, as base64 text.
    pub fn generate() -> String {
        STANDARD.encode(Aes256Gcm::generate_key(OsRng))
    }

    /// The note, sealed for the session `session_id`.
    pub fn seal(&self, session_id: &str, note: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: note.as_bytes(),
                    aad: session_id.as_bytes(),
                },
            )
            .expect("AES-GCM seals any message of a note's size");
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("v1.{}.{}", self.id, URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The note sealed for `session_id`.
    pub fn open(&self, session_id: &str, stored: &str) -> Result<String, VaultError> {
        let mut parts = stored.splitn(3, '.');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VaultError::Corrupt);
        };
        if id != self.id {
            return Err(VaultError::UnknownKey(id.to_string()));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| VaultError::Corrupt)?;
        if bytes.len() < NONCE_BYTES {
            return Err(VaultError::Corrupt);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| VaultError::Corrupt)?;
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: session_id.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| VaultError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> NotesKey {
        NotesKey::from_base64(&NotesKey::generate()).unwrap()
    }

    #[test]
    fn a_note_opens_for_its_own_session_only() {
        let key = key();
        let sealed = key.seal(
            "session-1",
            "wants to talk about the conflict with her manager",
        );
        assert!(!sealed.contains("conflict"));
        assert_eq!(
            key.open("session-1", &sealed).unwrap(),
            "wants to talk about the conflict with her manager"
        );
        assert!(matches!(
            key.open("session-2", &sealed),
            Err(VaultError::Corrupt)
        ));
        // The same note sealed twice differs (a fresh nonce each time).
        assert_ne!(
            sealed,
            key.seal(
                "session-1",
                "wants to talk about the conflict with her manager"
            )
        );
    }

    #[test]
    fn another_key_or_an_altered_note_does_not_open() {
        let sealed = key().seal("s", "note");
        assert!(matches!(
            key().open("s", &sealed),
            Err(VaultError::UnknownKey(_))
        ));
        let key = key();
        let mut sealed = key.seal("s", "note");
        let last = sealed.pop();
        sealed.push(if last == Some('A') { 'B' } else { 'A' });
        assert!(matches!(key.open("s", &sealed), Err(VaultError::Corrupt)));
    }

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(NotesKey::from_base64("not base64!").is_err());
        assert!(NotesKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
        assert!(NotesKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
    }
}
