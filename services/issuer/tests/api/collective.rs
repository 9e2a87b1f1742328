//! Collective permits: an employer's spreadsheet of workers, one permit each for 7 days,
//! every row issued or refused on its own, the same file twice issuing nothing new.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use testkit::{TestApp, db_test};

use crate::http::{Issuer, app};
use crate::{ADMINISTRACION, send};

const BOUNDARY: &str = "----permisos-test-boundary";

/// A `multipart/form-data` post of the upload form, from the form's own page.
async fn upload(app: &TestApp, employer: (&str, &str), file: Option<&[u8]>, site: &str) -> reqwest::Response {
    let mut body = Vec::new();
    for (name, value) in [("empresa_rut", employer.0), ("empresa_nombre", employer.1)] {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    if let Some(file) = file {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"nomina\"; filename=\"nomina.csv\"\r\nContent-Type: text/csv\r\n\r\n").bytes(),
        );
        body.extend(file);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").bytes());
    app.http
        .post(format!("{}/colectivo", app.url))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .header("sec-fetch-site", site)
        .body(body)
        .send()
        .await
        .unwrap()
}

const FIRM: (&str, &str) = ("76.543.210-3", "Panadería La Espiga SpA");

/// The rows of a page's result, as text.
fn rows(page: &str) -> Vec<String> {
    page.split("<li class=\"fila-")
        .skip(1)
        .map(|row| {
            row.split("</li>")
                .next()
                .unwrap()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// The downloadable report the page carries.
fn report(page: &str) -> String {
    let encoded = page
        .split("data:text/csv;charset=utf-8;base64,")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap()).unwrap()
}

#[db_test]
async fn an_employers_upload_issues_a_weeks_permit_per_worker_and_names_every_bad_row() {
    let app = app().await;
    let preparacion = json!({"comuna": "Vitacura", "phase": "preparacion", "from": "2026-12-01"});
    assert_eq!(
        send(&app, Method::POST, "/api/phases", ADMINISTRACION, Some(preparacion))
            .await
            .status(),
        StatusCode::CREATED
    );
    // Tuesday 1 December 2026, 10:00: Vitacura needs no permit.
    app.clock.advance(jiff::SignedDuration::from_hours(24));
    let table = "rut,nombre,comuna,direccion\n\
                 15.000.001-7,Ana Rojas Díaz,Ñuñoa,\"Av. Irarrázaval 3400, local 2\"\n\
                 15.000.002-9,Luis Soto,Ñuñoa,Av. Irarrázaval 3400\n\
                 15000001-7,Ana Rojas Díaz,Ñuñoa,Av. Irarrázaval 3400\n\
                 15.000.003-3,Marta Pino,Vitacura,Av. Kennedy 5000\n\
                 15.000.002-5,Luis Soto,Maipú,Av. Pajaritos 100\n";
    let first = upload(&app, FIRM, Some(table.as_bytes()), "same-origin").await;
    assert_eq!(first.status(), StatusCode::OK);
    let page = first.text().await.unwrap();
    assert!(
        page.contains("Emitidos: 2. Ya emitidos antes: 0. Rechazados: 3."),
        "{page}"
    );
    let rows = rows(&page);
    assert!(
        rows[0].contains("Línea 2</strong> · 15.000.001-7 · Ana Rojas Díaz: emitido"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("Línea 3</strong> · 15.000.002-9: rechazado"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("rut: el dígito verificador no corresponde"),
        "{rows:?}"
    );
    assert!(rows[2].contains("repite al trabajador de la línea 2"), "{rows:?}");
    assert!(
        rows[3].contains("Vitacura está en Preparación: no necesitas permiso para salir."),
        "{rows:?}"
    );
    assert!(
        rows[4].contains("Línea 6</strong> · 15.000.002-5 · Luis Soto: emitido"),
        "{rows:?}"
    );

    let report = report(&page);
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "linea,rut,nombre,resultado,permiso,enlace,detalle");
    assert!(
        lines[2].starts_with("3,15.000.002-9,,rechazado,,,rut: el dígito"),
        "{report}"
    );
    let issued: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l.split(',').nth(4))
        .filter(|id| !id.is_empty())
        .collect();
    assert_eq!(issued.len(), 2);

    // Each is a week's permit, recorded with its firm, signed like any other.
    let id = permit_domain::PermitId::parse(issued[0]).unwrap();
    let permit = app.ctx.store.find(&id).await.unwrap().unwrap();
    assert_eq!(permit.motive.code(), "trabajo-colectivo");
    assert_eq!(permit.expires_at.duration_since(permit.valid_from).as_hours(), 7 * 24);
    assert_eq!(
        permit.employer.as_ref().unwrap().name.as_str(),
        "Panadería La Espiga SpA"
    );
    assert_eq!(permit.comuna.as_str(), "Ñuñoa");
    let link = lines[1].split(',').nth(5).unwrap();
    let holder = app
        .get(link.strip_prefix("http://formulario.test").unwrap())
        .await
        .text()
        .await
        .unwrap();
    assert!(holder.contains("Panadería La Espiga SpA"), "{holder}");

    // The same file again issues nothing new: the same permits, said so.
    let again = upload(&app, FIRM, Some(table.as_bytes()), "same-origin")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        again.contains("Emitidos: 0. Ya emitidos antes: 2. Rechazados: 3."),
        "{again}"
    );
    assert!(again.contains(issued[0]) && again.contains(issued[1]));

    // Nor do they use a worker's own weekly permits.
    let mut own = testkit::citizen(1, "compras");
    own.rut = "15.000.001-7".into();
    for motive in ["compras", "banco"] {
        own.motive = motive.into();
        assert_eq!(app.create(&own).await.status(), StatusCode::CREATED);
    }
}

#[db_test]
async fn an_upload_that_is_no_spreadsheet_of_workers_is_refused_naming_the_field() {
    let app = app().await;
    let none = upload(&app, FIRM, None, "same-origin").await;
    assert_eq!(none.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        none.text()
            .await
            .unwrap()
            .contains("id=\"nomina-error\">este campo es obligatorio")
    );
    let header = upload(&app, FIRM, Some(b"nombre;rut\nAna;1\n"), "same-origin").await;
    assert_eq!(header.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        header
            .text()
            .await
            .unwrap()
            .contains("la primera línea debe ser «rut,nombre,comuna,direccion»")
    );
    let firm = upload(
        &app,
        ("76.543.210-9", ""),
        Some(b"rut,nombre,comuna,direccion\n"),
        "same-origin",
    )
    .await;
    assert_eq!(firm.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let firm = firm.text().await.unwrap();
    assert!(
        firm.contains("id=\"empresa_rut-error\"") && firm.contains("id=\"empresa_nombre-error\""),
        "{firm}"
    );
    let large = vec![b'a'; permit_domain::collective::MAX_BYTES + 1];
    let large = upload(&app, FIRM, Some(&large), "same-origin").await;
    assert_eq!(large.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(large.text().await.unwrap().contains("el archivo pesa más de 256 KiB"));
    let huge = vec![b'a'; 2 * permit_domain::collective::MAX_BYTES];
    assert_eq!(
        upload(&app, FIRM, Some(&huge), "same-origin").await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let forged = upload(&app, FIRM, Some(b"rut,nombre,comuna,direccion\n"), "cross-site").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let form = app.get("/colectivo").await.text().await.unwrap();
    assert!(
        form.contains("enctype=\"multipart/form-data\"") && form.contains("value=\"76.543.210-3\""),
        "{form}"
    );
}
