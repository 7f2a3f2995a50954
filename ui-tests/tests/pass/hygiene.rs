//! Generated code names the runtime through `::ankurah::__private` and calls methods by path,
//! so user items shadowing std names, prelude derives or method names change nothing; models
//! also work inside functions.
#![deny(warnings)]
#![allow(dead_code)]

type Result<T> = std::result::Result<T, ()>;
type Option = ();
type String = ();
struct Arc;
struct Box;
struct Vec;
trait Clone {}
trait Default {}
mod ankurah {}
/// Methods a generated method call could pick up by mistake.
trait Everywhere {
    fn id(&self) {}
    fn clone(&self) {}
    fn edit(&self) {}
    fn delete(&self) {}
}
impl<T: ?Sized> Everywhere for T {}
#[allow(unused_macros)]
macro_rules! vec {
    () => {};
}

#[derive(::ankurah::Model)]
pub struct Album {
    pub name: std::string::String,
    pub year: i32,
}

fn main() {
    #[derive(::ankurah::Model)]
    struct Local {
        name: std::string::String,
    }
    let _ = ::ankurah::selection!(Album: name = "x" AND year IN (1, 2) ORDER BY year LIMIT 1);
    let _ = ::ankurah::selection!(Local: name LIKE "x%");
    let _ = |view: &LocalView| view.name();
}
