//! Reading vibration recordings from files: NumPy `.npy`, `.npz` (stored or deflated ZIP of `.npy`), and
//! delimited text (`.csv`, `.txt`, optionally gzip-compressed), the formats public bearing data sets ship in.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};

/// Reads one channel of a recording as f32 samples.
///
/// * `.npz`: `channel` names the array (`DE` reads `DE.npy`, or the first array whose name contains `DE`, e.g.
///   `X097_DE_time`); without a channel the archive must hold exactly one array.
/// * `.npy`: a 1-D array, or a 2-D array with one column; with several columns `channel` is the column index.
/// * `.csv`/`.txt` (`.gz` too): `channel` is a header name or a 0-based column index; separators `,` `;`
///   tab or spaces; without a channel the file must have one column.
pub fn read_channel(path: &Path, channel: Option<&str>) -> Result<Vec<f32>> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (bytes, name) = if let Some(stem) = name.strip_suffix(".gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .with_context(|| format!("{}: not a valid gzip file", path.display()))?;
        (out, stem.to_string())
    } else {
        (bytes, name)
    };
    let what = path.display();
    if name.ends_with(".npz") {
        read_npz(&bytes, channel).with_context(|| format!("{what}"))
    } else if name.ends_with(".npy") {
        let column = channel
            .map(|c| {
                c.parse::<usize>()
                    .map_err(|_| anyhow!("--channel for a .npy file is a column index, got '{c}'"))
            })
            .transpose()?;
        parse_npy(&bytes, column).with_context(|| format!("{what}"))
    } else if name.ends_with(".csv") || name.ends_with(".txt") {
        let text = std::str::from_utf8(&bytes).with_context(|| format!("{what}: not UTF-8 text"))?;
        parse_text(text, channel).with_context(|| format!("{what}"))
    } else {
        bail!("{what}: unknown recording format (expected .npz, .npy, .csv or .txt, optionally .gz)")
    }
}

fn read_npz(bytes: &[u8], channel: Option<&str>) -> Result<Vec<f32>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).context("not a valid .npz (ZIP) archive")?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.map(|s| s.into_owned()))
        .collect::<Result<_, _>>()
        .context("reading the archive directory")?;
    let arrays: Vec<&String> = names.iter().filter(|n| n.ends_with(".npy")).collect();
    let chosen = match channel {
        Some(c) => arrays
            .iter()
            .find(|n| n.trim_end_matches(".npy") == c)
            .or_else(|| arrays.iter().find(|n| n.contains(c)))
            .ok_or_else(|| anyhow!("no array named '{c}' (arrays: {})", list(&arrays)))?,
        None if arrays.len() == 1 => arrays[0],
        None => bail!("several arrays, choose one with --channel: {}", list(&arrays)),
    };
    let mut f = zip.by_name(chosen).with_context(|| format!("reading '{chosen}'"))?;
    let mut data = Vec::with_capacity(f.size().min(1 << 30) as usize);
    f.read_to_end(&mut data).with_context(|| format!("decompressing '{chosen}'"))?;
    parse_npy(&data, None).with_context(|| format!("array '{chosen}'"))
}

fn list(names: &[&String]) -> String {
    names.iter().map(|n| n.trim_end_matches(".npy")).collect::<Vec<_>>().join(", ")
}

/// Parses a NumPy `.npy` (format 1.0–3.0) holding little- or big-endian f8/f4/i2/i4/i8 values.
pub fn parse_npy(bytes: &[u8], column: Option<usize>) -> Result<Vec<f32>> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        bail!("not a .npy file (magic \\x93NUMPY missing)");
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                bail!("truncated .npy header");
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => bail!("unsupported .npy format version {v}"),
    };
    let header = bytes
        .get(start..start + hlen)
        .ok_or_else(|| anyhow!("truncated .npy header ({hlen} bytes announced)"))?;
    let header = std::str::from_utf8(header).context(".npy header is not text")?;
    let descr = dict_value(header, "descr").ok_or_else(|| anyhow!(".npy header has no 'descr': {header}"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        bail!("Fortran-ordered .npy arrays are not supported; save with C order");
    }
    let shape_s = dict_value(header, "shape").ok_or_else(|| anyhow!(".npy header has no 'shape': {header}"))?;
    let shape: Vec<usize> = shape_s
        .trim_start_matches('(')
        .split(')')
        .next()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| anyhow!("bad shape {shape_s}")))
        .collect::<Result<_>>()?;
    let (rows, cols) = match shape.as_slice() {
        [n] => (*n, 1),
        [n, k] => (*n, *k),
        _ => bail!("expected a 1-D or 2-D array, shape is {shape_s}"),
    };
    let col = match (cols, column) {
        (1, None | Some(0)) => 0,
        (_, Some(c)) if c < cols => c,
        (_, Some(c)) => bail!("column {c} out of range: the array has {cols} columns"),
        (_, None) => bail!("the array has {cols} columns; choose one with --channel <index>"),
    };
    let (little, kind, size) = {
        let b = descr.as_bytes();
        if b.len() < 3 {
            bail!("unsupported dtype '{descr}'");
        }
        let little = match b[0] {
            b'<' | b'|' | b'=' => true,
            b'>' => false,
            _ => bail!("unsupported dtype '{descr}'"),
        };
        let size: usize = descr.get(2..).unwrap_or("").parse().map_err(|_| anyhow!("unsupported dtype '{descr}'"))?;
        if ![2, 4, 8].contains(&size) {
            bail!("unsupported dtype '{descr}' (f8, f4, i2, i4, i8 are)");
        }
        (little, b[1], size)
    };
    let data = &bytes[start + hlen..];
    let total = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(size))
        .ok_or_else(|| anyhow!("shape too large"))?;
    if data.len() < total {
        bail!("truncated .npy data: {} bytes for shape {shape_s} of {descr} need {total}", data.len());
    }
    let mut out = Vec::with_capacity(rows);
    for r in 0..rows {
        let off = (r * cols + col) * size;
        let mut raw = [0u8; 8];
        raw[..size.min(8)].copy_from_slice(&data[off..off + size.min(8)]);
        if !little {
            raw[..size].reverse();
        }
        let v = match (kind, size) {
            (b'f', 8) => f64::from_le_bytes(raw),
            (b'f', 4) => f64::from(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            (b'i', 2) => f64::from(i16::from_le_bytes([raw[0], raw[1]])),
            (b'i', 4) => f64::from(i32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            (b'i', 8) => i64::from_le_bytes(raw) as f64,
            _ => bail!("unsupported dtype '{descr}' (f8, f4, i2, i4, i8 are)"),
        };
        out.push(v as f32);
    }
    Ok(out)
}

/// The text of `key`'s value in a Python dict literal (up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let i = header.find(&format!("'{key}'")).or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[i + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (j, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..j].trim()),
            _ => {}
        }
    }
    Some(rest.trim())
}

fn parse_text(text: &str, channel: Option<&str>) -> Result<Vec<f32>> {
    let split = |line: &str| -> Vec<String> {
        let sep: &[char] = if line.contains(',') {
            &[',']
        } else if line.contains(';') {
            &[';']
        } else if line.contains('\t') {
            &['\t']
        } else {
            &[' ']
        };
        line.split(sep).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    };
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .peekable();
    let first = lines.peek().map(|(_, l)| split(l)).ok_or_else(|| anyhow!("no data"))?;
    let has_header = first.iter().any(|f| f.parse::<f64>().is_err());
    let col = match channel {
        Some(c) => match c.parse::<usize>() {
            Ok(i) => i,
            Err(_) if has_header => first
                .iter()
                .position(|h| h == c)
                .ok_or_else(|| anyhow!("no column '{c}' (columns: {})", first.join(", ")))?,
            Err(_) => bail!("--channel '{c}' is not a column index and the file has no header"),
        },
        None if first.len() == 1 => 0,
        None => bail!("{} columns; choose one with --channel <name or index>", first.len()),
    };
    if has_header {
        lines.next();
    }
    let mut out = Vec::new();
    for (i, line) in lines {
        let fields = split(line);
        let f = fields.get(col).ok_or_else(|| anyhow!("line {}: no column {col}", i + 1))?;
        let v: f64 = f.parse().map_err(|_| anyhow!("line {}: column {col}: '{f}' is not a number", i + 1))?;
        out.push(v as f32);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn npy_dtypes_and_columns() {
        let data: Vec<u8> = [1.5f64, -2.0, 3.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy("<f8", "(3, 1)", &data), None).unwrap(), vec![1.5, -2.0, 3.25]);
        assert_eq!(parse_npy(&npy("<f8", "(3,)", &data), None).unwrap(), vec![1.5, -2.0, 3.25]);
        let be: Vec<u8> = [1.5f32, 2.5].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(parse_npy(&npy(">f4", "(2,)", &be), None).unwrap(), vec![1.5, 2.5]);
        let two: Vec<u8> = [1i16, 10, 2, 20].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(parse_npy(&npy("<i2", "(2, 2)", &two), Some(1)).unwrap(), vec![10.0, 20.0]);
        assert!(parse_npy(&npy("<i2", "(2, 2)", &two), None).unwrap_err().to_string().contains("2 columns"));
        assert!(parse_npy(&npy("<f8", "(4,)", &data), None).unwrap_err().to_string().contains("truncated"));
        assert!(parse_npy(b"garbage", None).is_err());
        assert!(parse_npy(&npy("<c16", "(1,)", &[0; 16]), None).is_err());
        assert!(parse_npy(&npy(">f16", "(1,)", &[0; 16]), None).is_err());
        assert!(parse_npy(&npy("<é8", "(1,)", &[0; 8]), None).is_err());
    }

    proptest::proptest! {
        #[test]
        fn npy_and_text_parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512), col in 0usize..4) {
            let _ = parse_npy(&bytes, Some(col));
            let _ = parse_npy(&bytes, None);
            let mut with_magic = b"\x93NUMPY\x01\x00".to_vec();
            with_magic.extend_from_slice(&bytes);
            let _ = parse_npy(&with_magic, None);
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_text(&text, Some("1"));
            let _ = parse_text(&text, None);
        }
    }

    #[test]
    fn text_with_and_without_header() {
        assert_eq!(parse_text("t,acc\n0,1.5\n1,-2\n", Some("acc")).unwrap(), vec![1.5, -2.0]);
        assert_eq!(parse_text("9,10,11,0,0.5,0.25\n9,10,11,1,0.1,0.2\n", Some("5")).unwrap(), vec![0.25, 0.2]);
        assert_eq!(parse_text("0.5\n0.25\n", None).unwrap(), vec![0.5, 0.25]);
        let e = parse_text("a;b\n1;2\n3;x\n", Some("b")).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("'x'"), "{e}");
        assert!(parse_text("a,b\n1,2\n", Some("c")).unwrap_err().to_string().contains("no column 'c'"));
    }
}
