//! `doppel diagnose` and `doppel bench cwru` as a user runs them: the built binary on the CWRU bearing records
//! staged in the `shared` folder beside the project root (see shared/data/README.md, section 2), on a synthetic
//! .csv recording, and on bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use doppel_signal::bench::{add_impulses, add_tone, gaussian_noise};
use serde_json::Value;

const FAULTS: [&str; 7] = ["normal", "outer_race", "inner_race", "ball", "cage", "unbalance", "misalignment"];

/// The drive-end bearing of the CWRU rig (SKF 6205) at 1797 rpm.
const DE_6205: [&str; 12] = [
    "--rpm",
    "1797",
    "--balls",
    "9",
    "--ball-diameter-mm",
    "7.94",
    "--pitch-diameter-mm",
    "39.04",
    "--contact-angle-deg",
    "0",
    "--channel",
    "DE",
];

fn cwru_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/bearings/cwru");
    assert!(
        dir.join("labels.csv").is_file(),
        "the CWRU bearing data is missing: expected labels.csv and the .npz records in {} (the `shared/data/bearings/cwru` folder beside \
         the project root; see shared/data/README.md, section 2, for where the files come from)",
        dir.display()
    );
    dir
}

fn doppel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doppel")).args(args).output().expect("run the doppel binary")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `doppel diagnose FILE --fs FS <6205 args> --json`, checks the documented shape, returns the JSON.
fn diagnose_json(file: &Path, fs: &str, extra: &[&str]) -> Value {
    let path = file.to_str().expect("UTF-8 path");
    let mut args = vec!["diagnose", path, "--fs", fs, "--json"];
    args.extend_from_slice(extra);
    let o = doppel(&args);
    assert!(o.status.success(), "doppel {args:?} failed: {}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("--json output does not parse ({e}): {}", String::from_utf8_lossy(&o.stdout)));
    let fault = v["fault"].as_str().expect("fault is a string");
    assert!(FAULTS.contains(&fault), "fault '{fault}' is not one of {FAULTS:?}");
    assert!(!v["explanation"].as_str().unwrap_or_default().is_empty(), "{v}");
    let hypotheses = v["hypotheses"].as_array().expect("hypotheses array");
    assert!(hypotheses.len() >= 4, "every bearing hypothesis is reported: {v}");
    if fault != "normal" {
        let e = &v["evidence"];
        assert_eq!(e["fault"], fault, "the evidence is the winning hypothesis: {v}");
        assert_eq!(e["detected"], true);
        let lines = e["lines"].as_array().expect("evidence lines");
        assert!(lines.len() >= 2, "a fundamental and at least one confirming line: {e}");
        for l in lines {
            assert!(l["found_hz"].as_f64().is_some_and(|f| f > 0.0) && l["prominence_db"].as_f64().is_some(), "{l}");
        }
    }
    v
}

fn fault(v: &Value) -> &str {
    v["fault"].as_str().unwrap_or_default()
}

/// The prominence of the winning hypothesis' fundamental, dB.
fn fundamental_db(v: &Value) -> f64 {
    v["evidence"]["lines"][0]["prominence_db"].as_f64().unwrap_or(f64::NAN)
}

#[test]
fn inner_race_record_is_inner_race_at_bpfi() {
    let v = diagnose_json(&cwru_dir().join("1797_IR_7_DE12.npz"), "12000", &DE_6205);
    assert_eq!(fault(&v), "inner_race", "{v}");
    let first = &v["evidence"]["lines"][0];
    assert_eq!(first["label"], "BPFI");
    // BPFI of the 6205 at 1797 rpm: 162.2 Hz; within the ±2 % slip window.
    assert!((first["found_hz"].as_f64().unwrap() - 162.19).abs() < 3.3, "{first}");
    assert!(fundamental_db(&v) > 10.0, "{v}");
}

#[test]
fn outer_race_record_is_outer_race_at_bpfo() {
    let v = diagnose_json(&cwru_dir().join("1797_OR@6_7_DE12.npz"), "12000", &DE_6205);
    assert_eq!(fault(&v), "outer_race", "{v}");
    let first = &v["evidence"]["lines"][0];
    assert_eq!(first["label"], "BPFO");
    assert!((first["found_hz"].as_f64().unwrap() - 107.36).abs() < 2.2, "{first}");
    assert!(fundamental_db(&v) > 10.0, "{v}");
}

#[test]
fn normal_record_at_48_khz_is_normal() {
    let v = diagnose_json(&cwru_dir().join("1797_Normal.npz"), "48000", &DE_6205);
    assert_eq!(fault(&v), "normal", "{v}");
    assert!(v["evidence"].is_null(), "{v}");
    assert!(v["explanation"].as_str().unwrap().contains("no defect signature"), "{v}");
}

/// The ball-fault records are known misses of the current rules (B_7 → outer race, B_21 → inner race; see
/// BENCHMARKS.md, "Condition monitoring"): only assert that a bearing defect is named, with evidence.
#[test]
fn ball_records_name_a_bearing_defect_with_evidence() {
    for file in ["1797_B_7_DE12.npz", "1797_B_21_DE12.npz"] {
        let v = diagnose_json(&cwru_dir().join(file), "12000", &DE_6205);
        let f = fault(&v);
        assert!(["outer_race", "inner_race", "ball", "cage"].contains(&f), "{file}: {v}");
        assert!(fundamental_db(&v) >= 10.0, "{file}: {v}");
    }
}

#[test]
fn missing_channel_lists_the_available_arrays() {
    let file = cwru_dir().join("1797_IR_7_DE12.npz");
    let mut args = vec!["diagnose", file.to_str().unwrap(), "--fs", "12000"];
    args.extend_from_slice(&DE_6205[..10]);
    args.extend_from_slice(&["--channel", "XY"]);
    let o = doppel(&args);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("1797_IR_7_DE12.npz") && e.contains("no array named 'XY'"), "{e}");
    assert!(e.contains("DE, FE, BA"), "the error lists the arrays: {e}");
}

#[test]
fn bad_files_give_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.npz");
    std::fs::write(&broken, b"this is not a zip archive").unwrap();
    let missing = dir.path().join("missing.npz");
    let text = dir.path().join("letters.csv");
    std::fs::write(&text, "acc\n0.1\nx\n").unwrap();
    let unknown = dir.path().join("recording.wav");
    std::fs::write(&unknown, b"RIFF").unwrap();
    for (file, what) in [
        (&broken, "not a valid .npz"),
        (&missing, "reading"),
        (&text, "'x' is not a number"),
        (&unknown, "unknown recording format"),
    ] {
        let mut args = vec!["diagnose", file.to_str().unwrap(), "--fs", "12000"];
        args.extend_from_slice(&DE_6205[..10]);
        let o = doppel(&args);
        assert!(!o.status.success(), "{}", file.display());
        let e = stderr(&o);
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(e.contains(name) && e.contains(what), "{name}: {e}");
    }
}

/// A .csv recording: impacts at the 6205's BPFO (1797 rpm) ringing a 3 kHz resonance, sampled at 12 kHz, with
/// shaft harmonics and noise.
#[test]
fn csv_recording_with_outer_race_impacts_is_outer_race() {
    let fs = 12_000.0;
    let shaft_hz = 1797.0 / 60.0;
    let ratio = 7.94 / 39.04;
    let bpfo = 9.0 * shaft_hz / 2.0 * (1.0 - ratio);
    let mut x = gaussian_noise(10 * 12_000, 0.05, 11);
    add_tone(&mut x, fs, shaft_hz, 0.05);
    add_tone(&mut x, fs, 2.0 * shaft_hz, 0.02);
    add_impulses(&mut x, fs, bpfo, 3000.0, 0.4, 600.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outer_race.csv");
    let mut csv = String::from("time_s,acc_g\n");
    for (i, v) in x.iter().enumerate() {
        csv.push_str(&format!("{:.6},{v}\n", i as f64 / fs));
    }
    std::fs::write(&path, csv).unwrap();
    let mut args: Vec<&str> = DE_6205[..10].to_vec();
    args.extend_from_slice(&["--channel", "acc_g"]);
    let v = diagnose_json(&path, "12000", &args);
    assert_eq!(fault(&v), "outer_race", "{v}");
    let first = &v["evidence"]["lines"][0];
    assert!((first["found_hz"].as_f64().unwrap() - bpfo).abs() < 1.0, "{first}");
    assert_eq!(v["samples"], 120_000);
}

#[test]
fn bench_cwru_prints_per_recording_evidence_and_the_confusion_table() {
    let dir = cwru_dir();
    let o = doppel(&["bench", "cwru", "--data", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("| true \\ diagnosed | normal | outer_race | inner_race | ball | cage | unbalance | misalignment |"),
        "{out}"
    );
    for row in ["| normal |", "| outer_race |", "| inner_race |", "| ball |"] {
        assert!(out.contains(row), "row {row} missing: {out}");
    }
    assert!(out.contains("1797_IR_7_DE12.npz") && out.contains("decisive evidence: BPFI"), "{out}");
    assert!(out.contains("| inner_race | 0 | 0 | **1** |"), "{out}");

    let o = doppel(&["bench", "cwru", "--data", dir.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("bench cwru --json parses");
    let recordings = v["recordings"].as_array().unwrap();
    assert_eq!(v["total"].as_u64().unwrap() as usize, recordings.len());
    let counted: u64 = v["confusion"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(counted as usize, recordings.len());
    for r in recordings {
        assert!(FAULTS.contains(&r["fault"].as_str().unwrap()), "{r}");
    }
}

#[test]
fn bench_cwru_without_data_says_where_it_should_be() {
    let dir = tempfile::tempdir().unwrap();
    let o = doppel(&["bench", "cwru", "--data", dir.path().join("nowhere").to_str().unwrap()]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("nowhere") && e.contains("labels.csv"), "{e}");
}
