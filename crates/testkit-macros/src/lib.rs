//! `#[db_test]` marks a Tokio test that needs a MongoDB-wire server or the OpenID Connect
//! test provider (Node.js with the npm packages): it is ignored by a
//! plain `cargo test`, with the one reason written here, and run by `make test` (which
//! passes `--include-ignored` and a database). Arguments go to `#[tokio::test]`:
//! `#[db_test(flavor = "multi_thread")]`.

use proc_macro::TokenStream;

const REASON: &str =
    "needs MongoDB or the test identity provider: `make test`, or MONGODB_URI=... cargo test -- --include-ignored";

#[proc_macro_attribute]
pub fn db_test(arguments: TokenStream, test: TokenStream) -> TokenStream {
    let tokio = if arguments.is_empty() {
        "#[::tokio::test]".to_owned()
    } else {
        format!("#[::tokio::test({arguments})]")
    };
    let mut expanded: TokenStream = format!("{tokio} #[ignore = {REASON:?}]")
        .parse()
        .expect("two attributes");
    expanded.extend(test);
    expanded
}
