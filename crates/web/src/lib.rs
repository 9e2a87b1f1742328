//! What both services share at the HTTP edge.

pub mod assets;
pub mod config;
pub mod context;
pub mod error;
pub mod serve;
pub mod startup;
pub mod telemetry;

pub use config::{Config, ConfigError, Links};
pub use context::Context;
pub use error::{AppError, PageError};
