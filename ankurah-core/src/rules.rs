//! [`RulesAgent`]: a [`PolicyAgent`] whose decisions are AnkQL predicates, a `read` and a
//! `write` rule per collection, over the entity and the identity acting.
//!
//! ```text
//! read:  owner = $user.id OR shared = true OR 'editor' IN $user.roles
//! write: $new.owner = $user.id AND ($old.owner IS NULL OR $old.owner = $user.id)
//! ```
//!
//! - `$user.id` is the principal of the context (for a peer: what the node's
//!   [`Authenticator`](crate::auth::Authenticator) made of its credential), `$user.roles`
//!   its roles (a list: `'editor' IN $user.roles`, `owner IN $user.roles`).
//! - In a write rule, `$new.p` (or plain `p`) is property `p` after the change, `$old.p`
//!   before it (NULL for a creation). A write rule is checked for every event, deletions
//!   included.
//! - **Deny by default**: a collection without a read (write) rule can be read (written) by
//!   nobody but the node itself ([`DEFAULT_CONTEXT`]).
//! - Rules are checked when they are loaded: a rule that does not parse, uses an unknown
//!   `$` reference, names a property the model does not have, or (for collections known by
//!   their model) compares a property with a literal of a type it never equals, as queries
//!   are checked (`shared = 'true'` on a bool), is an error then, with every mistake of
//!   every rule in one [`RulesError`].
//!
//! A read rule bound to an identity is an ordinary predicate, so the durable node ANDs it
//! into the selections of fetches and subscriptions ([`PolicyAgent::read_filter`]) and the
//! storage engine uses its indexes for it.
//!
//! ```
//! use ankurah_core::rules::{RuleKind, RulesAgent};
//! use ankurah_core::{ContextData, PolicyAgent};
//!
//! // With models: `.read::<Album>("…")`; here the collection's properties are named directly.
//! let agent = RulesAgent::builder()
//!     .properties("album", ["name", "owner", "shared"])
//!     .rule("album", RuleKind::Read, "owner = $user.id OR 'editor' IN $user.roles")
//!     .rule("album", RuleKind::Write, "$new.owner = $user.id")
//!     .build()
//!     .unwrap();
//! let alice = ContextData::for_principal("alice");
//! let filter = agent.read_filter(&alice, &"album".into()).unwrap();
//! assert_eq!(filter.unwrap().to_string(), "owner = 'alice' OR FALSE");
//!
//! let typo = RulesAgent::builder()
//!     .properties("album", ["name", "owner"])
//!     .rule("album", RuleKind::Read, "ownr = $user.id")
//!     .build();
//! assert!(typo.unwrap_err().to_string().contains("unknown property `ownr`"));
//! //! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::ankql::{parse_rule, Binding, Bindings, Filterable, Path, Predicate};
use crate::collection::CollectionId;
use crate::entity::Entity;
use crate::event::Event;
use crate::id::EntityId;
use crate::limits::Limits;
use crate::model::{Model, PropertyDescriptor};
use crate::policy::{AccessDenied, ContextData, PolicyAgent, DEFAULT_CONTEXT};
use crate::typecheck::check_rule;
use crate::value::Value;

/// The path prefix a write rule's `$old.p` becomes: `$old.p` is one path segment, so the
/// evaluator asks the before-and-after pair for it by that name.
const OLD: &str = "$old.";

/// Bound rules kept per identity before the cache is emptied and starts over.
const CACHED_BINDINGS: usize = 10_000;

/// Which of a collection's two rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    /// Who may read an entity (and so receive it by any path).
    Read,
    /// Who may make a change (each event, with the state before and after it).
    Write,
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleKind::Read => "read",
            RuleKind::Write => "write",
        })
    }
}

/// Everything wrong with a set of rules, found when loading them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} rule error(s): {}", .0.len(), .0.join("; "))]
pub struct RulesError(pub Vec<String>);

/// One collection's model and rules, as loaded.
#[derive(Clone, Debug, Default)]
struct CollectionRules {
    properties: Vec<String>,
    /// The model's descriptors, to check the types of literals (empty when the collection
    /// was made known by property names only).
    types: &'static [PropertyDescriptor],
    read: Option<String>,
    write: Option<String>,
}

/// Collects rules and the models they are about; [`build`](Self::build) checks them.
#[derive(Debug, Default)]
pub struct RulesBuilder {
    collections: BTreeMap<CollectionId, CollectionRules>,
    errors: Vec<String>,
    limits: Limits,
}

impl RulesBuilder {
    /// Makes `M`'s collection known (its properties are what rules may name).
    pub fn model<M: Model>(mut self) -> Self {
        let entry = self.collections.entry(M::collection()).or_default();
        entry.properties = M::properties().iter().map(|p| p.name.to_owned()).collect();
        entry.types = M::properties();
        self
    }

    /// Makes `collection` known with these properties (what [`model`](Self::model) does
    /// from a model's descriptors).
    pub fn properties(
        mut self,
        collection: impl Into<CollectionId>,
        properties: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let entry = self.collections.entry(collection.into()).or_default();
        entry.properties = properties.into_iter().map(Into::into).collect();
        self
    }

    /// The read rule of `M`'s collection.
    pub fn read<M: Model>(self, rule: &str) -> Self {
        self.model::<M>()
            .rule(M::collection(), RuleKind::Read, rule)
    }

    /// The write rule of `M`'s collection.
    pub fn write<M: Model>(self, rule: &str) -> Self {
        self.model::<M>()
            .rule(M::collection(), RuleKind::Write, rule)
    }

    /// The `kind` rule of a collection made known before (an unknown one is an error at
    /// [`build`](Self::build)).
    pub fn rule(mut self, collection: impl Into<CollectionId>, kind: RuleKind, rule: &str) -> Self {
        let collection = collection.into();
        let Some(entry) = self.collections.get_mut(&collection) else {
            self.errors.push(format!(
                "a {kind} rule for unknown collection `{collection}`; make it known with `.model::<M>()` first"
            ));
            return self;
        };
        let slot = match kind {
            RuleKind::Read => &mut entry.read,
            RuleKind::Write => &mut entry.write,
        };
        *slot = Some(rule.to_owned());
        self
    }

    /// Loads rules from JSON text (a rules file): `{"album": {"read": "…", "write": "…"}}`.
    /// Each collection named must have been made known with [`model`](Self::model) first.
    pub fn json(mut self, text: &str) -> Self {
        type File = BTreeMap<String, BTreeMap<String, String>>;
        let file: File = match serde_json::from_str(text) {
            Ok(file) => file,
            Err(error) => {
                self.errors.push(format!(
                    "the rules file is not JSON of the form {{\"collection\": {{\"read\": \"…\", \"write\": \"…\"}}}}: {error}"
                ));
                return self;
            }
        };
        for (collection, rules) in file {
            let Some(entry) = self
                .collections
                .get_mut(&CollectionId::from(collection.as_str()))
            else {
                let known: Vec<_> = self.collections.keys().map(|c| c.to_string()).collect();
                self.errors.push(format!(
                    "rules for unknown collection `{collection}` (known: {}); add its model with `.model::<M>()` first",
                    known.join(", ")
                ));
                continue;
            };
            for (kind, rule) in rules {
                match kind.as_str() {
                    "read" => entry.read = Some(rule),
                    "write" => entry.write = Some(rule),
                    other => self.errors.push(format!(
                        "`{collection}.{other}`: a collection has a `read` and a `write` rule only"
                    )),
                }
            }
        }
        self
    }

    /// Checks every rule against its model and returns the agent, or every mistake found.
    pub fn build(self) -> Result<RulesAgent, RulesError> {
        let mut errors = self.errors;
        for (collection, rules) in &self.collections {
            for (kind, rule) in [
                (RuleKind::Read, &rules.read),
                (RuleKind::Write, &rules.write),
            ] {
                let Some(text) = rule else { continue };
                let name = format!("{collection}.{kind}");
                match bind(text, kind, None, &self.limits) {
                    Err(error) => errors.push(format!("{name} `{text}`: {error}")),
                    Ok(predicate) => {
                        let before = errors.len();
                        let mut paths = Vec::new();
                        collect_paths(&predicate, &mut paths);
                        for path in paths {
                            let property = path.property().trim_start_matches(OLD);
                            if property != "id" && !rules.properties.iter().any(|p| p == property) {
                                errors.push(format!(
                                    "{name} `{text}`: unknown property `{property}` ({collection} has: id, {})",
                                    rules.properties.join(", ")
                                ));
                            }
                        }
                        let named_known = errors.len() == before;
                        if named_known && !rules.types.is_empty() {
                            if let Err(error) =
                                check_rule(collection.as_str(), rules.types, &predicate, OLD)
                            {
                                errors.push(format!("{name} `{text}`: {error}"));
                            }
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(RulesError(errors));
        }
        Ok(RulesAgent {
            collections: self.collections,
            limits: self.limits,
            bound: Mutex::default(),
        })
    }
}

/// One rule bound to an identity.
type Bound = (CollectionId, RuleKind, Arc<Predicate>);

/// A [`PolicyAgent`] of AnkQL rules; see the [module docs](self).
pub struct RulesAgent {
    collections: BTreeMap<CollectionId, CollectionRules>,
    limits: Limits,
    /// Rules bound to identities, so checking many entities parses each rule once (looked
    /// up by borrowed identity: a check allocates nothing).
    bound: Mutex<HashMap<ContextData, Vec<Bound>>>,
}

impl fmt::Debug for RulesAgent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RulesAgent")
            .field("collections", &self.collections.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RulesAgent {
    /// Starts a set of rules.
    pub fn builder() -> RulesBuilder {
        RulesBuilder::default()
    }

    /// The rule of `kind` for `collection`, bound to `cx`, or why there is none.
    fn bound(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
        kind: RuleKind,
    ) -> Result<(Arc<Predicate>, &str), AccessDenied> {
        let text = self
            .collections
            .get(collection)
            .and_then(|rules| match kind {
                RuleKind::Read => rules.read.as_deref(),
                RuleKind::Write => rules.write.as_deref(),
            })
            .ok_or_else(|| {
                AccessDenied(format!(
                    "{collection} has no {kind} rule: with rules installed, access is denied by default"
                ))
            })?;
        let cached = self.bound.lock().get(cx).and_then(|rules| {
            rules
                .iter()
                .find(|(c, k, _)| c == collection && *k == kind)
                .map(|(_, _, predicate)| predicate.clone())
        });
        if let Some(predicate) = cached {
            return Ok((predicate, text));
        }
        // Checked at load with another identity; a principal cannot make it fail now,
        // but deny rather than allow if it somehow does.
        let predicate = Arc::new(bind(text, kind, Some(cx), &self.limits).map_err(|error| {
            AccessDenied(format!("{collection}.{kind} rule `{text}` failed: {error}"))
        })?);
        let mut bound = self.bound.lock();
        if bound.len() >= CACHED_BINDINGS {
            bound.clear();
        }
        bound
            .entry(cx.clone())
            .or_default()
            .push((collection.clone(), kind, predicate.clone()));
        Ok((predicate, text))
    }
}

impl PolicyAgent for RulesAgent {
    fn check_read(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
        entity: &Entity,
    ) -> Result<(), AccessDenied> {
        if cx == DEFAULT_CONTEXT {
            return Ok(());
        }
        let (rule, text) = self.bound(cx, collection, RuleKind::Read)?;
        if rule.matches(entity) {
            return Ok(());
        }
        Err(AccessDenied(format!(
            "{collection}.read rule `{text}` does not let {cx} read {collection} {}",
            entity.id()
        )))
    }

    fn check_write(
        &self,
        cx: &ContextData,
        event: &Event,
        before: Option<&Entity>,
    ) -> Result<(), AccessDenied> {
        if cx == DEFAULT_CONTEXT {
            return Ok(());
        }
        let after = match before {
            Some(before) => before.snapshot(),
            None => Entity::empty(event.entity_id, event.collection.clone()),
        };
        after.apply_event(event).map_err(|error| {
            AccessDenied(format!(
                "{}.write rule: the event {} cannot be applied to check it: {error}",
                event.collection, event.id
            ))
        })?;
        self.check_change(cx, event, before, &after)
    }

    fn check_change(
        &self,
        cx: &ContextData,
        event: &Event,
        before: Option<&Entity>,
        after: &Entity,
    ) -> Result<(), AccessDenied> {
        if cx == DEFAULT_CONTEXT {
            return Ok(());
        }
        let collection = &event.collection;
        let (rule, text) = self.bound(cx, collection, RuleKind::Write)?;
        if rule.matches(&Change { before, after }) {
            return Ok(());
        }
        Err(AccessDenied(format!(
            "{collection}.write rule `{text}` does not let {cx} make this change to {collection} {}",
            event.entity_id
        )))
    }

    fn read_filter(
        &self,
        cx: &ContextData,
        collection: &CollectionId,
    ) -> Result<Option<Predicate>, AccessDenied> {
        if cx == DEFAULT_CONTEXT {
            return Ok(None);
        }
        let (rule, _) = self.bound(cx, collection, RuleKind::Read)?;
        Ok(Some((*rule).clone()))
    }
}

/// A write as a write rule sees it: `$old.p` from before, everything else from after.
struct Change<'a> {
    before: Option<&'a Entity>,
    after: &'a Entity,
}

impl Filterable for Change<'_> {
    fn entity_id(&self) -> EntityId {
        self.after.id()
    }

    fn value(&self, property: &str) -> Option<Value> {
        match property.strip_prefix(OLD) {
            Some("id") => self.before.map(|before| Value::EntityId(before.id())),
            Some(property) => self.before.and_then(|before| before.value(property)),
            None => self.after.value(property),
        }
    }
}

/// What a rule's `$` references stand for, for one identity; with none (when rules are
/// checked at load), `$user.id` and each role stand for NULL, which every type compares
/// with, so only the rule's own literals are type-checked.
struct RuleBindings<'a> {
    kind: RuleKind,
    cx: Option<&'a ContextData>,
}

impl Bindings for RuleBindings<'_> {
    fn bind(&self, reference: &Path) -> Result<Binding, String> {
        let segments = &reference.0;
        let rest = || segments.get(1..).unwrap_or_default().to_vec();
        match (segments.first().map(String::as_str), self.kind) {
            (Some("user"), _) => match segments.get(1..).unwrap_or_default() {
                [id] if id == "id" => Ok(Binding::Value(match self.cx {
                    Some(cx) => Value::String(cx.principal().to_owned()),
                    None => Value::Null,
                })),
                [roles] if roles == "roles" => Ok(Binding::List(match self.cx {
                    Some(cx) => cx
                        .roles()
                        .iter()
                        .map(|role| Value::String(role.clone()))
                        .collect(),
                    None => vec![Value::Null],
                })),
                _ => Err(format!(
                    "unknown reference `${}`: rules know `$user.id` and `$user.roles`",
                    segments.join(".")
                )),
            },
            (Some("new"), RuleKind::Write) if segments.len() > 1 => Ok(Binding::Path(Path(rest()))),
            (Some("old"), RuleKind::Write) if segments.len() > 1 => {
                let mut path = rest();
                path[0] = format!("{OLD}{}", path[0]);
                Ok(Binding::Path(Path(path)))
            }
            (Some("new" | "old"), RuleKind::Read) => Err(format!(
                "`${}`: only write rules see the entity before (`$old`) and after (`$new`) a change",
                segments.join(".")
            )),
            _ => Err(format!(
                "unknown reference `${}`: rules know `$user.id`, `$user.roles` and, in write rules, `$new.<property>` and `$old.<property>`",
                segments.join(".")
            )),
        }
    }
}

/// `text` as a predicate for `cx` (or, without one, for checking it).
fn bind(
    text: &str,
    kind: RuleKind,
    cx: Option<&ContextData>,
    limits: &Limits,
) -> Result<Predicate, crate::ankql::ParseError> {
    parse_rule(text, &RuleBindings { kind, cx }, limits)
}

/// Every path a predicate reads (the parser bounds its depth).
fn collect_paths<'a>(predicate: &'a Predicate, out: &mut Vec<&'a Path>) {
    match predicate {
        Predicate::True | Predicate::False => {}
        Predicate::And(left, right) | Predicate::Or(left, right) => {
            collect_paths(left, out);
            collect_paths(right, out);
        }
        Predicate::Not(inner) => collect_paths(inner, out),
        Predicate::Comparison { path, .. }
        | Predicate::Like { path, .. }
        | Predicate::In { path, .. }
        | Predicate::IsNull { path, .. } => out.push(path),
    }
}
