//! The test identity provider: `identity/provider.mjs` (panva's oidc-provider, a real
//! OpenID Connect provider answering as ClaveÚnica does, with operators who have roles)
//! as a child process, and a citizen or an operator signing in on its pages as a browser
//! would.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

/// The issuer's registration at the test provider.
pub const CLIENT_ID: &str = "permisos-formulario";
pub const CLIENT_SECRET: &str = "test-client-secret-not-for-production";

pub struct IdentityProvider {
    /// `http://127.0.0.1:<port>`: the provider's issuer identifier.
    pub issuer: String,
    child: Child,
}

impl IdentityProvider {
    /// A provider on a free port, for an issuer whose public address is `issuer_home`.
    pub fn start(issuer_home: &str) -> IdentityProvider {
        IdentityProvider::start_on(0, issuer_home)
    }

    /// On `port` (0: any): a restart on the same port is the same issuer with new keys.
    pub fn start_on(port: u16, issuer_home: &str) -> IdentityProvider {
        IdentityProvider::serving(port, &[issuer_home])
    }

    /// For the citizens' site and the operators' console at `homes` (their callbacks
    /// registered), on a free port.
    pub fn start_for(homes: &[&str]) -> IdentityProvider {
        IdentityProvider::serving(0, homes)
    }

    fn serving(port: u16, homes: &[&str]) -> IdentityProvider {
        let callbacks: Vec<String> = homes.iter().map(|home| format!("{home}/ingresar/vuelta")).collect();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../identity/provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .env("OIDC_PORT", port.to_string())
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", callbacks.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node is installed (scripts/tools.sh node)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        stdout.read_line(&mut line).expect("the provider's first line");
        // The rest is read as it comes: a closed pipe would end the provider at its next line.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let issuer = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["issuer"].as_str().map(str::to_owned))
            .unwrap_or_else(|| {
                let mut errors = String::new();
                let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut errors));
                panic!("the test identity provider did not start (npm packages: scripts/tools.sh node): {errors}")
            });
        let mut stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        IdentityProvider { issuer, child }
    }

    pub fn port(&self) -> u16 {
        self.issuer
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// CPU time the provider used so far, in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        crate::process::cpu_seconds(self.child.id())
    }

    /// The issuer's settings for this provider, as its environment would give them.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CITIZEN_AUTH", "oidc".into()),
            ("OIDC_ISSUER_URL", self.issuer.clone()),
            ("OIDC_CLIENT_ID", CLIENT_ID.into()),
            ("OIDC_CLIENT_SECRET", CLIENT_SECRET.into()),
        ]
    }

    /// The issuer's settings for operators to sign in to the console at `console_home`
    /// (beside the citizens'): the operators of identity/operators.json have roles.
    pub fn operator_settings(&self, console_home: &str) -> Vec<(&'static str, String)> {
        let mut settings = self.settings();
        settings.extend([
            ("OPERATOR_AUTH", "oidc".into()),
            ("OPERATORS_PUBLIC_URL", console_home.to_owned()),
        ]);
        settings
    }

    /// A citizen at this provider, in a browser of their own: see `sign_in_at`.
    pub async fn sign_in(&self, authorize: &str, login: &str) -> String {
        let browser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client");
        sign_in_at(&browser, authorize, login).await
    }
}

/// A citizen at the provider of `authorize` (the authorization request it is sent to), in
/// `browser` (a cookie store, no redirects followed): signs in as `login` (their RUN,
/// `12345678-5`) with any password, consents, and returns where the provider sends the
/// browser back (the issuer's callback, with the code and state).
pub async fn sign_in_at(browser: &reqwest::Client, authorize: &str, login: &str) -> String {
    let origin = origin(authorize);
    let mut next = authorize.to_owned();
    for _ in 0..12 {
        if !next.starts_with(&origin) {
            return next;
        }
        let answer = browser.get(&next).send().await.expect("the provider answers");
        if let Some(location) = answer.headers().get("location") {
            next = absolute(&origin, location.to_str().expect("an ASCII location"));
            continue;
        }
        let page = answer.text().await.expect("a page");
        let form: &[(&str, &str)] = if page.contains(r#"name="prompt" value="login""#) {
            &[("prompt", "login"), ("login", login), ("password", "any")]
        } else if page.contains(r#"name="prompt" value="consent""#) {
            &[("prompt", "consent")]
        } else {
            panic!("an unexpected page at the provider: {page}")
        };
        let answer = browser
            .post(&next)
            .form(form)
            .send()
            .await
            .expect("the provider answers");
        let location = answer
            .headers()
            .get("location")
            .expect("the provider redirects after a form");
        next = absolute(&origin, location.to_str().expect("an ASCII location"));
    }
    panic!("the provider never sent the browser back")
}

/// `http://host:port` of a URL.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("an absolute URL");
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    format!("{scheme}://{authority}")
}

fn absolute(origin: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{origin}{location}")
    } else {
        location.to_owned()
    }
}

impl Drop for IdentityProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
