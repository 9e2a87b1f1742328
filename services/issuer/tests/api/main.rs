//! The issuer's integration tests, in one test binary (each binary links the whole tree).

/// The operator token the tests configure.
const TOKEN: &str = "an-operator-token-of-forty-characters-x";

mod audit;
mod crash;
mod http;
mod process;
mod runtime;
mod sign_in;
