//! The baseline workload: three APIs, their routes and callers, and the seasonality that
//! shapes their traffic hour by hour.

use std::f64::consts::TAU;

/// What kind of API, which decides its request meter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ApiKind {
    /// HTTP API: `http_requests`.
    Http,
    /// REST API: `rest_requests`.
    Rest,
    /// WebSocket API: `websocket_messages` and `websocket_connection_ms`.
    Websocket,
}

/// A route and its share of the API's requests.
#[derive(Debug)]
pub(crate) struct Route {
    pub key: &'static str,
    pub share: f64,
    /// Bytes sent back per successful (2xx) response, headers included.
    pub response_bytes: f64,
}

/// A caller: an API key and a client, and its share of the API's traffic.
#[derive(Debug)]
pub(crate) struct Caller {
    pub key: &'static str,
    pub client: &'static str,
    pub share: f64,
}

#[derive(Debug)]
pub(crate) struct Api {
    pub name: &'static str,
    pub kind: ApiKind,
    pub stage: &'static str,
    /// The value of the API's `team` tag.
    pub team: &'static str,
    /// Requests (or WebSocket messages) per hour at the daily peak of a weekday.
    pub peak_per_hour: f64,
    pub routes: &'static [Route],
    pub callers: &'static [Caller],
}

/// Bytes of an error (4xx/5xx) response.
pub(crate) const ERROR_RESPONSE_BYTES: f64 = 120.0;

/// Concurrent WebSocket connections at the daily peak of a weekday.
pub(crate) const WS_PEAK_CONNECTIONS: f64 = 3_200.0;
/// Average lifetime of a WebSocket connection, in hours (connections opened per hour =
/// concurrent connections / lifetime).
pub(crate) const WS_LIFETIME_HOURS: f64 = 0.25;
/// Bytes sent to clients per WebSocket message.
pub(crate) const WS_MESSAGE_BYTES_OUT: f64 = 600.0;
/// Share of WebSocket messages of at most 1 KB (the rest are at most 4 KB).
pub(crate) const WS_SMALL_MESSAGE_SHARE: f64 = 0.92;
/// Share of the requests answered 5xx that their client retries once (informational
/// `retries` meter; the retries are among the requests already counted).
pub(crate) const RETRIED_SHARE: f64 = 0.3;

pub(crate) static SHOP: Api = Api {
    name: "shop",
    kind: ApiKind::Http,
    stage: "$default",
    team: "storefront",
    peak_per_hour: 200_000.0,
    routes: &[
        Route {
            key: "GET /products",
            share: 0.35,
            response_bytes: 8_192.0,
        },
        Route {
            key: "GET /products/{id}",
            share: 0.45,
            response_bytes: 3_072.0,
        },
        Route {
            key: "POST /orders",
            share: 0.10,
            response_bytes: 1_536.0,
        },
        Route {
            key: "$default",
            share: 0.10,
            response_bytes: 512.0,
        },
    ],
    callers: &[
        Caller {
            key: "key-web",
            client: "203.0.113.10",
            share: 0.40,
        },
        Caller {
            key: "key-web",
            client: "203.0.113.11",
            share: 0.30,
        },
        Caller {
            key: "key-mobile",
            client: "203.0.113.20",
            share: 0.20,
        },
        Caller {
            key: "",
            client: "198.51.100.7",
            share: 0.10,
        },
    ],
};

pub(crate) static LEGACY: Api = Api {
    name: "legacy",
    kind: ApiKind::Rest,
    stage: "prod",
    team: "billing",
    peak_per_hour: 33_000.0,
    routes: &[
        Route {
            key: "GET /invoices",
            share: 0.50,
            response_bytes: 6_144.0,
        },
        Route {
            key: "GET /invoices/{id}",
            share: 0.35,
            response_bytes: 2_048.0,
        },
        Route {
            key: "POST /invoices",
            share: 0.15,
            response_bytes: 1_024.0,
        },
    ],
    callers: &[
        Caller {
            key: "key-erp",
            client: "192.0.2.10",
            share: 0.60,
        },
        Caller {
            key: "key-partner",
            client: "192.0.2.50",
            share: 0.40,
        },
    ],
};

pub(crate) static CHAT: Api = Api {
    name: "chat",
    kind: ApiKind::Websocket,
    stage: "prod",
    team: "social",
    peak_per_hour: 66_700.0,
    routes: &[
        Route {
            key: "sendmessage",
            share: 1.0,
            response_bytes: WS_MESSAGE_BYTES_OUT,
        },
        Route {
            key: "$connect",
            share: 0.0,
            response_bytes: 0.0,
        },
        Route {
            key: "$disconnect",
            share: 0.0,
            response_bytes: 0.0,
        },
    ],
    callers: &[
        Caller {
            key: "key-app",
            client: "203.0.113.30",
            share: 0.70,
        },
        Caller {
            key: "key-app",
            client: "203.0.113.31",
            share: 0.30,
        },
    ],
};

pub(crate) static APIS: [&Api; 3] = [&SHOP, &LEGACY, &CHAT];

/// How requests of an HTTP or REST API end: (status class, reason, billable, share).
pub(crate) const STATUS_MIX: [(u8, tollgate_types::usage::Reason, bool, f64); 4] = {
    use tollgate_types::usage::Reason;
    [
        (2, Reason::Integration, true, 0.955),
        (4, Reason::Integration, true, 0.030),
        (4, Reason::AuthFailed, false, 0.005),
        (5, Reason::Integration, true, 0.010),
    ]
};

/// The route of an HTTP or REST API with this key, and its API.
pub(crate) fn find_request_route(key: &str) -> Option<(&'static Api, &'static Route)> {
    APIS.iter()
        .filter(|a| a.kind != ApiKind::Websocket)
        .find_map(|a| a.routes.iter().find(|r| r.key == key).map(|r| (*a, r)))
}

/// Daily curve: 0.25 at 03:00 UTC (night), 1.0 at 15:00 UTC (peak), a cosine in between.
pub fn diurnal(hour: u32) -> f64 {
    0.25 + 0.75 * (0.5 - 0.5 * ((f64::from(hour) - 3.0) / 24.0 * TAU).cos())
}

/// Weekly curve: weekdays 1.0, Saturday and Sunday 0.6.
pub fn weekly(weekday: u32) -> f64 {
    if weekday >= 5 {
        0.6
    } else {
        1.0
    }
}

/// Day of the week of a day number (days since 1970-01-01, a Thursday): 0 = Monday.
pub fn weekday(day_number: i64) -> u32 {
    // rem_euclid(7) is in 0..7.
    (day_number + 3).rem_euclid(7) as u32
}

/// The seasonal factor of the hour starting at `ts` (Unix seconds): diurnal × weekly.
pub fn seasonal(ts: i64) -> f64 {
    let day = ts.div_euclid(86_400);
    let hour = (ts.rem_euclid(86_400) / 3_600) as u32;
    diurnal(hour) * weekly(weekday(day))
}
