//! `ankurah token`: signs a token for a server started with `--token-key`.

use std::time::{Duration, SystemTime};

use ankurah::auth::{JwtSigner, TokenClaims};
use clap::Args;

use crate::CliError;

/// Sign an HS256 token for a user, for servers that check tokens with that secret.
#[derive(Debug, Args)]
#[command(after_help = "\
Prints the token (a JWT) on one line. Give it to the other commands with --token (or in
$ANKURAH_TOKEN). The server must know the same secret: `ankurah serve --token-key SECRET`,
or the example server, whose secret is $ANKURAH_EXAMPLE_SECRET or its built-in default. A
real application's login service issues tokens; this is for trying things and for tools.

Examples:
  ankurah serve --sled ./data --token-key s3cret &
  ankurah query album --server ws://127.0.0.1:9797 --token \"$(ankurah token alice --key s3cret)\"
  export ANKURAH_TOKEN=$(ankurah token admin --key s3cret --role admin --hours 8)")]
pub struct Token {
    /// The user: the principal the server's access rules see.
    pub user: String,
    /// The secret the server checks tokens with (also $ANKURAH_TOKEN_KEY).
    #[arg(
        long,
        value_name = "SECRET",
        env = "ANKURAH_TOKEN_KEY",
        hide_env_values = true
    )]
    pub key: String,
    /// A role of the user (repeat for more): `$user.roles` in access rules.
    #[arg(long, value_name = "ROLE")]
    pub role: Vec<String>,
    /// How long the token is good for.
    #[arg(long, value_name = "HOURS", default_value_t = 1)]
    pub hours: u64,
}

impl Token {
    /// Signs and prints the token.
    pub async fn run(self) -> Result<(), CliError> {
        let signer = JwtSigner::hs256(self.key.as_bytes())?;
        let expires = SystemTime::now() + Duration::from_secs(self.hours.saturating_mul(3600));
        let claims = TokenClaims::new(self.user, expires).with_roles(self.role);
        println!("{}", signer.sign(&claims)?.0);
        Ok(())
    }
}
