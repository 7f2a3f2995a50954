//! Authentication in the handshake: who a peer is.
//!
//! A client presents a [`Credential`] in its `Hello`; the durable node's [`Authenticator`]
//! verifies it and yields the peer's identity ([`ContextData`]: the user id and its roles),
//! under which the policy agent checks everything the peer reads and writes. Two kinds of
//! credential are built in:
//!
//! - **signed bearer tokens** (JWT, HS256 or EdDSA, with an expiry): [`JwtAuthenticator`]
//!   on the server, [`JwtSigner`] wherever tokens are issued;
//! - **node key pairs** (ed25519): the client signs the challenge the server sent in its own
//!   `Hello` with its [`NodeKey`]; [`KeyAuthenticator`] knows which public key is whom.
//!
//! The client side is a [`CredentialSource`], asked for a credential on every connection
//! (so a reconnect after an expired token gets a fresh one); any
//! `Fn(&CredentialRequest) -> Option<Credential>` closure is one.
//!
//! A credential that is missing, invalid or expired is refused with a typed
//! [`AuthError`]: the server says `Goodbye` with [`ErrorKind::Unauthenticated`] or
//! [`ErrorKind::CredentialExpired`] and the client's session ends with
//! [`PeerError::Unauthenticated`](crate::PeerError::Unauthenticated). A session whose
//! credential expires is ended the same way when it expires.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use ankurah_core::auth::{Authenticator, CredentialRequest, CredentialSource, JwtAuthenticator, JwtSigner, TokenClaims};
//! use ankurah_core::NodeId;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let secret = b"a secret only the server and the token issuer know";
//! let signer = JwtSigner::hs256(secret).unwrap();
//! let exp = SystemTime::now() + Duration::from_secs(3600);
//! let token = signer.sign(&TokenClaims::new("alice", exp).with_roles(["editor"])).unwrap();
//!
//! let server = JwtAuthenticator::hs256(secret).unwrap();
//! let request = CredentialRequest { challenge: None, client: NodeId::new(), server: NodeId::new() };
//! let credential = token.credential(&request).await.unwrap();
//! let peer = server.authenticate(&credential, &request).unwrap();
//! assert_eq!(peer.identity.principal(), "alice");
//! assert_eq!(peer.identity.roles(), ["editor"]);
//! # }
//! ```

mod jwt;
mod node_key;

use std::sync::Arc;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::id::NodeId;
use crate::policy::ContextData;
use crate::sync::proto::ErrorKind;

pub use jwt::{JwtAuthenticator, JwtSigner, Token, TokenClaims};
pub use node_key::{KeyAuthenticator, NodeKey};

/// Length of the random challenge a node with an authenticator sends in its `Hello`.
pub const CHALLENGE_BYTES: usize = 32;

/// What a client presents in its `Hello` to say who it is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    /// A signed bearer token (a JWT in compact form).
    Token(String),
    /// Proof of holding an ed25519 key: the public key and its signature over
    /// [`CredentialRequest::signed_bytes`].
    NodeKey {
        #[serde(with = "serde_bytes")]
        public_key: Vec<u8>,
        #[serde(with = "serde_bytes")]
        signature: Vec<u8>,
    },
}

impl std::fmt::Debug for Credential {
    /// Never shows a token: logs must not leak bearer credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Token(_) => f.write_str("Token(..)"),
            Credential::NodeKey { public_key, .. } => f
                .debug_struct("NodeKey")
                .field("public_key", &node_key::hex(public_key))
                .finish_non_exhaustive(),
        }
    }
}

/// What a credential is asked for on one connection: the server's challenge (if it sent
/// one) and the two node ids, which a key signature covers so it is good for this
/// connection only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialRequest {
    /// The random bytes of the server's `Hello` (`None` from a server without an
    /// authenticator).
    pub challenge: Option<Vec<u8>>,
    /// The node presenting the credential.
    pub client: NodeId,
    /// The node verifying it.
    pub server: NodeId,
}

impl CredentialRequest {
    /// Domain separation: a signature made for this purpose cannot be replayed as another.
    const CONTEXT: &'static [u8] = b"ankurah node key v1\0";

    /// The bytes a [`Credential::NodeKey`] signs: a fixed context string, the challenge,
    /// the client's and the server's node ids.
    pub fn signed_bytes(&self) -> Option<Vec<u8>> {
        let challenge = self.challenge.as_ref()?;
        let mut bytes = Self::CONTEXT.to_vec();
        bytes.extend_from_slice(challenge);
        bytes.extend_from_slice(&self.client.to_bytes());
        bytes.extend_from_slice(&self.server.to_bytes());
        Some(bytes)
    }
}

/// A peer whose credential was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authenticated {
    /// Who the peer is, for the policy agent.
    pub identity: ContextData,
    /// When the credential stops being valid; the session is ended then.
    pub expires_at: Option<SystemTime>,
}

/// Why a credential was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthFailure {
    /// The peer presented no credential, or none this node accepts.
    Missing,
    /// The credential is malformed, wrongly signed or names an unknown key.
    Invalid,
    /// The credential was valid but has expired: get a fresh one and reconnect.
    Expired,
}

/// A refused credential: why, and what was wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", match .failure {
    AuthFailure::Missing => "no credential",
    AuthFailure::Invalid => "invalid credential",
    AuthFailure::Expired => "expired credential",
})]
pub struct AuthError {
    /// The kind of refusal.
    pub failure: AuthFailure,
    /// What was wrong, for people (never the credential itself).
    pub message: String,
}

impl AuthError {
    /// A refusal of kind `failure`.
    pub fn new(failure: AuthFailure, message: impl Into<String>) -> Self {
        AuthError {
            failure,
            message: message.into(),
        }
    }

    /// The wire kind of a `Goodbye` carrying this refusal.
    pub fn kind(&self) -> ErrorKind {
        match self.failure {
            AuthFailure::Expired => ErrorKind::CredentialExpired,
            AuthFailure::Missing | AuthFailure::Invalid => ErrorKind::Unauthenticated,
        }
    }

    /// The refusal a `Goodbye` of `kind` with `reason` stands for, if it is one.
    pub fn from_goodbye(kind: Option<ErrorKind>, reason: &str) -> Option<Self> {
        let failure = match kind? {
            ErrorKind::CredentialExpired => AuthFailure::Expired,
            ErrorKind::Unauthenticated => AuthFailure::Invalid,
            _ => return None,
        };
        Some(AuthError::new(failure, reason))
    }
}

/// Verifies the credentials peers present in their `Hello` (set on a durable node with
/// [`Node::set_authenticator`](crate::Node::set_authenticator)).
pub trait Authenticator: Send + Sync + 'static {
    /// Checks `credential`, presented on the connection `request` describes, and says who
    /// the peer is.
    fn authenticate(
        &self,
        credential: &Credential,
        request: &CredentialRequest,
    ) -> Result<Authenticated, AuthError>;
}

/// Accepts whichever credential one of several authenticators accepts (e.g. tokens for
/// users, keys for other servers): the first that does not answer
/// [`AuthFailure::Missing`] decides.
#[derive(Default)]
pub struct AnyOf(Vec<Box<dyn Authenticator>>);

impl std::fmt::Debug for AnyOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AnyOf({} authenticators)", self.0.len())
    }
}

impl AnyOf {
    /// None yet: refuses everything.
    pub fn new() -> Self {
        AnyOf(Vec::new())
    }

    /// Also tries `authenticator`.
    pub fn or(mut self, authenticator: impl Authenticator) -> Self {
        self.0.push(Box::new(authenticator));
        self
    }
}

impl Authenticator for AnyOf {
    fn authenticate(
        &self,
        credential: &Credential,
        request: &CredentialRequest,
    ) -> Result<Authenticated, AuthError> {
        for authenticator in &self.0 {
            match authenticator.authenticate(credential, request) {
                Err(error) if error.failure == AuthFailure::Missing => continue,
                decided => return decided,
            }
        }
        Err(AuthError::new(
            AuthFailure::Missing,
            "no authenticator of this node accepts this kind of credential",
        ))
    }
}

/// Where a client gets the credential it presents; asked on every connection, so a reconnect
/// gets a fresh one (set with [`Node::set_credentials`](crate::Node::set_credentials)).
/// `None` connects without a credential.
#[async_trait::async_trait]
pub trait CredentialSource: Send + Sync + 'static {
    /// A credential for the connection `request` describes.
    async fn credential(&self, request: &CredentialRequest) -> Option<Credential>;
}

#[async_trait::async_trait]
impl<F> CredentialSource for F
where
    F: Fn(&CredentialRequest) -> Option<Credential> + Send + Sync + 'static,
{
    async fn credential(&self, request: &CredentialRequest) -> Option<Credential> {
        self(request)
    }
}

/// A node's side of authentication: the authenticator it checks peers with and the
/// credential source it presents to them.
#[derive(Default)]
pub(crate) struct NodeAuth {
    authenticator: parking_lot::RwLock<Option<Arc<dyn Authenticator>>>,
    credentials: parking_lot::RwLock<Option<Arc<dyn CredentialSource>>>,
}

impl NodeAuth {
    pub(crate) fn authenticator(&self) -> Option<Arc<dyn Authenticator>> {
        self.authenticator.read().clone()
    }

    pub(crate) fn credentials(&self) -> Option<Arc<dyn CredentialSource>> {
        self.credentials.read().clone()
    }
}

impl crate::Node {
    /// Requires every peer that connects from now on to present a credential `authenticator`
    /// accepts; the identity it yields is the one the policy agent checks the peer's reads
    /// and writes under. Without one, peers are anonymous (`peer <node id>`).
    pub fn set_authenticator(&self, authenticator: impl Authenticator) {
        *self.inner.auth.authenticator.write() = Some(Arc::new(authenticator));
    }

    /// Presents a credential from `source` on every connection from now on (asked anew each
    /// time, so a reconnect gets a fresh token). The node then waits for the peer's `Hello`
    /// (and its challenge) before sending its own.
    pub fn set_credentials(&self, source: impl CredentialSource) {
        *self.inner.auth.credentials.write() = Some(Arc::new(source));
    }

    /// Whether peers must authenticate (see [`set_authenticator`](Self::set_authenticator)).
    pub fn requires_authentication(&self) -> bool {
        self.inner.auth.authenticator.read().is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &[u8] = b"a test secret of a reasonable length";

    fn request(challenge: Option<Vec<u8>>) -> CredentialRequest {
        CredentialRequest {
            challenge,
            client: NodeId::new(),
            server: NodeId::new(),
        }
    }

    fn token(claims: &impl Serialize) -> Credential {
        let key = jsonwebtoken::EncodingKey::from_secret(SECRET).expect("a secret");
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        Credential::Token(jsonwebtoken::encode(&header, claims, &key).expect("encodes"))
    }

    #[test]
    fn a_token_without_expiry_or_subject_is_invalid() {
        let auth = JwtAuthenticator::hs256(SECRET).expect("a secret");
        let no_exp = token(&serde_json::json!({"sub": "alice"}));
        let no_sub = token(&serde_json::json!({"exp": u32::MAX}));
        for credential in [no_exp, no_sub] {
            let refusal = auth
                .authenticate(&credential, &request(None))
                .expect_err("refused");
            assert_eq!(refusal.failure, AuthFailure::Invalid, "{refusal}");
        }
        let garbage = Credential::Token("not.a.token".into());
        assert_eq!(
            auth.authenticate(&garbage, &request(None))
                .expect_err("refused")
                .failure,
            AuthFailure::Invalid
        );
    }

    #[test]
    fn leeway_extends_acceptance_and_the_session() {
        let just_expired = SystemTime::now() - Duration::from_secs(5);
        let signer = JwtSigner::hs256(SECRET).expect("a secret");
        let credential = signer
            .sign(&TokenClaims::new("alice", just_expired))
            .expect("signs")
            .to_credential();
        let strict = JwtAuthenticator::hs256(SECRET).expect("a secret");
        assert_eq!(
            strict
                .authenticate(&credential, &request(None))
                .expect_err("expired")
                .failure,
            AuthFailure::Expired
        );
        let lenient = JwtAuthenticator::hs256(SECRET)
            .expect("a secret")
            .leeway(Duration::from_secs(60));
        let accepted = lenient
            .authenticate(&credential, &request(None))
            .expect("within the leeway");
        assert!(accepted.expires_at > Some(SystemTime::now()));
    }

    #[test]
    fn any_of_asks_the_authenticator_for_the_kind_of_credential() {
        let key = NodeKey::generate();
        let auth = AnyOf::new()
            .or(JwtAuthenticator::hs256(SECRET).expect("a secret"))
            .or(KeyAuthenticator::new().allow(key.public_key(), ContextData::for_principal("k")));
        let connection = request(Some(vec![9; CHALLENGE_BYTES]));
        let signed = key.sign(&connection).expect("a challenge");
        assert_eq!(
            auth.authenticate(&signed, &connection)
                .expect("the key is known")
                .identity
                .principal(),
            "k"
        );
        // The same signature over another connection's bytes is refused.
        let other = request(Some(vec![9; CHALLENGE_BYTES]));
        assert_eq!(
            auth.authenticate(&signed, &other)
                .expect_err("another connection")
                .failure,
            AuthFailure::Invalid
        );
        // A token of the wrong key is judged by the token authenticator: invalid.
        let wrong = JwtSigner::hs256(b"other")
            .expect("a secret")
            .sign(&TokenClaims::new(
                "x",
                SystemTime::now() + Duration::from_secs(60),
            ))
            .expect("signs");
        assert_eq!(
            auth.authenticate(&wrong.to_credential(), &connection)
                .expect_err("wrong key")
                .failure,
            AuthFailure::Invalid
        );
        assert!(!format!("{:?}", wrong.to_credential()).contains(&wrong.0));
    }
}
