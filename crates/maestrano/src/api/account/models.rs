//! The objects of the account API and the bodies that create them.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::api::envelope::AccountObject;
use crate::api::error::ApiError;
use crate::api::money::{Currency, Decimal, Money};
use crate::api::timestamp::{self, format_timestamp};
use crate::rest::RestError;
use crate::types::{BillId, GroupUid, RecurringBillId, ResellerUid, Secret, UserUid};

macro_rules! status_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            /// A status this version of the SDK does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The status as the API writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                $(if s.eq_ignore_ascii_case($text) { return Self::$variant; })*
                Self::Other(s.to_owned())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(&*s))
            }
        }
    };
}

status_enum! {
    /// The status of a bill.
    BillStatus {
        /// Submitted, to be invoiced.
        Submitted => "submitted",
        /// Invoiced to the customer: it can no longer be cancelled.
        Invoiced => "invoiced",
        /// Cancelled.
        Cancelled => "cancelled",
    }
}

status_enum! {
    /// The status of a recurring bill.
    RecurringBillStatus {
        /// Created, not yet active.
        Pending => "pending",
        /// Submitted, not yet active (the sandbox's initial status).
        Submitted => "submitted",
        /// Charging each period.
        Active => "active",
        /// Cancelled.
        Cancelled => "cancelled",
        /// All cycles charged.
        Expired => "expired",
    }
}

/// The period of a recurring bill. Read case-insensitively (`"Month"` and `"month"`), written
/// in lower case as the server stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Period {
    /// Every day.
    Day,
    /// Every week.
    Week,
    /// Twice a month.
    SemiMonth,
    /// Every month.
    Month,
    /// Every year.
    Year,
}

impl Period {
    /// The period as the API writes it: `day`, `week`, `semimonth`, `month` or `year`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::SemiMonth => "semimonth",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

impl std::str::FromStr for Period {
    type Err = ApiError;
    /// Reads a period in any case (`Month`, `SemiMonth`, `year`).
    fn from_str(s: &str) -> Result<Self, ApiError> {
        [
            Self::Day,
            Self::Week,
            Self::SemiMonth,
            Self::Month,
            Self::Year,
        ]
        .into_iter()
        .find(|p| p.as_str().eq_ignore_ascii_case(s))
        .ok_or_else(|| {
            ApiError::Rest(RestError::InvalidInput {
                field: "period",
                expected: "day, week, semimonth, month or year",
                found: crate::types::shown(s),
            })
        })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A one-off charge to a group (`account_bill`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawBill")]
#[non_exhaustive]
pub struct Bill {
    /// The bill's id, such as `bill-13`.
    pub id: BillId,
    /// The group charged.
    pub group_id: GroupUid,
    /// The status.
    pub status: BillStatus,
    /// The amount (`price_cents` in `currency`).
    pub price: Money,
    /// The quantity, when one was given.
    pub units: Option<Decimal>,
    /// What was charged.
    pub description: Option<String>,
    /// Start of the period charged.
    pub period_started_at: Option<OffsetDateTime>,
    /// End of the period charged.
    pub period_ended_at: Option<OffsetDateTime>,
    /// Whether the charge is for a third party (absent in older replies: `None`).
    pub third_party: Option<bool>,
    /// When the bill was created.
    pub created_at: Option<OffsetDateTime>,
    /// When the bill last changed.
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
struct RawBill {
    id: BillId,
    group_id: GroupUid,
    #[serde(default)]
    status: Option<BillStatus>,
    price_cents: i64,
    currency: Currency,
    #[serde(default)]
    units: Option<Decimal>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    period_started_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    period_ended_at: Option<OffsetDateTime>,
    #[serde(default)]
    third_party: Option<bool>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    created_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    updated_at: Option<OffsetDateTime>,
}

impl From<RawBill> for Bill {
    fn from(r: RawBill) -> Self {
        Self {
            id: r.id,
            group_id: r.group_id,
            // The server's default when it has none.
            status: r.status.unwrap_or(BillStatus::Submitted),
            price: Money::new(r.price_cents, r.currency),
            units: r.units,
            description: r.description,
            period_started_at: r.period_started_at,
            period_ended_at: r.period_ended_at,
            third_party: r.third_party,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl AccountObject for Bill {
    const OBJECT: &'static str = "account_bill";
}

/// A charge repeated every period (`account_recurring_bill`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "RawRecurringBill")]
#[non_exhaustive]
pub struct RecurringBill {
    /// The recurring bill's id, such as `rbill-g8ur`.
    pub id: RecurringBillId,
    /// The group charged.
    pub group_id: GroupUid,
    /// The status.
    pub status: RecurringBillStatus,
    /// The amount charged each period.
    pub price: Money,
    /// The amount charged once at the start (`initial_cents`), when given.
    pub initial_price: Option<Money>,
    /// What is charged.
    pub description: Option<String>,
    /// The period.
    pub period: Option<Period>,
    /// Every how many periods a charge happens.
    pub frequency: Option<u32>,
    /// How many charges in all (`None`: until cancelled).
    pub cycles: Option<u32>,
    /// How many charges remain (`None`: unbounded).
    pub remaining_cycles: Option<u32>,
    /// The first charge.
    pub start_date: Option<OffsetDateTime>,
    /// The last charge made.
    pub last_execution_at: Option<OffsetDateTime>,
    /// The next charge planned.
    pub next_execution_at: Option<OffsetDateTime>,
    /// When it was created.
    pub created_at: Option<OffsetDateTime>,
    /// When it last changed.
    pub updated_at: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
struct RawRecurringBill {
    id: RecurringBillId,
    group_id: GroupUid,
    #[serde(default)]
    status: Option<RecurringBillStatus>,
    price_cents: i64,
    currency: Currency,
    #[serde(default)]
    initial_cents: Option<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    period: Option<Period>,
    #[serde(default)]
    frequency: Option<u32>,
    #[serde(default)]
    cycles: Option<u32>,
    #[serde(default)]
    remaining_cycles: Option<u32>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    start_date: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    last_execution_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    next_execution_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    created_at: Option<OffsetDateTime>,
    #[serde(default, deserialize_with = "timestamp::opt")]
    updated_at: Option<OffsetDateTime>,
}

impl From<RawRecurringBill> for RecurringBill {
    fn from(r: RawRecurringBill) -> Self {
        Self {
            id: r.id,
            group_id: r.group_id,
            status: r.status.unwrap_or(RecurringBillStatus::Pending),
            price: Money::new(r.price_cents, r.currency),
            initial_price: r.initial_cents.map(|c| Money::new(c, r.currency)),
            description: r.description,
            period: r.period,
            frequency: r.frequency,
            cycles: r.cycles,
            remaining_cycles: r.remaining_cycles,
            start_date: r.start_date,
            last_execution_at: r.last_execution_at,
            next_execution_at: r.next_execution_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

impl AccountObject for RecurringBill {
    const OBJECT: &'static str = "account_recurring_bill";
}

/// A customer company on the marketplace (`account_group`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Group {
    /// The group's uid, such as `cld-9axx`.
    pub id: GroupUid,
    /// The status (`running`, `terminated`, …).
    #[serde(default)]
    pub status: Option<String>,
    /// The company name.
    #[serde(default)]
    pub name: Option<String>,
    /// The company email.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the group has a payment method.
    #[serde(default)]
    pub has_credit_card: Option<bool>,
    /// The end of the free trial (`None` also when the server sends year 0000).
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub free_trial_end_at: Option<OffsetDateTime>,
    /// The currency code as sent; see [`Group::currency`].
    #[serde(default, rename = "currency")]
    pub currency_code: Option<String>,
    /// The time zone, such as `Australia/Sydney`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// The country, as sent.
    #[serde(default)]
    pub country: Option<String>,
    /// The city.
    #[serde(default)]
    pub city: Option<String>,
    /// The accounting application the group uses, if any.
    #[serde(default)]
    pub main_accounting: Option<String>,
    /// Free-form metadata, kept as sent.
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// When the group was created.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub created_at: Option<OffsetDateTime>,
    /// When the group last changed.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub updated_at: Option<OffsetDateTime>,
}

impl Group {
    /// The group's currency, when it is a valid ISO 4217 code.
    pub fn currency(&self) -> Option<Currency> {
        self.currency_code
            .as_deref()
            .and_then(|c| Currency::new(c).ok())
    }
}

impl AccountObject for Group {
    const OBJECT: &'static str = "account_group";
}

/// A user of the marketplace (`account_user`).
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct User {
    /// The user's uid, such as `usr-123`.
    pub id: UserUid,
    /// First name.
    #[serde(default)]
    pub name: Option<String>,
    /// Last name.
    #[serde(default)]
    pub surname: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Company name.
    #[serde(default)]
    pub company_name: Option<String>,
    /// Country, verbatim (`UK` stays `UK`, although the ISO code is `GB`).
    #[serde(default)]
    pub country: Option<String>,
    /// The user's SSO session token: a [`Secret`], redacted in `Debug`.
    #[serde(default)]
    pub sso_session: Option<Secret>,
    /// When the user was created.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub created_at: Option<OffsetDateTime>,
    /// When the user last changed.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub updated_at: Option<OffsetDateTime>,
}

impl AccountObject for User {
    const OBJECT: &'static str = "account_user";
}

/// A reseller of the marketplace (`account_reseller`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct Reseller {
    /// The reseller's uid, such as `rsl-449s8fsd`.
    pub id: ResellerUid,
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Code, such as `US-204512-BCL`.
    #[serde(default)]
    pub code: Option<String>,
    /// Country, as sent.
    #[serde(default)]
    pub country: Option<String>,
    /// When the reseller was created.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub created_at: Option<OffsetDateTime>,
    /// When the reseller last changed.
    #[serde(default, deserialize_with = "timestamp::opt")]
    pub updated_at: Option<OffsetDateTime>,
}

impl AccountObject for Reseller {
    const OBJECT: &'static str = "account_reseller";
}

/// Longest description accepted (the server stores 255 characters).
pub const MAX_DESCRIPTION_CHARS: usize = 255;

fn check_description(d: &str) -> Result<(), ApiError> {
    let n = d.chars().count();
    if d.trim().is_empty() || n > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::Rest(RestError::InvalidInput {
            field: "description",
            expected: "a description of 1 to 255 characters",
            found: format!("{n} characters"),
        }));
    }
    Ok(())
}

fn check_price(field: &'static str, cents: i64, allow_zero: bool) -> Result<(), ApiError> {
    if cents < 0 || (cents == 0 && !allow_zero) {
        return Err(ApiError::Rest(RestError::InvalidInput {
            field,
            expected: if allow_zero {
                "zero or more minor units"
            } else {
                "a positive number of minor units"
            },
            found: cents.to_string(),
        }));
    }
    Ok(())
}

/// `t` as the platform keeps it: whole seconds. Its bill and recurring bill times are Rails
/// `datetime` columns, stored and rendered without fractions (mno-api-sandbox
/// `app/models/bill.rb` schema, `app/views/api/v1/account/bills/show.json.json_builder`), so a
/// time is sent, and compared, at whole seconds: otherwise a bill found after an unknown
/// outcome would never match the one asked for.
pub(crate) fn platform_time(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

/// The largest `units` the platform keeps: its column is `decimal(10,2)`
/// (mno-api-sandbox `app/models/bill.rb`), so eight digits before the point and two after.
const MAX_UNITS_MANTISSA: i128 = 9_999_999_999;

/// Checks that the platform keeps `units` as they are: positive, at most two decimal places
/// (after dropping trailing zeros) and at most 99,999,999.99. A value it would round is
/// refused rather than rounded here: the quantity billed is the application's decision.
fn check_units(units: Decimal) -> Result<(), ApiError> {
    let n = units.normalized();
    let problem = if !n.is_positive() {
        Some("a positive quantity")
    } else if n.scale() > 2 {
        Some("at most 2 decimal places (the platform keeps units as decimal(10,2))")
    } else if n.mantissa() * 10i128.pow(u32::from(2 - n.scale())) > MAX_UNITS_MANTISSA {
        Some("at most 99999999.99 (the platform keeps units as decimal(10,2))")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(expected) => Err(ApiError::Rest(RestError::InvalidInput {
            field: "units",
            expected,
            found: units.to_string(),
        })),
    }
}

fn time_text(field: &'static str, t: Option<OffsetDateTime>) -> Result<Option<String>, ApiError> {
    t.map(|t| {
        format_timestamp(platform_time(t)).ok_or_else(|| {
            ApiError::Rest(RestError::InvalidInput {
                field,
                expected: "a time between years 0000 and 9999",
                found: t.year().to_string(),
            })
        })
    })
    .transpose()
}

/// A bill to create: `POST /account/bills`.
///
/// Creating a bill is not idempotent and is never retried automatically; see
/// [avoiding double billing](crate::api#avoiding-double-billing).
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct NewBill {
    group_id: GroupUid,
    price: Money,
    description: String,
    units: Option<Decimal>,
    period_started_at: Option<OffsetDateTime>,
    period_ended_at: Option<OffsetDateTime>,
    third_party: Option<bool>,
}

impl NewBill {
    /// Charges `price` to `group_id` for `description` (1 to 255 characters).
    pub fn new(group_id: GroupUid, price: Money, description: impl Into<String>) -> Self {
        Self {
            group_id,
            price,
            description: description.into(),
            units: None,
            period_started_at: None,
            period_ended_at: None,
            third_party: None,
        }
    }

    /// The quantity: positive, at most two decimal places and at most 99,999,999.99, what
    /// the platform's `decimal(10,2)` column keeps; other values are refused when the request
    /// is built.
    pub fn units(mut self, units: Decimal) -> Self {
        self.units = Some(units);
        self
    }

    /// The period charged (the start must not be after the end). Sent at whole seconds, as
    /// the platform keeps it.
    pub fn period(mut self, started_at: OffsetDateTime, ended_at: OffsetDateTime) -> Self {
        self.period_started_at = Some(started_at);
        self.period_ended_at = Some(ended_at);
        self
    }

    /// Whether the charge is for a third party.
    pub fn third_party(mut self, third_party: bool) -> Self {
        self.third_party = Some(third_party);
        self
    }

    /// The group charged.
    pub fn group_id(&self) -> &GroupUid {
        &self.group_id
    }

    /// The amount.
    pub fn price(&self) -> Money {
        self.price
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Whether `bill` is what this request creates: same group, amount, currency,
    /// description, units and period, compared as the platform keeps them (times at whole
    /// seconds, units by value). Used to find out whether a create whose outcome is unknown
    /// took effect before sending it again.
    pub fn matches(&self, bill: &Bill) -> bool {
        let same_time = |asked: Option<OffsetDateTime>, kept: Option<OffsetDateTime>| {
            asked.is_none() || asked.map(platform_time) == kept.map(platform_time)
        };
        bill.group_id == self.group_id
            && bill.price == self.price
            && bill.description.as_deref() == Some(self.description.as_str())
            && bill.units == self.units
            && same_time(self.period_started_at, bill.period_started_at)
            && same_time(self.period_ended_at, bill.period_ended_at)
    }

    /// The JSON body, after checking the values.
    pub(crate) fn body(&self) -> Result<Vec<u8>, ApiError> {
        check_price("price_cents", self.price.minor_units(), false)?;
        check_description(&self.description)?;
        if let Some(units) = self.units {
            check_units(units)?;
        }
        if let (Some(s), Some(e)) = (self.period_started_at, self.period_ended_at)
            && s > e
        {
            return Err(ApiError::Rest(RestError::InvalidInput {
                field: "period_started_at",
                expected: "a period start not after its end",
                found: format!(
                    "{} after {}",
                    format_timestamp(s).unwrap_or_default(),
                    format_timestamp(e).unwrap_or_default()
                ),
            }));
        }
        #[derive(Serialize)]
        struct Body<'a> {
            group_id: &'a str,
            price_cents: i64,
            currency: &'a str,
            description: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            units: Option<Decimal>,
            #[serde(skip_serializing_if = "Option::is_none")]
            period_started_at: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            period_ended_at: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            third_party: Option<bool>,
        }
        let currency = self.price.currency();
        let body = Body {
            group_id: self.group_id.as_str(),
            price_cents: self.price.minor_units(),
            currency: currency.code(),
            description: &self.description,
            units: self.units,
            period_started_at: time_text("period_started_at", self.period_started_at)?,
            period_ended_at: time_text("period_ended_at", self.period_ended_at)?,
            third_party: self.third_party,
        };
        Ok(serde_json::to_vec(&body).expect("a struct of strings and numbers serialises"))
    }
}

/// A recurring bill to create: `POST /account/recurring_bills`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct NewRecurringBill {
    group_id: GroupUid,
    price: Money,
    description: String,
    period: Period,
    frequency: Option<u32>,
    cycles: Option<u32>,
    start_date: Option<OffsetDateTime>,
    initial_cents: Option<i64>,
}

impl NewRecurringBill {
    /// Charges `price` to `group_id` every `period` for `description`.
    pub fn new(
        group_id: GroupUid,
        price: Money,
        description: impl Into<String>,
        period: Period,
    ) -> Self {
        Self {
            group_id,
            price,
            description: description.into(),
            period,
            frequency: None,
            cycles: None,
            start_date: None,
            initial_cents: None,
        }
    }

    /// Charge every `frequency` periods (at least 1; the server's default is 1).
    pub fn frequency(mut self, frequency: u32) -> Self {
        self.frequency = Some(frequency);
        self
    }

    /// Stop after `cycles` charges (at least 1; by default, until cancelled).
    pub fn cycles(mut self, cycles: u32) -> Self {
        self.cycles = Some(cycles);
        self
    }

    /// The first charge (by default, now; the server refuses a start in the past).
    pub fn start_date(mut self, start: OffsetDateTime) -> Self {
        self.start_date = Some(start);
        self
    }

    /// A one-off amount charged at the start, in the same currency's minor units.
    pub fn initial_cents(mut self, cents: i64) -> Self {
        self.initial_cents = Some(cents);
        self
    }

    /// The group charged.
    pub fn group_id(&self) -> &GroupUid {
        &self.group_id
    }

    /// Whether `bill` is what this request creates (group, amount, description, period,
    /// frequency, cycles).
    pub fn matches(&self, bill: &RecurringBill) -> bool {
        bill.group_id == self.group_id
            && bill.price == self.price
            && bill.description.as_deref() == Some(self.description.as_str())
            && bill.period == Some(self.period)
            && (self.frequency.is_none() || bill.frequency == self.frequency)
            && bill.cycles == self.cycles
    }

    pub(crate) fn body(&self) -> Result<Vec<u8>, ApiError> {
        check_price("price_cents", self.price.minor_units(), false)?;
        check_description(&self.description)?;
        if let Some(c) = self.initial_cents {
            check_price("initial_cents", c, true)?;
        }
        for (field, v) in [("frequency", self.frequency), ("cycles", self.cycles)] {
            if v == Some(0) {
                return Err(ApiError::Rest(RestError::InvalidInput {
                    field,
                    expected: "at least 1",
                    found: "0".into(),
                }));
            }
        }
        #[derive(Serialize)]
        struct Body<'a> {
            group_id: &'a str,
            price_cents: i64,
            currency: &'a str,
            description: &'a str,
            period: Period,
            #[serde(skip_serializing_if = "Option::is_none")]
            frequency: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            cycles: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            start_date: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            initial_cents: Option<i64>,
        }
        let currency = self.price.currency();
        let body = Body {
            group_id: self.group_id.as_str(),
            price_cents: self.price.minor_units(),
            currency: currency.code(),
            description: &self.description,
            period: self.period,
            frequency: self.frequency,
            cycles: self.cycles,
            start_date: time_text("start_date", self.start_date)?,
            initial_cents: self.initial_cents,
        };
        Ok(serde_json::to_vec(&body).expect("a struct of strings and numbers serialises"))
    }
}
