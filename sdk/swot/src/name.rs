//! The SWOT product file naming convention, for example
//! `SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip`
//! (product, feature kind, cycle, pass, continent, first and last time, CRID, counter)
//! or `SWOT_L2_HR_PIXC_001_042_067L_20220402T112019_20220402T112029_Dx0000_01.nc`
//! (a tile instead of a continent).

use crate::ReadError;

/// What a SWOT file name says about its product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName {
    /// Product short name, such as `L2_HR_RiverSP`, `L2_HR_LakeSP`, `L2_HR_PIXC`.
    pub product: String,
    /// Feature kind of vector products: `Reach`, `Node`, `Obs`, `Prior`, `Unassigned`.
    pub kind: Option<String>,
    /// Cycle number.
    pub cycle: u32,
    /// Pass number.
    pub pass: u32,
    /// Continent code of vector products (`AU`, `NA`, ...).
    pub continent: Option<String>,
    /// Tile name of pixel products (`067L`).
    pub tile: Option<String>,
    /// First measurement time, RFC 3339 (`2026-04-19T18:52:49Z`).
    pub start: String,
    /// Last measurement time, RFC 3339.
    pub end: String,
    /// Composite release identifier (`PID0`, `PGC0`, `Dx0000`): processing baseline and version.
    pub crid: String,
    /// Product counter: files of one granule re-processed with the same CRID differ here.
    pub counter: String,
}

impl ProductName {
    /// Collection name of the product: the short name plus the feature kind, such as
    /// `SWOT_L2_HR_RiverSP_Reach`.
    pub fn collection(&self) -> String {
        match &self.kind {
            Some(kind) => format!("SWOT_{}_{kind}", self.product),
            None => format!("SWOT_{}", self.product),
        }
    }

    /// Parses a file name (a path's directories and extension are ignored).
    pub fn parse(file_name: &str) -> Result<Self, ReadError> {
        let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
        let stem = base.split('.').next().unwrap_or(base);
        let err = |what: &str| ReadError(format!("{base}: not a SWOT product name: {what}"));
        let parts: Vec<&str> = stem.split('_').collect();
        if parts.len() < 4 || parts[0] != "SWOT" {
            return Err(err("expected SWOT_<level>_<resolution>_<product>_..."));
        }
        let product = format!("{}_{}_{}", parts[1], parts[2], parts[3]);
        let mut rest = &parts[4..];
        let kind = match parts[3] {
            "RiverSP" | "LakeSP" | "RiverAvg" | "LakeAvg" => {
                let (kind, tail) = rest.split_first().ok_or_else(|| err("no feature kind"))?;
                rest = tail;
                Some(kind.to_string())
            }
            _ => None,
        };
        if rest.len() != 7 {
            return Err(err(
                "expected cycle, pass, continent or tile, start, end, CRID and counter",
            ));
        }
        let number = |text: &str, what: &str| {
            text.parse::<u32>()
                .map_err(|_| err(&format!("{what} {text:?} is not a number")))
        };
        let (continent, tile) = if parts[3].starts_with("PIXC") || rest[2].len() == 4 {
            (None, Some(rest[2].to_string()))
        } else {
            (Some(rest[2].to_string()), None)
        };
        Ok(ProductName {
            product,
            kind,
            cycle: number(rest[0], "cycle")?,
            pass: number(rest[1], "pass")?,
            continent,
            tile,
            start: compact_time(rest[3]).ok_or_else(|| err("start time is not YYYYMMDDThhmmss"))?,
            end: compact_time(rest[4]).ok_or_else(|| err("end time is not YYYYMMDDThhmmss"))?,
            crid: rest[5].to_string(),
            counter: rest[6].to_string(),
        })
    }
}

/// `20260419T185249` as `2026-04-19T18:52:49Z`.
fn compact_time(text: &str) -> Option<String> {
    let b = text.as_bytes();
    if b.len() != 15 || b[8] != b'T' {
        return None;
    }
    if !text[..8]
        .bytes()
        .chain(text[9..].bytes())
        .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &text[0..4],
        &text[4..6],
        &text[6..8],
        &text[9..11],
        &text[11..13],
        &text[13..15]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn river_reach_names() {
        let n = ProductName::parse(
            "data/SWOT_L2_HR_RiverSP_Reach_049_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
        )
        .unwrap();
        assert_eq!(n.collection(), "SWOT_L2_HR_RiverSP_Reach");
        assert_eq!((n.cycle, n.pass), (49, 58));
        assert_eq!(n.continent.as_deref(), Some("AU"));
        assert_eq!(n.start, "2026-04-19T18:52:49Z");
        assert_eq!(n.end, "2026-04-19T19:08:52Z");
        assert_eq!((n.crid.as_str(), n.counter.as_str()), ("PID0", "01"));
    }

    #[test]
    fn pixel_cloud_names_carry_a_tile() {
        let n = ProductName::parse(
            "SWOT_L2_HR_PIXCVec_001_042_067L_20220402T112019_20220402T112029_Dx0000_01.nc",
        )
        .unwrap();
        assert_eq!(n.collection(), "SWOT_L2_HR_PIXCVec");
        assert_eq!(n.tile.as_deref(), Some("067L"));
        assert_eq!(n.continent, None);
    }

    #[test]
    fn simulated_names_have_unpadded_numbers() {
        let n = ProductName::parse(
            "SWOT_L2_HR_RiverSP_Node_1_51_NA_20100816T184024_20100816T184031_PGA2_03.zip",
        )
        .unwrap();
        assert_eq!((n.cycle, n.pass), (1, 51));
        assert_eq!(n.kind.as_deref(), Some("Node"));
    }

    #[test]
    fn foreign_names_are_refused() {
        let err = ProductName::parse("rivers.zip").unwrap_err();
        assert!(err.0.contains("not a SWOT product name"), "{err}");
        let err = ProductName::parse(
            "SWOT_L2_HR_RiverSP_Reach_x_058_AU_20260419T185249_20260419T190852_PID0_01.zip",
        )
        .unwrap_err();
        assert!(err.0.contains("cycle \"x\""), "{err}");
    }
}
