//! Named operators: tokens with one role each, made and revoked by *administración*,
//! stored as digests, expiring; every route admits only its roles, and the audit log
//! names the operator.

use jiff::SignedDuration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{TestApp, citizen, db_test};

use crate::http::app;
use crate::{TOKEN, issued, send};

/// A new token for `name` in `role`, made with `by`; returns the token and its id.
async fn token(app: &TestApp, by: &str, name: &str, role: &str) -> (String, String) {
    let answer = send(
        app,
        Method::POST,
        "/api/operators",
        by,
        Some(json!({ "name": name, "role": role })),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::CREATED);
    let made: Value = answer.json().await.unwrap();
    assert_eq!(made["name"], name);
    (
        made["token"].as_str().unwrap().to_owned(),
        made["id"].as_str().unwrap().to_owned(),
    )
}

/// The audit log's entries of `action`, as a *consulta* operator reads them.
async fn audit_of(app: &TestApp, action: &str) -> Value {
    let path = format!("/api/audit?action={action}");
    send(app, Method::GET, &path, crate::CONSULTA, None)
        .await
        .json()
        .await
        .unwrap()
}

#[db_test]
async fn each_route_admits_only_its_roles_and_the_audit_log_names_the_operator() {
    let app = app().await;
    let (admin, _) = token(&app, TOKEN, "Tte. C. Vidal, Jefatura de Informática", "administración").await;
    let (lookup, _) = token(&app, &admin, "Cabo 1° M. Pérez, Fiscalía", "consulta").await;
    let (revoker, _) = token(&app, &admin, "Sgto. A. Díaz, 33ª Comisaría", "revocación").await;
    let (counter, _) = token(&app, &admin, "Cabo R. Soto, 33ª Comisaría", "asistencia").await;
    let id = issued(&app, 1).await;
    let revoke = format!("/api/permits/{id}/revoke");
    let hold = format!("/api/permits/{id}/hold");
    let reason = json!({ "reason": "RIT 1234-2026" });

    let status = |method: Method, path: &str, token: &str, body: Option<Value>| {
        let (app, path, token) = (&app, path.to_owned(), token.to_owned());
        async move { send(app, method, &path, &token, body).await.status() }
    };
    let export = "/api/all?reason=Oficio%2088-2026";
    assert_eq!(
        status(Method::GET, export, &lookup, None).await,
        StatusCode::FORBIDDEN,
        "consulta looks up by a key and exports nothing"
    );
    assert_eq!(status(Method::GET, export, &admin, None).await, StatusCode::OK);
    assert_eq!(
        status(Method::POST, &revoke, &lookup, None).await,
        StatusCode::FORBIDDEN,
        "consulta cannot revoke"
    );
    assert_eq!(
        status(Method::POST, &hold, &lookup, Some(reason.clone())).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(Method::GET, export, &revoker, None).await,
        StatusCode::FORBIDDEN,
        "revocación reads no list"
    );
    assert_eq!(
        status(Method::POST, &hold, &revoker, Some(reason)).await,
        StatusCode::OK
    );
    assert_eq!(status(Method::POST, &revoke, &revoker, None).await, StatusCode::OK);
    assert_eq!(
        status(
            Method::GET,
            "/api/permits?rut=12.345.678-5&reason=RIT%201-2026",
            &admin,
            None
        )
        .await,
        StatusCode::FORBIDDEN,
        "no role implies another"
    );
    assert_eq!(
        status(Method::POST, "/api/operators", &lookup, Some(json!({}))).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(Method::GET, "/api/audit", &counter, None).await,
        StatusCode::FORBIDDEN
    );
    let mut body = serde_json::to_value(citizen(2, "compras")).unwrap();
    body["operator"] = json!("Cabo R. Soto");
    assert_eq!(
        status(Method::POST, "/api/assisted", &counter, Some(body.clone())).await,
        StatusCode::CREATED
    );
    assert_eq!(
        status(Method::POST, "/api/assisted", &lookup, Some(body)).await,
        StatusCode::FORBIDDEN
    );

    let issues: Value = send(&app, Method::GET, "/api/audit?action=assisted_issue", &admin, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        issues["entries"][0]["operator"], "Cabo R. Soto, 33ª Comisaría",
        "a named token's holder, whatever name the body states"
    );

    let trail: Value = send(&app, Method::GET, &format!("/api/audit?permit={id}"), &admin, None)
        .await
        .json()
        .await
        .unwrap();
    let who: Vec<(&str, &str, &str)> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["operator"].as_str().unwrap(),
                e["role"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("read_audit", "Tte. C. Vidal, Jefatura de Informática", "administracion"),
            ("revoke_permit", "Sgto. A. Díaz, 33ª Comisaría", "revocacion"),
            ("place_hold", "Sgto. A. Díaz, 33ª Comisaría", "revocacion"),
        ],
        "refused attempts change nothing and are not entries; the named operator is"
    );
}

#[db_test]
async fn tokens_are_listed_without_secrets_and_stop_working_when_revoked_or_expired() {
    let app = app().await;
    let (lookup, id) = token(&app, TOKEN, "Cabo 1° M. Pérez", "consulta").await;
    assert!(lookup.starts_with(&format!("pmt_{id}_")), "{lookup}");
    let listed = send(&app, Method::GET, "/api/operators", TOKEN, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        listed.contains(&id) && !listed.contains(&lookup[16..]),
        "the id, never the secret: {listed}"
    );
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let record = listed["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .expect("the new token listed");
    assert_eq!(record["created_by"], "ADMIN_TOKEN");
    assert_eq!(record["role"], "consulta");
    assert!(record.get("digest").is_none());

    let forged = format!("{}{}", &lookup[..16], "A".repeat(43));
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &forged, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &lookup, None).await.status(),
        StatusCode::OK
    );
    let revoked = send(&app, Method::DELETE, &format!("/api/operators/{id}"), TOKEN, None).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    assert!(revoked.json::<Value>().await.unwrap()["revoked_at"].is_string());
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &lookup, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let unknown = send(&app, Method::DELETE, "/api/operators/AAAAAAAAAAA", TOKEN, None).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let short = send(
        &app,
        Method::POST,
        "/api/operators",
        TOKEN,
        Some(json!({ "name": "Cabo 1° M. Pérez", "role": "consulta", "days": 1 })),
    )
    .await;
    let short = short.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &short, None).await.status(),
        StatusCode::OK
    );
    app.clock.advance(SignedDuration::from_hours(24));
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &short, None).await.status(),
        StatusCode::UNAUTHORIZED,
        "expired"
    );
    let never_made = permit_domain::OperatorToken::generate().reveal();
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &never_made, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Refusals of a named operator's token are in the audit log under its holder, one a
    // minute per token (the revoked one came within a second of the forged secret); a
    // token never made names nobody and is a log line only.
    let refused = audit_of(&app, "refused_token").await;
    let entries: Vec<(&str, &str)> = refused["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["operator"].as_str().unwrap(), e["detail"].as_str().unwrap()))
        .collect();
    let short_id = &short[4..15];
    assert_eq!(
        entries,
        [
            ("Cabo 1° M. Pérez", format!("token {short_id}: expired").as_str()),
            ("Cabo 1° M. Pérez", format!("token {id}: wrong secret").as_str()),
        ]
    );
}

#[db_test]
async fn a_token_request_names_each_wrong_field() {
    let app = app().await;
    let refused = send(
        &app,
        Method::POST,
        "/api/operators",
        TOKEN,
        Some(json!({ "name": "x", "role": "superusuario", "days": 400 })),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    for field in ["name", "role", "days"] {
        assert!(body["errors"][field].is_string(), "{field}: {body}");
    }
    let missing = send(&app, Method::POST, "/api/operators", TOKEN, Some(json!({}))).await;
    let body: Value = missing.json().await.unwrap();
    assert_eq!(body["errors"]["name"], "este campo es obligatorio");
    assert_eq!(body["errors"]["role"], "este campo es obligatorio");
}

#[db_test]
async fn a_citizen_is_looked_up_by_rut_only_with_a_reason_and_the_look_is_recorded() {
    let app = app().await;
    let (lookup, _) = token(&app, TOKEN, "Cabo 1° M. Pérez, Fiscalía", "consulta").await;
    let (revoker, _) = token(&app, TOKEN, "Sgto. A. Díaz", "revocacion").await;
    let mine = [issued(&app, 1).await];
    issued(&app, 2).await;
    let rut = citizen(1, "compras").rut;
    // A RUT's digits, dots and hyphen need no escaping in a query.
    let query = |extra: &str| format!("/api/permits?rut={rut}{extra}");

    let found = send(
        &app,
        Method::GET,
        &query("&reason=Oficio%2012-2026&case=RIT%2034-2026"),
        &lookup,
        None,
    )
    .await;
    assert_eq!(found.status(), StatusCode::OK);
    let found: Value = found.json().await.unwrap();
    let ids: Vec<&str> = found["permits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, mine, "the citizen's permits and no one else's");
    assert!(found["permits"][0]["address"].is_string(), "the full record");

    let refused = send(&app, Method::GET, &query(""), &lookup, None).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["errors"]["reason"], "este campo es obligatorio",
        "no look without a reason: {body}"
    );
    let bad = send(
        &app,
        Method::GET,
        "/api/permits?rut=12.345.678-0&reason=ok%20ok",
        &lookup,
        None,
    )
    .await;
    assert!(bad.json::<Value>().await.unwrap()["errors"]["rut"].is_string());
    let other_role = send(&app, Method::GET, &query("&reason=Oficio%2012-2026"), &revoker, None).await;
    assert_eq!(other_role.status(), StatusCode::FORBIDDEN);

    let trail = audit_of(&app, "search_by_rut").await;
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "only the look that was answered: {trail}");
    assert_eq!(entries[0]["operator"], "Cabo 1° M. Pérez, Fiscalía");
    assert_eq!(entries[0]["reason"], "Oficio 12-2026");
    let detail = entries[0]["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("citizen ") && detail.ends_with(", case RIT 34-2026"),
        "{detail}"
    );
    let digits: String = rut.chars().filter(char::is_ascii_digit).collect();
    assert!(!detail.contains(&digits[..6]), "the RUT as a digest only: {detail}");
}

#[db_test]
async fn a_comunas_permits_are_searched_over_days_with_a_reason_paged_and_recorded() {
    let app = app().await;
    let (lookup, _) = token(&app, TOKEN, "Cabo 1° M. Pérez, Fiscalía", "consulta").await;
    let create = |n: u32, comuna: &str| {
        let form = permit_domain::PermitForm {
            comuna: comuna.into(),
            ..citizen(n, "compras")
        };
        let request = app.http.post(format!("{}/api/create", app.url)).json(&form);
        async move { testkit::body_json(request).await["id"].as_str().unwrap().to_owned() }
    };
    let mut nunoa = Vec::new();
    for n in 1..=3 {
        nunoa.push(create(n, "Ñuñoa").await);
        create(10 + n, "Providencia").await;
        app.clock.advance(SignedDuration::from_mins(1));
    }
    nunoa.reverse();
    let today = app.ctx.now().in_tz("America/Santiago").unwrap().date();
    let why = "reason=Oficio%2077-2026&case=RIT%2012-2026";
    let search = |query: String| {
        let (app, lookup) = (&app, lookup.clone());
        async move { send(app, Method::GET, &format!("/api/permits?{query}"), &lookup, None).await }
    };

    let first = search(format!("comuna=nunoa&from={today}&to={today}&limit=2&{why}")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().expect("a second page").to_owned();
    let second: Value = search(format!(
        "comuna=13120&from={today}&to={today}&limit=2&cursor={cursor}&{why}"
    ))
    .await
    .json()
    .await
    .unwrap();
    assert!(second.get("next_cursor").is_none(), "{second}");
    let found: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|page| page["permits"].as_array().unwrap().iter())
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, nunoa, "Ñuñoa's permits of the day, newest first, no one else's");
    let yesterday = today.yesterday().unwrap();
    let none: Value = search(format!("comuna=Ñuñoa&from={yesterday}&to={yesterday}&{why}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["permits"], json!([]));

    // Each wrong part named; a month at most; one key at a time; never without a reason.
    let wrong: Value = search("comuna=Springfield&from=ayer&to=2026-13-01".into())
        .await
        .json()
        .await
        .unwrap();
    for field in ["comuna", "from", "to", "reason"] {
        assert!(wrong["errors"][field].is_string(), "{field}: {wrong}");
    }
    let long = search(format!("comuna=Ñuñoa&from=2026-01-01&to=2026-03-01&{why}")).await;
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(long.json::<Value>().await.unwrap()["errors"]["to"].is_string());
    let both = search(format!("rut=12.345.678-5&comuna=Ñuñoa&from={today}&to={today}&{why}")).await;
    assert_eq!(both.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(both.json::<Value>().await.unwrap()["errors"]["rut"].is_string());

    let trail = audit_of(&app, "search_by_comuna").await;
    let entries = trail["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "only the searches answered: {trail}");
    assert_eq!(entries[0]["reason"], "Oficio 77-2026");
    assert_eq!(
        entries[2]["detail"],
        format!("comuna 13120 Ñuñoa, {today} to {today}, page of 2, case RIT 12-2026")
    );
    assert_eq!(
        entries[1]["detail"],
        format!("comuna 13120 Ñuñoa, {today} to {today}, page of 2, after a cursor, case RIT 12-2026")
    );
}

#[db_test]
async fn a_permit_is_opened_by_its_code_only_with_a_reason_and_the_look_is_recorded() {
    let app = app().await;
    let (lookup, _) = token(&app, TOKEN, "Cabo 1° M. Pérez, Fiscalía", "consulta").await;
    let (revoker, _) = token(&app, TOKEN, "Sgto. A. Díaz", "revocacion").await;
    let (counter, _) = token(&app, TOKEN, "Cabo R. Soto", "asistencia").await;
    let id = issued(&app, 3).await;
    let path = |query: &str| format!("/api/permits/{id}{query}");

    let opened = send(
        &app,
        Method::GET,
        &path("?reason=Parte%204411&case=RIT%2034-2026"),
        &lookup,
        None,
    )
    .await;
    assert_eq!(opened.status(), StatusCode::OK);
    let opened: Value = opened.json().await.unwrap();
    assert_eq!(opened["id"], id.as_str());
    assert_eq!(opened["rut"], citizen(3, "compras").rut, "the full record");
    // Revocación opens a permit too (to revoke the right one); the counter does not.
    let reason = path("?reason=Parte%204411");
    assert_eq!(
        send(&app, Method::GET, &reason, &revoker, None).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&app, Method::GET, &reason, &counter, None).await.status(),
        StatusCode::FORBIDDEN
    );

    let unreasoned = send(&app, Method::GET, &path(""), &lookup, None).await;
    assert_eq!(unreasoned.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unreasoned.json::<Value>().await.unwrap()["errors"]["reason"],
        "este campo es obligatorio"
    );
    let unknown = "/api/permits/q6V7pTz0S3mXcW1bN8eYkA?reason=Parte%204411";
    assert_eq!(
        send(&app, Method::GET, unknown, &lookup, None).await.status(),
        StatusCode::NOT_FOUND
    );

    let trail = audit_of(&app, "read_permit").await;
    let entries = trail["entries"].as_array().unwrap();
    // The two answered, and the unknown code's (recorded before it was looked for).
    assert_eq!(entries.len(), 3, "{trail}");
    let first = &entries[2];
    assert_eq!(
        (&first["operator"], &first["permit"], &first["reason"], &first["detail"]),
        (
            &json!("Cabo 1° M. Pérez, Fiscalía"),
            &json!(id),
            &json!("Parte 4411"),
            &json!("record, case RIT 34-2026")
        )
    );
}

/// Reads of personal data count against each operator's rate (`OPERATOR_RATE_LIMIT`):
/// past it, `429` with `Retry-After`, while another operator, and changes such as a
/// revocation, go on.
#[db_test]
async fn reads_of_personal_data_are_limited_per_operator() {
    let options = issuer::Options {
        operator_limit: Some(std::sync::Arc::new(issuer::Cells::new(issuer::Rate {
            count: 3,
            per: std::time::Duration::from_secs(60),
        }))),
        ..crate::http::admin_only(Some(TOKEN))
    };
    let app = TestApp::start(permit_domain::Rules::default(), |ctx| issuer::router(ctx, options)).await;
    let (lookup, _) = token(&app, TOKEN, "Cabo 1° M. Pérez, Fiscalía", "consulta").await;
    let (other, _) = token(&app, TOKEN, "Sgto. A. Díaz, Fiscalía", "consulta").await;
    let (revoker, _) = token(&app, TOKEN, "Sgto. L. Mora, 33ª Comisaría", "revocación").await;
    let id = issued(&app, 1).await;
    for path in ["/api/audit", "/api/audit?limit=5", "/api/audit?action=sign_in"] {
        assert_eq!(
            send(&app, Method::GET, path, &lookup, None).await.status(),
            StatusCode::OK,
            "{path}"
        );
    }
    let refused = send(
        &app,
        Method::GET,
        "/api/permits?rut=12.345.678-5&reason=RIT%201234-2026",
        &lookup,
        None,
    )
    .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(
        send(&app, Method::GET, "/api/audit", &other, None).await.status(),
        StatusCode::OK
    );
    let revoke = send(&app, Method::POST, &format!("/api/permits/{id}/revoke"), &revoker, None).await;
    assert_eq!(revoke.status(), StatusCode::OK);
    for _ in 0..5 {
        let listed = send(&app, Method::GET, "/api/operators", TOKEN, None).await;
        assert_eq!(
            listed.status(),
            StatusCode::OK,
            "managing tokens reads no personal data"
        );
    }
}
