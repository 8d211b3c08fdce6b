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
//!
//! Rotating: the new key becomes `TRAJECTUM_NOTES_KEY` and the old one joins
//! `TRAJECTUM_NOTES_PREVIOUS_KEYS` ([`NotesKeys`]). New notes are sealed under the new key, old
//! ones still open under theirs, and `trajectum admin reseal-notes` seals the old ones under the
//! new key, after which the old key is needed only for backups taken before.

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
            .map_err(|_| anyhow::anyhow!("a notes key must be base64"))?;
        anyhow::ensure!(
            bytes.len() == 32,
            "a notes key must hold 32 bytes (this one holds {})",
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
        let (id, body) = parts(stored)?;
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

/// The key id and the sealed bytes of a stored note.
fn parts(stored: &str) -> Result<(&str, &str), VaultError> {
    let mut parts = stored.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some(id), Some(body)) => Ok((id, body)),
        _ => Err(VaultError::Corrupt),
    }
}

/// The current key, which seals, and retired keys, which still open what they sealed.
#[derive(Debug, Clone)]
pub struct NotesKeys {
    current: NotesKey,
    previous: Vec<NotesKey>,
}

impl NotesKeys {
    pub fn new(current: NotesKey, previous: Vec<NotesKey>) -> NotesKeys {
        NotesKeys { current, previous }
    }

    /// The current key, and the retired ones from their base64 texts, comma-separated.
    pub fn from_base64(current: &str, previous: Option<&str>) -> anyhow::Result<NotesKeys> {
        use anyhow::Context;
        let current = NotesKey::from_base64(current).context("TRAJECTUM_NOTES_KEY")?;
        let previous = previous
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .enumerate()
            .map(|(n, text)| {
                NotesKey::from_base64(text)
                    .with_context(|| format!("TRAJECTUM_NOTES_PREVIOUS_KEYS, key {}", n + 1))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(NotesKeys::new(current, previous))
    }

    /// The id of the key new notes are sealed under.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The note, sealed under the current key.
    pub fn seal(&self, session_id: &str, note: &str) -> String {
        self.current.seal(session_id, note)
    }

    /// The note, opened with whichever configured key sealed it.
    pub fn open(&self, session_id: &str, stored: &str) -> Result<String, VaultError> {
        let (id, _) = parts(stored)?;
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| VaultError::UnknownKey(id.to_string()))?
            .open(session_id, stored)
    }

    /// The note sealed again under the current key, or `None` when it is sealed under it already.
    pub fn reseal(&self, session_id: &str, stored: &str) -> Result<Option<String>, VaultError> {
        if parts(stored)?.0 == self.current.id {
            return Ok(None);
        }
        let note = self.open(session_id, stored)?;
        Ok(Some(self.seal(session_id, &note)))
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
    fn after_a_rotation_old_notes_open_new_ones_seal_under_the_new_key() {
        let (old, new) = (NotesKey::generate(), NotesKey::generate());
        let before = NotesKeys::from_base64(&old, None).unwrap();
        let sealed_before = before.seal("s", "sealed before the rotation");
        let after = NotesKeys::from_base64(&new, Some(&format!(" {old} ,"))).unwrap();
        assert_eq!(
            after.open("s", &sealed_before).unwrap(),
            "sealed before the rotation"
        );
        let sealed_after = after.seal("s", "sealed after");
        assert!(sealed_after.starts_with(&format!("v1.{}.", after.current_id())));
        assert!(matches!(
            before.open("s", &sealed_after),
            Err(VaultError::UnknownKey(_))
        ));
        // Resealing moves an old note to the new key and leaves a current one alone.
        let resealed = after.reseal("s", &sealed_before).unwrap().unwrap();
        assert!(resealed.starts_with(&format!("v1.{}.", after.current_id())));
        assert_eq!(
            NotesKeys::from_base64(&new, None)
                .unwrap()
                .open("s", &resealed)
                .unwrap(),
            "sealed before the rotation"
        );
        assert_eq!(after.reseal("s", &sealed_after).unwrap(), None);
        // A retired key that is not a key is named.
        let error = NotesKeys::from_base64(&new, Some("short")).unwrap_err();
        assert!(format!("{error:#}").contains("TRAJECTUM_NOTES_PREVIOUS_KEYS, key 1"));
    }

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(NotesKey::from_base64("not base64!").is_err());
        assert!(NotesKey::from_base64(&STANDARD.encode([0u8; 16])).is_err());
        assert!(NotesKey::from_base64(&STANDARD.encode([7u8; 32])).is_ok());
    }
}
