//! Integration tests of `maestrano-axum` through its public API, against the marketplace
//! simulator over real HTTP on loopback (and, in `browser`, a real headless Chromium).

mod app;
mod browser;
mod health;
mod http_login;
mod logs;
