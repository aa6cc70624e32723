//! What the usage type and resource id say: region, meter, cache size, API id and stage.

use std::str::FromStr;

use rust_decimal::Decimal;
use tollgate_pricing::Meter;

/// AWS billing region codes, as they prefix usage types (`USE1-ApiGatewayRequest`).
///
/// aws-facts §6.1 confirms `USE1`, `USE2`, `USW2`, `EU` (eu-west-1, no number), `EUC1`,
/// `APN1`, `APN2`; the others are AWS's published region billing codes as used across public
/// CUR tooling.
pub const REGION_PREFIXES: &[(&str, &str)] = &[
    ("USE1", "us-east-1"),
    ("USE2", "us-east-2"),
    ("USW1", "us-west-1"),
    ("USW2", "us-west-2"),
    ("UGW1", "us-gov-west-1"),
    ("UGE1", "us-gov-east-1"),
    ("CAN1", "ca-central-1"),
    ("CAN2", "ca-west-1"),
    ("EU", "eu-west-1"),
    ("EUW1", "eu-west-1"),
    ("EUW2", "eu-west-2"),
    ("EUW3", "eu-west-3"),
    ("EUC1", "eu-central-1"),
    ("EUC2", "eu-central-2"),
    ("EUN1", "eu-north-1"),
    ("EUS1", "eu-south-1"),
    ("EUS2", "eu-south-2"),
    ("APN1", "ap-northeast-1"),
    ("APN2", "ap-northeast-2"),
    ("APN3", "ap-northeast-3"),
    ("APS1", "ap-southeast-1"),
    ("APS2", "ap-southeast-2"),
    ("APS3", "ap-south-1"),
    ("APS4", "ap-southeast-3"),
    ("APS5", "ap-south-2"),
    ("APS6", "ap-southeast-4"),
    ("APE1", "ap-east-1"),
    ("SAE1", "sa-east-1"),
    ("MES1", "me-south-1"),
    ("MEC1", "me-central-1"),
    ("AFS1", "af-south-1"),
    ("ILC1", "il-central-1"),
];

/// The region of a usage type's billing prefix (`USE1-…` → `us-east-1`), if known.
pub fn region_of_usage_type(usage_type: &str) -> Option<&'static str> {
    let (prefix, _) = usage_type.split_once('-')?;
    REGION_PREFIXES
        .iter()
        .find(|(p, _)| *p == prefix)
        .map(|(_, r)| *r)
}

/// The billing prefix of a region (`us-east-1` → `USE1`); `eu-west-1` gives `EU`.
pub fn prefix_of_region(region: &str) -> Option<&'static str> {
    REGION_PREFIXES
        .iter()
        .find(|(_, r)| *r == region)
        .map(|(p, _)| *p)
}

/// The tollgate meter of an API Gateway usage type, with the cache size for cache lines.
///
/// Follows AWS's own CUR query (aws-facts §6.1, WAL): `ApiGatewayHttpRequest` → HTTP requests,
/// `ApiGatewayRequest` → REST requests, `ApiGatewayMessage` → WebSocket messages,
/// `ApiGatewayMinute` → connection minutes, `ApiGatewayCacheUsage:<size>GB` → cache hours,
/// `DataTransfer-Out-Bytes` → data transfer out. Anything else (inter-region transfer,
/// portals, …) has no meter.
pub fn meter_of_usage_type(usage_type: &str) -> (Option<Meter>, Option<Decimal>) {
    if usage_type.contains("ApiGatewayHttpRequest") {
        (Some(Meter::HttpRequests), None)
    } else if usage_type.contains("ApiGatewayRequest") {
        (Some(Meter::RestRequests), None)
    } else if usage_type.contains("ApiGatewayMessage") {
        (Some(Meter::WebsocketMessages), None)
    } else if usage_type.contains("ApiGatewayMinute") {
        (Some(Meter::WebsocketConnectionMinutes), None)
    } else if let Some(i) = usage_type.find("ApiGatewayCacheUsage") {
        let rest = &usage_type[i + "ApiGatewayCacheUsage".len()..];
        let size = rest
            .strip_prefix(':')
            .map(|s| s.trim_end_matches("GB").trim_end_matches("Gb"))
            .and_then(|s| Decimal::from_str(s).ok())
            .map(|d| d.normalize());
        (Some(Meter::CacheHours), size)
    } else if usage_type.contains("DataTransfer-Out-Bytes") {
        (Some(Meter::DataTransferOutGb), None)
    } else {
        (None, None)
    }
}

/// API id and stage from an API Gateway resource id or ARN:
/// `arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod` → (`a1b2c3d4e5`, `prod`);
/// `…/apis/<id>…` likewise (HTTP and WebSocket APIs).
pub fn api_and_stage(resource_id: &str) -> (Option<String>, Option<String>) {
    fn segment_after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
        let i = s.find(marker)?;
        let rest = &s[i + marker.len()..];
        let seg = rest.split(['/', '?', '#']).next().unwrap_or("");
        (!seg.is_empty()).then_some(seg)
    }
    let api =
        segment_after(resource_id, "/restapis/").or_else(|| segment_after(resource_id, "/apis/"));
    let stage = segment_after(resource_id, "/stages/");
    (api.map(str::to_string), stage.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            region_of_usage_type("USE1-ApiGatewayRequest"),
            Some("us-east-1")
        );
        assert_eq!(
            region_of_usage_type("EU-ApiGatewayCacheUsage:0.5GB"),
            Some("eu-west-1")
        );
        assert_eq!(region_of_usage_type("ApiGatewayRequest"), None);
        assert_eq!(region_of_usage_type("XYZ9-ApiGatewayRequest"), None);
        assert_eq!(prefix_of_region("eu-west-1"), Some("EU"));
    }

    #[test]
    fn meters() {
        assert_eq!(
            meter_of_usage_type("USE1-ApiGatewayHttpRequest").0,
            Some(Meter::HttpRequests)
        );
        assert_eq!(
            meter_of_usage_type("USE1-ApiGatewayRequest").0,
            Some(Meter::RestRequests)
        );
        assert_eq!(
            meter_of_usage_type("APN2-ApiGatewayMessage").0,
            Some(Meter::WebsocketMessages)
        );
        assert_eq!(
            meter_of_usage_type("APN2-ApiGatewayMinute").0,
            Some(Meter::WebsocketConnectionMinutes)
        );
        let (m, size) = meter_of_usage_type("USW2-ApiGatewayCacheUsage:0.5GB");
        assert_eq!(m, Some(Meter::CacheHours));
        assert_eq!(size, Some(Decimal::new(5, 1)));
        assert_eq!(
            meter_of_usage_type("USE1-ApiGatewayCacheUsage:237GB").1,
            Some(Decimal::from(237))
        );
        assert_eq!(
            meter_of_usage_type("USE1-DataTransfer-Out-Bytes").0,
            Some(Meter::DataTransferOutGb)
        );
        assert_eq!(meter_of_usage_type("USE1-USW2-AWS-Out-Bytes").0, None);
    }

    #[test]
    fn api_ids() {
        assert_eq!(
            api_and_stage("arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/stages/prod"),
            (Some("a1b2c3d4e5".into()), Some("prod".into()))
        );
        assert_eq!(
            api_and_stage("arn:aws:apigateway:eu-central-1::/apis/x9y8z7w6v5"),
            (Some("x9y8z7w6v5".into()), None)
        );
        assert_eq!(api_and_stage(""), (None, None));
        assert_eq!(api_and_stage("i-0abc"), (None, None));
    }
}
