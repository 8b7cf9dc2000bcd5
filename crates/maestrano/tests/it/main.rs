//! The integration tests of `maestrano`, through its public API: one binary (see ARCHITECTURE.md).

mod common;
mod idmap_support;

mod api_conformance;
mod api_loopback;
mod api_properties;
mod api_requests;
mod architecture;
mod autoconfigure_loopback;
mod config;
mod connec_client;
mod delivery;
mod health;
mod idmap_memory;
mod idmap_postgres;
mod idmap_sqlite;
mod offboard;
mod openid;
mod openid_live;
mod outbox;
mod path_segments;
mod platform_idp;
mod platform_sso;
mod reconcile;
mod redaction;
mod reqwest_adapter;
mod routes;
mod saml_check_cli;
mod saml_sso;
mod saml_validation;
mod single_use;
mod store_redis;
mod webhooks;
