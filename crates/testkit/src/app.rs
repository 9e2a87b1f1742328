//! A service's router served on free ports through the binaries' own wiring (`App`: the
//! admin port, index creation, draining), with the clock the test moves and the context
//! both run on.

use std::net::{Ipv4Addr, SocketAddr};

use permit_domain::{Permit, Rules};
use permit_web::app::Routers;
use permit_web::{App, Context, Health};
use reqwest::{Client, StatusCode};

use crate::{ManualClock, context};

pub struct TestApp {
    /// `http://127.0.0.1:<port>` of the public routes.
    pub url: String,
    /// `http://127.0.0.1:<port>` of the probes and metrics.
    pub admin: String,
    /// `http://127.0.0.1:<port>` of the operators' routes, for a router that has them.
    operators: Option<String>,
    /// Follows no redirects, so a test sees them.
    pub http: Client,
    pub clock: ManualClock,
    pub ctx: Context,
    pub health: Health,
}

impl TestApp {
    /// `router` over a fresh database with `rules`, the clock at Monday 30 November 2026,
    /// 10:00 in Santiago.
    pub async fn start<R: Into<Routers>>(rules: Rules, router: impl FnOnce(Context) -> R) -> TestApp {
        let clock = ManualClock::at_santiago("2026-11-30T10:00");
        let ctx = context(&clock, rules).await;
        TestApp::serve(ctx, clock, router).await
    }

    /// `router` over `ctx`, which runs on `clock`.
    pub async fn serve<R: Into<Routers>>(
        ctx: Context,
        clock: ManualClock,
        router: impl FnOnce(Context) -> R,
    ) -> TestApp {
        let routers: Routers = router(ctx.clone()).into();
        let mut app = App::bind(ctx, &crate::listening())
            .await
            .expect("two free loopback ports");
        if routers.operators.is_some() {
            let free = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            app = app.with_operator_port(free).await.expect("a free loopback port");
        }
        let addresses = app.local_addrs().expect("bound addresses");
        let (ctx, health) = (app.ctx().clone(), app.health().clone());
        tokio::spawn(app.serve(routers, std::future::pending()));
        let url = format!("http://{}", addresses.public);
        let admin = format!("http://{}", addresses.admin);
        let operators = addresses.operators.map(|addr| format!("http://{addr}"));
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        TestApp {
            url,
            admin,
            operators,
            http,
            clock,
            ctx,
            health,
        }
    }

    /// The operators' base URL; a test of a service without them has no business asking.
    pub fn operators(&self) -> &str {
        self.operators.as_deref().expect("a router with operator routes")
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
    /// into its store, as outside the Paso a Paso plan (policy version `test`).
    pub async fn stored_permit(&self, n: u32) -> Permit {
        let request = crate::citizen(n, "compras").parse().expect("a valid citizen");
        let terms = crate::terms(&self.ctx.rules, request.motive);
        let window = self
            .ctx
            .rules
            .window(request.motive, &terms, self.ctx.now())
            .expect("no curfew then");
        let permit = Permit {
            issued_under: Some(terms.issued_under),
            ..Permit::issue(request, window)
        };
        self.ctx.store.issue(&permit, None).await.expect("the permit is stored");
        permit
    }

    /// The status and body of `GET path`.
    pub async fn page(&self, path: &str) -> (StatusCode, String) {
        let response = self.get(path).await;
        (response.status(), response.text().await.expect("a text body"))
    }
}
