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
