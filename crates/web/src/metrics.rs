//! The Prometheus registry and its instruments, one set per process.

use std::time::Duration;

use axum::http::Method;

use permit_store::QuotaReleases;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// 1 ms to 10 s: our requests take milliseconds; anything near the top is an incident.
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Why the overload protection answered instead of a handler.
pub const SHED_REASONS: [&str; 2] = ["overloaded", "timeout"];

/// Which process the registry is for: each exports only the instruments it moves, so no
/// dashboard reads a counter that can never leave zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Permits issued and refused, quotas given back.
    Issuer,
    /// Permit checks.
    Validator,
    /// A test context, which either service's router may serve: everything.
    Test,
}

impl Service {
    /// The `service` label, and the database client's application name.
    pub fn name(self) -> &'static str {
        match self {
            Service::Issuer => "issuer",
            Service::Validator => "validator",
            Service::Test => "test",
        }
    }

    fn issues(self) -> bool {
        matches!(self, Service::Issuer | Service::Test)
    }

    fn checks(self) -> bool {
        matches!(self, Service::Validator | Service::Test)
    }
}

pub struct Metrics {
    registry: Registry,
    service: &'static str,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pub http_in_flight: IntGauge,
    permits_issued: IntCounterVec,
    validations: IntCounterVec,
    refusals: IntCounterVec,
    shed: IntCounterVec,
    quota_releases_pending: IntGauge,
    quota_releases_failed: IntCounter,
    mongodb_duration: HistogramVec,
    mongodb_up: IntGauge,
}

impl Metrics {
    pub fn new(kind: Service) -> Metrics {
        let service = kind.name();
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered"),
            &["service", "method", "route", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["service", "method", "route"],
        )
        .expect("valid metric");
        let http_in_flight =
            IntGauge::new("http_requests_in_flight", "HTTP requests being answered now").expect("valid metric");
        let permits_issued =
            IntCounterVec::new(Opts::new("permits_issued_total", "Permits issued"), &["motive"]).expect("valid metric");
        let validations = IntCounterVec::new(
            Opts::new("permit_validations_total", "Permit checks, by the status they showed"),
            &["result"],
        )
        .expect("valid metric");
        let refusals = IntCounterVec::new(
            Opts::new(
                "permits_refused_total",
                "Well-formed permit requests the rules refused, by rule",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let shed = IntCounterVec::new(
            Opts::new(
                "http_requests_shed_total",
                "Requests answered 503 by the overload protection instead of a handler",
            ),
            &["service", "reason"],
        )
        .expect("valid metric");
        // Every known label value from the start, at zero: a rate of nothing is 0, not absent.
        for reason in permit_domain::Refusal::CODES {
            refusals.with_label_values(&[reason]);
        }
        for reason in SHED_REASONS {
            shed.with_label_values(&[service, reason]);
        }
        let quota_releases_pending = IntGauge::new(
            "permit_quota_releases_pending",
            "Quotas of permits that were not stored, being given back in the background",
        )
        .expect("valid metric");
        let quota_releases_failed = IntCounter::new(
            "permit_quota_releases_failed_total",
            "Quotas of permits that were not stored and could not be given back",
        )
        .expect("valid metric");
        let mongodb_duration = HistogramVec::new(
            HistogramOpts::new("mongodb_operation_duration_seconds", "Time MongoDB took per command")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["operation"],
        )
        .expect("valid metric");
        let mongodb_up = IntGauge::new(
            "mongodb_up",
            "1 if MongoDB answered a ping when this scrape asked (not part of readiness)",
        )
        .expect("valid metric");
        let build_info = IntGaugeVec::new(
            Opts::new("build_info", "Version and git revision of the running binary"),
            &["service", "version", "revision"],
        )
        .expect("valid metric");
        build_info
            .with_label_values(&[service, env!("CARGO_PKG_VERSION"), &revision()])
            .set(1);
        let mut collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(http_requests.clone()),
            Box::new(http_duration.clone()),
            Box::new(http_in_flight.clone()),
            Box::new(shed.clone()),
            Box::new(mongodb_duration.clone()),
            Box::new(mongodb_up.clone()),
            Box::new(build_info),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ];
        if kind.issues() {
            collectors.extend([
                Box::new(permits_issued.clone()) as Box<dyn prometheus::core::Collector>,
                Box::new(refusals.clone()),
                Box::new(quota_releases_pending.clone()),
                Box::new(quota_releases_failed.clone()),
            ]);
        }
        if kind.checks() {
            collectors.push(Box::new(validations.clone()));
        }
        for collector in collectors {
            registry.register(collector).expect("metric names are unique");
        }
        Metrics {
            registry,
            service,
            http_requests,
            http_duration,
            http_in_flight,
            permits_issued,
            validations,
            refusals,
            shed,
            quota_releases_pending,
            quota_releases_failed,
            mongodb_duration,
            mongodb_up,
        }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// An instrument only one service has, exposed with the rest.
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        self.registry.register(collector).expect("metric names are unique");
    }

    /// `route` is the matched route template and `method` one of a fixed few, so the
    /// labels' values stay few whatever a client sends.
    pub fn observe_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let method = method_label(method);
        self.http_requests
            .with_label_values(&[self.service, method, route, &status.to_string()])
            .inc();
        self.http_duration
            .with_label_values(&[self.service, method, route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn permit_issued(&self, motive: &str) {
        self.permits_issued.with_label_values(&[motive]).inc();
    }

    pub fn permit_checked(&self, result: &str) {
        self.validations.with_label_values(&[result]).inc();
    }

    /// `reason` is the refusal's code (`weekly_limit_reached`, `curfew`...), so its values stay few.
    pub fn permit_refused(&self, reason: &str) {
        self.refusals.with_label_values(&[reason]).inc();
    }

    /// `reason`: `overloaded` (too many in flight) or `timeout`.
    pub fn request_shed(&self, reason: &str) {
        self.shed.with_label_values(&[self.service, reason]).inc();
    }

    pub fn mongodb_operation(&self, operation: &str, elapsed: Duration) {
        self.mongodb_duration
            .with_label_values(&[operation])
            .observe(elapsed.as_secs_f64());
    }

    pub fn mongodb_answers(&self, up: bool) {
        self.mongodb_up.set(i64::from(up));
    }

    /// Takes the store's count of background quota give-backs, before a scrape.
    pub fn quota_releases(&self, releases: &QuotaReleases) {
        self.quota_releases_pending
            .set(i64::try_from(releases.pending()).unwrap_or(i64::MAX));
        let failed = releases.failed();
        self.quota_releases_failed
            .inc_by(failed.saturating_sub(self.quota_releases_failed.get()));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("encoding into memory");
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The standard methods by name; anything else a client makes up is `other`, so no
/// request can add a series.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The git revision: the image's `GIT_REVISION` (set when it is built), else the one the
/// binary was compiled with, else `unknown`.
fn revision() -> String {
    std::env::var("GIT_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or(option_env!("GIT_REVISION").map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}
