//! Properties of the API clients over random input: decimals and money never go through a
//! float, decoders never panic on untrusted bytes, and a request built for one tenant never
//! carries anything of another.

use maestrano::__private::AccountRequests;
use maestrano::__private::ConnecRequests;
use maestrano::api::{self, Bill, Currency, Decimal, Filter, Money, NewBill};
use maestrano::config::MarketplaceConfig;
use maestrano::connec::{self, Entity, ListQuery};
use maestrano::{GroupUid, Secret, Tenant};
use proptest::prelude::*;

const FP: &str = "01:06:15:89:25:7d:78:12:28:a6:69:c7:de:63:ed:74:21:f9:f5:36";

fn tenant(n: u32, key: &str) -> Tenant {
    Tenant::new(
        MarketplaceConfig::builder(format!("market-{n}"))
            .app_host("https://app.example.com")
            .api_id(format!("app-{n}"))
            .api_key(Secret::new(key))
            .api_host(format!("https://hub-{n}.example.com"))
            .sso_idp("https://idp.example.com")
            .x509_fingerprint(FP)
            .connec_host(format!("https://connec-{n}.example.com"))
            .build()
            .unwrap(),
    )
}

fn response(status: u16, body: Vec<u8>) -> http::Response<Vec<u8>> {
    http::Response::builder().status(status).body(body).unwrap()
}

proptest! {
    #[test]
    fn decimals_print_and_parse_back_exactly(mantissa in any::<i64>(), scale in 0u8..=18) {
        let d = Decimal::new(mantissa, scale).unwrap();
        let text = d.to_string();
        let back: Decimal = text.parse().unwrap();
        prop_assert_eq!(back, d);
        prop_assert_eq!(back.to_string(), text.clone());
        let json = serde_json::to_string(&d).unwrap();
        prop_assert_eq!(&json, &text, "written as a JSON number with the same digits");
        let read: Decimal = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(read, d);
    }

    #[test]
    fn bills_keep_their_cents_exactly(cents in 1i64..=i64::MAX, units in 1i64..=1_000_000, scale in 0u8..=2) {
        let t = tenant(1, "k");
        let bill = NewBill::new(GroupUid::new("cld-1").unwrap(), Money::new(cents, Currency::new("AUD").unwrap()), "x")
            .units(Decimal::new(units, scale).unwrap());
        let request = AccountRequests::new(&t).create_bill(&bill).unwrap();
        let text = std::str::from_utf8(request.body()).unwrap();
        let price_field = format!("\"price_cents\":{cents},");
        prop_assert!(text.contains(&price_field));
        let reply = format!(
            r#"{{"success":true,"errors":{{}},"data":{{"object":"account_bill","id":"bill-1","group_id":"cld-1","price_cents":{cents},"currency":"AUD","units":{}}}}}"#,
            Decimal::new(units, scale).unwrap()
        );
        let decoded: Bill = maestrano::__private::decode_one(&response(200, reply.into_bytes())).unwrap();
        prop_assert_eq!(decoded.price.minor_units(), cents);
        prop_assert_eq!(decoded.units, Some(Decimal::new(units, scale).unwrap()));
    }

    #[test]
    fn decoders_never_panic(status in prop::sample::select(vec![200u16, 201, 302, 400, 401, 404, 409, 500, 503]), body in prop::collection::vec(any::<u8>(), 0..512)) {
        let r = response(status, body.clone());
        let _ = maestrano::__private::decode_one::<Bill>(&r);
        let _ = maestrano::__private::decode_list::<api::Group>(&r);
        let _ = maestrano::__private::decode_cancelled_bill(&r);
        let _ = maestrano::__private::decode_page(&r, "people");
        let _ = maestrano::__private::decode_batch(&r);
        let _ = maestrano::__private::decode_version(&r);
        let _ = maestrano::__private::decode_notification(&body);
    }

    #[test]
    fn decoders_never_panic_on_json_shaped_input(
        status in prop::sample::select(vec![200u16, 400, 401, 404, 500]),
        value in prop::collection::vec(("[a-z_]{1,12}", prop_oneof![Just("null".to_owned()), Just("[]".to_owned()), Just("{}".to_owned()), "\"[ -~]{0,20}\"", "-?[0-9]{1,20}(\\.[0-9]{1,5})?"]), 0..8),
    ) {
        let fields: Vec<String> = value.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        let object = format!("{{{}}}", fields.join(","));
        for body in [
            format!(r#"{{"success":true,"errors":{{}},"data":{object}}}"#),
            format!(r#"{{"success":false,"errors":{object},"data":{{}}}}"#),
            format!(r#"{{"people":[{object}],"pagination":{object}}}"#),
            format!(r#"{{"results":[{{"status":{status},"body":{object}}}]}}"#),
            format!(r#"{{"errors":[{object}]}}"#),
        ] {
            let r = response(status, body.clone().into_bytes());
            let _ = maestrano::__private::decode_one::<Bill>(&r);
            let _ = maestrano::__private::decode_one::<api::RecurringBill>(&r);
            let _ = maestrano::__private::decode_one::<api::User>(&r);
            if let Ok(page) = maestrano::__private::decode_page(&r, "people") {
                for e in page.entities {
                    let _ = e.to_typed::<connec::Person>();
                }
            }
            if let Ok(reply) = maestrano::__private::decode_batch(&r) {
                for result in reply.results {
                    let _ = result.entity("people");
                }
            }
            let _ = maestrano::__private::decode_entity(&r, "people");
        }
    }

    #[test]
    fn requests_for_one_tenant_never_carry_another_tenants_host_or_key(a in 0u32..1000, b in 0u32..1000, ka in "[a-zA-Z0-9]{12,24}", kb in "[a-zA-Z0-9]{12,24}") {
        prop_assume!(a != b && ka != kb);
        let (ta, tb) = (tenant(a, &ka), tenant(b, &kb));
        let group = GroupUid::new("cld-1").unwrap();
        let account = AccountRequests::new(&ta);
        let connec = ConnecRequests::new(&ta, group.clone()).unwrap();
        let mut built = vec![
            account.list_bills(&Filter::new().eq("group_id", &group)).unwrap(),
            account.get_group(&group).unwrap(),
            account.create_bill(&NewBill::new(group.clone(), Money::new(100, Currency::new("USD").unwrap()), "x")).unwrap(),
            connec.list("people", &ListQuery::new()).unwrap(),
            connec.create("people", &Entity::new()).unwrap(),
            connec.batch(&[connec.batch_create("people", &Entity::new()).unwrap()], true).unwrap(),
        ];
        // A next link to the other tenant's Connec! is refused, never built.
        let foreign = format!("https://connec-{b}.example.com/api/v2/cld-1/people?%24skip=1");
        let refused = connec.next_page("people", &foreign).is_err();
        prop_assert!(refused);
        built.push(connec.next_page("people", &format!("https://connec-{a}.example.com/api/v2/cld-1/people?%24skip=1")).unwrap());
        let other_key = base64_of(&format!("app-{b}:{kb}"));
        for r in &built {
            let host = r.uri().host().unwrap().to_owned();
            prop_assert!(host == format!("hub-{a}.example.com") || host == format!("connec-{a}.example.com"), "{}", host);
            let auth = r.headers()["authorization"].to_str().unwrap();
            prop_assert_eq!(auth, format!("Basic {}", base64_of(&format!("app-{a}:{ka}"))));
            prop_assert!(!auth.contains(&other_key));
        }
        let _ = tb;
    }
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}
