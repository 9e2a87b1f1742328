//! Faults injected under load, every answer audited: into the local topology (`local`,
//! `make fault-test`) and into a cluster through its entrance (`cluster`,
//! `make cluster-fault-test`).

pub mod cluster;
pub mod local;
