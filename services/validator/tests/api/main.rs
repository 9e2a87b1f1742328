//! The validator's integration tests, in one test binary (each binary links the whole tree).

mod http;
mod process;
mod signed;
