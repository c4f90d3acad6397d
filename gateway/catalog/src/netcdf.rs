//! A writer of NetCDF classic files (the 64-bit offset format, `CDF\x02`), enough
//! for the time series replies: fixed dimensions, text, int and double variables,
//! attributes. Written here rather than taken from a crate: it is a page of the
//! format's specification, every byte of it is checked by an independent reader
//! (xarray, through scipy) in the tests, and it writes straight into the reply.

/// A value of an attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    /// Text.
    Text(String),
    /// One or more doubles.
    Double(Vec<f64>),
    /// One or more ints.
    Int(Vec<i32>),
}

/// The values of a variable, in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Characters (the last dimension is the string length; pad with zero bytes).
    Char(Vec<u8>),
    /// 32-bit ints.
    Int(Vec<i32>),
    /// Doubles.
    Double(Vec<f64>),
}

impl Values {
    fn type_code(&self) -> u32 {
        match self {
            Values::Char(_) => 2,
            Values::Int(_) => 4,
            Values::Double(_) => 6,
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::Char(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Double(v) => v.len(),
        }
    }

    fn byte_len(&self) -> usize {
        match self {
            Values::Char(v) => v.len(),
            Values::Int(v) => 4 * v.len(),
            Values::Double(v) => 8 * v.len(),
        }
    }
}

/// A variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Its name.
    pub name: String,
    /// Indexes of its dimensions in the file's list.
    pub dims: Vec<usize>,
    /// Its attributes.
    pub attrs: Vec<(String, Attr)>,
    /// Its values.
    pub values: Values,
}

/// A file: dimensions (name, length), global attributes, variables.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct File {
    /// Dimensions.
    pub dims: Vec<(String, usize)>,
    /// Global attributes.
    pub attrs: Vec<(String, Attr)>,
    /// Variables.
    pub vars: Vec<Variable>,
}

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;

fn pad4(n: usize) -> usize {
    n.div_ceil(4) * 4
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_name(out: &mut Vec<u8>, name: &str) {
    put_u32(out, name.len() as u32);
    out.extend_from_slice(name.as_bytes());
    out.resize(out.len() + pad4(name.len()) - name.len(), 0);
}

fn put_attrs(out: &mut Vec<u8>, attrs: &[(String, Attr)]) {
    if attrs.is_empty() {
        out.extend_from_slice(&[0; 8]);
        return;
    }
    put_u32(out, NC_ATTRIBUTE);
    put_u32(out, attrs.len() as u32);
    for (name, value) in attrs {
        put_name(out, name);
        let values = match value {
            Attr::Text(t) => Values::Char(t.as_bytes().to_vec()),
            Attr::Double(v) => Values::Double(v.clone()),
            Attr::Int(v) => Values::Int(v.clone()),
        };
        put_u32(out, values.type_code());
        put_u32(out, values.len() as u32);
        put_values(out, &values);
    }
}

fn put_values(out: &mut Vec<u8>, values: &Values) {
    let start = out.len();
    match values {
        Values::Char(v) => out.extend_from_slice(v),
        Values::Int(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
        Values::Double(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_be_bytes())),
    }
    let written = out.len() - start;
    out.resize(start + pad4(written), 0);
}

impl File {
    /// The file's bytes. Panics never: a variable whose values do not fill its
    /// dimensions is an error.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        for v in &self.vars {
            let expected: usize = v
                .dims
                .iter()
                .map(|&d| self.dims.get(d).map_or(0, |(_, n)| *n))
                .product();
            if v.values.len() != expected || v.dims.iter().any(|&d| d >= self.dims.len()) {
                return Err(format!(
                    "variable {}: {} values for dimensions of {expected}",
                    v.name,
                    v.values.len()
                ));
            }
        }
        // The header's size does not depend on the offsets' values: write it once
        // with zero offsets to learn it, then again with the real ones.
        let header = |offsets: &[u64]| {
            let mut out = Vec::new();
            out.extend_from_slice(b"CDF\x02");
            put_u32(&mut out, 0); // numrecs: no record dimension
            if self.dims.is_empty() {
                out.extend_from_slice(&[0; 8]);
            } else {
                put_u32(&mut out, NC_DIMENSION);
                put_u32(&mut out, self.dims.len() as u32);
                for (name, len) in &self.dims {
                    put_name(&mut out, name);
                    put_u32(&mut out, *len as u32);
                }
            }
            put_attrs(&mut out, &self.attrs);
            if self.vars.is_empty() {
                out.extend_from_slice(&[0; 8]);
            } else {
                put_u32(&mut out, NC_VARIABLE);
                put_u32(&mut out, self.vars.len() as u32);
                for (v, offset) in self.vars.iter().zip(offsets) {
                    put_name(&mut out, &v.name);
                    put_u32(&mut out, v.dims.len() as u32);
                    v.dims.iter().for_each(|&d| put_u32(&mut out, d as u32));
                    put_attrs(&mut out, &v.attrs);
                    put_u32(&mut out, v.values.type_code());
                    let size = pad4(v.values.byte_len()).min(u32::MAX as usize);
                    put_u32(&mut out, size as u32);
                    out.extend_from_slice(&offset.to_be_bytes());
                }
            }
            out
        };
        let size = header(&vec![0; self.vars.len()]).len();
        let mut offsets = Vec::with_capacity(self.vars.len());
        let mut at = size as u64;
        for v in &self.vars {
            offsets.push(at);
            at += pad4(v.values.byte_len()) as u64;
        }
        let mut out = header(&offsets);
        out.reserve(at as usize - size);
        for v in &self.vars {
            put_values(&mut out, &v.values);
        }
        Ok(out)
    }
}

/// Strings as a char variable's values: each padded with zero bytes to `width`
/// (longer strings are cut at a character boundary).
pub fn strings<'a>(items: impl IntoIterator<Item = &'a str>, width: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for s in items {
        let mut end = s.len().min(width);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        out.extend_from_slice(&s.as_bytes()[..end]);
        out.resize(out.len() + width - end, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_file_has_the_specified_layout() {
        let file = File {
            dims: vec![("x".into(), 2)],
            attrs: vec![("title".into(), Attr::Text("t".into()))],
            vars: vec![Variable {
                name: "v".into(),
                dims: vec![0],
                attrs: vec![],
                values: Values::Int(vec![1, 2]),
            }],
        };
        let bytes = file.to_bytes().unwrap();
        assert_eq!(&bytes[..4], b"CDF\x02");
        // The data are the last 8 bytes, big-endian, at the offset the header gives.
        assert_eq!(&bytes[bytes.len() - 8..], &[0, 0, 0, 1, 0, 0, 0, 2]);
        let offset =
            u64::from_be_bytes(bytes[bytes.len() - 16..bytes.len() - 8].try_into().unwrap());
        assert_eq!(offset as usize, bytes.len() - 8);
    }

    #[test]
    fn values_that_do_not_fill_their_dimensions_are_refused() {
        let file = File {
            dims: vec![("x".into(), 3)],
            attrs: vec![],
            vars: vec![Variable {
                name: "v".into(),
                dims: vec![0],
                attrs: vec![],
                values: Values::Double(vec![1.0]),
            }],
        };
        assert!(file.to_bytes().unwrap_err().contains("variable v"));
    }

    #[test]
    fn strings_are_padded_and_cut_on_characters() {
        assert_eq!(strings(["ab", "é"], 3), b"ab\0\xc3\xa9\0".to_vec());
        assert_eq!(strings(["aé"], 2), b"a\0".to_vec());
    }
}
