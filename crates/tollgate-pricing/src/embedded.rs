//! The price tables compiled into tollgate.
//!
//! Every number comes from /work/shared/aws-facts.md §1 (source keys defined in its §0).
//! Prices are USD per unit (per request, message, minute, cache hour or GB). Tier bounds are
//! units per calendar month, per account and region. Outside us-east-1 the tables are
//! partial: a meter or tier not listed here is an error when used, never a guess.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;

use crate::{CacheSize, Catalog, Meter, PriceTable, RegionPrices};

fn table(bounds: &[(Option<Decimal>, Decimal)], source: &str) -> PriceTable {
    match PriceTable::new(bounds, source) {
        Ok(t) => t,
        // The bounds below are constants checked by the tests.
        Err(e) => panic!("embedded price table is invalid: {e}"),
    }
}

fn flat(price: Decimal, source: &str) -> PriceTable {
    table(&[(None, price)], source)
}

/// us-east-1 (US East, N. Virginia): complete.
fn us_east_1() -> RegionPrices {
    let mut r = RegionPrices::new("us-east-1");
    // Source: aws-facts §1.1 — MCP (AWS Pricing API, "Pricing Date: October 2025", SKU
    // FC2TWT2UEPTBKVBX), IC (infracost), PRC (pricing page, last_updated 2025-11-02, ex. HTTP-1).
    r.set(
        Meter::HttpRequests,
        table(
            &[
                (Some(dec!(300_000_000)), dec!(0.0000010000)),
                (None, dec!(0.0000009000)),
            ],
            "aws-facts §1.1: MCP Oct 2025, IC, PRC 2025-11-02 (usagetype USE1-ApiGatewayHttpRequest)",
        ),
    );
    // Source: aws-facts §1.1 — MCP Oct 2025 (SKU KKDZ3TFSXUSMCZ3A), IC (golden 1,000 M over
    // 20 B → $1,510.00), PRC 2025-11-02.
    r.set(
        Meter::RestRequests,
        table(
            &[
                (Some(dec!(333_000_000)), dec!(0.0000035)),
                (Some(dec!(1_000_000_000)), dec!(0.0000028)),
                (Some(dec!(20_000_000_000)), dec!(0.00000238)),
                (None, dec!(0.00000151)),
            ],
            "aws-facts §1.1: MCP Oct 2025, IC, PRC 2025-11-02 (usagetype USE1-ApiGatewayRequest)",
        ),
    );
    // Source: aws-facts §1.1 — MCP Oct 2025 (SKU 3Y5E3ETY2M5CMHYP), IC (golden 500 M over 1 B
    // → $400.00).
    r.set(
        Meter::WebsocketMessages,
        table(
            &[
                (Some(dec!(1_000_000_000)), dec!(0.0000010)),
                (None, dec!(0.0000008)),
            ],
            "aws-facts §1.1: MCP Oct 2025, IC (usagetype USE1-ApiGatewayMessage)",
        ),
    );
    // Source: aws-facts §1.1 — MCP Oct 2025 (SKU UTA8VPBNDBWNCNMC), IC, PRC WebSocket example.
    r.set(
        Meter::WebsocketConnectionMinutes,
        flat(
            dec!(0.00000025),
            "aws-facts §1.1: MCP Oct 2025, IC, PRC 2025-11-02 (usagetype USE1-ApiGatewayMinute)",
        ),
    );
    // Source: aws-facts §1.4 — MCP Oct 2025 (SKU HQEH3ZWJVT46JHRG, EC2 DTO rates; PRC examples
    // use $0.09). Bounds in GB: 10 TB = 10,240 GB, +40 TB = 51,200 GB, +100 TB = 153,600 GB.
    r.set(
        Meter::DataTransferOutGb,
        table(
            &[
                (Some(dec!(10_240)), dec!(0.09)),
                (Some(dec!(51_200)), dec!(0.085)),
                (Some(dec!(153_600)), dec!(0.07)),
                (None, dec!(0.05)),
            ],
            "aws-facts §1.4: MCP Oct 2025 (EC2 data transfer out to Internet), PRC 2025-11-02",
        ),
    );
    // Source: aws-facts §1.3 (per cache hour). 0.5 GB and 237 GB: IC golden tests; 1.6 GB: PRC
    // 2025-11-02 cache example ($0.038/hr); other sizes: secondary lists (kejyun/aws-learning-
    // notes) agreeing with each other.
    let cache = [
        (
            CacheSize::Gb0_5,
            dec!(0.020),
            "aws-facts §1.3: IC golden (730 h → $14.60)",
        ),
        (
            CacheSize::Gb1_6,
            dec!(0.038),
            "aws-facts §1.3: PRC 2025-11-02 cache example",
        ),
        (
            CacheSize::Gb6_1,
            dec!(0.200),
            "aws-facts §1.3: secondary lists",
        ),
        (
            CacheSize::Gb13_5,
            dec!(0.250),
            "aws-facts §1.3: secondary lists",
        ),
        (
            CacheSize::Gb28_4,
            dec!(0.500),
            "aws-facts §1.3: secondary lists",
        ),
        (
            CacheSize::Gb58_2,
            dec!(1.000),
            "aws-facts §1.3: secondary lists",
        ),
        (
            CacheSize::Gb118,
            dec!(1.900),
            "aws-facts §1.3: secondary lists",
        ),
        (
            CacheSize::Gb237,
            dec!(3.800),
            "aws-facts §1.3: IC golden (730 h → $2,774.00)",
        ),
    ];
    for (size, price, source) in cache {
        r.set_cache(size, flat(price, source));
    }
    r
}

/// REST first tier as stated by PRC's REST example, which "reflects pricing for US East
/// (N. Virginia, Ohio), US West (Oregon), Asia Pacific (Mumbai)" (aws-facts §1.5, §1.9 REST-1;
/// PRC last_updated 2025-11-02). Only the first tier (333 M) is confirmed for these regions.
fn rest_first_tier_prc() -> PriceTable {
    table(
        &[(Some(dec!(333_000_000)), dec!(0.0000035))],
        "aws-facts §1.5: PRC 2025-11-02 REST example regions (first 333 M only)",
    )
}

/// us-east-2 (Ohio): REST first tier and data out first tier, from PRC's REST example.
fn us_east_2() -> RegionPrices {
    let mut r = RegionPrices::new("us-east-2");
    r.set(Meter::RestRequests, rest_first_tier_prc());
    // Source: aws-facts §1.9 REST-1 (PRC 2025-11-02): data out at $0.09/GB for the regions the
    // example covers; first 10 TB only.
    r.set(
        Meter::DataTransferOutGb,
        table(
            &[(Some(dec!(10_240)), dec!(0.09))],
            "aws-facts §1.9 REST-1: PRC 2025-11-02 (first 10 TB only)",
        ),
    );
    r
}

/// us-west-2 (Oregon): REST and data out first tiers (PRC), cache 0.5 GB (real bill).
fn us_west_2() -> RegionPrices {
    let mut r = RegionPrices::new("us-west-2");
    r.set(Meter::RestRequests, rest_first_tier_prc());
    // Source: as us-east-2.
    r.set(
        Meter::DataTransferOutGb,
        table(
            &[(Some(dec!(10_240)), dec!(0.09))],
            "aws-facts §1.9 REST-1: PRC 2025-11-02 (first 10 TB only)",
        ),
    );
    // Source: aws-facts §1.3/§6.1 — real bill `USW2-ApiGatewayCacheUsage:0.5GB` 743.93 h →
    // $14.88 (secondary, 2026).
    r.set_cache(
        CacheSize::Gb0_5,
        flat(
            dec!(0.020),
            "aws-facts §1.3: USW2 real bill 2026 (secondary)",
        ),
    );
    r
}

/// ap-south-1 (Mumbai): REST first tier only (PRC).
fn ap_south_1() -> RegionPrices {
    let mut r = RegionPrices::new("ap-south-1");
    r.set(Meter::RestRequests, rest_first_tier_prc());
    r
}

/// eu-central-1 (Frankfurt): REST first tier and cache 0.5 GB.
fn eu_central_1() -> RegionPrices {
    let mut r = RegionPrices::new("eu-central-1");
    // Source: aws-facts §1.5 — Pricing-API read (`EUC1-ApiGatewayRequest`) quoted in a secondary
    // source, 2026-08-12. First tier assumed to end at 333 M as in every confirmed region.
    r.set(
        Meter::RestRequests,
        table(
            &[(Some(dec!(333_000_000)), dec!(0.0000037))],
            "aws-facts §1.5: Pricing API read 2026-08-12 (secondary; first tier only)",
        ),
    );
    // Source: aws-facts §1.3/§1.5 — `EUC1-ApiGatewayCacheUsage:0.5GB` $0.020/h, Pricing API read
    // 2026-08-12 (secondary).
    r.set_cache(
        CacheSize::Gb0_5,
        flat(
            dec!(0.020),
            "aws-facts §1.3: Pricing API read 2026-08-12 (secondary)",
        ),
    );
    r
}

/// ap-northeast-2 (Seoul): first tiers of HTTP, REST, WebSocket messages; connection minutes.
fn ap_northeast_2() -> RegionPrices {
    let mut r = RegionPrices::new("ap-northeast-2");
    // Source: aws-facts §1.5 — KR (AWS Price List `AmazonApiGateway ap-northeast-2`, retrieved
    // 2026-10-01): "$1.23/million requests - API Gateway HTTP API (first 300 million)".
    r.set(
        Meter::HttpRequests,
        table(
            &[(Some(dec!(300_000_000)), dec!(0.00000123))],
            "aws-facts §1.5: KR Price List 2026-10-01 (first 300 M only)",
        ),
    );
    // Source: KR 2026-10-01: "$3.50/million requests - first 333 million requests/month".
    r.set(
        Meter::RestRequests,
        table(
            &[(Some(dec!(333_000_000)), dec!(0.0000035))],
            "aws-facts §1.5: KR Price List 2026-10-01 (first 333 M only)",
        ),
    );
    // Source: KR 2026-10-01: messages $1.14/M. The tier bound is not quoted; the 1 B bound of
    // us-east-1 is assumed and nothing above it is priced.
    r.set(
        Meter::WebsocketMessages,
        table(
            &[(Some(dec!(1_000_000_000)), dec!(0.00000114))],
            "aws-facts §1.5: KR Price List 2026-10-01 (first 1 B assumed)",
        ),
    );
    // Source: KR 2026-10-01: connection minutes $0.285/M (flat, as in us-east-1).
    r.set(
        Meter::WebsocketConnectionMinutes,
        flat(
            dec!(0.000000285),
            "aws-facts §1.5: KR Price List 2026-10-01",
        ),
    );
    r
}

/// The embedded catalog.
pub(crate) fn catalog() -> Catalog {
    let mut c = Catalog::new();
    for r in [
        us_east_1(),
        us_east_2(),
        us_west_2(),
        ap_south_1(),
        eu_central_1(),
        ap_northeast_2(),
    ] {
        c.insert(r);
    }
    c
}
