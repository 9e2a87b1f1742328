//! What the supervisor prints as it goes.

/// A step of a long task, as the scripts print them.
pub fn step(what: &str) {
    println!("\n==> {what}");
}
