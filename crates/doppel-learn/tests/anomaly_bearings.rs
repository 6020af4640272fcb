//! The PCA anomaly detector on real bearing vibration (see `ANOMALY.md` for the numbers and the method).
//!
//! * FEMTO-ST PRONOSTIA `Bearing3_1` (run to failure): per 0.1-s snapshot, the 8 health indicators of
//!   `doppel_signal::health` per channel (logarithms). One detector per "asset" (horizontal channel, vertical
//!   channel, both) is fitted on the first snapshots of the life; the next snapshots, still before any indicator
//!   moved, are held out as healthy. Reported: false alarms in the held-out part, first alarm and lead time before
//!   failure (the first snapshot above 20 g).
//! * CWRU drive-end records (seeded faults, 12 kHz): the detector is fitted on the first 70 % of the normal
//!   record, the last 30 % is held out as healthy, and every fault record is scored.
//!
//! Run: `cargo test -p doppel-learn --test anomaly_bearings -- --nocapture` (about 2 s in a debug build, after compiling).

use std::io::Read;
use std::path::{Path, PathBuf};

use doppel_learn::anomaly::{AnomalyConfig, OnlineAnomaly, PcaDetector};
use doppel_physics::bearing::BearingGeometry;
use doppel_signal::diagnosis::BearingFrequencies;
use doppel_signal::health::{HealthConfig, HealthIndicators, INDICATOR_NAMES};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bearings")
}

fn require(dir: &Path, what: &str) {
    assert!(
        dir.is_dir(),
        "{what} not found at {}: the shared data sets are described in /work/shared/data/README.md (this test needs them)",
        dir.display()
    );
}

fn frequencies(g: &BearingGeometry, rpm: f64) -> BearingFrequencies {
    let d = g.defect_frequencies_at_rpm(rpm);
    BearingFrequencies {
        shaft_hz: rpm / 60.0,
        bpfo_hz: d.bpfo,
        bpfi_hz: d.bpfi,
        bsf_hz: d.bsf,
        ftf_hz: d.ftf,
    }
}

/// Logarithms of the 8 trended indicators (all positive; logs make their spread closer to Gaussian).
fn features(x: &[f32], fs: f64, f: &BearingFrequencies) -> (Vec<f64>, f64) {
    let h = HealthIndicators::compute(x, fs, f, &HealthConfig::default()).expect("indicators");
    (h.values().iter().map(|v| v.max(1e-12).ln()).collect(), h.max_abs)
}

/// One FEMTO snapshot: time of day (s), horizontal and vertical acceleration (g).
fn read_femto(path: &Path) -> (f64, [Vec<f32>; 2]) {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("open"))
        .read_to_string(&mut text)
        .expect("gunzip");
    let mut t = None;
    let mut ch = [Vec::with_capacity(2560), Vec::with_capacity(2560)];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f64> = line.split(',').map(|c| c.trim().parse().expect("number")).collect();
        assert_eq!(v.len(), 6, "{}: {line}", path.display());
        t.get_or_insert(v[0] * 3600.0 + v[1] * 60.0 + v[2] + v[3] * 1e-6);
        ch[0].push(v[4] as f32);
        ch[1].push(v[5] as f32);
    }
    (t.expect("rows"), ch)
}

/// An "asset": its name, input names and feature rows.
type Asset = (&'static str, Vec<String>, Vec<Vec<f64>>);

struct Outcome {
    false_alarms: usize,
    held_out: usize,
    first_alarm: Option<usize>,
    alarm_share_after: f64,
    alarm_share_last: f64,
    top: Vec<String>,
}

/// Fits on `rows[..fit]`, runs the online detector over `rows[..end]` and counts.
fn evaluate(rows: &[Vec<f64>], names: &[String], cfg: &AnomalyConfig, fit: usize, held: usize, end: usize) -> (PcaDetector, Outcome) {
    let det = PcaDetector::fit(&rows[..fit], names, cfg).expect("fit");
    let mut online = OnlineAnomaly::new(det.clone());
    let mut states = Vec::new();
    for r in &rows[..end] {
        states.push(online.push(r).expect("score"));
    }
    let first_alarm = (held..end).find(|&i| states[i].alarm);
    let top = first_alarm
        .map(|i| states[i].top(3).iter().map(|s| s.to_string()).collect())
        .unwrap_or_default();
    let outcome = Outcome {
        false_alarms: (fit..held).filter(|&i| states[i].alarm).count(),
        held_out: held - fit,
        first_alarm,
        alarm_share_after: (held..end).filter(|&i| states[i].alarm).count() as f64 / (end - held) as f64,
        alarm_share_last: (end - 30..end).filter(|&i| states[i].alarm).count() as f64 / 30.0,
        top,
    };
    (det, outcome)
}

#[test]
fn femto_bearing3_1_run_to_failure() {
    let dir = data_dir().join("femto_pronostia/Bearing3_1");
    require(&dir, "FEMTO-ST PRONOSTIA Bearing3_1");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("acc_") && n.ends_with(".csv.gz"))
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 515, "Bearing3_1 has 515 acc_*.csv.gz snapshots");
    let fs = 25_600.0;
    let f = frequencies(&BearingGeometry::PRONOSTIA, 1500.0);
    let mut t = Vec::new();
    let mut feats: Vec<[Vec<f64>; 2]> = Vec::new();
    let mut max_abs = Vec::new();
    for p in &files {
        let (ts, ch) = read_femto(p);
        let (h, mh) = features(&ch[0], fs, &f);
        let (v, mv) = features(&ch[1], fs, &f);
        t.push(ts);
        feats.push([h, v]);
        max_abs.push(mh.max(mv));
    }
    let t0 = t[0];
    t.iter_mut().for_each(|x| *x -= t0);
    // Failure: the first snapshot above 20 g (the challenge's definition).
    let end = max_abs.iter().position(|&m| m > 20.0).expect("Bearing3_1 passes 20 g");
    assert_eq!(end, 493, "acc_00494 is the failure snapshot");
    // Fit on the first 100 snapshots (16.5 min, 20 % of the life); 100..130 are held out as healthy: the
    // per-indicator alarms of BENCHMARKS.md §5.3 start at #124 (H kurtosis, 18 suppressed excursions) and
    // #137 (V velocity), so the held-out part is as healthy as the fitting part by that yardstick.
    let (fit, held) = (100, 130);
    let name = |c: &str| INDICATOR_NAMES.iter().map(|n| format!("{c}_{n}")).collect::<Vec<_>>();
    let assets: [Asset; 3] = [
        ("horizontal", name("h"), feats.iter().map(|p| p[0].clone()).collect()),
        ("vertical", name("v"), feats.iter().map(|p| p[1].clone()).collect()),
        (
            "both",
            [name("h"), name("v")].concat(),
            feats.iter().map(|p| [p[0].clone(), p[1].clone()].concat()).collect(),
        ),
    ];
    let alpha = 0.01;
    let mut lines = Vec::new();
    let mut detected = 0;
    let mut false_alarms = 0;
    for (ewma, k, n) in [(1.0, 1, 1), (0.2, 1, 1), (1.0, 3, 5)] {
        let cfg = AnomalyConfig {
            false_alarm_rate: alpha,
            explained_variance: 0.9,
            ewma,
            alarm_k: k,
            alarm_n: n,
        };
        for (asset, names, rows) in &assets {
            let (det, o) = evaluate(rows, names, &cfg, fit, held, end);
            // The theoretical limits on the unsmoothed statistics, for comparison, over the held-out part.
            let beyond_theory = rows[fit..held]
                .iter()
                .map(|r| det.score(r).unwrap())
                .filter(|s| s.t2 > det.t2_limit_theory || s.spe > det.spe_limit_theory)
                .count();
            lines.push(format!(
                "| {asset} | {ewma} | {k} of {n} | {} / {:?} | {}/{} | {}/{} | {} | {} | {:.0} % | {:.0} % | {} |",
                det.components(),
                det.threshold_source,
                o.false_alarms,
                o.held_out,
                beyond_theory,
                o.held_out,
                o.first_alarm.map_or("none".into(), |i| format!("#{} ({:.1} min)", i + 1, t[i] / 60.0)),
                o.first_alarm.map_or("–".into(), |i| format!("{:.1} min", (t[end] - t[i]) / 60.0)),
                100.0 * o.alarm_share_after,
                100.0 * o.alarm_share_last,
                o.top.join(", "),
            ));
            detected += usize::from(o.first_alarm.is_some());
            false_alarms += o.false_alarms;
        }
    }
    println!(
        "FEMTO Bearing3_1: fit on snapshots 1–{fit}, held-out healthy {}–{held}, failure #{} at {:.1} min, target {alpha} per snapshot",
        fit + 1,
        end + 1,
        t[end] / 60.0
    );
    println!(
        "| asset | ewma | rule | components / threshold | false alarms held out | beyond theory (unsmoothed) | first alarm after #{held} | lead time | share of later snapshots in alarm | in alarm, last 5 min | top contributors at first alarm |"
    );
    println!("|---|---:|---|---|---:|---:|---|---:|---:|---:|---|");
    for l in &lines {
        println!("{l}");
    }
    // Every detector alarms before failure.
    assert_eq!(detected, lines.len(), "a detector never alarmed before failure");
    // Held-out healthy snapshots: 9 detectors × 30 snapshots at a target of 1 % expect 2.7 alarm steps; allow 3×
    // that (consecutive snapshots are correlated, and one excursion under smoothing lasts several steps).
    let bound = (3.0 * alpha * (lines.len() * (held - fit)) as f64).ceil() as usize;
    assert!(
        false_alarms <= bound,
        "{false_alarms} alarm steps in the held-out healthy snapshots, bound {bound}"
    );
}

/// The array `name` of a NumPy `.npz` written by `numpy.savez` (stored ZIP, float64 `.npy` of shape (n,) or (n, 1)).
fn read_npz(path: &Path, name: &str) -> Vec<f64> {
    let bytes = std::fs::read(path).expect("read npz");
    let needle = format!("{name}.npy");
    // Local file header: signature, then the name at offset 30 and the extra field; the data follow, stored.
    let mut at = 0;
    let start = loop {
        let h = at + bytes[at..].windows(4).position(|w| w == b"PK\x03\x04").expect("array in the npz");
        let name_len = u16::from_le_bytes([bytes[h + 26], bytes[h + 27]]) as usize;
        let extra_len = u16::from_le_bytes([bytes[h + 28], bytes[h + 29]]) as usize;
        assert_eq!(u16::from_le_bytes([bytes[h + 8], bytes[h + 9]]), 0, "stored (uncompressed) npz expected");
        if &bytes[h + 30..h + 30 + name_len] == needle.as_bytes() {
            break h + 30 + name_len + extra_len;
        }
        at = h + 4;
    };
    let npy = &bytes[start..];
    assert_eq!(&npy[..6], b"\x93NUMPY", "npy magic");
    let header_len = u16::from_le_bytes([npy[8], npy[9]]) as usize;
    let header = std::str::from_utf8(&npy[10..10 + header_len]).expect("npy header");
    assert!(header.contains("'<f8'") && header.contains("'fortran_order': False"), "{header}");
    let shape = &header[header.find("'shape': (").expect("shape") + 10..];
    let n: usize = shape[..shape.find([',', ')']).expect("shape")].trim().parse().expect("length");
    npy[10 + header_len..10 + header_len + 8 * n]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// 48 kHz → 12 kHz: windowed-sinc low-pass (cut-off 5.4 kHz, 127 taps, Hann) then every 4th sample.
fn decimate4(x: &[f64]) -> Vec<f32> {
    let (taps, fc) = (127usize, 5_400.0 / 48_000.0);
    let m = (taps - 1) as f64 / 2.0;
    let mut h: Vec<f64> = (0..taps)
        .map(|i| {
            let u = i as f64 - m;
            let sinc = if u == 0.0 {
                2.0 * fc
            } else {
                (std::f64::consts::TAU * fc * u).sin() / (std::f64::consts::PI * u)
            };
            sinc * (0.5 - 0.5 * (std::f64::consts::TAU * i as f64 / (taps - 1) as f64).cos())
        })
        .collect();
    let sum: f64 = h.iter().sum();
    h.iter_mut().for_each(|v| *v /= sum);
    (0..(x.len() - taps) / 4)
        .map(|o| h.iter().zip(&x[4 * o..]).map(|(a, b)| a * b).sum::<f64>() as f32)
        .collect()
}

/// Feature rows of frames of `len` samples every `hop` samples.
fn frame_rows(x: &[f32], len: usize, hop: usize, f: &BearingFrequencies) -> Vec<Vec<f64>> {
    (0..=(x.len() - len) / hop)
        .map(|i| features(&x[i * hop..i * hop + len], 12_000.0, f).0)
        .collect()
}

#[test]
fn cwru_seeded_faults() {
    let dir = data_dir().join("cwru");
    require(&dir, "CWRU bearing data");
    let f = frequencies(&BearingGeometry::CWRU_DRIVE_END_6205, 1797.0);
    let normal = decimate4(&read_npz(&dir.join("1797_Normal.npz"), "DE"));
    let cut = normal.len() * 7 / 10;
    let (len, hop) = (2048, 256);
    let train = frame_rows(&normal[..cut], len, hop, &f);
    let held = frame_rows(&normal[cut..], len, len / 4, &f);
    let names: Vec<String> = INDICATOR_NAMES.iter().map(|s| s.to_string()).collect();
    let alpha = 0.01;
    let cfg = AnomalyConfig {
        false_alarm_rate: alpha,
        ewma: 1.0,
        ..AnomalyConfig::default()
    };
    let det = PcaDetector::fit(&train, &names, &cfg).expect("fit");
    let rate = |rows: &[Vec<f64>]| rows.iter().filter(|r| det.score(r).unwrap().score > 1.0).count() as f64 / rows.len() as f64;
    let held_rate = rate(&held);
    println!(
        "CWRU DE, 0 HP: fit on {} frames of {len} samples (hop {hop}) from the first 70 % of the normal record; {} components, threshold {:?}",
        train.len(),
        det.components(),
        det.threshold_source
    );
    println!("| record | frames | in alarm | top contributors (first frame) |\n|---|---:|---:|---|");
    println!(
        "| normal, held-out last 30 % (hop {}) | {} | {:.0} % | |",
        len / 4,
        held.len(),
        100.0 * held_rate
    );
    for file in ["1797_IR_7_DE12.npz", "1797_OR@6_7_DE12.npz", "1797_B_7_DE12.npz", "1797_B_21_DE12.npz"] {
        let x: Vec<f32> = read_npz(&dir.join(file), "DE").iter().map(|&v| v as f32).collect();
        let rows = frame_rows(&x, len, len, &f);
        let r = rate(&rows);
        let top = det
            .score(&rows[0])
            .unwrap()
            .contributions
            .iter()
            .take(3)
            .map(|c| format!("{} {:+.1}σ", c.name, c.deviation))
            .collect::<Vec<_>>();
        println!("| {file} | {} | {:.0} % | {} |", rows.len(), 100.0 * r, top.join(", "));
        assert!(r >= 0.9, "{file}: only {r} of the frames in alarm");
    }
    // Target 1 %: allow 5 % of the ~35 held-out frames (they overlap by 3/4 and the record is 1.5 s long).
    assert!(held_rate <= 0.05, "held-out normal frames in alarm: {held_rate}");
}
