//! permisosctl: the operators' CLI for the permisos system on Kubernetes. The commands'
//! decisions live in `assess` (pure functions over the API's types); each command module
//! gathers what it judges from the cluster (or the services) and reports it.

pub mod assess;
pub mod audit;
pub mod chaos;
pub mod cli;
pub mod cluster;
pub mod entrance;
pub mod error;
pub mod hosts;
pub mod keys;
pub mod operator_api;
pub mod phases;
pub mod smoke;
pub mod snapshot;
pub mod status;
pub mod wait;
