//! A service's router served on free ports through the binaries' own wiring (`App`: the
//! admin port, index creation, draining), with the clock the test moves and the context
//! both run on.

use axum::Router;
use permit_domain::{Permit, Rules};
use permit_web::{App, Context, Health};
use reqwest::{Client, StatusCode};

use crate::{ManualClock, context};

pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the public routes.
    pub url: String,
    /// `http://127.0.0.1:<port>` of the probes and metrics.
    pub admin: String,
    /// Follows no redirects, so a test sees them.
    pub http: Client,
    pub clock: ManualClock,
    pub ctx: Context,
    pub health: Health,
}

impl TestApp {
    /// `router` over a fresh database with `rules`, the clock at Monday 30 November 2026,
    /// 10:00 in Santiago.
    pub async fn start(rules: Rules, router: impl FnOnce(Context) -> Router) -> TestApp {
        let clock = ManualClock::at_santiago("2026-11-30T10:00");
        let ctx = context(&clock, rules).await;
        TestApp::serve(ctx, clock, router).await
    }

    /// `router` over `ctx`, which runs on `clock`.
    pub async fn serve(ctx: Context, clock: ManualClock, router: impl FnOnce(Context) -> Router) -> TestApp {
        let app = App::bind(ctx, &crate::listening())
            .await
            .expect("two free loopback ports");
        let (public, admin) = app.local_addrs().expect("bound addresses");
        let (ctx, health) = (app.ctx().clone(), app.health().clone());
        tokio::spawn(app.serve(router(ctx.clone()), std::future::pending()));
        let (url, admin) = (format!("http://{public}"), format!("http://{admin}"));
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        TestApp {
            url,
            admin,
            http,
            clock,
            ctx,
            health,
        }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("an answer")
    }

    /// What the admin port's `/metrics` says now.
    pub async fn metrics(&self) -> String {
        crate::body_text(self.http.get(format!("{}/metrics", self.admin))).await
    }

    /// A permit for citizen `n` and `compras` (3 h), issued at the app's clock straight
    /// into its store.
    pub async fn stored_permit(&self, n: u32) -> Permit {
        let request = crate::citizen(n, "compras").parse().expect("a valid citizen");
        let window = self
            .ctx
            .rules
            .window(request.motive, self.ctx.now())
            .expect("no curfew then");
        let permit = Permit::issue(request, window);
        self.ctx.store.issue(&permit, None).await.expect("the permit is stored");
        permit
    }

    /// The status and body of `GET path`.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.expect("a text body"))
    }
}
