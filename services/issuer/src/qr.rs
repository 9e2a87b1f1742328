//! The QR code of a permit's validation URL, as inline SVG.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Medium error correction (15 % of the code may be unreadable): a signed link then fits a
/// version 11 or 12 code (61 or 65 modules a side) for a usual name, 14 (73) for the longest
/// allowed.
const ERROR_CORRECTION: EcLevel = EcLevel::M;

/// An `<svg>` element for `url`, ready to embed in a page; `None` only if the URL is too
/// long for a QR code, which our URLs never are.
pub fn svg_for(url: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), ERROR_CORRECTION).ok()?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(256, 256)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let element = image.split_once("?>").map_or(image.as_str(), |(_, svg)| svg);
    Some(element.replacen(
        "<svg ",
        r#"<svg class="qr" role="img" aria-label="Código QR con el enlace de validación del permiso" "#,
        1,
    ))
}

#[cfg(test)]
mod tests {
    use permit_domain::{Motive, Name, PermitId};
    use permit_token::{PermitClaims, SigningKey};
    use qrcode::{QrCode, Version};

    fn version_of_link(name: &str, motive: &str) -> i16 {
        let key = SigningKey::parse(&SigningKey::generate_pem()).unwrap();
        let claims = PermitClaims {
            id: PermitId::generate(),
            motive: Motive::parse(motive).unwrap(),
            valid_from: jiff::Timestamp::from_second(1_800_000_000).unwrap(),
            expires_at: jiff::Timestamp::from_second(1_800_086_400).unwrap(),
            name: name.into(),
            rut: "**.***.678-K".into(),
            issued_under: permit_domain::IssuedUnder::from_compact("2021-04-05/1"),
        };
        let url = format!("https://validar.permisos.example.cl/v/{}", key.sign_token(&claims));
        match QrCode::with_error_correction_level(url.as_bytes(), super::ERROR_CORRECTION)
            .unwrap()
            .version()
        {
            Version::Normal(version) => version,
            micro => panic!("{micro:?}"),
        }
    }

    #[test]
    fn a_signed_link_fits_version_12_for_a_usual_name_and_14_for_the_longest() {
        let usual = version_of_link(&Name::parse("Juana Pérez Soto").unwrap().masked(), "compras");
        assert!(usual <= 12, "version {usual}");
        let longest = Name::parse(&"Ñ ".repeat(40)).unwrap().masked();
        let longest = version_of_link(&longest, "asistencia-terceros");
        assert!(longest <= 14, "version {longest}");
    }

    #[test]
    fn renders_an_embeddable_svg_element() {
        let svg = super::svg_for("https://validar.example.cl/validar/AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(svg.starts_with("<svg class=\"qr\" role=\"img\""));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
