//! Waveform frames: the `DWF1` binary codec.
//!
//! A waveform signal (for example an accelerometer sampled at 12.8 kHz) does not arrive as one
//! message per sample but as *frames*: a fixed 40-byte little-endian header followed by the samples
//! of one contiguous block. A payload (an MQTT message or an HTTP body) holds one or more frames back
//! to back. The asset and signal come from the MQTT topic or the URL, never from the frame.
//!
//! ```text
//! offset size type  field
//!      0    4 [u8]  magic "DWF1"
//!      4    1 u8    version (1)
//!      5    1 u8    sample encoding: 0 = f32 LE, 1 = i16 LE scaled (value = raw * scale)
//!      6    1 u8    flags: bit 0 = shaft speed present; other bits must be 0
//!      7    1 u8    reserved, must be 0
//!      8    8 i64   t0_ns: time of the first sample, ns since the Unix epoch (UTC)
//!     16    8 f64   sample_rate_hz, in (0, 1e6]
//!     24    8 f64   shaft_rpm (read only when flag bit 0 is set; writers put NaN otherwise)
//!     32    4 u32   n_samples, in 1..=4_194_304
//!     36    4 f32   scale of the i16 encoding (ignored for f32; writers put 0)
//!     40  n*4 f32   samples (encoding 0), or n*2 i16 (encoding 1); no padding after the samples
//! ```
//!
//! The codec is pure (no I/O), never panics, and allocates the sample vector only after checking
//! that the input holds every byte the header announces. Every error names the field and the byte
//! offset (counted from the start of the buffer given to [`decode`] or [`decode_all`]). The format
//! is documented byte by byte, with a hex dump and a Python writer, in `docs/waveforms.md`.

/// The four magic bytes that start every frame.
pub const MAGIC: [u8; 4] = *b"DWF1";
/// The frame format version this code reads and writes.
pub const VERSION: u8 = 1;
/// Length of the fixed header in bytes (a multiple of 8; the samples start right after it).
pub const HEADER_LEN: usize = 40;
/// Largest number of samples in one frame: 2^22, i.e. 16 MiB of f32 samples, 163.8 s at 25.6 kHz.
pub const MAX_SAMPLES: u32 = 4_194_304;
/// Highest accepted sample rate (Hz).
pub const MAX_SAMPLE_RATE_HZ: f64 = 1e6;
/// Earliest accepted `t0_ns`: 1970-01-01T00:00:00Z.
pub const MIN_T0_NS: i64 = 0;
/// Latest accepted `t0_ns`: 2200-12-31T23:59:59.999999999Z.
pub const MAX_T0_NS: i64 = 7_289_654_400_000_000_000 - 1;
/// Flag bit 0: the `shaft_rpm` field holds a shaft speed.
pub const FLAG_SHAFT_RPM: u8 = 0x01;
/// Encoding byte of [`Encoding::F32`].
pub const ENCODING_F32: u8 = 0;
/// Encoding byte of [`Encoding::I16`].
pub const ENCODING_I16: u8 = 1;
/// Largest accepted i16 scale: `f32::MAX / 32768`, so that every `raw * scale` is a finite f32.
pub const MAX_I16_SCALE: f32 = f32::MAX / 32768.0;

/// Largest quantised magnitude the encoder writes (the range is symmetric, -32768 is never written).
const I16_FULL_SCALE: f64 = 32767.0;

const OFF_VERSION: usize = 4;
const OFF_ENCODING: usize = 5;
const OFF_FLAGS: usize = 6;
const OFF_RESERVED: usize = 7;
const OFF_T0: usize = 8;
const OFF_RATE: usize = 16;
const OFF_RPM: usize = 24;
const OFF_COUNT: usize = 32;
const OFF_SCALE: usize = 36;

/// One block of contiguous samples of a waveform signal.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveFrame {
    /// Time of the first sample, ns since the Unix epoch (UTC).
    pub t0_ns: i64,
    /// Sample rate in Hz; sample `i` was taken at `t0_ns + i / sample_rate_hz` seconds.
    pub sample_rate_hz: f64,
    /// Shaft speed during the frame in rpm, if the device knows it.
    pub shaft_rpm: Option<f64>,
    /// The samples, in the signal's unit.
    pub samples: Vec<f32>,
}

impl WaveFrame {
    /// Time of sample `index` in ns since the Unix epoch (saturating, rounded to the nearest ns).
    pub fn sample_time_ns(&self, index: usize) -> i64 {
        let offset = (index as f64 / self.sample_rate_hz * 1e9).round();
        // `as` saturates for out-of-range floats (and maps NaN to 0).
        self.t0_ns.saturating_add(offset as i64)
    }

    /// Time covered by the frame, `n_samples / sample_rate_hz`, in ns (saturating).
    pub fn duration_ns(&self) -> i64 {
        (self.samples.len() as f64 / self.sample_rate_hz * 1e9).round() as i64
    }
}

/// How the samples of a frame are written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Encoding {
    /// IEEE 754 single precision, little-endian: 4 bytes per sample, lossless.
    F32,
    /// Signed 16-bit little-endian integers, `value = raw * scale`: 2 bytes per sample. The
    /// quantisation error is at most `scale / 2` (plus the rounding of the product to f32).
    I16 {
        /// Value of one count; finite and in `(0, MAX_I16_SCALE]`.
        scale: f32,
    },
}

impl Encoding {
    /// The i16 encoding whose scale maps the largest finite `|sample|` to ±32767, so that no sample
    /// clips and the quantisation step is as small as possible. All-zero (or empty) input gives
    /// scale 1. For magnitudes above `32767 * MAX_I16_SCALE` (within 0.003 % of `f32::MAX`) the
    /// scale is capped and [`encode`] reports [`FrameError::SampleOutOfRange`].
    pub fn i16_auto(samples: &[f32]) -> Encoding {
        let max = samples.iter().filter(|x| x.is_finite()).fold(0.0f64, |m, x| m.max(f64::from(x.abs())));
        let mut scale = (max / I16_FULL_SCALE) as f32;
        // Rounding to f32 may have made the scale a little too small; step up so that max/scale <= 32767.
        if scale.is_finite() && scale > 0.0 && max / f64::from(scale) > I16_FULL_SCALE {
            scale = f32::from_bits(scale.to_bits() + 1);
        }
        let scale = if scale.is_finite() && scale > 0.0 { scale.min(MAX_I16_SCALE) } else { 1.0 };
        Encoding::I16 { scale }
    }

    /// Bytes per sample: 4 for f32, 2 for i16.
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Encoding::F32 => 4,
            Encoding::I16 { .. } => 2,
        }
    }

    fn code(self) -> u8 {
        match self {
            Encoding::F32 => ENCODING_F32,
            Encoding::I16 { .. } => ENCODING_I16,
        }
    }
}

/// Which part of a frame was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramePart {
    /// The 40-byte header.
    Header,
    /// The samples after the header.
    Samples,
}

impl std::fmt::Display for FramePart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FramePart::Header => "header",
            FramePart::Samples => "samples",
        })
    }
}

/// Why a frame could not be decoded (or encoded). Offsets are byte offsets from the start of the
/// buffer given to [`decode`] / [`decode_all`] (for [`encode`]: of the frame being written).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// The frame does not start with `DWF1`.
    #[error("bad magic at byte {offset}: expected \"DWF1\" (44 57 46 31), found {found:02x?}")]
    BadMagic {
        /// Offset of the frame start.
        offset: usize,
        /// The four bytes found there.
        found: [u8; 4],
    },
    /// The input ends inside a frame.
    #[error("truncated frame {part} at byte {offset}: {expected} bytes expected, {present} present")]
    Truncated {
        /// The header or the samples.
        part: FramePart,
        /// Offset where the cut part starts.
        offset: usize,
        /// Bytes the part needs.
        expected: usize,
        /// Bytes left in the input.
        present: usize,
    },
    /// A header field holds an unsupported or out-of-range value.
    #[error("invalid `{field}` at byte {offset}: {reason}")]
    InvalidField {
        /// Name of the header field (`version`, `encoding`, `flags`, `reserved`, `t0_ns`,
        /// `sample_rate_hz`, `shaft_rpm`, `n_samples` or `scale`).
        field: &'static str,
        /// Offset of the field.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A sample is NaN or infinite.
    #[error("sample {index} at byte {offset} is not finite ({value})")]
    NonFiniteSample {
        /// Index of the sample in the frame.
        index: usize,
        /// Offset of the sample.
        offset: usize,
        /// The value read.
        value: f32,
    },
    /// Encoding only: a sample does not fit the i16 range with the chosen scale.
    #[error("sample {index} ({value}) is outside the i16 range for scale {scale} (at most ±{max})", max = 32767.0 * *scale)]
    SampleOutOfRange {
        /// Index of the sample in the frame.
        index: usize,
        /// The sample.
        value: f32,
        /// The scale of the encoding.
        scale: f32,
    },
}

impl FrameError {
    /// The name of the offending field: `magic`, a header field name, or `samples`.
    pub fn field(&self) -> &'static str {
        match self {
            FrameError::BadMagic { .. } => "magic",
            FrameError::Truncated { part: FramePart::Header, .. } => "header",
            FrameError::Truncated { part: FramePart::Samples, .. } | FrameError::NonFiniteSample { .. } | FrameError::SampleOutOfRange { .. } => "samples",
            FrameError::InvalidField { field, .. } => field,
        }
    }

    /// The byte offset of the problem, when there is one.
    pub fn offset(&self) -> Option<usize> {
        match self {
            FrameError::BadMagic { offset, .. }
            | FrameError::Truncated { offset, .. }
            | FrameError::InvalidField { offset, .. }
            | FrameError::NonFiniteSample { offset, .. } => Some(*offset),
            FrameError::SampleOutOfRange { .. } => None,
        }
    }
}

fn invalid(field: &'static str, offset: usize, reason: impl Into<String>) -> FrameError {
    FrameError::InvalidField {
        field,
        offset,
        reason: reason.into(),
    }
}

fn check_t0(t0_ns: i64, offset: usize) -> Result<(), FrameError> {
    if (MIN_T0_NS..=MAX_T0_NS).contains(&t0_ns) {
        Ok(())
    } else {
        Err(invalid(
            "t0_ns",
            offset,
            format!("{t0_ns} ns is outside the years 1970 to 2200 ({MIN_T0_NS}..={MAX_T0_NS})"),
        ))
    }
}

fn check_rate(rate: f64, offset: usize) -> Result<(), FrameError> {
    if rate.is_finite() && rate > 0.0 && rate <= MAX_SAMPLE_RATE_HZ {
        Ok(())
    } else {
        Err(invalid("sample_rate_hz", offset, format!("{rate} Hz is not in (0, {MAX_SAMPLE_RATE_HZ:e}]")))
    }
}

fn check_rpm(rpm: f64, offset: usize) -> Result<(), FrameError> {
    if rpm.is_finite() && rpm >= 0.0 {
        Ok(())
    } else {
        Err(invalid("shaft_rpm", offset, format!("{rpm} rpm is not a finite, non-negative speed")))
    }
}

fn check_count(n: usize, offset: usize) -> Result<u32, FrameError> {
    match u32::try_from(n) {
        Ok(c) if (1..=MAX_SAMPLES).contains(&c) => Ok(c),
        _ => Err(invalid("n_samples", offset, format!("{n} samples is not in 1..={MAX_SAMPLES}"))),
    }
}

fn check_scale(scale: f32, offset: usize) -> Result<(), FrameError> {
    if scale.is_finite() && scale > 0.0 && scale <= MAX_I16_SCALE {
        Ok(())
    } else {
        Err(invalid("scale", offset, format!("{scale} is not in (0, {MAX_I16_SCALE:e}]")))
    }
}

/// Number of bytes [`encode`] produces for `n_samples` samples.
pub fn encoded_len(n_samples: usize, encoding: Encoding) -> usize {
    HEADER_LEN.saturating_add(n_samples.saturating_mul(encoding.bytes_per_sample()))
}

/// Encodes one frame. Fails (without output) if the frame breaks a limit of the format: no samples
/// or more than [`MAX_SAMPLES`], a non-finite sample, a sample rate outside `(0, 1e6]`, `t0_ns`
/// outside 1970..=2200, a negative or non-finite shaft speed, an invalid i16 scale, or (i16) a
/// sample outside `±32767 * scale`.
pub fn encode(frame: &WaveFrame, encoding: Encoding) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_into(frame, encoding, &mut out)?;
    Ok(out)
}

/// Appends one encoded frame to `out` (to build a payload of several frames). On error `out` is
/// left as it was. Offsets in errors count from the start of the appended frame.
pub fn encode_into(frame: &WaveFrame, encoding: Encoding, out: &mut Vec<u8>) -> Result<(), FrameError> {
    check_t0(frame.t0_ns, OFF_T0)?;
    check_rate(frame.sample_rate_hz, OFF_RATE)?;
    if let Some(rpm) = frame.shaft_rpm {
        check_rpm(rpm, OFF_RPM)?;
    }
    let n = check_count(frame.samples.len(), OFF_COUNT)?;
    let scale = match encoding {
        Encoding::F32 => 0.0,
        Encoding::I16 { scale } => {
            check_scale(scale, OFF_SCALE)?;
            scale
        }
    };
    let start = out.len();
    out.reserve(encoded_len(frame.samples.len(), encoding));
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(encoding.code());
    out.push(if frame.shaft_rpm.is_some() { FLAG_SHAFT_RPM } else { 0 });
    out.push(0);
    out.extend_from_slice(&frame.t0_ns.to_le_bytes());
    out.extend_from_slice(&frame.sample_rate_hz.to_le_bytes());
    out.extend_from_slice(&frame.shaft_rpm.unwrap_or(f64::NAN).to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&scale.to_le_bytes());
    let bps = encoding.bytes_per_sample();
    for (index, &value) in frame.samples.iter().enumerate() {
        if !value.is_finite() {
            out.truncate(start);
            return Err(FrameError::NonFiniteSample {
                index,
                offset: HEADER_LEN + index * bps,
                value,
            });
        }
        match encoding {
            Encoding::F32 => out.extend_from_slice(&value.to_le_bytes()),
            Encoding::I16 { scale } => {
                let q = (f64::from(value) / f64::from(scale)).round();
                if q.abs() > I16_FULL_SCALE {
                    out.truncate(start);
                    return Err(FrameError::SampleOutOfRange { index, value, scale });
                }
                // |q| <= 32767, so the conversion is exact.
                out.extend_from_slice(&(q as i16).to_le_bytes());
            }
        }
    }
    Ok(())
}

/// Decodes the frame at the start of `bytes`. Returns the frame and the number of bytes it took
/// (trailing bytes are left for the caller, see [`decode_all`]).
pub fn decode(bytes: &[u8]) -> Result<(WaveFrame, usize), FrameError> {
    decode_at(bytes, 0)
}

/// Decodes a payload of one or more concatenated frames. An empty payload, or bytes after the last
/// complete frame, are an error (offsets count from the start of `bytes`).
pub fn decode_all(bytes: &[u8]) -> Result<Vec<WaveFrame>, FrameError> {
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        let (frame, used) = decode_at(&bytes[pos..], pos)?;
        frames.push(frame);
        pos += used;
        if pos >= bytes.len() {
            return Ok(frames);
        }
    }
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&bytes[at..at + N]);
    a
}

/// Decodes the frame at the start of `bytes`, which sits at offset `base` of the caller's buffer.
fn decode_at(bytes: &[u8], base: usize) -> Result<(WaveFrame, usize), FrameError> {
    let present = bytes.len();
    let truncated_header = || FrameError::Truncated {
        part: FramePart::Header,
        offset: base,
        expected: HEADER_LEN,
        present,
    };
    if present < MAGIC.len() {
        return Err(truncated_header());
    }
    let found: [u8; 4] = array(bytes, 0);
    if found != MAGIC {
        return Err(FrameError::BadMagic { offset: base, found });
    }
    if present < HEADER_LEN {
        return Err(truncated_header());
    }
    let h = &bytes[..HEADER_LEN];
    if h[OFF_VERSION] != VERSION {
        return Err(invalid(
            "version",
            base + OFF_VERSION,
            format!("unsupported version {} (this build reads version {VERSION})", h[OFF_VERSION]),
        ));
    }
    let code = h[OFF_ENCODING];
    if code != ENCODING_F32 && code != ENCODING_I16 {
        return Err(invalid(
            "encoding",
            base + OFF_ENCODING,
            format!("unknown sample encoding {code} (0 = f32, 1 = i16 scaled)"),
        ));
    }
    let flags = h[OFF_FLAGS];
    if flags & !FLAG_SHAFT_RPM != 0 {
        return Err(invalid(
            "flags",
            base + OFF_FLAGS,
            format!("unknown flag bits {:#04x}", flags & !FLAG_SHAFT_RPM),
        ));
    }
    if h[OFF_RESERVED] != 0 {
        return Err(invalid("reserved", base + OFF_RESERVED, format!("is {}, must be 0", h[OFF_RESERVED])));
    }
    let t0_ns = i64::from_le_bytes(array(h, OFF_T0));
    check_t0(t0_ns, base + OFF_T0)?;
    let sample_rate_hz = f64::from_le_bytes(array(h, OFF_RATE));
    check_rate(sample_rate_hz, base + OFF_RATE)?;
    let shaft_rpm = if flags & FLAG_SHAFT_RPM != 0 {
        let rpm = f64::from_le_bytes(array(h, OFF_RPM));
        check_rpm(rpm, base + OFF_RPM)?;
        Some(rpm)
    } else {
        None
    };
    let n = check_count(u32::from_le_bytes(array(h, OFF_COUNT)) as usize, base + OFF_COUNT)? as usize;
    let encoding = if code == ENCODING_I16 {
        let scale = f32::from_le_bytes(array(h, OFF_SCALE));
        check_scale(scale, base + OFF_SCALE)?;
        Encoding::I16 { scale }
    } else {
        Encoding::F32
    };
    let bps = encoding.bytes_per_sample();
    // n <= 2^22 and bps <= 4: no overflow.
    let body_len = n * bps;
    let body = &bytes[HEADER_LEN..];
    if body.len() < body_len {
        return Err(FrameError::Truncated {
            part: FramePart::Samples,
            offset: base + HEADER_LEN,
            expected: body_len,
            present: body.len(),
        });
    }
    // Only now, with every sample byte present, allocate.
    let mut samples = Vec::with_capacity(n);
    match encoding {
        Encoding::F32 => {
            for (index, chunk) in body[..body_len].chunks_exact(4).enumerate() {
                let value = f32::from_le_bytes(array(chunk, 0));
                if !value.is_finite() {
                    return Err(FrameError::NonFiniteSample {
                        index,
                        offset: base + HEADER_LEN + index * 4,
                        value,
                    });
                }
                samples.push(value);
            }
        }
        Encoding::I16 { scale } => {
            let scale = f64::from(scale);
            for chunk in body[..body_len].chunks_exact(2) {
                // The product of an i16 and an f32 is exact in f64; one rounding to f32. With
                // scale <= MAX_I16_SCALE the result is finite.
                samples.push((f64::from(i16::from_le_bytes(array(chunk, 0))) * scale) as f32);
            }
        }
    }
    Ok((
        WaveFrame {
            t0_ns,
            sample_rate_hz,
            shaft_rpm,
            samples,
        },
        HEADER_LEN + body_len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 2026-11-25T10:00:00Z.
    const T0: i64 = 1_795_600_800_000_000_000;

    fn example() -> WaveFrame {
        WaveFrame {
            t0_ns: T0,
            sample_rate_hz: 12_800.0,
            shaft_rpm: Some(1480.0),
            samples: vec![0.0, 0.5, -0.25, 1.0],
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// The hex dumps in docs/waveforms.md (also checked by doppel-store's capture codec).
    const EXAMPLE_F32_HEX: &str = "
        44 57 46 31 01 00 01 00  00 40 68 02 6a 41 eb 18
        00 00 00 00 00 00 c9 40  00 00 00 00 00 20 97 40
        04 00 00 00 00 00 00 00  00 00 00 00 00 00 00 3f
        00 00 80 be 00 00 80 3f";
    const EXAMPLE_I16_HEX: &str = "
        44 57 46 31 01 01 01 00  00 40 68 02 6a 41 eb 18
        00 00 00 00 00 00 c9 40  00 00 00 00 00 20 97 40
        04 00 00 00 6f 12 83 3a  00 00 f4 01 06 ff e8 03";

    #[test]
    fn golden_bytes_match_the_documentation() {
        let f = example();
        assert_eq!(encode(&f, Encoding::F32).unwrap(), hex(EXAMPLE_F32_HEX));
        assert_eq!(encode(&f, Encoding::I16 { scale: 0.001 }).unwrap(), hex(EXAMPLE_I16_HEX));
        let (back, used) = decode(&hex(EXAMPLE_F32_HEX)).unwrap();
        assert_eq!((back, used), (f.clone(), 56));
        let (back, used) = decode(&hex(EXAMPLE_I16_HEX)).unwrap();
        assert_eq!(used, 48);
        assert_eq!(back.samples, vec![0.0, 0.5, -0.25, 1.0]);
        assert_eq!(back.shaft_rpm, Some(1480.0));
    }

    #[test]
    fn header_is_forty_bytes_and_fields_are_aligned() {
        assert_eq!(HEADER_LEN % 8, 0);
        for (off, size) in [(OFF_T0, 8), (OFF_RATE, 8), (OFF_RPM, 8), (OFF_COUNT, 4), (OFF_SCALE, 4)] {
            assert_eq!(off % size, 0, "field at {off}");
        }
        assert_eq!(OFF_SCALE + 4, HEADER_LEN);
        assert_eq!(encoded_len(4, Encoding::F32), 56);
        assert_eq!(encoded_len(4, Encoding::I16 { scale: 1.0 }), 48);
    }

    #[test]
    fn unknown_shaft_speed_is_a_clear_flag_and_nan() {
        let f = WaveFrame { shaft_rpm: None, ..example() };
        let b = encode(&f, Encoding::F32).unwrap();
        assert_eq!(b[OFF_FLAGS], 0);
        assert!(f64::from_le_bytes(array(&b, OFF_RPM)).is_nan());
        assert_eq!(decode(&b).unwrap().0, f);
        // Without the flag the field is not read, whatever it holds.
        let mut b2 = b.clone();
        b2[OFF_RPM..OFF_RPM + 8].copy_from_slice(&(-5.0f64).to_le_bytes());
        assert_eq!(decode(&b2).unwrap().0.shaft_rpm, None);
    }

    fn with_field(bytes: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
        let mut b = bytes.to_vec();
        b[at..at + value.len()].copy_from_slice(value);
        b
    }

    fn err(bytes: &[u8]) -> FrameError {
        decode(bytes).expect_err("must not decode")
    }

    #[test]
    fn header_errors_name_field_and_offset() {
        let good = encode(&example(), Encoding::F32).unwrap();
        let e = err(&with_field(&good, 0, b"DWF2"));
        assert_eq!(e, FrameError::BadMagic { offset: 0, found: *b"DWF2" });
        assert!(e.to_string().contains("bad magic at byte 0"), "{e}");

        let cases: &[(usize, &[u8], &str)] = &[
            (OFF_VERSION, &[2], "version"),
            (OFF_ENCODING, &[2], "encoding"),
            (OFF_FLAGS, &[0x03], "flags"),
            (OFF_RESERVED, &[1], "reserved"),
            (OFF_T0, &(-1i64).to_le_bytes(), "t0_ns"),
            (OFF_T0, &(MAX_T0_NS + 1).to_le_bytes(), "t0_ns"),
            (OFF_RATE, &0.0f64.to_le_bytes(), "sample_rate_hz"),
            (OFF_RATE, &(-1.0f64).to_le_bytes(), "sample_rate_hz"),
            (OFF_RATE, &f64::NAN.to_le_bytes(), "sample_rate_hz"),
            (OFF_RATE, &f64::INFINITY.to_le_bytes(), "sample_rate_hz"),
            (OFF_RATE, &1.000_001e6f64.to_le_bytes(), "sample_rate_hz"),
            (OFF_RPM, &(-1.0f64).to_le_bytes(), "shaft_rpm"),
            (OFF_RPM, &f64::NAN.to_le_bytes(), "shaft_rpm"),
            (OFF_RPM, &f64::INFINITY.to_le_bytes(), "shaft_rpm"),
            (OFF_COUNT, &0u32.to_le_bytes(), "n_samples"),
            (OFF_COUNT, &(MAX_SAMPLES + 1).to_le_bytes(), "n_samples"),
            (OFF_COUNT, &u32::MAX.to_le_bytes(), "n_samples"),
        ];
        for &(at, value, field) in cases {
            let e = err(&with_field(&good, at, value));
            assert_eq!(e.field(), field, "{e}");
            assert_eq!(e.offset(), Some(at), "{e}");
            assert!(e.to_string().contains(&format!("`{field}` at byte {at}")), "{e}");
        }
        // Limits themselves are accepted.
        for (at, value) in [
            (OFF_T0, MIN_T0_NS.to_le_bytes().to_vec()),
            (OFF_T0, MAX_T0_NS.to_le_bytes().to_vec()),
            (OFF_RATE, MAX_SAMPLE_RATE_HZ.to_le_bytes().to_vec()),
            (OFF_RPM, 0.0f64.to_le_bytes().to_vec()),
        ] {
            decode(&with_field(&good, at, &value)).unwrap();
        }
    }

    #[test]
    fn i16_scale_is_checked() {
        let good = encode(&example(), Encoding::I16 { scale: 0.001 }).unwrap();
        for bad in [0.0f32, -0.001, f32::NAN, f32::INFINITY, MAX_I16_SCALE * 1.01] {
            let e = err(&with_field(&good, OFF_SCALE, &bad.to_le_bytes()));
            assert_eq!((e.field(), e.offset()), ("scale", Some(OFF_SCALE)), "{e}");
        }
        // The largest scale still gives finite samples, even for raw -32768.
        let mut b = with_field(&good, OFF_SCALE, &MAX_I16_SCALE.to_le_bytes());
        b[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&i16::MIN.to_le_bytes());
        let f = decode(&b).unwrap().0;
        assert!(f.samples.iter().all(|x| x.is_finite()));
        assert_eq!(f.samples[0], -f32::MAX);
        // The scale field of an f32 frame is ignored.
        let f32_frame = encode(&example(), Encoding::F32).unwrap();
        assert_eq!(decode(&with_field(&f32_frame, OFF_SCALE, &f32::NAN.to_le_bytes())).unwrap().0, example());
    }

    #[test]
    fn non_finite_sample_names_its_index() {
        let good = encode(&example(), Encoding::F32).unwrap();
        let e = err(&with_field(&good, HEADER_LEN + 8, &f32::INFINITY.to_le_bytes()));
        assert_eq!(
            e,
            FrameError::NonFiniteSample {
                index: 2,
                offset: 48,
                value: f32::INFINITY
            }
        );
        assert!(e.to_string().contains("sample 2 at byte 48"), "{e}");
    }

    #[test]
    fn truncation_says_expected_and_present() {
        let good = encode(&example(), Encoding::F32).unwrap();
        assert_eq!(
            err(&good[..20]),
            FrameError::Truncated {
                part: FramePart::Header,
                offset: 0,
                expected: 40,
                present: 20
            }
        );
        let e = err(&good[..50]);
        assert_eq!(
            e,
            FrameError::Truncated {
                part: FramePart::Samples,
                offset: 40,
                expected: 16,
                present: 10
            }
        );
        assert_eq!(e.to_string(), "truncated frame samples at byte 40: 16 bytes expected, 10 present");
        assert_eq!(err(&[]).field(), "header");
    }

    #[test]
    fn huge_count_with_short_body_does_not_allocate() {
        let good = encode(&example(), Encoding::F32).unwrap();
        let b = with_field(&good, OFF_COUNT, &MAX_SAMPLES.to_le_bytes());
        assert_eq!(
            err(&b),
            FrameError::Truncated {
                part: FramePart::Samples,
                offset: 40,
                expected: 4 * MAX_SAMPLES as usize,
                present: 16
            }
        );
    }

    #[test]
    fn largest_frame_round_trips() {
        let f = WaveFrame {
            samples: vec![0.25; MAX_SAMPLES as usize],
            ..example()
        };
        let b = encode(&f, Encoding::F32).unwrap();
        assert_eq!(b.len(), HEADER_LEN + 4 * MAX_SAMPLES as usize);
        assert_eq!(decode(&b).unwrap().0, f);
        let too_many = WaveFrame {
            samples: vec![0.25; MAX_SAMPLES as usize + 1],
            ..example()
        };
        assert_eq!(encode(&too_many, Encoding::F32).unwrap_err().field(), "n_samples");
    }

    #[test]
    fn encode_rejects_invalid_frames_and_leaves_output_alone() {
        let mut out = b"prefix".to_vec();
        let bad = [
            (WaveFrame { samples: vec![], ..example() }, "n_samples"),
            (
                WaveFrame {
                    sample_rate_hz: 0.0,
                    ..example()
                },
                "sample_rate_hz",
            ),
            (WaveFrame { t0_ns: -5, ..example() }, "t0_ns"),
            (
                WaveFrame {
                    shaft_rpm: Some(f64::NAN),
                    ..example()
                },
                "shaft_rpm",
            ),
            (
                WaveFrame {
                    samples: vec![1.0, f32::NAN],
                    ..example()
                },
                "samples",
            ),
        ];
        for (f, field) in bad {
            let e = encode_into(&f, Encoding::F32, &mut out).unwrap_err();
            assert_eq!(e.field(), field, "{e}");
            assert_eq!(out, b"prefix");
            assert_eq!(encode(&f, Encoding::I16 { scale: 1.0 }).unwrap_err().field(), field);
        }
        let e = encode(&example(), Encoding::I16 { scale: 1e-5 }).unwrap_err();
        assert_eq!(
            e,
            FrameError::SampleOutOfRange {
                index: 1,
                value: 0.5,
                scale: 1e-5
            }
        );
        assert_eq!(encode(&example(), Encoding::I16 { scale: 0.0 }).unwrap_err().field(), "scale");
        encode_into(&example(), Encoding::I16 { scale: 1e-3 }, &mut out).unwrap();
        assert_eq!(out.len(), 6 + 48);
    }

    #[test]
    fn i16_auto_scale() {
        assert_eq!(Encoding::i16_auto(&[]), Encoding::I16 { scale: 1.0 });
        assert_eq!(Encoding::i16_auto(&[0.0, -0.0]), Encoding::I16 { scale: 1.0 });
        let Encoding::I16 { scale } = Encoding::i16_auto(&[0.1, -32.767, f32::NAN]) else {
            unreachable!()
        };
        assert!((scale - 0.001).abs() < 1e-9, "{scale}");
        let Encoding::I16 { scale } = Encoding::i16_auto(&[f32::MAX]) else {
            unreachable!()
        };
        assert_eq!(scale, MAX_I16_SCALE);
        let f = WaveFrame {
            samples: vec![f32::MAX],
            ..example()
        };
        assert!(matches!(encode(&f, Encoding::i16_auto(&f.samples)), Err(FrameError::SampleOutOfRange { .. })));
    }

    #[test]
    fn decode_all_reads_concatenated_frames() {
        let a = example();
        let b = WaveFrame {
            t0_ns: T0 + 1_000_000_000,
            shaft_rpm: None,
            samples: vec![2.0; 7],
            ..example()
        };
        let mut payload = Vec::new();
        encode_into(&a, Encoding::F32, &mut payload).unwrap();
        encode_into(&b, Encoding::I16 { scale: 0.5 }, &mut payload).unwrap();
        assert_eq!(decode_all(&payload).unwrap(), vec![a, b]);
        // Garbage after the last frame is reported at its offset.
        payload.extend_from_slice(b"xyz!");
        assert_eq!(
            decode_all(&payload).unwrap_err(),
            FrameError::BadMagic {
                offset: 56 + 54,
                found: *b"xyz!"
            }
        );
        assert_eq!(decode_all(&[]).unwrap_err().field(), "header");
    }

    #[test]
    fn sample_times() {
        let f = example();
        assert_eq!(f.sample_time_ns(0), T0);
        assert_eq!(f.sample_time_ns(128), T0 + 10_000_000);
        assert_eq!(f.duration_ns(), 312_500);
        let slow = WaveFrame {
            sample_rate_hz: 1e-300,
            ..example()
        };
        assert_eq!(slow.sample_time_ns(3), i64::MAX);
    }

    fn frame_strategy(max_len: usize) -> impl Strategy<Value = WaveFrame> {
        (
            MIN_T0_NS..=MAX_T0_NS,
            prop_oneof![Just(MAX_SAMPLE_RATE_HZ), 1e-6f64..=MAX_SAMPLE_RATE_HZ, Just(f64::MIN_POSITIVE)],
            proptest::option::of(prop_oneof![Just(0.0f64), 0.0f64..1e6, Just(f64::MAX)]),
            proptest::collection::vec(
                prop_oneof![
                    any::<f32>().prop_filter("finite", |x| x.is_finite()),
                    -10.0f32..10.0,
                    Just(0.0f32),
                    Just(-0.0f32)
                ],
                1..max_len,
            ),
        )
            .prop_map(|(t0_ns, sample_rate_hz, shaft_rpm, samples)| WaveFrame {
                t0_ns,
                sample_rate_hz,
                shaft_rpm,
                samples,
            })
    }

    /// Bound on |decoded - original| for i16: half a step, plus the rounding of the product to f32.
    fn i16_bound(x: f32, scale: f32) -> f64 {
        f64::from(scale) / 2.0 + f64::from(x.abs()) * f64::from(f32::EPSILON) + 1e-45
    }

    proptest! {
        #[test]
        fn f32_round_trip_is_exact(f in frame_strategy(300)) {
            let b = encode(&f, Encoding::F32).unwrap();
            prop_assert_eq!(b.len(), encoded_len(f.samples.len(), Encoding::F32));
            let (back, used) = decode(&b).unwrap();
            prop_assert_eq!(used, b.len());
            prop_assert_eq!(back.t0_ns, f.t0_ns);
            prop_assert_eq!(back.sample_rate_hz.to_bits(), f.sample_rate_hz.to_bits());
            prop_assert_eq!(back.shaft_rpm.map(f64::to_bits), f.shaft_rpm.map(f64::to_bits));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(&back.samples), bits(&f.samples));
        }

        #[test]
        fn i16_auto_round_trip_within_half_a_step(f in frame_strategy(300)) {
            let enc = Encoding::i16_auto(&f.samples);
            let Encoding::I16 { scale } = enc else { unreachable!() };
            match encode(&f, enc) {
                Ok(b) => {
                    let (back, used) = decode(&b).unwrap();
                    prop_assert_eq!(used, b.len());
                    prop_assert_eq!(back.t0_ns, f.t0_ns);
                    prop_assert_eq!(back.shaft_rpm, f.shaft_rpm);
                    prop_assert_eq!(back.samples.len(), f.samples.len());
                    for (x, y) in f.samples.iter().zip(&back.samples) {
                        prop_assert!((f64::from(*x) - f64::from(*y)).abs() <= i16_bound(*x, scale), "{} -> {} (scale {})", x, y, scale);
                    }
                }
                // Only samples within 0.003 % of f32::MAX may fail to fit.
                Err(FrameError::SampleOutOfRange { value, .. }) => prop_assert!(f64::from(value.abs()) > 32767.0 * f64::from(MAX_I16_SCALE)),
                Err(e) => prop_assert!(false, "unexpected error {}", e),
            }
        }

        #[test]
        fn i16_explicit_scale_round_trip(f in frame_strategy(100), scale in 1e-6f32..10.0) {
            let f = WaveFrame { samples: f.samples.iter().map(|x| x.clamp(-32767.0 * scale, 32767.0 * scale)).collect(), ..f };
            let b = encode(&f, Encoding::I16 { scale }).unwrap();
            let back = decode(&b).unwrap().0;
            for (x, y) in f.samples.iter().zip(&back.samples) {
                prop_assert!((f64::from(*x) - f64::from(*y)).abs() <= i16_bound(*x, scale), "{} -> {} (scale {})", x, y, scale);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok((f, used)) = decode(&bytes) {
                prop_assert!(used <= bytes.len());
                prop_assert!(f.samples.iter().all(|x| x.is_finite()));
            }
            let _ = decode_all(&bytes);
        }

        #[test]
        fn magic_then_arbitrary_bytes_never_panic(rest in proptest::collection::vec(any::<u8>(), 0..128)) {
            let bytes = [&MAGIC[..], &rest].concat();
            match decode(&bytes) {
                Ok((f, used)) => {
                    prop_assert!(used <= bytes.len());
                    prop_assert!(f.samples.iter().all(|x| x.is_finite()));
                }
                Err(e) => prop_assert!(e.offset().is_some_and(|o| o <= bytes.len())),
            }
        }

        #[test]
        fn corrupted_frames_never_panic(f in frame_strategy(20), i16 in any::<bool>(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
            let enc = if i16 { Encoding::i16_auto(&f.samples) } else { Encoding::F32 };
            let Ok(mut b) = encode(&f, enc) else { return Ok(()) };
            for (at, v) in edits {
                let at = at % b.len();
                b[at] = v;
            }
            match decode(&b) {
                Ok((g, used)) => {
                    prop_assert!(used <= b.len());
                    prop_assert!(g.samples.iter().all(|x| x.is_finite()));
                    prop_assert!(check_rate(g.sample_rate_hz, 0).is_ok() && check_t0(g.t0_ns, 0).is_ok());
                }
                Err(e) => prop_assert!(e.offset().is_some_and(|o| o < b.len().max(1))),
            }
        }

        #[test]
        fn truncation_at_every_offset_errors(a in frame_strategy(12), b in frame_strategy(12), i16 in any::<bool>()) {
            let enc = if i16 { Encoding::I16 { scale: 1e30 } } else { Encoding::F32 };
            let b = WaveFrame { samples: b.samples.iter().map(|x| x.clamp(-1e34, 1e34)).collect(), ..b };
            let mut payload = encode(&a, Encoding::F32).unwrap();
            let first = payload.len();
            encode_into(&b, enc, &mut payload).unwrap();
            for cut in 0..payload.len() {
                if cut < first {
                    let e = decode(&payload[..cut]);
                    prop_assert!(matches!(e, Err(FrameError::Truncated { offset, .. }) if offset == 0 || offset == HEADER_LEN), "cut {}: {:?}", cut, e);
                }
                match decode_all(&payload[..cut]) {
                    Err(FrameError::Truncated { offset, expected, present, .. }) => {
                        prop_assert!(present < expected);
                        prop_assert!(offset <= cut);
                        if cut > first {
                            prop_assert!(offset >= first);
                        }
                    }
                    other => prop_assert!(cut == first && other.is_ok(), "cut {}: {:?}", cut, other),
                }
            }
            prop_assert_eq!(decode_all(&payload).unwrap().len(), 2);
        }
    }
}
