//! Access control: a [`PolicyAgent`] decides what a context may read and write, on the local
//! node and again on the durable node for everything arriving from peers.

use std::borrow::Cow;
use std::fmt;

use crate::ankql::Predicate;
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::event::Event;

/// Who is acting: the identity a [`Context`](crate::Context) carries to the policy agent —
/// a principal (the user id) and the roles it holds. On a durable node a peer's identity is
/// what the node's [`Authenticator`](crate::auth::Authenticator) made of its credential.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContextData {
    principal: Cow<'static, str>,
    roles: Vec<String>,
}

impl ContextData {
    /// A context acting as `principal`.
    pub const fn new(principal: &'static str) -> Self {
        ContextData {
            principal: Cow::Borrowed(principal),
            roles: Vec::new(),
        }
    }

    /// A context for a principal known only at run time (e.g. a logged-in user).
    pub fn for_principal(principal: impl Into<String>) -> Self {
        ContextData {
            principal: Cow::Owned(principal.into()),
            roles: Vec::new(),
        }
    }

    /// The same principal holding `roles` (e.g. the `roles` claim of a token).
    pub fn with_roles(mut self, roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// The principal's name: the user id for an authenticated peer.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    /// The roles the principal holds.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }
}

impl fmt::Display for ContextData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.principal)
    }
}

/// The context of code that runs with the node's own authority.
pub const DEFAULT_CONTEXT: &ContextData = &ContextData::new("default");

/// Decides what a context may do. Every method defaults to allowing, so an agent overrides
/// only the checks it cares about.
pub trait PolicyAgent: Send + Sync + 'static {
    /// May this context be opened on the node at all?
    fn check_context(&self, _cx: &ContextData) -> Result<(), AccessDenied> {
        Ok(())
    }

    /// May this context read this entity?
    fn check_read(
        &self,
        _cx: &ContextData,
        _collection: &CollectionId,
        _entity: &Entity,
    ) -> Result<(), AccessDenied> {
        Ok(())
    }

    /// May this context make this change? `before` is the entity before the event (`None` for
    /// a creation).
    fn check_write(
        &self,
        _cx: &ContextData,
        _event: &Event,
        _before: Option<&Entity>,
    ) -> Result<(), AccessDenied> {
        Ok(())
    }

    /// [`check_write`](Self::check_write) where the node already has the entity after the
    /// event (`after`: `before` with the event applied), so an agent that judges the result
    /// need not compute it again. Nodes call this one; by default it asks `check_write`.
    fn check_change(
        &self,
        cx: &ContextData,
        event: &Event,
        before: Option<&Entity>,
        _after: &Entity,
    ) -> Result<(), AccessDenied> {
        self.check_write(cx, event, before)
    }

    /// A predicate the durable node ANDs into every selection this context fetches or
    /// subscribes to in `collection`, so storage narrows the result with its indexes and a
    /// live query drops an entity the moment it stops matching; `None` (the default) adds
    /// nothing. It must never admit what [`check_read`](Self::check_read) refuses: every
    /// entity sent is checked with that all the same.
    fn read_filter(
        &self,
        _cx: &ContextData,
        _collection: &CollectionId,
    ) -> Result<Option<Predicate>, AccessDenied> {
        Ok(None)
    }

    /// May the peer authenticated as `peer` send this event, made by `event.author`? A
    /// durable node with an [`Authenticator`](crate::auth::Authenticator) asks for every
    /// event a peer commits and every ancestor it sends. By default only the author itself
    /// may ([`author_is_peer`]); override it to allow delegations (a trusted relay, say).
    fn check_author(&self, peer: &ContextData, event: &Event) -> Result<(), AccessDenied> {
        author_is_peer(peer, event)
    }
}

/// The default of [`PolicyAgent::check_author`]: only the author itself may send its events.
pub fn author_is_peer(peer: &ContextData, event: &Event) -> Result<(), AccessDenied> {
    if event.author == peer.principal() {
        return Ok(());
    }
    Err(AccessDenied(format!(
        "event {} of {} {} claims to be made by {:?}, but the peer sending it is authenticated \
         as {:?}; commit it from a context of the peer's own identity",
        event.id,
        event.collection,
        event.entity_id,
        event.author,
        peer.principal()
    )))
}

/// Allows everything: for development, tests and single-user apps.
#[derive(Clone, Copy, Debug, Default)]
pub struct PermissiveAgent;

impl PermissiveAgent {
    /// The agent.
    pub fn new() -> Self {
        PermissiveAgent
    }
}

impl PolicyAgent for PermissiveAgent {}

/// The policy agent refused an operation.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[error("access denied: {0}")]
pub struct AccessDenied(pub String);
