//! The integration tests of `maestrano-simulator`: the simulator by itself over real HTTP on
//! loopback, through the SDK's public API, and the quickstart scenario as a test.

mod simulator {
    pub(crate) mod support;

    mod account;
    mod bulkhead;
    mod connec;
    mod devplatform;
    mod faults;
    mod openid;
    mod outage;
    mod push;
    mod reconcile;
    mod sso;
    mod webhooks;
}

mod quickstart;

mod hyper_app;
