//! SWOT shapefile products (RiverSP reach/node, LakeSP obs/prior/unassigned) as
//! distributed by PO.DAAC: a zip holding `.shp`, `.shx` and `.dbf`.
//!
//! Fill values become nulls as the attributes are read, so no caller ever
//! sees -999999999999 or -999 as a number. The simulated products of the SWOT
//! science team's pre-launch processor (CRID `PGA2`, in `../shared/data/swot/
//! simulated-cycles`) fill with -9999 instead (every `area_total`, every
//! unobserved node's `wse`): -9999 is a fill value too; no SWOT attribute has it
//! as a physical value.

use std::io::{Cursor, Read, Seek};

use serde_json::{Value, json};

/// Float fill value of SWOT shapefiles.
pub const FLOAT_FILL: f64 = -999_999_999_999.0;
/// Integer fill value of SWOT shapefiles.
pub const INT_FILL: f64 = -999.0;
/// Fill value of the pre-launch simulated products (CRID PGA2).
pub const SIMULATED_FILL: f64 = -9999.0;
/// Text fill value of SWOT shapefiles.
pub const TEXT_FILL: &str = "no_data";

/// One feature of the shapefile: attribute values in file order and its geometry.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Attribute name and value (null for fill values), in the order of the .dbf.
    pub properties: Vec<(String, Value)>,
    /// GeoJSON geometry (LineString or MultiLineString), or null.
    pub geometry: Value,
}

impl Feature {
    /// The value of an attribute.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The value of a numeric attribute (None when absent or null).
    pub fn number(&self, name: &str) -> Option<f64> {
        self.get(name).and_then(Value::as_f64)
    }
}

/// A read shapefile.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Attribute names in file order.
    pub fields: Vec<String>,
    /// The features.
    pub features: Vec<Feature>,
}

/// Error of reading a product file, with what and where.
#[derive(Debug)]
pub struct ReadError(pub String);

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

/// Reads a RiverSP shapefile zip (`.shp` + `.dbf`, `.shx` optional) from its bytes.
pub fn read_zip(bytes: &[u8], name: &str) -> Result<Layer, ReadError> {
    let err = |what: String| ReadError(format!("{name}: {what}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| err(format!("not a readable zip archive: {e}")))?;
    let mut member = |ext: &str| -> Result<Option<Vec<u8>>, ReadError> {
        let Some(entry) = archive
            .file_names()
            .filter_map(|n| n.ok().map(|n| n.to_string()))
            .find(|n| n.to_ascii_lowercase().ends_with(ext))
        else {
            return Ok(None);
        };
        let mut file = archive
            .by_name(&entry)
            .map_err(|e| err(format!("{entry}: {e}")))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| err(format!("{entry}: truncated or corrupt member: {e}")))?;
        Ok(Some(data))
    };
    let shp = member(".shp")?.ok_or_else(|| err("no .shp member: not a shapefile zip".into()))?;
    let dbf = member(".dbf")?.ok_or_else(|| err("no .dbf member: not a shapefile zip".into()))?;
    read_layer(Cursor::new(shp), Cursor::new(dbf)).map_err(|e| err(e.0))
}

/// Reads a shapefile from its `.shp` and `.dbf` streams.
pub fn read_layer<S: Read + Seek, D: Read + Seek>(shp: S, dbf: D) -> Result<Layer, ReadError> {
    let shapes = shapefile::ShapeReader::new(shp).map_err(|e| ReadError(format!(".shp: {e}")))?;
    let records = dbase::Reader::new(dbf).map_err(|e| ReadError(format!(".dbf: {e}")))?;
    let fields: Vec<String> = records
        .fields()
        .iter()
        .map(|f| f.name().to_string())
        .collect();
    let mut reader = shapefile::Reader::new(shapes, records);
    let mut features = Vec::new();
    for (index, item) in reader.iter_shapes_and_records().enumerate() {
        let (shape, record) = item.map_err(|e| ReadError(format!("feature {index}: {e}")))?;
        let properties = fields
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    record.get(name).map(field_value).unwrap_or(Value::Null),
                )
            })
            .collect();
        features.push(Feature {
            properties,
            geometry: geometry(&shape),
        });
    }
    Ok(Layer { fields, features })
}

/// A .dbf value as JSON, with SWOT fill values as null.
fn field_value(value: &dbase::FieldValue) -> Value {
    use dbase::FieldValue as F;
    match value {
        F::Character(Some(text)) => {
            let text = text.trim();
            if text.is_empty() || text == TEXT_FILL {
                Value::Null
            } else {
                json!(text)
            }
        }
        F::Numeric(Some(n)) => number(*n),
        F::Float(Some(n)) => number(f64::from(*n)),
        F::Double(n) | F::Currency(n) => number(*n),
        F::Integer(i) => number(f64::from(*i)),
        F::Logical(Some(b)) => json!(b),
        F::Memo(text) => json!(text),
        _ => Value::Null,
    }
}

fn number(n: f64) -> Value {
    if !n.is_finite() || n <= FLOAT_FILL + 1.0 || n == INT_FILL || n == SIMULATED_FILL {
        return Value::Null;
    }
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn geometry(shape: &shapefile::Shape) -> Value {
    use shapefile::Shape;
    let line =
        |points: &[shapefile::Point]| points.iter().map(|p| json!([p.x, p.y])).collect::<Vec<_>>();
    let parts: Vec<Vec<Value>> = match shape {
        Shape::Polyline(p) => p.parts().iter().map(|part| line(part)).collect(),
        Shape::PolylineM(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|q| json!([q.x, q.y])).collect())
            .collect(),
        Shape::PolylineZ(p) => p
            .parts()
            .iter()
            .map(|part| part.iter().map(|q| json!([q.x, q.y])).collect())
            .collect(),
        Shape::Point(p) => return json!({ "type": "Point", "coordinates": [p.x, p.y] }),
        Shape::Polygon(p) => {
            let rings: Vec<Vec<Value>> = p.rings().iter().map(|r| line(r.points())).collect();
            return json!({ "type": "Polygon", "coordinates": rings });
        }
        _ => return Value::Null,
    };
    match parts.len() {
        0 => Value::Null,
        1 => json!({ "type": "LineString", "coordinates": parts[0] }),
        _ => json!({ "type": "MultiLineString", "coordinates": parts }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_values_become_null() {
        assert_eq!(number(-999_999_999_999.0), Value::Null);
        assert_eq!(number(-999.0), Value::Null);
        assert_eq!(number(-9999.0), Value::Null);
        assert_eq!(number(-9998.5), json!(-9998.5));
        assert_eq!(number(3.0), json!(3));
        assert_eq!(
            field_value(&dbase::FieldValue::Character(Some("no_data".into()))),
            Value::Null
        );
    }

    #[test]
    fn a_foreign_file_is_refused_with_its_name() {
        let err = read_zip(b"not a zip", "x.zip").unwrap_err();
        assert!(
            err.0.starts_with("x.zip: not a readable zip archive"),
            "{err}"
        );
    }
}
