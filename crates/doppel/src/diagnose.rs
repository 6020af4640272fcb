//! `doppel diagnose`: fault diagnosis of one vibration recording (bearing defects from the envelope spectrum,
//! unbalance / misalignment from the velocity spectrum, ISO 10816-3 zone from the velocity level).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use doppel_physics::bearing::{BearingGeometry, Foundation, MachineGroup, iso10816_zone};
use doppel_signal::AccelUnit;
use doppel_signal::diagnosis::{RecordingOptions, diagnose_recording};
use serde_json::json;

use crate::recording::read_channel;

#[derive(Args, Debug, Clone)]
#[command(
    about = "Diagnose a vibration recording: bearing defect (outer race, inner race, ball, cage), unbalance or misalignment, with the evidence",
    long_about = "Diagnose a vibration recording of one accelerometer.\n\nThe bearing's defect frequencies (BPFO, BPFI, BSF, FTF) are computed from its geometry and the shaft speed; a kurtogram chooses the frequency bands where impacts ring; averaged envelope spectra of those bands are searched for each defect's line family (fundamental within ±2 % for slip, harmonics, sidebands). Unbalance and misalignment are read from the velocity spectrum (1×, 2× running speed); the broadband velocity RMS (10–1000 Hz) is rated on the ISO 10816-3 zones A–D.\n\nReads .npz (choose the array with --channel, e.g. DE), .npy, and .csv/.txt (column name or index), each optionally .gz.\n\nExample (CWRU drive-end bearing, SKF 6205):\n  doppel diagnose 1797_IR_7_DE12.npz --channel DE --fs 12000 --rpm 1797 --balls 9 --ball-diameter-mm 7.94 --pitch-diameter-mm 39.04 --contact-angle-deg 0 --json"
)]
pub struct DiagnoseArgs {
    /// Recording file (.npz, .npy, .csv, .txt; optionally gzip-compressed .gz).
    pub file: PathBuf,
    /// Which channel: the array name in a .npz (e.g. DE), the column name or 0-based index in a .csv, the column index in a 2-D .npy.
    #[arg(long)]
    pub channel: Option<String>,
    /// Sampling rate of the recording, Hz.
    #[arg(long)]
    pub fs: f64,
    /// Shaft speed, revolutions per minute.
    #[arg(long)]
    pub rpm: f64,
    /// Number of rolling elements of the bearing.
    #[arg(long)]
    pub balls: u32,
    /// Rolling-element (ball or roller) diameter, mm.
    #[arg(long)]
    pub ball_diameter_mm: f64,
    /// Pitch (mean) diameter of the bearing, mm.
    #[arg(long)]
    pub pitch_diameter_mm: f64,
    /// Contact angle, degrees (0 for deep-groove ball bearings under radial load).
    #[arg(long, default_value_t = 0.0)]
    pub contact_angle_deg: f64,
    /// Unit of the samples.
    #[arg(long, value_enum, default_value_t = Unit::G)]
    pub unit: Unit,
    /// ISO 10816-3 machine group for the severity zone: 1 = 300 kW–50 MW, 2 = 15–300 kW (and smaller).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub machine_group: u8,
    /// Foundation for the ISO 10816-3 zone.
    #[arg(long, value_enum, default_value_t = FoundationArg::Rigid)]
    pub foundation: FoundationArg,
    /// Length of the averaging segments in seconds (default: enough for a quarter of the cage frequency, at least 1 s).
    #[arg(long)]
    pub segment_s: Option<f64>,
    /// Print one JSON object (fault, evidence, hypotheses, features) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum Unit {
    /// Standard gravity, 9.80665 m/s².
    G,
    /// m/s².
    Ms2,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
pub enum FoundationArg {
    Rigid,
    Flexible,
}

pub fn run(a: DiagnoseArgs) -> Result<()> {
    if !(a.fs.is_finite() && a.fs > 0.0) {
        bail!("--fs must be a positive sampling rate in Hz, got {}", a.fs);
    }
    if !(a.rpm.is_finite() && a.rpm > 0.0) {
        bail!("--rpm must be a positive shaft speed, got {}", a.rpm);
    }
    let x = read_channel(&a.file, a.channel.as_deref())?;
    let geometry = BearingGeometry::new(f64::from(a.balls), a.ball_diameter_mm, a.pitch_diameter_mm, a.contact_angle_deg).context("bearing geometry")?;
    let f = doppel_ingest::wave::frequencies(&geometry, a.rpm);
    let opts = RecordingOptions {
        segment_s: a.segment_s,
        unit: match a.unit {
            Unit::G => AccelUnit::G,
            Unit::Ms2 => AccelUnit::MetrePerSecondSquared,
        },
        ..RecordingOptions::default()
    };
    let r = diagnose_recording(&x, a.fs, &f, &opts).with_context(|| format!("{}: diagnosis", a.file.display()))?;
    let group = if a.machine_group == 1 { MachineGroup::Group1 } else { MachineGroup::Group2 };
    let foundation = match a.foundation {
        FoundationArg::Rigid => Foundation::Rigid,
        FoundationArg::Flexible => Foundation::Flexible,
    };
    let zone = iso10816_zone(r.velocity_rms_mm_s, group, foundation);
    if a.json {
        let out = json!({
            "file": a.file.display().to_string(),
            "channel": a.channel,
            "sample_rate_hz": a.fs,
            "samples": x.len(),
            "shaft_rpm": a.rpm,
            "fault": r.diagnosis.fault,
            "explanation": r.diagnosis.explanation,
            "evidence": r.diagnosis.evidence(),
            "iso10816": { "velocity_rms_mm_s": r.velocity_rms_mm_s, "zone": zone.label(), "meaning": zone.meaning(), "machine_group": a.machine_group, "foundation": format!("{:?}", a.foundation).to_lowercase() },
            "defect_frequencies_hz": r.frequencies,
            "features": r.time,
            "bands": r.bands,
            "resolution_hz": r.resolution_hz,
            "segments": r.segments,
            "hypotheses": r.diagnosis.hypotheses,
        });
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    println!(
        "{}: {} samples at {} Hz ({:.1} s), shaft {} rpm",
        a.file.display(),
        x.len(),
        a.fs,
        x.len() as f64 / a.fs,
        a.rpm
    );
    println!("fault: {}", r.diagnosis.fault);
    println!("  {}", r.diagnosis.explanation);
    if let Some(e) = r.diagnosis.evidence() {
        for l in &e.lines {
            println!(
                "    {:<12} expected {:>8.2} Hz  found {:>8.2} Hz  {:>6.1} dB over floor",
                l.label, l.expected_hz, l.found_hz, l.prominence_db
            );
        }
    }
    println!(
        "ISO 10816-3: velocity {:.2} mm/s RMS (10–1000 Hz) → zone {} ({})",
        r.velocity_rms_mm_s,
        zone.label(),
        zone.meaning()
    );
    println!(
        "features: RMS {:.4}, peak {:.4}, crest factor {:.2}, kurtosis {:.2}, skewness {:.2}",
        r.time.rms, r.time.peak, r.time.crest_factor, r.time.kurtosis, r.time.skewness
    );
    println!(
        "defect frequencies: FTF {:.2} Hz, BSF {:.2} Hz, BPFO {:.2} Hz, BPFI {:.2} Hz (shaft {:.2} Hz)",
        f.ftf_hz, f.bsf_hz, f.bpfo_hz, f.bpfi_hz, f.shaft_hz
    );
    println!("hypotheses (best demodulation band each):");
    for h in &r.diagnosis.hypotheses {
        println!(
            "  {:<13} {} score {:>6.1}  {}",
            h.fault.as_str(),
            if h.detected { "DETECTED" } else { "-       " },
            h.score,
            h.explanation
        );
    }
    Ok(())
}
