//! Signed bearer tokens (JWT): [`JwtAuthenticator`] verifies them, [`JwtSigner`] issues them.
//!
//! A token names the user (`sub`), when it expires (`exp`, required) and optionally the
//! user's `roles`; it is signed with HS256 (a shared secret) or EdDSA (ed25519: the server
//! needs only the issuer's public key). The `alg` of a token must be the one the
//! authenticator was made for, so a token cannot choose its own verification.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{
    AuthError, AuthFailure, Authenticated, Authenticator, Credential, CredentialRequest,
    CredentialSource,
};
use crate::policy::ContextData;

/// The claims of an Ankurah token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The user id: the principal of the peer's identity.
    pub sub: String,
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// The user's roles (`$user.roles` in access rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

impl TokenClaims {
    /// Claims for `user`, valid until `expires` (rounded down to the second).
    pub fn new(user: impl Into<String>, expires: SystemTime) -> Self {
        let exp = expires
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        TokenClaims {
            sub: user.into(),
            exp,
            roles: Vec::new(),
        }
    }

    /// The same claims with `roles`.
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// Issues tokens (on the server, or on whatever service logs users in).
pub struct JwtSigner {
    key: EncodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for JwtSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtSigner({:?})", self.algorithm)
    }
}

impl JwtSigner {
    /// Signs with HMAC-SHA256 and `secret` (use at least 32 random bytes).
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        let key = EncodingKey::from_secret(secret)
            .map_err(|e| AuthError::new(AuthFailure::Invalid, format!("HS256 secret: {e}")))?;
        Ok(JwtSigner {
            key,
            algorithm: Algorithm::HS256,
        })
    }

    /// Signs with EdDSA and the ed25519 key `seed` (its public key, for the
    /// [`JwtAuthenticator`], is [`NodeKey::public_key`](super::NodeKey::public_key) of
    /// the same seed).
    pub fn eddsa(seed: &[u8; 32]) -> Result<Self, AuthError> {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let der = ed25519_dalek::SigningKey::from_bytes(seed)
            .to_pkcs8_der()
            .map_err(|e| AuthError::new(AuthFailure::Invalid, format!("EdDSA key: {e}")))?;
        Ok(JwtSigner {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            algorithm: Algorithm::EdDSA,
        })
    }

    /// A signed token carrying `claims`.
    pub fn sign(&self, claims: &TokenClaims) -> Result<Token, AuthError> {
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, &self.key)
            .map(Token)
            .map_err(|e| AuthError::new(AuthFailure::Invalid, format!("signing a token: {e}")))
    }
}

/// A signed token, presented as it is on every connection (a [`CredentialSource`]). For
/// tokens that expire, give the node a source that asks for a fresh one instead.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// The token as a credential.
    pub fn to_credential(&self) -> Credential {
        Credential::Token(self.0.clone())
    }
}

#[async_trait::async_trait]
impl CredentialSource for Token {
    async fn credential(&self, _request: &CredentialRequest) -> Option<Credential> {
        Some(self.to_credential())
    }
}

/// Verifies bearer tokens: signature, algorithm and expiry; the identity is `sub` with
/// `roles`.
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwtAuthenticator({:?})", self.validation.algorithms)
    }
}

impl JwtAuthenticator {
    /// Accepts tokens signed with HMAC-SHA256 and `secret` (an empty secret is an error).
    pub fn hs256(secret: &[u8]) -> Result<Self, AuthError> {
        let key = DecodingKey::from_secret(secret)
            .map_err(|e| AuthError::new(AuthFailure::Invalid, format!("HS256 secret: {e}")))?;
        Ok(Self::with_key(key, Algorithm::HS256))
    }

    /// Accepts tokens signed with EdDSA by the holder of the ed25519 `public_key`.
    pub fn eddsa(public_key: &[u8; 32]) -> Self {
        Self::with_key(DecodingKey::from_ed_der(public_key), Algorithm::EdDSA)
    }

    fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        JwtAuthenticator { key, validation }
    }

    /// Accepts tokens up to `leeway` past their expiry (clock differences between the
    /// issuer and this node; none by default). Sessions end that long after `exp` too.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    /// Accepts only tokens whose `iss` is `issuer`.
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.validation.set_issuer(&[issuer]);
        self
    }

    /// Accepts only tokens whose `aud` names `audience`.
    pub fn audience(mut self, audience: &str) -> Self {
        self.validation.set_audience(&[audience]);
        self
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(
        &self,
        credential: &Credential,
        _request: &CredentialRequest,
    ) -> Result<Authenticated, AuthError> {
        let Credential::Token(token) = credential else {
            return Err(AuthError::new(
                AuthFailure::Missing,
                "this node accepts signed tokens only",
            ));
        };
        let data = jsonwebtoken::decode::<TokenClaims>(token, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::ExpiredSignature => AuthError::new(
                    AuthFailure::Expired,
                    "the token has expired; present a fresh one",
                ),
                _ => AuthError::new(AuthFailure::Invalid, format!("token refused: {e}")),
            })?;
        let claims = data.claims;
        let expires_at = UNIX_EPOCH + Duration::from_secs(claims.exp + self.validation.leeway);
        Ok(Authenticated {
            identity: ContextData::for_principal(claims.sub).with_roles(claims.roles),
            expires_at: Some(expires_at),
        })
    }
}
