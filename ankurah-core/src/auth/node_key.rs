//! Node key pairs (ed25519): a client proves it holds a key by signing the server's
//! challenge; [`KeyAuthenticator`] maps known public keys to identities.

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::RngCore;

use super::{
    AuthError, AuthFailure, Authenticated, Authenticator, Credential, CredentialRequest,
    CredentialSource,
};
use crate::policy::ContextData;

/// An ed25519 key pair a node proves its identity with. As a [`CredentialSource`] it signs
/// each connection's challenge.
#[derive(Clone)]
pub struct NodeKey(SigningKey);

impl std::fmt::Debug for NodeKey {
    /// Shows the public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NodeKey({})", hex(&self.public_key()))
    }
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        Self::from_seed(&seed)
    }

    /// The key of a 32-byte secret seed (keep it as secret as a password).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        NodeKey(SigningKey::from_bytes(seed))
    }

    /// The public key, which the server's [`KeyAuthenticator`] knows.
    pub fn public_key(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }

    /// The credential for the connection `request` describes: a signature over its
    /// challenge; `None` if the server sent no challenge.
    pub fn sign(&self, request: &CredentialRequest) -> Option<Credential> {
        let bytes = request.signed_bytes()?;
        Some(Credential::NodeKey {
            public_key: self.public_key().to_vec(),
            signature: self.0.sign(&bytes).to_bytes().to_vec(),
        })
    }
}

#[async_trait::async_trait]
impl CredentialSource for NodeKey {
    async fn credential(&self, request: &CredentialRequest) -> Option<Credential> {
        self.sign(request)
    }
}

/// Accepts node keys it knows: each public key stands for an identity.
#[derive(Debug, Default)]
pub struct KeyAuthenticator {
    known: HashMap<[u8; 32], ContextData>,
}

impl KeyAuthenticator {
    /// Knows no key yet: refuses everything.
    pub fn new() -> Self {
        KeyAuthenticator::default()
    }

    /// Accepts the holder of `public_key` as `identity`.
    pub fn allow(mut self, public_key: [u8; 32], identity: ContextData) -> Self {
        self.known.insert(public_key, identity);
        self
    }
}

impl Authenticator for KeyAuthenticator {
    fn authenticate(
        &self,
        credential: &Credential,
        request: &CredentialRequest,
    ) -> Result<Authenticated, AuthError> {
        let Credential::NodeKey {
            public_key,
            signature,
        } = credential
        else {
            return Err(AuthError::new(
                AuthFailure::Missing,
                "this node accepts node keys only",
            ));
        };
        let invalid = |message: &str| AuthError::new(AuthFailure::Invalid, message);
        let public_key: [u8; 32] = public_key
            .as_slice()
            .try_into()
            .map_err(|_| invalid("a node key's public key has 32 bytes"))?;
        let Some(identity) = self.known.get(&public_key) else {
            return Err(AuthError::new(
                AuthFailure::Invalid,
                format!("node key {} is not known to this node", hex(&public_key)),
            ));
        };
        let signature = Signature::from_slice(signature)
            .map_err(|_| invalid("a node key's signature has 64 bytes"))?;
        let bytes = request
            .signed_bytes()
            .ok_or_else(|| invalid("this node sent no challenge, so it cannot check a node key"))?;
        VerifyingKey::from_bytes(&public_key)
            .and_then(|key| key.verify_strict(&bytes, &signature))
            .map_err(|_| {
                invalid("the signature is not the key's over this connection's challenge")
            })?;
        Ok(Authenticated {
            identity: identity.clone(),
            expires_at: None,
        })
    }
}

/// Lower-case hex, for naming keys in messages.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
