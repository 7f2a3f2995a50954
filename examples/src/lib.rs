//! What the two-terminal demo's server and clients share: how a user gets a token and
//! the access rules of the albums.
//!
//! A real application gets its users' tokens from its login service, which signs them
//! with a key the server knows; here the client signs its own with a demo secret, so any
//! user name works. Each user sees their own albums (the `artist` field names the owner)
//! and the albums shared with everyone (artist `everyone`), and writes only albums that
//! stay theirs or shared.

use std::time::{Duration, SystemTime};

use ankurah::auth::{
    AuthError, Credential, CredentialRequest, JwtAuthenticator, JwtSigner, Token, TokenClaims,
};
use ankurah::rules::{RuleKind, RulesAgent, RulesError};

/// The artist of albums every user sees.
pub const SHARED: &str = "everyone";

/// The demo's token secret: `ANKURAH_EXAMPLE_SECRET`, or a fixed one for trying it out.
pub fn secret() -> Vec<u8> {
    std::env::var("ANKURAH_EXAMPLE_SECRET")
        .unwrap_or_else(|_| "the two-terminal demo's secret; set ANKURAH_EXAMPLE_SECRET".into())
        .into_bytes()
}

/// The server's authenticator: tokens signed with [`secret`].
pub fn authenticator() -> Result<JwtAuthenticator, ankurah::auth::AuthError> {
    JwtAuthenticator::hs256(&secret())
}

/// The client's credential source: a fresh token for `user`, good for an hour, on every
/// (re)connection.
pub fn credentials(
    user: String,
) -> Result<
    impl Fn(&CredentialRequest) -> Option<Credential> + Send + Sync + 'static,
    ankurah::auth::AuthError,
> {
    let signer = JwtSigner::hs256(&secret())?;
    Ok(move |_: &CredentialRequest| {
        let expires = SystemTime::now() + Duration::from_secs(3600);
        sign(&signer, user.clone(), expires)
            .ok()
            .map(|token| token.to_credential())
    })
}

fn sign(signer: &JwtSigner, user: String, expires: SystemTime) -> Result<Token, AuthError> {
    signer.sign(&TokenClaims::new(user, expires))
}

/// A token for `user` that expires at `expires`, signed with [`secret`]: what the `token`
/// binary prints for the browser demo, whose page cannot sign its own.
pub fn token(user: String, expires: SystemTime) -> Result<Token, AuthError> {
    sign(&JwtSigner::hs256(&secret())?, user, expires)
}

/// The access rules of the albums (the server knows no model, so it names the properties).
pub fn rules() -> Result<RulesAgent, RulesError> {
    let read = format!("artist = $user.id OR artist = '{SHARED}'");
    let write = format!(
        "($new.artist = $user.id OR $new.artist = '{SHARED}') \
         AND ($old.artist IS NULL OR $old.artist = $user.id OR $old.artist = '{SHARED}')"
    );
    RulesAgent::builder()
        .properties("album", ["name", "artist", "year"])
        .rule("album", RuleKind::Read, &read)
        .rule("album", RuleKind::Write, &write)
        .build()
}
