//! Loading AWS Price List offer files (`AmazonApiGateway`, JSON or CSV) into a [`Catalog`].
//!
//! Format: aws-facts.md §7 (DX "Reading the service price list file"; real EC2 excerpts).
//! JSON: `products.<SKU>.attributes.{regionCode,usagetype,cacheMemorySizeGb}` and
//! `terms.OnDemand.<SKU>.<SKU.term>.priceDimensions.<rateCode>.{beginRange,endRange,
//! pricePerUnit.USD}`; ranges are strings with an open end `"Inf"`. CSV: metadata rows, then a
//! header row starting with `SKU` (`TermType`, `StartingRange`, `EndingRange`, `PricePerUnit`,
//! `Currency`, `usageType`, `Region Code`, `Cache Memory Size Gb`, …).
//!
//! Usage types map to meters by suffix: `ApiGatewayHttpRequest` → `http_requests`,
//! `ApiGatewayRequest` → `rest_requests`, `ApiGatewayMessage` → `websocket_messages`,
//! `ApiGatewayMinute` → `websocket_connection_minutes`, `ApiGatewayCacheUsage:<size>GB` →
//! `cache_hours`, `DataTransfer-Out-Bytes` → `data_transfer_out_gb`. Other products (portals,
//! …) are ignored.

use std::collections::BTreeMap;
use std::io::Read;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::{CacheSize, Catalog, Meter, PriceTable, PricingError};

/// One price dimension (a tier) of one SKU.
#[derive(Debug, Clone)]
struct Dim {
    location: String,
    sku: String,
    region: String,
    usagetype: String,
    cache_size: Option<String>,
    effective: String,
    begin: Decimal,
    end: Option<Decimal>,
    price: Decimal,
}

fn meter_of(usagetype: &str) -> Option<(Meter, Option<&str>)> {
    if let Some(i) = usagetype.find("ApiGateway") {
        let rest = &usagetype[i..];
        return match rest {
            "ApiGatewayHttpRequest" => Some((Meter::HttpRequests, None)),
            "ApiGatewayRequest" => Some((Meter::RestRequests, None)),
            "ApiGatewayMessage" => Some((Meter::WebsocketMessages, None)),
            "ApiGatewayMinute" => Some((Meter::WebsocketConnectionMinutes, None)),
            _ => rest
                .strip_prefix("ApiGatewayCacheUsage:")
                .map(|size| (Meter::CacheHours, Some(size))),
        };
    }
    if usagetype.contains("DataTransfer-Out-Bytes") {
        return Some((Meter::DataTransferOutGb, None));
    }
    None
}

fn parse_range(location: &str, field: &str, s: &str) -> Result<Option<Decimal>, PricingError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("inf") || t.is_empty() {
        return Ok(None);
    }
    Decimal::from_str(t)
        .or_else(|_| Decimal::from_scientific(t))
        .map(Some)
        .map_err(|_| PricingError::offer(location, format!("`{field}` is not a number: `{s}`")))
}

fn parse_price(location: &str, s: &str) -> Result<Decimal, PricingError> {
    let p = Decimal::from_str(s.trim())
        .or_else(|_| Decimal::from_scientific(s.trim()))
        .map_err(|_| PricingError::offer(location, format!("price is not a number: `{s}`")))?;
    if p.is_sign_negative() && !p.is_zero() {
        return Err(PricingError::offer(
            location,
            format!("negative price `{s}`"),
        ));
    }
    Ok(p)
}

/// Builds a catalog from price dimensions, checking each SKU's tiers are contiguous from 0.
fn build(dims: Vec<Dim>, source: &str) -> Result<Catalog, PricingError> {
    // (region, meter, cache size) → sku → effective date → dims
    type Key = (String, Meter, Option<CacheSize>);
    let mut by_key: BTreeMap<Key, BTreeMap<String, BTreeMap<String, Vec<Dim>>>> = BTreeMap::new();
    for d in dims {
        let Some((meter, size_in_type)) = meter_of(&d.usagetype) else {
            continue;
        };
        let size = if meter == Meter::CacheHours {
            let raw = d
                .cache_size
                .clone()
                .or_else(|| size_in_type.map(str::to_string))
                .unwrap_or_default();
            Some(
                CacheSize::from_str(&raw)
                    .map_err(|e| PricingError::offer(&d.location, e.to_string()))?,
            )
        } else {
            None
        };
        if d.region.is_empty() {
            return Err(PricingError::offer(
                &d.location,
                format!("SKU {} has no region code", d.sku),
            ));
        }
        by_key
            .entry((d.region.clone(), meter, size))
            .or_default()
            .entry(d.sku.clone())
            .or_default()
            .entry(d.effective.clone())
            .or_default()
            .push(d);
    }
    let mut catalog = Catalog::new();
    for ((region, meter, size), skus) in by_key {
        if skus.len() > 1 {
            return Err(PricingError::offer(
                format!("region {region}"),
                format!(
                    "several SKUs price `{meter}`{}: {}",
                    size.map(|s| format!(" ({s} GB)")).unwrap_or_default(),
                    skus.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        for (sku, terms) in skus {
            // The latest effective date wins.
            let Some((effective, mut tiers)) = terms.into_iter().next_back() else {
                continue;
            };
            tiers.sort_by_key(|t| t.begin);
            let mut bounds = Vec::with_capacity(tiers.len());
            let mut expected = Decimal::ZERO;
            let count = tiers.len();
            for (i, t) in tiers.iter().enumerate() {
                if t.begin != expected {
                    return Err(PricingError::offer(
                        &t.location,
                        format!(
                            "SKU {sku}: tiers are not contiguous (range begins at {} where {} was expected)",
                            t.begin, expected
                        ),
                    ));
                }
                if t.end.is_none() && i + 1 != count {
                    return Err(PricingError::offer(
                        &t.location,
                        format!("SKU {sku}: an open-ended (`Inf`) range is not the last tier"),
                    ));
                }
                bounds.push((t.end, t.price));
                if let Some(e) = t.end {
                    expected = e;
                }
            }
            let table = PriceTable::new(
                &bounds,
                format!("{source}, SKU {sku}, effective {effective}"),
            )
            .map_err(|e| PricingError::offer(format!("SKU {sku}"), e.to_string()))?;
            let r = catalog.region_mut(&region);
            match size {
                Some(s) => r.set_cache(s, table),
                None => r.set(meter, table),
            };
        }
    }
    Ok(catalog)
}

fn str_at<'a>(v: &'a Value, key: &str, path: &str) -> Result<&'a str, PricingError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| PricingError::offer(path, format!("missing string `{key}`")))
}

impl Catalog {
    /// Loads an AWS Price List offer file in JSON (aws-facts §7). Only OnDemand USD prices of
    /// the API Gateway meters are read; every SKU's tiers must be contiguous from 0.
    pub fn from_offer_json(json: &str) -> Result<Catalog, PricingError> {
        let root: Value = serde_json::from_str(json).map_err(|e| {
            PricingError::offer(
                format!("line {} column {}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        let offer = root.get("offerCode").and_then(Value::as_str).unwrap_or("?");
        let version = root.get("version").and_then(Value::as_str).unwrap_or("?");
        let published = root
            .get("publicationDate")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let source = format!("offer file {offer} version {version} published {published}");
        let products = root
            .get("products")
            .and_then(Value::as_object)
            .ok_or_else(|| PricingError::offer("products", "missing object `products`"))?;
        let on_demand = root
            .get("terms")
            .and_then(|t| t.get("OnDemand"))
            .and_then(Value::as_object)
            .ok_or_else(|| {
                PricingError::offer("terms.OnDemand", "missing object `terms.OnDemand`")
            })?;
        let mut dims = Vec::new();
        for (sku, product) in products {
            let path = format!("products.{sku}");
            let attrs = product
                .get("attributes")
                .ok_or_else(|| PricingError::offer(&path, "missing object `attributes`"))?;
            let apath = format!("{path}.attributes");
            let usagetype = str_at(attrs, "usagetype", &apath)?;
            if meter_of(usagetype).is_none() {
                continue;
            }
            let region = str_at(attrs, "regionCode", &apath)?.to_string();
            let cache_size = attrs
                .get("cacheMemorySizeGb")
                .and_then(Value::as_str)
                .map(str::to_string);
            let Some(terms) = on_demand.get(sku).and_then(Value::as_object) else {
                return Err(PricingError::offer(
                    format!("terms.OnDemand.{sku}"),
                    "no OnDemand term for this product",
                ));
            };
            for (term_code, term) in terms {
                let tpath = format!("terms.OnDemand.{sku}.{term_code}");
                let effective = term
                    .get("effectiveDate")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let pds = term
                    .get("priceDimensions")
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        PricingError::offer(&tpath, "missing object `priceDimensions`")
                    })?;
                for (rate_code, pd) in pds {
                    let loc = format!("{tpath}.priceDimensions.{rate_code}");
                    let begin = parse_range(&loc, "beginRange", str_at(pd, "beginRange", &loc)?)?
                        .unwrap_or_default();
                    let end = parse_range(&loc, "endRange", str_at(pd, "endRange", &loc)?)?;
                    let usd = pd
                        .get("pricePerUnit")
                        .and_then(|p| p.get("USD"))
                        .and_then(Value::as_str)
                        .ok_or_else(|| PricingError::offer(&loc, "missing `pricePerUnit.USD`"))?;
                    dims.push(Dim {
                        location: loc.clone(),
                        sku: sku.clone(),
                        region: region.clone(),
                        usagetype: usagetype.to_string(),
                        cache_size: cache_size.clone(),
                        effective: effective.clone(),
                        begin,
                        end,
                        price: parse_price(&loc, usd)?,
                    });
                }
            }
        }
        build(dims, &source)
    }

    /// Loads an AWS Price List offer file in CSV (aws-facts §7): metadata rows, then a header
    /// row whose first cell is `SKU`. Column names are matched ignoring case and spaces.
    pub fn from_offer_csv<R: Read>(reader: R) -> Result<Catalog, PricingError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(reader);
        let mut header: Option<Vec<String>> = None;
        let mut meta = Vec::new();
        let mut dims = Vec::new();
        let mut col: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 1;
            let rec = rec.map_err(|e| PricingError::offer(format!("row {row}"), e.to_string()))?;
            if header.is_none() {
                if rec.get(0).map(str::trim) == Some("SKU") {
                    let names: Vec<String> = rec
                        .iter()
                        .map(|c| c.to_ascii_lowercase().replace([' ', '_'], ""))
                        .collect();
                    for want in [
                        "sku",
                        "termtype",
                        "effectivedate",
                        "startingrange",
                        "endingrange",
                        "priceperunit",
                        "currency",
                        "usagetype",
                        "regioncode",
                    ] {
                        let idx = names.iter().position(|n| n == want).ok_or_else(|| {
                            PricingError::offer(
                                format!("row {row}"),
                                format!("header has no `{want}` column"),
                            )
                        })?;
                        col.insert(want, idx);
                    }
                    if let Some(idx) = names.iter().position(|n| n == "cachememorysizegb") {
                        col.insert("cachememorysizegb", idx);
                    }
                    header = Some(names);
                    continue;
                }
                if row > 10 {
                    return Err(PricingError::offer(
                        format!("row {row}"),
                        "no header row starting with `SKU` in the first 10 rows",
                    ));
                }
                meta.push(rec.iter().collect::<Vec<_>>().join("="));
                continue;
            }
            let loc = format!("row {row}");
            let get = |name: &str| -> Result<&str, PricingError> {
                let idx = col.get(name).copied().unwrap_or(usize::MAX);
                rec.get(idx)
                    .map(str::trim)
                    .ok_or_else(|| PricingError::offer(&loc, format!("missing `{name}` value")))
            };
            if get("termtype")? != "OnDemand" {
                continue;
            }
            let usagetype = get("usagetype")?;
            if meter_of(usagetype).is_none() {
                continue;
            }
            let currency = get("currency")?;
            if currency != "USD" {
                return Err(PricingError::offer(
                    &loc,
                    format!("currency `{currency}` is not USD"),
                ));
            }
            let cache_size = col
                .get("cachememorysizegb")
                .and_then(|&i| rec.get(i))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            dims.push(Dim {
                location: loc.clone(),
                sku: get("sku")?.to_string(),
                region: get("regioncode")?.to_string(),
                usagetype: usagetype.to_string(),
                cache_size,
                effective: get("effectivedate")?.to_string(),
                begin: parse_range(&loc, "StartingRange", get("startingrange")?)?
                    .unwrap_or_default(),
                end: parse_range(&loc, "EndingRange", get("endingrange")?)?,
                price: parse_price(&loc, get("priceperunit")?)?,
            });
        }
        if header.is_none() {
            return Err(PricingError::offer(
                "row 1",
                "no header row starting with `SKU`",
            ));
        }
        let source = format!("offer file (CSV) {}", meta.join(", "));
        build(dims, &source)
    }
}
