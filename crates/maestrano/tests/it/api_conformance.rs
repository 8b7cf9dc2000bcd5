//! Every account API and Connec! file of the conformance corpus decodes as its manifest row
//! says. The table names each file; a check at the end makes sure the table covers every
//! manifest row of those areas, so a new file cannot be skipped silently.

use std::collections::BTreeSet;

use maestrano::__private::{
    decode_batch, decode_entity, decode_notification, decode_page, decode_version,
};
use maestrano::RestError;
use maestrano::api::{
    ApiError, Bill, BillStatus, Decimal, Group, Period, RecurringBill, RecurringBillStatus,
    Reseller, User,
};
use maestrano::connec::{BatchMethod, BatchRequest, ConnecError, Entity, Person};
use maestrano::ports::HttpResponse;
use time::macros::datetime;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/maestrano");

fn read(file: &str) -> Vec<u8> {
    std::fs::read(format!("{ROOT}/{file}")).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn reply(status: u16, file: &str) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(read(file))
        .unwrap()
}

/// The manifest rows this test is responsible for.
fn owned(file: &str) -> bool {
    file.starts_with("maestrano-java/account/")
        || file.starts_with("shapes/account/")
        || file.starts_with("shapes/connec/")
        || file.starts_with("maestrano-connector-rails/written/")
        || file.starts_with("maestrano-ruby/written/api_helpers-")
        || file == "x4d3-maestrano-dotnet/written/MnoClientTest-dates.json"
}

type Check = fn(&str);

fn bill(file: &str) -> Bill {
    maestrano::__private::decode_one(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn bills(file: &str) -> Vec<Bill> {
    maestrano::__private::decode_list(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn rbill(file: &str) -> RecurringBill {
    maestrano::__private::decode_one(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn rbills(file: &str) -> Vec<RecurringBill> {
    maestrano::__private::decode_list(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn group(file: &str) -> Group {
    maestrano::__private::decode_one(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn groups(file: &str) -> Vec<Group> {
    maestrano::__private::decode_list(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn user(file: &str) -> User {
    maestrano::__private::decode_one(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn users(file: &str) -> Vec<User> {
    maestrano::__private::decode_list(&reply(200, file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
fn account_error(status: u16, file: &str) -> ApiError {
    match maestrano::__private::decode_one::<Bill>(&reply(status, file)) {
        Ok(b) => panic!("{file}: expected an error, decoded {b:?}"),
        Err(e) => e,
    }
}
fn connec_error(status: u16, file: &str) -> ConnecError {
    match decode_entity(&reply(status, file), "people") {
        Ok(e) => panic!("{file}: expected an error, decoded {e:?}"),
        Err(e) => e,
    }
}
fn batch_request(file: &str) -> BatchRequest {
    let raw = read(file);
    let req: BatchRequest = serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{file}: {e}"));
    // Our serialisation of it is the same JSON.
    let ours: serde_json::Value = serde_json::to_value(&req).unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(ours, theirs, "{file}: round trip");
    req
}

const TABLE: &[(&str, Check)] = &[
    // --- maestrano-java/account
    ("maestrano-java/account/bill.json", |f| {
        let b = bill(f);
        assert_eq!(b.id.as_str(), "bill-001");
        assert_eq!(b.price.minor_units(), 2000);
        assert_eq!(b.price.currency().code(), "AUD");
        assert_eq!(b.status, BillStatus::Submitted);
        assert_eq!(b.third_party, None);
        assert_eq!(
            (b.units, b.period_started_at, b.period_ended_at),
            (None, None, None)
        );
        assert_eq!(b.created_at, Some(datetime!(2015-06-03 05:00:33 UTC)));
    }),
    ("maestrano-java/account/bills.json", |f| {
        assert_eq!(bills(f).len(), 1)
    }),
    ("maestrano-java/account/group.json", |f| {
        let g = group(f);
        assert_eq!(g.id.as_str(), "cld-001");
        assert_eq!(g.status.as_deref(), Some("terminated"));
        assert_eq!(
            (g.name.as_deref(), g.has_credit_card, g.free_trial_end_at),
            (None, None, None)
        );
        let meta = g.metadata.expect("metadata kept");
        assert_eq!(meta["push_disabled"], false);
    }),
    ("maestrano-java/account/groups.json", |f| {
        assert_eq!(groups(f).len(), 1)
    }),
    ("maestrano-java/account/recurring-bill.json", |f| {
        let r = rbill(f);
        assert_eq!(r.created_at, Some(datetime!(2016-08-01 15:30:20 UTC)));
        assert_eq!(r.remaining_cycles, None);
        assert_eq!(r.cycles, None);
        assert_eq!(r.period, Some(Period::Day));
        assert_eq!(r.initial_price.map(|m| m.minor_units()), Some(10000));
        assert_eq!(r.status, RecurringBillStatus::Active);
    }),
    ("maestrano-java/account/recurring-bills.json", |f| {
        assert_eq!(rbills(f).len(), 1)
    }),
    ("maestrano-java/account/user.json", |f| {
        let u = user(f);
        assert_eq!(u.id.as_str(), "usr-001");
        assert_eq!(u.country.as_deref(), Some("UK"));
        assert_eq!(
            u.sso_session.as_ref().unwrap().expose(),
            "d7kp1b5esnfgtz6xhiv9qwlja34yu8crm2o0"
        );
        assert!(
            !format!("{u:?}").contains("d7kp1b5"),
            "the session token is redacted"
        );
    }),
    ("maestrano-java/account/users.json", |f| {
        assert_eq!(users(f).len(), 1)
    }),
    // --- maestrano-ruby api helpers
    (
        "maestrano-ruby/written/api_helpers-account-group.json",
        |f| {
            let g = group(f);
            assert_eq!(
                (g.has_credit_card, g.status.as_deref()),
                (Some(true), Some("running"))
            );
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-account-group-array.json",
        |f| {
            let g = groups(f);
            assert_eq!(g.len(), 3, "no deduplication");
            assert!(g.iter().all(|g| g.id.as_str() == "cld-4f5d"));
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-account-user.json",
        |f| {
            let u = user(f);
            assert_eq!(u.id.as_str(), "usr-123");
            assert_eq!(u.company_name.as_deref(), Some("DoeCorp"));
            assert_eq!(u.email.as_deref(), Some("john.doe@maestrano.com"));
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-account-user-array.json",
        |f| assert_eq!(users(f).len(), 3),
    ),
    (
        "maestrano-ruby/written/api_helpers-account-bill.json",
        |f| {
            let b = bill(f);
            assert_eq!(
                b.period_started_at, None,
                "period_start is not a server key"
            );
            assert_eq!(b.updated_at, None);
            assert_eq!(b.units, Some(Decimal::from_integer(1)));
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-account-bill-array.json",
        |f| assert_eq!(bills(f).len(), 3),
    ),
    (
        "maestrano-ruby/written/api_helpers-account-bill-array-one.json",
        |f| assert_eq!(bills(f).len(), 1),
    ),
    (
        "maestrano-ruby/written/api_helpers-account-recurring-bill.json",
        |f| {
            let r = rbill(f);
            assert_eq!(r.period, Some(Period::Month), "read case-insensitively");
            assert_eq!(
                (r.updated_at, r.initial_price, r.last_execution_at),
                (None, None, None)
            );
            assert_eq!(r.cycles, None);
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-account-recurring-bill-array.json",
        |f| assert_eq!(rbills(f).len(), 3),
    ),
    (
        "maestrano-ruby/written/api_helpers-invalid-api-token-error.json",
        |f| {
            let e = account_error(401, f);
            assert!(
                matches!(&e, ApiError::Authentication { status: 401, message: Some(m) } if m == "Invalid API token"),
                "{e}"
            );
        },
    ),
    (
        "maestrano-ruby/written/api_helpers-missing-id-error.json",
        |f| {
            for status in [400, 404] {
                let e = account_error(status, f);
                assert!(
                    matches!(&e, ApiError::NotFound { message, .. } if message == "id does not exist"),
                    "{e}"
                );
                assert_eq!((e.status(), e.param()), (Some(status), Some("id")));
                assert!(!e.outcome_unknown());
            }
            assert!(matches!(
                account_error(401, f),
                ApiError::Authentication { status: 401, .. }
            ));
        },
    ),
    ("maestrano-ruby/written/api_helpers-api-error.json", |f| {
        let e = account_error(500, f);
        assert!(
            matches!(&e, ApiError::Server { status: 500, message: Some(m), .. } if m.starts_with("A system error occured")),
            "{e}"
        );
        assert!(e.outcome_unknown());
    }),
    // --- .NET dates
    (
        "x4d3-maestrano-dotnet/written/MnoClientTest-dates.json",
        |f| {
            let v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&read(f)).unwrap();
            let at =
                |k: &str| maestrano::__private::parse_timestamp(v[k].as_str().unwrap()).unwrap();
            assert_eq!(at("Date"), Some(datetime!(0001-01-01 0:00 UTC)));
            assert_eq!(at("IncorrectDate"), None);
            assert_eq!(at("IncorrectNullableDate"), None);
        },
    ),
    // --- shapes/account
    ("shapes/account/bill-single.json", |f| {
        let b = bill(f);
        assert_eq!(b.id.as_str(), "bill-13");
        assert_eq!(b.price.minor_units(), 1999);
        assert_eq!(b.price.currency().code(), "USD");
        assert_eq!(b.units, Some("1.5".parse().unwrap()));
        assert_eq!(b.status, BillStatus::Invoiced);
        assert_eq!(b.third_party, Some(false));
        assert_eq!(b.updated_at, Some(datetime!(2017-03-28 02:00:05.417 UTC)));
        assert_eq!(b.period_ended_at, Some(datetime!(2017-03-31 23:59:59 UTC)));
    }),
    ("shapes/account/bills-list.json", |f| {
        let b = bills(f);
        assert_eq!(b.len(), 3);
        let units: Vec<_> = b.iter().map(|b| b.units.map(|u| u.to_string())).collect();
        assert_eq!(units, [None, Some("1.5".into()), Some("2".into())]);
        let status: Vec<_> = b.iter().map(|b| b.status.clone()).collect();
        assert_eq!(
            status,
            [
                BillStatus::Submitted,
                BillStatus::Invoiced,
                BillStatus::Cancelled
            ]
        );
        let cur: Vec<_> = b
            .iter()
            .map(|b| b.price.currency().code().to_owned())
            .collect();
        assert_eq!(cur, ["AUD", "USD", "EUR"]);
        assert_eq!(b[2].third_party, Some(true));
        assert_eq!(b[2].updated_at, Some(datetime!(2017-04-03 10:15:42.25 UTC)));
    }),
    ("shapes/account/bill-cancelled.json", |f| {
        let b = maestrano::__private::decode_cancelled_bill(&reply(200, f)).unwrap();
        assert_eq!(b.status, BillStatus::Cancelled);
        // The same reply is not a cancelled recurring bill: its tag is account_bill.
        assert!(matches!(
            maestrano::__private::decode_cancelled_recurring_bill(&reply(200, f)),
            Err(ApiError::Rest(RestError::InvalidResponse { .. }))
        ));
    }),
    ("shapes/account/recurring-bill-single.json", |f| {
        let r = rbill(f);
        assert_eq!(r.period, Some(Period::SemiMonth));
        assert_eq!(
            (r.frequency, r.cycles, r.remaining_cycles),
            (Some(2), Some(12), Some(3))
        );
        assert_eq!(r.initial_price.unwrap().minor_units(), 10000);
        assert_eq!(r.price.currency().code(), "GBP");
    }),
    ("shapes/account/recurring-bills-list.json", |f| {
        let r = rbills(f);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].last_execution_at, None);
        assert_eq!(r[0].next_execution_at, r[0].start_date);
        assert_eq!(r[2].next_execution_at, None);
        assert_eq!(r[2].status, RecurringBillStatus::Expired);
        let periods: Vec<_> = r.iter().map(|r| r.period.unwrap()).collect();
        assert_eq!(periods, [Period::Month, Period::SemiMonth, Period::Year]);
    }),
    ("shapes/account/groups-list.json", |f| {
        let g = groups(f);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].has_credit_card, Some(true));
        assert_eq!(
            g[0].currency().map(|c| c.code().to_owned()).as_deref(),
            Some("USD")
        );
        assert_eq!(g[0].main_accounting.as_deref(), Some("quickbooks"));
        assert_eq!(
            g[0].free_trial_end_at,
            Some(datetime!(2016-07-28 07:59:58 UTC))
        );
        assert_eq!(g[1].free_trial_end_at, None, "year 0000 is no date");
        assert_eq!(g[1].main_accounting, None);
    }),
    ("shapes/account/group-single.json", |f| {
        let g = group(f);
        assert_eq!(g.free_trial_end_at, None);
        assert_eq!(g.has_credit_card, Some(false));
        assert_eq!(g.timezone.as_deref(), Some("Australia/Sydney"));
    }),
    ("shapes/account/user-single.json", |f| {
        assert_eq!(user(f).id.as_str(), "usr-123")
    }),
    ("shapes/account/users-list.json", |f| {
        let u = users(f);
        assert_eq!(u.len(), 2);
        assert_eq!(u[1].name.as_deref(), Some("Zoë"));
        assert_eq!(u[1].surname.as_deref(), Some("Nguyễn"));
        assert_eq!(u[1].company_name, None);
    }),
    ("shapes/account/reseller-single.json", |f| {
        let r: Reseller = maestrano::__private::decode_one(&reply(200, f)).unwrap();
        assert_eq!(r.id.as_str(), "rsl-449s8fsd");
        assert_eq!(r.name.as_deref(), Some("Blue Consulting"));
        assert_eq!(r.code.as_deref(), Some("US-204512-BCL"));
        assert_eq!(r.country.as_deref(), Some("AU"));
    }),
    ("shapes/account/resellers-list.json", |f| {
        let r: Vec<Reseller> = maestrano::__private::decode_list(&reply(200, f)).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].updated_at, Some(datetime!(2017-03-27 16:11:22 UTC)));
    }),
    ("shapes/account/error-401-invalid-token.json", |f| {
        let e = account_error(401, f);
        assert!(
            matches!(&e, ApiError::Authentication { message: Some(m), .. } if m == "Invalid API token"),
            "{e}"
        );
    }),
    ("shapes/account/error-400-group-id.json", |f| {
        let e = account_error(400, f);
        assert_eq!(e.param(), Some("group_id"));
        assert!(
            matches!(&e, ApiError::InvalidRequest { message, .. } if message == "group_id does not exist or cannot be charged by your service"),
            "{e}"
        );
        assert!(!e.outcome_unknown(), "a refused create billed nothing");
    }),
    ("shapes/account/error-200-id-not-found.json", |f| {
        let e = account_error(200, f);
        assert!(
            matches!(&e, ApiError::NotFound { status: 200, message } if message == "id does not exist"),
            "{e}"
        );
        assert_eq!(e.param(), Some("id"));
        let e = account_error(400, f);
        assert!(matches!(e, ApiError::NotFound { status: 400, .. }));
    }),
    ("shapes/account/error-400-cancel-invoiced.json", |f| {
        let e = maestrano::__private::decode_cancelled_bill(&reply(400, f)).unwrap_err();
        assert!(
            matches!(&e, ApiError::NotCancellable { status: 400, message } if message == "status has already been set to invoiced and cannot be changed"),
            "{e}"
        );
        assert_eq!(e.param(), Some("status"));
        // Outside a cancel, the same body is an invalid request on `status`.
        assert_eq!(account_error(400, f).param(), Some("status"));
    }),
    ("shapes/account/error-500-system.json", |f| {
        assert!(matches!(
            account_error(500, f),
            ApiError::Server {
                status: 500,
                message: Some(_),
                ..
            }
        ));
    }),
    (
        "shapes/account/error-400-validation-multiple.json",
        |f| match account_error(400, f) {
            ApiError::InvalidRequest {
                param,
                message,
                errors,
                ..
            } => {
                assert_eq!(
                    param.as_deref(),
                    Some("price_cents"),
                    "the first key, as in Ruby"
                );
                assert_eq!(message, "price_cents must be greater than 0");
                let fields: Vec<_> = errors.iter().map(|(k, _)| k).collect();
                assert_eq!(fields, ["price_cents", "currency", "description"]);
                assert_eq!(errors.get("description").unwrap(), ["can't be blank"]);
            }
            e => panic!("{e}"),
        },
    ),
    // --- shapes/connec
    ("shapes/connec/people-list-pagination.json", |f| {
        let page = decode_page(&reply(200, f), "people").unwrap();
        assert_eq!(page.entities.len(), 2);
        assert_eq!(
            page.next.as_deref(),
            Some("https://api-connec.maestrano.com/api/v2/cld-dkg601/people?%24skip=2&%24top=2")
        );
        let first = &page.entities[0];
        assert_eq!(
            first.id_for("myapp", Some("realm-42")).as_deref(),
            Some("C-1001")
        );
        assert_eq!(
            first.connec_id().as_deref(),
            Some("23daf041-e18e-0133-7b6a-15461b913fab")
        );
        assert_eq!(first.group_id(), Some("cld-dkg601"));
        assert_eq!(
            first
                .id_array("organization_id")
                .unwrap()
                .id_for("myapp", None),
            Some("A-77")
        );
        assert_eq!(
            first.updated_at(),
            Some(datetime!(2016-02-03 22:40:12.389 UTC))
        );
        assert_eq!(first.created_at(), Some(datetime!(2016-01-28 04:11:37 UTC)));
        let p: Person = first.to_typed().unwrap();
        assert_eq!(
            (p.first_name.as_deref(), p.is_supplier),
            (Some("John"), Some(true))
        );
    }),
    ("shapes/connec/person-single.json", |f| {
        let e = decode_entity(&reply(200, f), "people").unwrap();
        assert_eq!(e.str("code"), Some("PE3"));
        let p: Person = e.to_typed().unwrap();
        assert_eq!(
            Entity::from_typed(&p).unwrap(),
            e,
            "typed round trip keeps every field"
        );
    }),
    ("shapes/connec/batch-request.json", |f| {
        let r = batch_request(f);
        assert!(r.sequential);
        assert_eq!(r.ops.len(), 3);
        assert_eq!(r.ops[0].method, BatchMethod::Post);
        assert_eq!(
            r.ops[0].params["people"]["opts"]["matching_fields"][0],
            "first_name"
        );
    }),
    ("shapes/connec/batch-reply.json", |f| {
        let reply = decode_batch(&reply(200, f)).unwrap();
        assert_eq!(reply.results.len(), 3);
        let created = reply.results[0].entity("people").unwrap();
        assert_eq!(
            created.id_for("myapp", Some("realm-42")).as_deref(),
            Some("C-1002")
        );
        assert_eq!(
            reply.results[1].entity("people").unwrap().str("first_name"),
            Some("Janet")
        );
        let e = reply.results[2].entity("people").unwrap_err();
        assert!(matches!(&e, ConnecError::Api { status: 404, .. }), "{e}");
        assert_eq!(e.code(), Some("resource-not-found"));
    }),
    ("shapes/connec/notification-two-kinds.json", |f| {
        let n = decode_notification(&read(f)).unwrap();
        assert_eq!(n.kinds.len(), 2);
        assert_eq!(n.entities().count(), 3);
        let groups: Vec<_> = n.kinds["people"]
            .iter()
            .map(|e| e.group_id().unwrap())
            .collect();
        assert_eq!(groups, ["cld-dkg601", "cld-9axx"]);
        let payment = &n.kinds["payments"][0];
        let lines = payment.get("lines").unwrap().as_array().unwrap();
        let line = Entity::from_value(lines[1].clone()).unwrap();
        assert_eq!(
            line.id_for("myapp", Some("realm-42")).as_deref(),
            Some("L-2")
        );
    }),
    ("shapes/connec/error-404-not-found.json", |f| {
        let e = connec_error(404, f);
        assert!(matches!(&e, ConnecError::Api { status: 404, .. }), "{e}");
        assert_eq!(e.code(), Some("resource-not-found"));
    }),
    ("shapes/connec/error-401-unauthorized.json", |f| {
        let e = connec_error(401, f);
        assert!(
            matches!(&e, ConnecError::Authentication { status: 401, .. }),
            "{e}"
        );
        assert_eq!(e.errors()[0].href, None, "a null href is accepted");
        assert_eq!(e.code(), Some("unauthorized-access"));
    }),
    ("shapes/connec/error-400-unknown-resource.json", |f| {
        let e = connec_error(400, f);
        assert!(matches!(&e, ConnecError::Api { status: 400, .. }), "{e}");
        assert_eq!(e.code(), Some("unknown-resource"));
    }),
    ("shapes/connec/error-409-creation-with-id.json", |f| {
        let e = connec_error(409, f);
        assert!(
            matches!(&e, ConnecError::Api { status: 409, .. }),
            "the HTTP status wins: {e}"
        );
        assert_eq!(e.errors()[0].status.as_deref(), Some("404"));
        assert_eq!(e.code(), Some("creation-of-resource-with-id"));
    }),
    // The manifest's second outcome: the sandbox's plain string id is read, as Connec!'s own.
    ("shapes/connec/sandbox-stub-person-string-id.json", |f| {
        let e = decode_entity(&reply(200, f), "people").unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(
            e.connec_id().as_deref(),
            Some("9f3b1c2e-3d4a-4b5c-8d6e-7f8091a2b3c4")
        );
        assert_eq!(e.group_id(), Some("cld-dkg601"));
    }),
    // --- maestrano-connector-rails
    (
        "maestrano-connector-rails/written/connec_to_external_spec-people-list.json",
        |f| {
            let page = decode_page(&reply(200, f), "people").unwrap();
            assert_eq!(page.entities.len(), 1);
            let p = &page.entities[0];
            assert_eq!(
                p.connec_id().as_deref(),
                Some("23daf041-e18e-0133-7b6a-15461b913fab")
            );
            let org = p.id_array("organization_id").unwrap();
            assert_eq!(
                org.id_for("provider", Some("oauth uid")),
                Some("ext org id")
            );
            assert_eq!(p.bool("is_supplier"), Some(true));
            assert_eq!(p.updated_at(), Some(datetime!(2019-01-28 10:11:51.123 UTC)));
        },
    ),
    (
        "maestrano-connector-rails/written/connec_to_external_spec-batch-request-put-id.json",
        |f| {
            let r = batch_request(f);
            assert!(r.sequential);
            assert_eq!(r.ops.len(), 1);
            assert_eq!(r.ops[0].method, BatchMethod::Put);
        },
    ),
    (
        "maestrano-connector-rails/written/connec_to_external_spec-batch-reply.json",
        |f| {
            let reply = decode_batch(&reply(200, f)).unwrap();
            assert_eq!(reply.results.len(), 1);
            assert_eq!(reply.results[0].status, 200);
            assert!(
                reply.results[0]
                    .entity("people")
                    .unwrap()
                    .fields()
                    .is_empty()
            );
        },
    ),
    (
        "maestrano-connector-rails/written/external_to_connec_spec-batch-request-post.json",
        |f| {
            let r = batch_request(f);
            assert_eq!(r.ops.len(), 1);
            assert_eq!(r.ops[0].method, BatchMethod::Post);
        },
    ),
    (
        "maestrano-connector-rails/written/external_to_connec_spec-batch-reply-201.json",
        |f| {
            let reply = decode_batch(&reply(200, f)).unwrap();
            let e = reply.results[0].entity("people").unwrap();
            assert_eq!(e.connec_id().as_deref(), Some("connec-id"));
            assert_eq!(e.ids().unwrap().iter().next().unwrap().realm, None);
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-people-pagination-first-page.json",
        |f| {
            let page = decode_page(&reply(200, f), "people").unwrap();
            assert!(page.entities.is_empty());
            assert_eq!(
                page.next.as_deref(),
                Some(
                    "https://api-connec.maestrano.com/api/v2/cld-dkg601/people?%24skip=10&%24top=10"
                )
            );
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-people-last-page.json",
        |f| {
            let page = decode_page(&reply(200, f), "people").unwrap();
            assert!(page.entities.is_empty());
            assert_eq!(page.next, None);
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-people-list.json",
        |f| {
            let page = decode_page(&reply(200, f), "people").unwrap();
            assert_eq!(page.entities.len(), 3);
            assert!(page.entities.iter().all(|e| e.ids().is_none()));
            assert_eq!(page.entities[2].str("job_title"), Some("Engineer"));
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-invalid-response.json",
        |f| {
            let e = decode_page(&reply(200, f), "people").unwrap_err();
            assert!(
                matches!(&e, ConnecError::Rest(RestError::InvalidResponse { detail, .. }) if detail.contains("\"people\"")),
                "{e}"
            );
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-batch-request-two-posts.json",
        |f| {
            let r = batch_request(f);
            assert_eq!(r.ops.len(), 2);
            // The float stays the JSON number it was: the entity is free-form.
            assert_eq!(r.ops[1].params["people"]["sale_price"]["net_amount"], 250.0);
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-batch-reply-200-201.json",
        |f| {
            let reply = decode_batch(&reply(200, f)).unwrap();
            let ids: Vec<_> = reply
                .results
                .iter()
                .map(|r| r.entity("people").unwrap().connec_id().unwrap())
                .collect();
            assert_eq!(ids, ["id1", "id2"]);
            assert_eq!(reply.results[1].status, 201);
        },
    ),
    (
        "maestrano-connector-rails/written/entity_spec-batch-reply-400-string-body.json",
        |f| {
            let reply = decode_batch(&reply(200, f)).unwrap();
            assert_eq!(reply.results.len(), 2);
            for r in &reply.results {
                assert_eq!(r.status, 400);
                assert!(r.body.is_string());
                let e = r.entity("people").unwrap_err();
                assert!(
                    matches!(&e, ConnecError::Api { status: 400, errors } if errors[0].title.as_deref() == Some("Not Found")),
                    "{e}"
                );
            }
        },
    ),
    (
        "maestrano-connector-rails/written/id_references_spec-payments-list.json",
        |f| {
            let page = decode_page(&reply(200, f), "payments").unwrap();
            assert_eq!(page.entities.len(), 1);
            let lines = page.entities[0]
                .get("lines")
                .unwrap()
                .as_array()
                .unwrap()
                .clone();
            assert_eq!(lines.len(), 2);
            for line in lines {
                assert_eq!(Entity::from_value(line).unwrap().ids().unwrap().len(), 1);
            }
            assert_eq!(
                page.entities[0]
                    .id_array("organization_id")
                    .unwrap()
                    .id_for("provider", None),
                Some("ext org id")
            );
        },
    ),
    (
        "maestrano-connector-rails/written/id_references_spec-batch-request-put-line-ids.json",
        |f| {
            let r = batch_request(f);
            assert_eq!(r.ops.len(), 1);
            assert_eq!(
                r.ops[0].params["payments"]["lines"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
        },
    ),
    (
        "maestrano-connector-rails/written/connec_controller_spec-notification-people.json",
        |f| {
            let n = decode_notification(&read(f)).unwrap();
            let people = &n.kinds["people"];
            assert_eq!(people.len(), 1);
            assert_eq!(people[0].group_id(), Some("cld_333"));
            assert_eq!(people[0].ids(), None);
        },
    ),
    (
        "maestrano-connector-rails/written/connec_helper_spec-version.json",
        |f| {
            let v = decode_version(&reply(200, f)).unwrap();
            assert_eq!(v.ci_branch.as_deref(), Some("v1.1"));
            assert_eq!(v.version(), Some("1.1"));
            assert!(v.is_at_least(1, 1) && !v.is_at_least(1, 2));
        },
    ),
];

#[test]
fn every_owned_file_decodes_as_its_manifest_says() {
    for (file, check) in TABLE {
        check(file);
    }
}

#[test]
fn the_table_covers_every_account_and_connec_row_of_the_manifest() {
    let manifest = std::fs::read_to_string(format!("{ROOT}/MANIFEST.tsv")).unwrap();
    let rows: BTreeSet<&str> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| owned(f))
        .collect();
    let covered: BTreeSet<&str> = TABLE.iter().map(|(f, _)| *f).collect();
    assert_eq!(TABLE.len(), covered.len(), "a file is listed twice");
    let missing: Vec<_> = rows.difference(&covered).collect();
    let extra: Vec<_> = covered.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "manifest rows without a check: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "checks of files not in the manifest: {extra:?}"
    );
    assert_eq!(rows.len(), 64);
}
