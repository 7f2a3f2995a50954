//! [`JsTokenSource`]: the browser client's credentials, from a JS token getter.

use ankurah_core::auth::{Credential, CredentialRequest, CredentialSource};
use js_sys::{Function, Promise};
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A credential source calling a JS function for a signed token on every connection, as
/// the native client's source signs a fresh one: the function returns the token (a JWT in
/// compact form) or a promise of it, e.g. from the application's login service. A getter
/// that throws, rejects or returns no string connects without a credential (which a server
/// with an authenticator refuses, and the client retries with backoff).
///
/// ```ignore
/// node.set_credentials(JsTokenSource::new(get_token)); // get_token: js_sys::Function
/// let connection = WebsocketClient::start(node.clone(), "ws://127.0.0.1:9797");
/// ```
#[derive(Debug)]
pub struct JsTokenSource {
    // Credential sources must be `Send`; in the browser it stays on its one thread.
    getter: SendWrapper<Function>,
}

impl JsTokenSource {
    /// A source asking `getter()` for the token.
    pub fn new(getter: Function) -> Self {
        JsTokenSource {
            getter: SendWrapper::new(getter),
        }
    }
}

/// What `getter()` returns, awaited if it is a promise.
async fn token(getter: Function) -> Option<String> {
    let returned = getter.call0(&JsValue::NULL).ok()?;
    let value = match returned.dyn_into::<Promise>() {
        Ok(promise) => JsFuture::from(promise).await.ok()?,
        Err(value) => value,
    };
    value.as_string()
}

#[async_trait::async_trait]
impl CredentialSource for JsTokenSource {
    async fn credential(&self, _request: &CredentialRequest) -> Option<Credential> {
        let getter = Function::clone(&self.getter);
        SendWrapper::new(token(getter)).await.map(Credential::Token)
    }
}
