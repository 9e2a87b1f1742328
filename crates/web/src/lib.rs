//! What both services share at the HTTP edge.

pub mod app;
pub mod assets;
pub mod config;
pub mod context;
pub mod error;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod serve;
pub mod startup;
pub mod telemetry;

pub use app::App;
pub use config::{Config, ConfigError, Connections, Limits, Links, Runtime};
pub use context::Context;
pub use error::{AppError, PageError, ServiceError};
pub use health::Health;
pub use metrics::Metrics;
pub use middleware::harden;
