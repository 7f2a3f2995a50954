//! The rules policy agent: AnkQL read and write rules over the entity and the identity,
//! checked against the model when loaded, deny by default, and enforced on a node's own
//! contexts (the durable node enforces them for peers the same way).

mod common;

use std::sync::Arc;

use ankurah_core::rules::{RuleKind, RulesAgent, RulesError};
use ankurah_core::storage::MemoryStorage;
use ankurah_core::{ContextData, Mutable, MutationError, Node, PolicyAgent, RetrievalError, View};
use common::{album, Album, AlbumView};

/// Everyone reads their own albums (`artist` stands for the owner here), albums with a
/// negative year are shared, editors read everything; a write keeps the album its author's.
const READ: &str = "artist = $user.id OR year < 0 OR 'editor' IN $user.roles";
const WRITE: &str = "$new.artist = $user.id AND ($old.artist IS NULL OR $old.artist = $user.id)";

fn agent() -> RulesAgent {
    RulesAgent::builder()
        .read::<Album>(READ)
        .write::<Album>(WRITE)
        .build()
        .expect("the rules are valid")
}

fn user(name: &str) -> ContextData {
    ContextData::for_principal(name)
}

#[test]
fn every_mistake_of_every_rule_is_reported_at_load() {
    let error: RulesError = RulesAgent::builder()
        .model::<Album>()
        .rule("album", RuleKind::Read, "owner = $user.id")
        .rule(
            "album",
            RuleKind::Write,
            "$old.yeer = 1 AND $user.name = 'x'",
        )
        .rule("track", RuleKind::Read, "TRUE")
        .build()
        .expect_err("the rules have mistakes");
    let text = error.to_string();
    assert_eq!(error.0.len(), 3, "{text}");
    assert!(text.contains("unknown property `owner`"), "{text}");
    assert!(text.contains("unknown reference `$user.name`"), "{text}");
    assert!(text.contains("unknown collection `track`"), "{text}");

    let read_sees_new = RulesAgent::builder()
        .read::<Album>("$new.artist = $user.id")
        .build()
        .expect_err("read rules have no $new");
    assert!(read_sees_new.to_string().contains("only write rules"));

    let from_file = RulesAgent::builder()
        .model::<Album>()
        .json(r#"{"album": {"read": "artist = $user.id", "wirte": "TRUE"}}"#)
        .build()
        .expect_err("a misspelt rule kind");
    assert!(
        from_file.to_string().contains("`album.wirte`"),
        "{from_file}"
    );
    assert!(RulesAgent::builder()
        .model::<Album>()
        .json(&format!(r#"{{"album": {{"read": "{READ}"}}}}"#))
        .build()
        .is_ok());
}

/// A rule's literals are checked against the model's types, as a query's are; what `$user`
/// stands for is known only per identity, so it is never the mistake.
#[test]
fn literals_of_the_wrong_type_are_errors_at_load() {
    let error = RulesAgent::builder()
        .read::<Album>("year = 'recent' OR artist = $user.id")
        .write::<Album>("$old.year > 'x' OR name LIKE 'A%' OR year IN $user.roles")
        .build()
        .expect_err("year never equals 'recent', nor exceeds 'x'");
    let text = error.to_string();
    assert_eq!(error.0.len(), 2, "{text}");
    assert!(
        text.contains("album.read") && text.contains("'recent' does not parse as an integer"),
        "{text}"
    );
    assert!(
        text.contains("album.write") && text.contains("`$old.year` is an integer property"),
        "{text}"
    );
    let like_on_number = RulesAgent::builder()
        .read::<Album>("year LIKE '19%'")
        .build()
        .expect_err("LIKE on an integer");
    assert!(like_on_number
        .to_string()
        .contains("LIKE matches strings only"));
    // By property names alone, types are unknown: only names are checked.
    assert!(RulesAgent::builder()
        .properties("album", ["year"])
        .rule("album", RuleKind::Read, "year = 'recent'")
        .build()
        .is_ok());
}

#[test]
fn a_read_rule_bound_to_an_identity_is_a_plain_predicate() {
    let agent = agent();
    let filter = |cx: &ContextData| {
        agent
            .read_filter(cx, &"album".into())
            .expect("album has a read rule")
            .expect("a filter")
            .to_string()
    };
    assert_eq!(
        filter(&user("alice")),
        "artist = 'alice' OR year < 0 OR FALSE"
    );
    assert_eq!(
        filter(&user("ed").with_roles(["editor"])),
        "artist = 'ed' OR year < 0 OR TRUE"
    );
    let denied = agent
        .read_filter(&user("alice"), &"track".into())
        .expect_err("no rule: denied by default");
    assert!(denied.0.contains("denied by default"), "{denied}");
}

#[tokio::test]
async fn reads_and_writes_follow_the_rules() {
    let node = Node::new_durable(Arc::new(MemoryStorage::new()), agent());
    node.system.create().await.expect("memory storage");
    let ctx = |name: &str| node.context(&user(name)).expect("a context");
    let create = async |who: &str, artist: &str, year: i32| {
        let trx = ctx(who).begin();
        let id = trx.create(&album("A", artist, year)).await?.id();
        trx.commit().await.map(|()| id)
    };

    let alices = create("alice", "alice", 2001).await.expect("her own album");
    let shared = create("bob", "bob", -1).await.expect("his shared album");
    let bobs = create("bob", "bob", 2002).await.expect("his own album");
    match create("alice", "bob", 2003).await {
        Err(MutationError::AccessDenied(denied)) => {
            assert!(denied.0.contains("album.write rule"), "{denied}")
        }
        other => panic!("an album made out to someone else is refused: {other:?}"),
    }

    let mut seen: Vec<_> = ctx("alice")
        .fetch::<AlbumView>("")
        .await
        .expect("fetch")
        .iter()
        .map(|view| view.entity().id())
        .collect();
    seen.sort();
    let mut expected = vec![alices, shared];
    expected.sort();
    assert_eq!(seen, expected, "alice sees her own and shared albums");
    match ctx("alice").get::<AlbumView>(bobs).await {
        Err(RetrievalError::AccessDenied(denied)) => {
            assert!(denied.0.contains("album.read rule"), "{denied}")
        }
        other => panic!("bob's private album is hidden from alice: {other:?}"),
    }
    let editor = node
        .context(&user("ed").with_roles(["editor"]))
        .expect("a context");
    assert_eq!(editor.fetch::<AlbumView>("").await.expect("fetch").len(), 3);

    // Bob may not take over alice's album, even naming himself in it.
    let trx = ctx("bob").begin();
    let view = node
        .context(ankurah_core::DEFAULT_CONTEXT)
        .expect("the node's own context")
        .get::<AlbumView>(alices)
        .await
        .expect("the node reads everything");
    trx.edit::<Album>(&view)
        .expect("edit")
        .artist()
        .set(&"bob".to_owned())
        .expect("set");
    assert!(matches!(
        trx.commit().await,
        Err(MutationError::AccessDenied(_))
    ));
}

#[test]
fn rules_parse_values_on_the_left_and_decide_conditions_between_values() {
    use ankurah_core::ankql::{parse_rule, parse_selection, Binding, Bindings, Path};
    use ankurah_core::{Limits, Value};
    struct Alice;
    impl Bindings for Alice {
        fn bind(&self, reference: &Path) -> Result<Binding, String> {
            match reference.0.join(".").as_str() {
                "user.id" => Ok(Binding::Value(Value::String("alice".into()))),
                "user.roles" => Ok(Binding::List(vec![Value::String("editor".into())])),
                "user.none" => Ok(Binding::List(Vec::new())),
                "new.year" => Ok(Binding::Path(Path::simple("year"))),
                other => Err(format!("unknown `${other}`")),
            }
        }
    }
    let rule = |text: &str| {
        parse_rule(text, &Alice, &Limits::default())
            .map(|p| p.to_string())
            .map_err(|e| e.to_string())
    };
    assert_eq!(rule("'editor' IN $user.roles").as_deref(), Ok("TRUE"));
    assert_eq!(rule("'admin' NOT IN $user.roles").as_deref(), Ok("TRUE"));
    assert_eq!(rule("$user.id = 'bob'").as_deref(), Ok("FALSE"));
    assert_eq!(rule("$user.id = artist").as_deref(), Ok("artist = 'alice'"));
    assert_eq!(rule("2000 < $new.year").as_deref(), Ok("year > 2000"));
    assert_eq!(rule("artist IN $user.none").as_deref(), Ok("FALSE"));
    assert_eq!(rule("artist NOT IN $user.none").as_deref(), Ok("TRUE"));
    assert_eq!(
        rule("artist IN $user.roles").as_deref(),
        Ok("artist IN ('editor')")
    );
    assert!(rule("$user.secret = 1")
        .unwrap_err()
        .contains("unknown `$user.secret`"));
    assert!(rule("$user.roles = 1")
        .unwrap_err()
        .contains("a list can only follow `IN`"));
    assert!(rule("1 < 2").unwrap_err().contains("`=` or `!=`"));
    assert!(rule("artist = 'a' ORDER BY year").is_err());
    // Queries have no `$` references.
    assert!(parse_selection("artist = $user.id", &[]).is_err());
}

/// The differential test: random read rules bound to random identities, evaluated on random
/// albums, agree with a straightforward reference evaluation of the same rule.
mod differential {
    use ankurah_core::ankql::Filterable;
    use ankurah_core::rules::{RuleKind, RulesAgent};
    use ankurah_core::{ContextData, EntityId, PolicyAgent, Value};
    use proptest::prelude::*;

    const NAMES: [&str; 3] = ["ann", "bo", "cy"];

    /// A rule, as the reference sees it.
    #[derive(Clone, Debug)]
    enum Rule {
        True,
        False,
        /// `artist = $user.id`
        OwnerIsUser,
        /// `'r' IN $user.roles`
        HasRole(&'static str),
        /// `artist IN $user.roles`
        ArtistInRoles,
        /// `year < n` (or `>`, `=`), and the same with the value on the left
        Year(u8, i64, bool),
        /// `artist = 'name'`
        ArtistIs(&'static str),
        Not(Box<Rule>),
        And(Box<Rule>, Box<Rule>),
        Or(Box<Rule>, Box<Rule>),
    }

    impl Rule {
        fn text(&self) -> String {
            match self {
                Rule::True => "TRUE".into(),
                Rule::False => "FALSE".into(),
                Rule::OwnerIsUser => "artist = $user.id".into(),
                Rule::HasRole(role) => format!("'{role}' IN $user.roles"),
                Rule::ArtistInRoles => "artist IN $user.roles".into(),
                Rule::Year(op, n, flipped) => {
                    let op = ["<", ">", "="][*op as usize % 3];
                    match flipped {
                        false => format!("year {op} {n}"),
                        // `n < year` means `year > n`.
                        true => format!("{n} {} year", mirror(op)),
                    }
                }
                Rule::ArtistIs(name) => format!("artist = '{name}'"),
                Rule::Not(inner) => format!("NOT ({})", inner.text()),
                Rule::And(l, r) => format!("({}) AND ({})", l.text(), r.text()),
                Rule::Or(l, r) => format!("({}) OR ({})", l.text(), r.text()),
            }
        }

        /// SQL's three-valued logic, written out.
        fn reference(&self, album: &Album, user: &User) -> Option<bool> {
            match self {
                Rule::True => Some(true),
                Rule::False => Some(false),
                Rule::OwnerIsUser => album.artist.as_ref().map(|a| *a == user.id),
                Rule::HasRole(role) => Some(user.roles.iter().any(|r| r == role)),
                Rule::ArtistInRoles if user.roles.is_empty() => Some(false),
                Rule::ArtistInRoles => album.artist.as_ref().map(|a| user.roles.contains(a)),
                Rule::Year(op, n, _) => album.year.map(|year| match op % 3 {
                    0 => year < *n,
                    1 => year > *n,
                    _ => year == *n,
                }),
                Rule::ArtistIs(name) => album.artist.as_ref().map(|a| a == name),
                Rule::Not(inner) => inner.reference(album, user).map(|b| !b),
                Rule::And(l, r) => match (l.reference(album, user), r.reference(album, user)) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                },
                Rule::Or(l, r) => match (l.reference(album, user), r.reference(album, user)) {
                    (Some(true), _) | (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                },
            }
        }
    }

    fn mirror(op: &str) -> &str {
        match op {
            "<" => ">",
            ">" => "<",
            other => other,
        }
    }

    #[derive(Clone, Debug)]
    struct Album {
        id: EntityId,
        artist: Option<String>,
        year: Option<i64>,
    }

    impl Filterable for Album {
        fn entity_id(&self) -> EntityId {
            self.id
        }
        fn value(&self, property: &str) -> Option<Value> {
            match property {
                "artist" => self.artist.clone().map(Value::String),
                "year" => self.year.map(Value::I64),
                _ => None,
            }
        }
    }

    #[derive(Clone, Debug)]
    struct User {
        id: String,
        roles: Vec<String>,
    }

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(&NAMES[..])
    }

    fn rule() -> impl Strategy<Value = Rule> {
        let leaf = prop_oneof![
            Just(Rule::True),
            Just(Rule::False),
            Just(Rule::OwnerIsUser),
            Just(Rule::ArtistInRoles),
            name().prop_map(Rule::HasRole),
            name().prop_map(Rule::ArtistIs),
            (0u8..3, -2i64..3, any::<bool>()).prop_map(|(op, n, f)| Rule::Year(op, n, f)),
        ];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|r| Rule::Not(Box::new(r))),
                (inner.clone(), inner.clone())
                    .prop_map(|(l, r)| Rule::And(Box::new(l), Box::new(r))),
                (inner.clone(), inner).prop_map(|(l, r)| Rule::Or(Box::new(l), Box::new(r))),
            ]
        })
    }

    fn album() -> impl Strategy<Value = Album> {
        (
            prop::option::weighted(0.9, name().prop_map(String::from)),
            prop::option::weighted(0.9, -2i64..3),
        )
            .prop_map(|(artist, year)| Album {
                id: EntityId::new(),
                artist,
                year,
            })
    }

    fn user() -> impl Strategy<Value = User> {
        (name(), prop::collection::vec(name(), 0..3)).prop_map(|(id, roles)| User {
            id: id.into(),
            roles: roles.into_iter().map(String::from).collect(),
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn bound_rules_agree_with_the_reference(
            rule in rule(),
            users in prop::collection::vec(user(), 1..4),
            albums in prop::collection::vec(album(), 1..12),
        ) {
            let text = rule.text();
            let agent = RulesAgent::builder()
                .properties("album", ["artist", "year"])
                .rule("album", RuleKind::Read, &text)
                .build()
                .expect("generated rules are valid");
            for user in &users {
                let cx = ContextData::for_principal(user.id.clone()).with_roles(user.roles.clone());
                let filter = agent
                    .read_filter(&cx, &"album".into())
                    .expect("a read rule")
                    .expect("a filter");
                for album in &albums {
                    prop_assert_eq!(
                        filter.evaluate(album),
                        rule.reference(album, user),
                        "rule `{}` bound to {:?} as `{}` on {:?}", text, user, filter, album
                    );
                }
            }
        }
    }
}
