//! Swagger UI at `/docs/`: the vendored files of `openapi/swagger-ui/`, compiled into the binary
//! so the documentation works offline.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::error::{ApiError, ApiResult};

/// A file of Swagger UI: its name under `/docs/`, its media type and its bytes.
struct File {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! vendored {
    ($name:literal, $media_type:literal) => {
        File {
            name: $name,
            media_type: $media_type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/openapi/swagger-ui/",
                $name
            )),
        }
    };
}

const FILES: [File; 9] = [
    vendored!("index.html", "text/html; charset=utf-8"),
    vendored!("index.css", "text/css; charset=utf-8"),
    vendored!("swagger-ui.css", "text/css; charset=utf-8"),
    vendored!("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
    vendored!(
        "swagger-ui-standalone-preset.js",
        "text/javascript; charset=utf-8"
    ),
    vendored!("swagger-initializer.js", "text/javascript; charset=utf-8"),
    vendored!("oauth2-redirect.html", "text/html; charset=utf-8"),
    vendored!("favicon-16x16.png", "image/png"),
    vendored!("favicon-32x32.png", "image/png"),
];

/// Registers `/docs` (a redirect), `/docs/` and `/docs/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/docs", "/docs/"))
        .route("/docs/", web::get().to(index))
        .route("/docs/{file}", web::get().to(file));
}

async fn index() -> ApiResult<HttpResponse> {
    serve("index.html")
}

async fn file(name: web::Path<String>) -> ApiResult<HttpResponse> {
    serve(&name)
}

fn serve(name: &str) -> ApiResult<HttpResponse> {
    let file = FILES
        .iter()
        .find(|file| file.name == name)
        .ok_or_else(|| ApiError::not_found(format!("Swagger UI has no file {name}")))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, file.media_type))
        // The files change only with the binary; a browser may keep them for an hour.
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_there_under_its_name() {
        for file in &FILES {
            assert!(!file.bytes.is_empty(), "{}", file.name);
            let response = serve(file.name).unwrap();
            assert_eq!(
                response.headers().get(header::CONTENT_TYPE).unwrap(),
                file.media_type,
                "{}",
                file.name
            );
        }
        assert!(serve("swagger-ui-bundle.js.map").is_err());
        assert!(serve("../Cargo.toml").is_err());
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let page = std::str::from_utf8(FILES[0].bytes).unwrap();
        assert!(!page.contains("http://") && !page.contains("https://"));
        for script in [
            "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js",
            "swagger-initializer.js",
        ] {
            assert!(page.contains(script), "{script}");
            assert!(FILES.iter().any(|file| file.name == script), "{script}");
        }
    }
}
