//! The QR code of a permit's validation URL, as inline SVG.

use qrcode::QrCode;
use qrcode::render::svg;

/// An `<svg>` element for `url`, ready to embed in a page; `None` only if the URL is too
/// long for a QR code, which our short URLs never are.
pub fn svg_for(url: &str) -> Option<String> {
    let code = QrCode::new(url.as_bytes()).ok()?;
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
    #[test]
    fn renders_an_embeddable_svg_element() {
        let svg = super::svg_for("https://validar.example.cl/validar/AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(svg.starts_with("<svg class=\"qr\" role=\"img\""));
        assert!(svg.ends_with("</svg>"));
        assert!(!svg.contains("<?xml"));
    }
}
