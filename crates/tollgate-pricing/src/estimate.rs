//! Pricing a workload: `estimate` and its public JSON / table / CSV shapes.

use rust_decimal::Decimal;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::meter::{display_cost, display_exact};
use crate::{CacheSize, Catalog, FreeTier, Meter, PricingError, Workload};

/// The currency of every price in tollgate.
pub const CURRENCY: &str = "USD";

/// One priced meter of an [`Estimate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The meter.
    pub meter: Meter,
    /// The cache size, for [`Meter::CacheHours`] lines only.
    pub cache_size: Option<CacheSize>,
    /// Units for the month (exact).
    pub units: Decimal,
    /// Cost in USD (exact, not rounded).
    pub cost: Decimal,
}

/// The priced month of a [`Workload`].
///
/// JSON (a public contract; money and units are decimal strings, never floats):
/// `{"currency":"USD","region":…,"free_tier":…,"lines":[{"meter":…,"units":…,"cost":"418.80",
/// "exact_cost":"418.8"}…],"total":"418.80","exact_total":"418.8"}`; cache lines also carry
/// `"cache_size_gb"`. `cost`/`total` are rounded half away from zero to cents (cache costs,
/// and totals with a cache line, to at most 3 decimals: `"0.912"`); `exact_*` keep full
/// precision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// Region priced.
    pub region: String,
    /// Whether the legacy free tier was applied.
    pub free_tier: bool,
    /// One line per meter the workload uses, in [`Meter::ALL`] order.
    pub lines: Vec<Line>,
    /// Sum of the exact line costs.
    pub total: Decimal,
}

/// Prices `workload` with `catalog`: each meter's month of units is priced from a running
/// total of zero through the region's tiers (after the free-tier allowance when enabled).
pub fn estimate(catalog: &Catalog, workload: &Workload) -> Result<Estimate, PricingError> {
    let q = workload.quantities()?;
    let region = catalog.region(workload.region())?;
    let free = FreeTier::from(workload.free_tier);
    let mut wanted: Vec<(Meter, Option<CacheSize>, Decimal)> = Vec::new();
    let simple = [
        (Meter::HttpRequests, q.http_requests),
        (Meter::RestRequests, q.rest_requests),
        (Meter::WebsocketMessages, q.websocket_messages),
        (
            Meter::WebsocketConnectionMinutes,
            q.websocket_connection_minutes,
        ),
    ];
    for (m, units) in simple {
        if let Some(u) = units {
            wanted.push((m, None, u));
        }
    }
    if let Some((size, hours)) = q.cache {
        wanted.push((Meter::CacheHours, Some(size), hours));
    }
    if let Some(gb) = q.data_transfer_out_gb {
        wanted.push((Meter::DataTransferOutGb, None, gb));
    }
    let mut lines = Vec::with_capacity(wanted.len());
    let mut total = Decimal::ZERO;
    for (meter, cache_size, units) in wanted {
        let cost = if units.is_zero() {
            // Still require a price, so an unpriced meter is never silently free.
            region.table(meter, cache_size)?;
            Decimal::ZERO
        } else {
            region.month_cost(meter, cache_size, units, free)?
        };
        total = total
            .checked_add(cost)
            .ok_or_else(|| PricingError::Overflow("the total".into()))?;
        lines.push(Line {
            meter,
            cache_size,
            units,
            cost,
        });
    }
    Ok(Estimate {
        region: region.code().to_string(),
        free_tier: workload.free_tier,
        lines,
        total,
    })
}

impl Line {
    /// The cost as shown: cents, or [`Meter::display_decimals`] for the meter.
    pub fn display_cost(&self) -> String {
        display_cost(self.cost, self.meter.display_decimals())
    }

    /// The meter label for people: `cache_hours (1.6 GB)` for cache lines.
    pub fn label(&self) -> String {
        match self.cache_size {
            Some(s) => format!("{} ({} GB)", self.meter, s),
            None => self.meter.to_string(),
        }
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("meter", self.meter.as_str())?;
        if let Some(size) = self.cache_size {
            m.serialize_entry("cache_size_gb", size.as_str())?;
        }
        m.serialize_entry("units", &display_exact(self.units))?;
        m.serialize_entry("cost", &self.display_cost())?;
        m.serialize_entry("exact_cost", &display_exact(self.cost))?;
        m.end()
    }
}

impl Serialize for Estimate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Estimate", 6)?;
        st.serialize_field("currency", CURRENCY)?;
        st.serialize_field("region", &self.region)?;
        st.serialize_field("free_tier", &self.free_tier)?;
        st.serialize_field("lines", &self.lines)?;
        st.serialize_field("total", &self.display_total())?;
        st.serialize_field("exact_total", &display_exact(self.total))?;
        st.end()
    }
}

impl Estimate {
    /// The total as shown: cents, or more decimals when a line's meter shows more
    /// (an estimate of only a 1.6 GB cache for a day shows `0.912`).
    pub fn display_total(&self) -> String {
        let dp = self
            .lines
            .iter()
            .map(|l| l.meter.display_decimals())
            .max()
            .unwrap_or(2);
        display_cost(self.total, dp)
    }

    /// The estimate as JSON (see [`Estimate`] for the shape).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// An aligned table for people: meter, units, cost (USD, cents), then a total line.
    pub fn to_table(&self) -> String {
        let header = ["meter", "units", "cost (USD)"];
        let mut rows: Vec<[String; 3]> = self
            .lines
            .iter()
            .map(|l| [l.label(), display_exact(l.units), l.display_cost()])
            .collect();
        rows.push([
            format!("total ({})", self.region),
            String::new(),
            self.display_total(),
        ]);
        let mut w = header.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.len());
            }
        }
        let mut out = format!(
            "{:<w0$}  {:>w1$}  {:>w2$}\n",
            header[0],
            header[1],
            header[2],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2]
        );
        let rule = format!(
            "{}  {}  {}\n",
            "-".repeat(w[0]),
            "-".repeat(w[1]),
            "-".repeat(w[2])
        );
        out.push_str(&rule);
        let last = rows.len() - 1;
        for (i, r) in rows.iter().enumerate() {
            if i == last {
                out.push_str(&rule);
            }
            out.push_str(&format!(
                "{:<w0$}  {:>w1$}  {:>w2$}\n",
                r[0],
                r[1],
                r[2],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            ));
        }
        out
    }

    /// CSV: `meter,cache_size_gb,units,cost,exact_cost`, one row per line, then a `total` row.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("meter,cache_size_gb,units,cost,exact_cost\n");
        for l in &self.lines {
            out.push_str(&format!(
                "{},{},{},{},{}\n",
                l.meter,
                l.cache_size.map(CacheSize::as_str).unwrap_or(""),
                display_exact(l.units),
                l.display_cost(),
                display_exact(l.cost)
            ));
        }
        out.push_str(&format!(
            "total,,,{},{}\n",
            self.display_total(),
            display_exact(self.total)
        ));
        out
    }
}
