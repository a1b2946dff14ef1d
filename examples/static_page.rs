//! Benchmark peer: actix-web answering every GET with the same page and no
//! other work, to show what tem's scan handler costs on top of the framework.
//! Usage: static_page FILE PORT

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .ok_or_else(|| std::io::Error::other("usage: static_page FILE PORT"))?;
    let port: u16 = args.next().and_then(|p| p.parse().ok()).unwrap_or(18082);
    let page = web::Bytes::from(std::fs::read(file)?);
    HttpServer::new(move || {
        let page = page.clone();
        App::new().default_service(web::to(move || {
            let page = page.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
