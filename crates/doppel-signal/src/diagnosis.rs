//! Rule-based fault diagnosis of rotating machinery from spectra, the way a vibration analyst reads them.
//!
//! Input: one or more **envelope spectra** (amplitude per bin, from band-pass demodulation around a structural
//! resonance; see [`crate::envelope`]), the **velocity spectrum** (mm/s per bin; see [`crate::integrate`]), the
//! shaft frequency and the bearing's kinematic defect frequencies (`doppel_physics::bearing`). Output: a
//! [`Diagnosis`] naming one [`Fault`] with the evidence for it and for every alternative that was weighed.
//!
//! ## Bearing defects (envelope spectrum)
//! A localised defect on a race or a ball makes an impact each time a rolling element passes it; the impacts
//! ring the structure's resonances, so the *envelope* of the band-passed signal repeats at the defect
//! frequency (McFadden & Smith 1984; Randall & Antoni, "Rolling element bearing diagnostics — A tutorial",
//! MSSP 25 (2011) 485–520). For each hypothesis this module looks for:
//!
//! | fault | fundamental | confirmed by |
//! |---|---|---|
//! | outer race | BPFO | harmonics 2×, 3× BPFO |
//! | inner race | BPFI | harmonics, and sidebands at BPFI ± fr (the defect rotates through the load zone) |
//! | ball (rolling element) | 2×BSF, or BSF | sidebands at ± FTF (required: the ball is carried by the cage through the load zone); harmonics add to the score |
//! | cage | FTF | two harmonics (an impact train; a lone FTF line is the cage modulation of a ball defect, and is not counted when a ball signature is present) |
//!
//! Real peaks sit 1–2 % off the kinematic values because the rolling elements slip, so each line is searched
//! within ± [`DiagnosisConfig::tolerance`] of its expected frequency (at least ± 1.5 bins). A line's
//! **prominence** is its amplitude over the *median* amplitude of the surrounding spectrum (± 20 % of the
//! frequency, at least ± 15 bins; the search window itself excluded), in dB: the median ignores other discrete
//! lines, so a prominence says "how far this line stands out of the noise floor", independent of the sensor's
//! gain and of the fault's absolute size. A hypothesis is **detected** when its fundamental stands
//! [`DiagnosisConfig::min_fundamental_db`] above the floor and at least one confirming line (harmonic or
//! sideband) stands [`DiagnosisConfig::min_confirm_db`] above it — a single line can be a coincidence, a
//! family of lines at the right spacing is a signature. Detected hypotheses are ranked by
//! `score = P₁ + ½·Σ max(Pₖ, 0) + ½·max sideband` (dB, harmonics capped at P₁), so a defect whose harmonics
//! happen to coincide with another defect's lines (2×BPFI ≈ 3×BPFO on many deep-groove bearings) still loses
//! to the hypothesis whose fundamental is actually there.
//!
//! ## Shaft faults (velocity spectrum)
//! Following the usual analyst's rules (e.g. ISO 13373-3 annexes; Scheffer & Girdhar, "Practical machinery
//! vibration analysis", 2004, ch. 6): **unbalance** when the 1× running-speed component carries most of the
//! broadband velocity (≥ [`DiagnosisConfig::unbalance_share`] of the overall RMS) and 2× is well below 1×;
//! **misalignment** when 2× is at least [`DiagnosisConfig::misalignment_ratio`] × the 1× component and carries
//! a real share of the overall level. Neither is called unless the overall velocity RMS is above
//! [`DiagnosisConfig::shaft_fault_min_velocity_mm_s`] (the ISO 10816-3 zone A/B boundary of the smallest machine
//! group by default): a perfectly smooth machine has a 1×, but it is not a fault.
//!
//! A bearing defect outranks a shaft fault in [`Diagnosis::fault`] (it progresses to failure); the shaft finding
//! stays in [`Diagnosis::hypotheses`].
//!
//! Nothing here is tuned to a recording: every threshold is a dB prominence or a share of a level, stated in
//! [`DiagnosisConfig`], and the defect frequencies come from the bearing geometry and the shaft speed.

use serde::Serialize;

use crate::integrate::ISO_10816_BAND;
use crate::{
    AccelUnit, Band, KurtogramConfig, SignalError, TimeFeatures, envelope_spectrum, kurtogram_of_recording, velocity_rms_mm_s, velocity_spectrum, welch,
};

/// A fault class, as reported by `doppel diagnose --json` and the twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Normal,
    OuterRace,
    InnerRace,
    Ball,
    Cage,
    Unbalance,
    Misalignment,
}

impl Fault {
    /// All classes, in the order of [`Fault::index`].
    pub const ALL: [Fault; 7] = [
        Fault::Normal,
        Fault::OuterRace,
        Fault::InnerRace,
        Fault::Ball,
        Fault::Cage,
        Fault::Unbalance,
        Fault::Misalignment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Normal => "normal",
            Fault::OuterRace => "outer_race",
            Fault::InnerRace => "inner_race",
            Fault::Ball => "ball",
            Fault::Cage => "cage",
            Fault::Unbalance => "unbalance",
            Fault::Misalignment => "misalignment",
        }
    }

    /// Position in [`Fault::ALL`] (the value of a `state` signal carrying the diagnosis).
    pub fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    pub fn parse(s: &str) -> Option<Fault> {
        Fault::ALL.iter().copied().find(|f| f.as_str() == s)
    }

    /// A bearing defect (as opposed to a shaft fault or normal).
    pub fn is_bearing(self) -> bool {
        matches!(self, Fault::OuterRace | Fault::InnerRace | Fault::Ball | Fault::Cage)
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amplitude spectrum: bin `i` is at `i · df` Hz.
#[derive(Debug, Clone, Copy)]
pub struct Amplitudes<'a> {
    pub df: f64,
    pub amplitudes: &'a [f64],
}

impl Amplitudes<'_> {
    fn max_hz(&self) -> f64 {
        self.df * self.amplitudes.len().saturating_sub(1) as f64
    }
}

/// Kinematic frequencies of a bearing at the current shaft speed, Hz.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BearingFrequencies {
    pub shaft_hz: f64,
    pub bpfo_hz: f64,
    pub bpfi_hz: f64,
    pub bsf_hz: f64,
    pub ftf_hz: f64,
}

/// Thresholds of the rules (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiagnosisConfig {
    /// Relative search window around each expected line (slip), e.g. 0.02 = ± 2 %.
    pub tolerance: f64,
    /// Prominence the fundamental needs, dB over the local noise floor.
    pub min_fundamental_db: f64,
    /// Prominence a confirming harmonic or sideband needs, dB.
    pub min_confirm_db: f64,
    /// Harmonics examined per hypothesis (fundamental included).
    pub harmonics: u32,
    /// Unbalance: share of the overall velocity RMS carried by 1×.
    pub unbalance_share: f64,
    /// Misalignment: 2× amplitude relative to 1×.
    pub misalignment_ratio: f64,
    /// Shaft faults are only called above this overall velocity RMS, mm/s.
    pub shaft_fault_min_velocity_mm_s: f64,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        DiagnosisConfig {
            tolerance: 0.02,
            min_fundamental_db: 10.0,
            min_confirm_db: 6.0,
            harmonics: 3,
            unbalance_share: 0.6,
            misalignment_ratio: 0.75,
            shaft_fault_min_velocity_mm_s: 1.4,
        }
    }
}

/// One spectral line that was looked for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Line {
    /// What the line is, e.g. "2×BPFO" or "BPFI+fr".
    pub label: String,
    pub expected_hz: f64,
    /// Where the highest bin in the search window is (parabolic interpolation), Hz.
    pub found_hz: f64,
    /// Its amplitude, in the spectrum's unit.
    pub amplitude: f64,
    /// Median amplitude around it (the noise floor), same unit.
    pub floor: f64,
    /// 20·log10(amplitude / floor).
    pub prominence_db: f64,
}

/// The evidence for one fault class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hypothesis {
    pub fault: Fault,
    /// Passed the rules of its class.
    pub detected: bool,
    /// Ranking score, dB-like (see module docs); shaft faults: share of the overall level in %.
    pub score: f64,
    /// Demodulation band of the envelope spectrum the evidence comes from (bearing faults), Hz.
    pub band_hz: Option<(f64, f64)>,
    /// Fundamental, harmonics and sidebands examined, fundamental first.
    pub lines: Vec<Line>,
    /// One sentence an analyst can check.
    pub explanation: String,
}

/// The result: the fault, and the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    pub fault: Fault,
    /// The winning hypothesis' explanation, or why nothing was found.
    pub explanation: String,
    /// Every hypothesis weighed (best band per class), detected ones first, by score.
    pub hypotheses: Vec<Hypothesis>,
}

impl Diagnosis {
    /// The hypothesis that decided [`Diagnosis::fault`], if any.
    pub fn evidence(&self) -> Option<&Hypothesis> {
        self.hypotheses.iter().find(|h| h.fault == self.fault && h.detected)
    }
}

/// Finds the highest bin within ± `half` Hz of `hz`; returns its interpolated frequency, amplitude and
/// the median floor around it. `None` when the window is outside the spectrum.
fn measure(spec: &Amplitudes<'_>, label: String, hz: f64, half: f64) -> Option<Line> {
    let n = spec.amplitudes.len();
    if hz.is_nan() || hz <= 0.0 || spec.df.is_nan() || spec.df <= 0.0 || n < 8 || hz + half > spec.max_hz() {
        return None;
    }
    // A line closer to DC than 8 bins cannot be told from its neighbours (a 0.1-s snapshot has 10 Hz bins: its
    // "1×" at 25 Hz could be anything from 10 to 40 Hz). Such lines are not evaluated rather than guessed.
    if hz < 8.0 * spec.df {
        return None;
    }
    let lo = ((hz - half) / spec.df).ceil().max(1.0) as usize;
    let hi = (((hz + half) / spec.df).floor() as usize).min(n - 1);
    if lo > hi {
        return None;
    }
    let (mut best, mut amp) = (lo, f64::NEG_INFINITY);
    for i in lo..=hi {
        let a = spec.amplitudes[i];
        if a.is_finite() && a > amp {
            best = i;
            amp = a;
        }
    }
    if !amp.is_finite() {
        return None;
    }
    // Parabolic interpolation of the peak position (on the amplitude).
    let mut found = best as f64 * spec.df;
    if best > 0 && best + 1 < n {
        let (a, b, c) = (spec.amplitudes[best - 1], spec.amplitudes[best], spec.amplitudes[best + 1]);
        let den = a - 2.0 * b + c;
        if den < 0.0 {
            let p = 0.5 * (a - c) / den;
            if p.abs() <= 0.5 {
                found += p * spec.df;
            }
        }
    }
    let bg_half = (0.2 * hz).max(15.0 * spec.df);
    let blo = ((hz - bg_half) / spec.df).floor().max(1.0) as usize;
    let bhi = (((hz + bg_half) / spec.df).ceil() as usize).min(n - 1);
    let mut floor: Vec<f64> = (blo..=bhi)
        .filter(|i| *i < lo || *i > hi)
        .map(|i| spec.amplitudes[i])
        .filter(|a| a.is_finite())
        .collect();
    if floor.len() < 4 {
        return None;
    }
    let mid = floor.len() / 2;
    let (_, m, _) = floor.select_nth_unstable_by(mid, f64::total_cmp);
    let floor_amp = m.max(f64::MIN_POSITIVE);
    let prominence_db = 20.0 * (amp.max(f64::MIN_POSITIVE) / floor_amp).log10();
    Some(Line {
        label,
        expected_hz: hz,
        found_hz: found,
        amplitude: amp,
        floor: floor_amp,
        prominence_db,
    })
}

fn window(cfg: &DiagnosisConfig, spec: &Amplitudes<'_>, hz: f64) -> f64 {
    (cfg.tolerance * hz).max(1.5 * spec.df)
}

/// Evaluates one bearing-defect hypothesis on one envelope spectrum.
fn bearing_hypothesis(fault: Fault, spec: &Amplitudes<'_>, f: &BearingFrequencies, band: Option<(f64, f64)>, cfg: &DiagnosisConfig) -> Option<Hypothesis> {
    let (name, fundamental, sideband): (&str, f64, Option<(&str, f64)>) = match fault {
        Fault::OuterRace => ("BPFO", f.bpfo_hz, None),
        Fault::InnerRace => ("BPFI", f.bpfi_hz, Some(("fr", f.shaft_hz))),
        Fault::Ball => ("2×BSF", 2.0 * f.bsf_hz, Some(("FTF", f.ftf_hz))),
        Fault::Cage => ("FTF", f.ftf_hz, None),
        _ => return None,
    };
    let mut best: Option<Hypothesis> = None;
    // A ball defect shows at 2×BSF (it strikes both races per spin) or at BSF: weigh both, keep the better.
    let candidates: Vec<(&str, f64)> = if fault == Fault::Ball {
        vec![(name, fundamental), ("BSF", f.bsf_hz)]
    } else {
        vec![(name, fundamental)]
    };
    for (name, fundamental) in candidates {
        let Some(first) = measure(spec, name.to_string(), fundamental, window(cfg, spec, fundamental)) else {
            continue;
        };
        let p1 = first.prominence_db;
        let mut lines = vec![first];
        let mut harmonic_sum = 0.0;
        let mut confirm: f64 = f64::NEG_INFINITY;
        let mut harmonic_prominences: Vec<f64> = Vec::new();
        // The cage's harmonic comb is examined further: an impact train once per cage turn rings many harmonics.
        let last = if fault == Fault::Cage { cfg.harmonics.max(6) } else { cfg.harmonics.max(1) };
        for k in 2..=last {
            let hz = k as f64 * fundamental;
            let label = if name.contains('×') {
                format!("{k}×({name})")
            } else {
                format!("{k}×{name}")
            };
            if let Some(l) = measure(spec, label, hz, window(cfg, spec, hz)) {
                harmonic_sum += l.prominence_db.clamp(0.0, p1.max(0.0));
                confirm = confirm.max(l.prominence_db);
                harmonic_prominences.push(l.prominence_db);
                lines.push(l);
            }
        }
        let mut side_best = f64::NEG_INFINITY;
        if let Some((sname, sf)) = sideband {
            for (sign, s) in [("-", -1.0), ("+", 1.0)] {
                let hz = fundamental + s * sf;
                // Sidebands need their own narrow window: they sit close to the fundamental.
                let half = (cfg.tolerance * fundamental).min(0.3 * sf).max(1.5 * spec.df);
                if let Some(l) = measure(spec, format!("{name}{sign}{sname}"), hz, half) {
                    side_best = side_best.max(l.prominence_db);
                    lines.push(l);
                }
            }
            // A ball is carried through the load zone by the cage: its signature is the FTF modulation. Harmonics
            // alone do not confirm a ball defect (BSF multiples often sit on running-speed harmonics).
            confirm = if fault == Fault::Ball { side_best } else { confirm.max(side_best) };
        }
        if fault == Fault::Cage {
            // A cage defect strikes once per cage revolution: an impact train, rich in harmonics. A single FTF line
            // (with at most one harmonic) is what the cage *modulation* of a ball defect looks like, so a cage needs
            // two confirming harmonics.
            harmonic_prominences.sort_by(|a, b| b.total_cmp(a));
            confirm = harmonic_prominences.get(1).copied().unwrap_or(f64::NEG_INFINITY);
        }
        let score = p1 + 0.5 * harmonic_sum + 0.5 * side_best.max(0.0);
        let detected = p1 >= cfg.min_fundamental_db && confirm >= cfg.min_confirm_db;
        let l0 = &lines[0];
        let explanation = format!(
            "{}: envelope-spectrum line at {:.1} Hz = {:.3} × {name} ({:.1} Hz), {:.1} dB above the floor; strongest confirming line {:.1} dB{}",
            fault.as_str().replace('_', " "),
            l0.found_hz,
            l0.found_hz / fundamental,
            fundamental,
            p1,
            if confirm.is_finite() { confirm } else { 0.0 },
            match band {
                Some((lo, hi)) => format!(" (demodulation band {lo:.0}–{hi:.0} Hz)"),
                None => String::new(),
            }
        );
        let h = Hypothesis {
            fault,
            detected,
            score,
            band_hz: band,
            lines,
            explanation,
        };
        if best.as_ref().is_none_or(|b| rank(&h) > rank(b)) {
            best = Some(h);
        }
    }
    best
}

fn rank(h: &Hypothesis) -> (bool, f64) {
    (h.detected, h.score)
}

/// Evaluates the bearing hypotheses on envelope spectra of several demodulation bands and keeps, per fault
/// class, the band that gives it the strongest evidence.
pub fn bearing_hypotheses(spectra: &[(Amplitudes<'_>, Option<(f64, f64)>)], f: &BearingFrequencies, cfg: &DiagnosisConfig) -> Vec<Hypothesis> {
    let mut out: Vec<Hypothesis> = Vec::new();
    for fault in [Fault::OuterRace, Fault::InnerRace, Fault::Ball, Fault::Cage] {
        let mut best: Option<Hypothesis> = None;
        for (spec, band) in spectra {
            if let Some(h) = bearing_hypothesis(fault, spec, f, *band, cfg)
                && best.as_ref().is_none_or(|b| rank(&h) > rank(b))
            {
                best = Some(h);
            }
        }
        out.extend(best);
    }
    explain_away(&mut out, cfg);
    out
}

/// A line can only be evidence once: a detected hypothesis whose fundamental coincides (within the slip
/// tolerance) with a line of another detected hypothesis that has the stronger fundamental is explained by that
/// one (e.g. on a 6309 the inner-race sideband BPFI − fr lies within 1.5 % of 2×BSF, so an inner-race
/// signature would otherwise also read as a ball defect).
fn explain_away(hypotheses: &mut [Hypothesis], cfg: &DiagnosisConfig) {
    let mut notes: Vec<(usize, String)> = Vec::new();
    let ball = hypotheses.iter().any(|h| h.fault == Fault::Ball && h.detected);
    // A cage impact comb: at least three harmonics of FTF stand out. Its dense lines (FTF apart) can fake the
    // ball's 2×BSF ± FTF pattern; a ball's cage *modulation* shows FTF with at most a harmonic or two.
    let comb = hypotheses
        .iter()
        .any(|h| h.fault == Fault::Cage && h.detected && h.lines.iter().skip(1).filter(|l| l.prominence_db >= cfg.min_confirm_db).count() >= 3);
    for (i, h) in hypotheses.iter().enumerate() {
        if !h.detected {
            continue;
        }
        if h.fault == Fault::Cage && ball && !comb {
            notes.push((i, "; not counted: FTF is the cage modulation of the detected ball signature".into()));
            continue;
        }
        if h.fault == Fault::Ball && comb {
            notes.push((i, "; not counted: its lines lie on the cage's impact comb (harmonics of FTF)".into()));
            continue;
        }
        let f0 = h.lines[0].found_hz;
        let p0 = h.lines[0].prominence_db;
        for g in hypotheses.iter() {
            if std::ptr::eq(g, h) || !g.detected || g.lines[0].prominence_db <= p0 {
                continue;
            }
            if let Some(l) = g.lines.iter().find(|l| (l.found_hz - f0).abs() <= cfg.tolerance * f0.max(l.found_hz)) {
                notes.push((
                    i,
                    format!(
                        "; not counted: the line is {} of the stronger {} signature",
                        l.label,
                        g.fault.as_str().replace('_', " ")
                    ),
                ));
                break;
            }
        }
    }
    for (i, note) in notes {
        hypotheses[i].detected = false;
        hypotheses[i].explanation.push_str(&note);
    }
}

/// Evaluates unbalance and misalignment from the velocity spectrum (mm/s, peak amplitude per bin as produced
/// by a Hann-windowed amplitude spectrum) and the overall velocity RMS in mm/s.
pub fn shaft_hypotheses(velocity: &Amplitudes<'_>, shaft_hz: f64, overall_rms_mm_s: f64, cfg: &DiagnosisConfig) -> Vec<Hypothesis> {
    let mut out = Vec::new();
    let tol = |hz: f64| (cfg.tolerance * hz).max(1.5 * velocity.df);
    let (Some(one), Some(two)) = (
        measure(velocity, "1×".into(), shaft_hz, tol(shaft_hz)),
        measure(velocity, "2×".into(), 2.0 * shaft_hz, tol(2.0 * shaft_hz)),
    ) else {
        return out;
    };
    // Peak amplitude → RMS of the component.
    let rms1 = one.amplitude / std::f64::consts::SQRT_2;
    let rms2 = two.amplitude / std::f64::consts::SQRT_2;
    let overall = overall_rms_mm_s.max(f64::MIN_POSITIVE);
    let loud = overall_rms_mm_s >= cfg.shaft_fault_min_velocity_mm_s;
    let share1 = rms1 / overall;
    let share2 = rms2 / overall;
    let ratio = rms2 / rms1.max(f64::MIN_POSITIVE);
    let unbalance = loud && share1 >= cfg.unbalance_share && ratio < 0.5 && one.prominence_db >= cfg.min_fundamental_db;
    let misalignment = loud && ratio >= cfg.misalignment_ratio && share2 >= 0.3 && two.prominence_db >= cfg.min_fundamental_db;
    out.push(Hypothesis {
        fault: Fault::Unbalance,
        detected: unbalance,
        score: 100.0 * share1,
        band_hz: None,
        explanation: format!(
            "unbalance: 1× ({:.2} Hz) carries {:.2} mm/s RMS = {:.0} % of the overall {:.2} mm/s; 2×/1× = {:.2}",
            one.found_hz,
            rms1,
            100.0 * share1,
            overall_rms_mm_s,
            ratio
        ),
        lines: vec![one.clone(), two.clone()],
    });
    out.push(Hypothesis {
        fault: Fault::Misalignment,
        detected: misalignment,
        score: 100.0 * share2,
        band_hz: None,
        explanation: format!(
            "misalignment: 2× ({:.2} Hz) = {:.2} mm/s RMS, {:.2} × the 1× component, {:.0} % of the overall {:.2} mm/s",
            two.found_hz,
            rms2,
            ratio,
            100.0 * share2,
            overall_rms_mm_s
        ),
        lines: vec![one, two],
    });
    out
}

/// Combines bearing and shaft hypotheses into one diagnosis.
pub fn conclude(mut hypotheses: Vec<Hypothesis>) -> Diagnosis {
    hypotheses.sort_by(|a, b| {
        b.detected
            .cmp(&a.detected)
            .then(b.fault.is_bearing().cmp(&a.fault.is_bearing()))
            .then(b.score.total_cmp(&a.score))
    });
    match hypotheses.iter().find(|h| h.detected) {
        Some(h) => Diagnosis {
            fault: h.fault,
            explanation: h.explanation.clone(),
            hypotheses,
        },
        None => {
            let closest = hypotheses
                .iter()
                .filter(|h| h.fault.is_bearing())
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|h| format!("; the strongest candidate was {}", h.explanation))
                .unwrap_or_default();
            Diagnosis {
                fault: Fault::Normal,
                explanation: format!("no defect signature: no fault line stands out of the noise floor with a confirming harmonic or sideband{closest}"),
                hypotheses,
            }
        }
    }
}

/// The whole rule set: bearing hypotheses over the given envelope spectra plus shaft hypotheses from the
/// velocity spectrum.
pub fn diagnose(
    envelope_spectra: &[(Amplitudes<'_>, Option<(f64, f64)>)],
    velocity: Option<(&Amplitudes<'_>, f64)>,
    f: &BearingFrequencies,
    cfg: &DiagnosisConfig,
) -> Diagnosis {
    let mut h = bearing_hypotheses(envelope_spectra, f, cfg);
    if let Some((v, overall)) = velocity {
        h.extend(shaft_hypotheses(v, f.shaft_hz, overall, cfg));
    }
    conclude(h)
}

/// How [`diagnose_recording`] reads a whole recording.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecordingOptions {
    /// Length of the averaging segments, s; `None`: long enough for 0.25 × FTF resolution, at least 1 s (capped
    /// at the recording's length).
    pub segment_s: Option<f64>,
    /// How many of the kurtogram's best bands are demodulated (besides one wide band).
    pub kurtogram_bands: usize,
    /// Unit of the samples.
    pub unit: AccelUnit,
    pub rules: DiagnosisConfig,
}

impl Default for RecordingOptions {
    fn default() -> Self {
        RecordingOptions {
            segment_s: None,
            kurtogram_bands: 3,
            unit: AccelUnit::G,
            rules: DiagnosisConfig::default(),
        }
    }
}

/// A demodulation band that was examined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExaminedBand {
    pub band: Band,
    /// Spectral kurtosis of the band's complex envelope over the recording (0 for Gaussian noise).
    pub spectral_kurtosis: f64,
    /// Chosen by the kurtogram (`false`: the wide default band).
    pub from_kurtogram: bool,
}

/// Everything [`diagnose_recording`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordingDiagnosis {
    pub diagnosis: Diagnosis,
    pub frequencies: BearingFrequencies,
    pub time: TimeFeatures,
    /// Broadband velocity RMS 10–1000 Hz (ISO 10816-3), mm/s.
    pub velocity_rms_mm_s: f64,
    pub bands: Vec<ExaminedBand>,
    /// Resolution of the averaged spectra, Hz.
    pub resolution_hz: f64,
    pub segments: usize,
}

/// Averaged envelope spectrum of `x` in `band`: envelope spectra of half-overlapping segments, powers averaged.
fn averaged_envelope(x: &[f32], fs: f64, seg: usize, band: Band) -> Result<(Vec<f64>, f64, usize), SignalError> {
    let step = (seg / 2).max(1);
    let mut sum: Vec<f64> = Vec::new();
    let mut df = 0.0;
    let mut count = 0usize;
    let mut start = 0;
    while start + seg <= x.len() {
        let e = envelope_spectrum(&x[start..start + seg], fs, band)?;
        let a = &e.spectrum.amplitude;
        if sum.is_empty() {
            sum = vec![0.0; a.len()];
            df = e.spectrum.df_hz;
        }
        for (s, &v) in sum.iter_mut().zip(a) {
            *s += f64::from(v) * f64::from(v);
        }
        count += 1;
        start += step;
    }
    if count == 0 {
        return Err(SignalError::TooShort { needed: seg, got: x.len() });
    }
    for s in &mut sum {
        *s = (*s / count as f64).sqrt();
    }
    Ok((sum, df, count))
}

/// Diagnoses a whole recording of one accelerometer: time-domain features, the ISO velocity level, a kurtogram to
/// find the bands where impacts ring, averaged envelope spectra of the best of them plus one wide band, the
/// averaged velocity spectrum, and the rules of this module over all of it.
///
/// Candidate demodulation bands must lie above 4 × the highest defect frequency (shaft harmonics and their
/// beating stay out), below 90 % of the Nyquist frequency (anti-alias filter roll-off, where quantisation noise
/// makes the kurtosis meaningless), and be at least `2.2 × (BPFI + 2 fr)` wide so the envelope spectrum reaches
/// the fundamental and its sidebands.
pub fn diagnose_recording(x: &[f32], fs: f64, f: &BearingFrequencies, opts: &RecordingOptions) -> Result<RecordingDiagnosis, SignalError> {
    crate::check_sample_rate(fs)?;
    crate::check_samples(x)?;
    for (name, v) in [
        ("shaft_hz", f.shaft_hz),
        ("bpfo_hz", f.bpfo_hz),
        ("bpfi_hz", f.bpfi_hz),
        ("bsf_hz", f.bsf_hz),
        ("ftf_hz", f.ftf_hz),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return Err(SignalError::InvalidParameter {
                name,
                value: v,
                reason: "defect frequencies must be finite and > 0 (is the shaft turning?)",
            });
        }
    }
    let time = TimeFeatures::compute(x)?;
    let seg_s = opts.segment_s.unwrap_or_else(|| (4.0 / f.ftf_hz).max(1.0));
    let seg = ((seg_s * fs).round() as usize).clamp(64, x.len());
    let velocity = welch(x, fs, seg, 0.5)?;
    let velocity_rms_mm_s = velocity_rms_mm_s(&velocity.view(), opts.unit, ISO_10816_BAND);
    let vspec = velocity_spectrum(&velocity.view(), opts.unit);
    let nyq = fs / 2.0;
    let top = f.bpfo_hz.max(f.bpfi_hz).max(2.0 * f.bsf_hz);
    let lo_min = 4.0 * top;
    let hi_max = 0.9 * nyq;
    let min_bw = 2.2 * (f.bpfi_hz.max(2.0 * f.bsf_hz) + 2.0 * f.shaft_hz);
    if hi_max - lo_min < min_bw {
        return Err(SignalError::InvalidParameter {
            name: "sample_rate_hz",
            value: fs,
            reason: "too low for envelope analysis at this shaft speed: no band above 4 × the defect frequencies fits below 90 % of Nyquist",
        });
    }
    let mut bands = vec![ExaminedBand {
        band: Band::new(lo_min, hi_max),
        spectral_kurtosis: f64::NAN,
        from_kurtogram: false,
    }];
    let kcfg = KurtogramConfig {
        max_level: 6,
        min_bandwidth_hz: min_bw,
        max_bandwidth_hz: None,
        min_frequency_hz: lo_min,
    };
    let kseg = seg.min(x.len()).max(1 << 8);
    if let Ok(k) = kurtogram_of_recording(x, fs, kseg, &kcfg) {
        let mut cells: Vec<_> = k.cells.iter().filter(|c| c.eligible && c.band.hi_hz <= hi_max && c.sk.is_finite()).collect();
        cells.sort_by(|a, b| b.sk.total_cmp(&a.sk));
        for c in cells.into_iter().take(opts.kurtogram_bands) {
            bands.push(ExaminedBand {
                band: c.band,
                spectral_kurtosis: c.sk,
                from_kurtogram: true,
            });
        }
    }
    let mut spectra = Vec::with_capacity(bands.len());
    let mut segments = 0;
    let mut resolution_hz = velocity.df_hz;
    for b in &bands {
        let (amps, df, n) = averaged_envelope(x, fs, seg, b.band)?;
        segments = n;
        resolution_hz = df;
        spectra.push((amps, df, b.band));
    }
    let views: Vec<(Amplitudes<'_>, Option<(f64, f64)>)> = spectra
        .iter()
        .map(|(a, df, b)| (Amplitudes { df: *df, amplitudes: a }, Some((b.lo_hz, b.hi_hz))))
        .collect();
    let vamps = vspec.view().amplitudes_f64();
    let vview = Amplitudes {
        df: vspec.df_hz,
        amplitudes: &vamps,
    };
    let diagnosis = diagnose(&views, Some((&vview, velocity_rms_mm_s)), f, &opts.rules);
    Ok(RecordingDiagnosis {
        diagnosis,
        frequencies: *f,
        time,
        velocity_rms_mm_s,
        bands,
        resolution_hz,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CWRU drive-end 6205 at 1797 rpm (multipliers from the CWRU Bearing Data Center table).
    fn cwru() -> BearingFrequencies {
        let fr = 1797.0 / 60.0;
        BearingFrequencies {
            shaft_hz: fr,
            bpfo_hz: 3.5848 * fr,
            bpfi_hz: 5.4152 * fr,
            bsf_hz: 2.3567 * fr,
            ftf_hz: 0.3983 * fr,
        }
    }

    /// A noise-floor spectrum with a deterministic ripple (df = 0.5 Hz up to 1 kHz), plus lines.
    fn spectrum(lines: &[(f64, f64)]) -> Vec<f64> {
        let df: f64 = 0.5;
        let mut a: Vec<f64> = (0..2001).map(|i| 1.0 + 0.3 * ((i as f64 * 0.7).sin() * (i as f64 * 0.13).cos())).collect();
        for &(hz, amp) in lines {
            let i = (hz / df).round() as usize;
            a[i] += amp;
            a[i - 1] += 0.4 * amp;
            a[i + 1] += 0.4 * amp;
        }
        a
    }

    fn run(lines: &[(f64, f64)]) -> Diagnosis {
        let a = spectrum(lines);
        let v = Amplitudes { df: 0.5, amplitudes: &a };
        diagnose(&[(v, Some((2000.0, 5000.0)))], None, &cwru(), &DiagnosisConfig::default())
    }

    #[test]
    fn outer_race_family_with_slip_is_outer_race() {
        let f = cwru();
        // 1 % slip below the kinematic BPFO, three harmonics.
        let bpfo = 0.99 * f.bpfo_hz;
        let d = run(&[(bpfo, 20.0), (2.0 * bpfo, 12.0), (3.0 * bpfo, 8.0)]);
        assert_eq!(d.fault, Fault::OuterRace, "{d:#?}");
        let e = d.evidence().unwrap();
        assert!((e.lines[0].found_hz - bpfo).abs() < 0.6, "{e:#?}");
        assert!(e.lines[0].prominence_db > 20.0);
        assert!(d.explanation.contains("BPFO"));
    }

    #[test]
    fn inner_race_with_shaft_sidebands_is_inner_race() {
        let f = cwru();
        let d = run(&[(f.bpfi_hz, 15.0), (f.bpfi_hz - f.shaft_hz, 6.0), (f.bpfi_hz + f.shaft_hz, 6.0)]);
        assert_eq!(d.fault, Fault::InnerRace, "{d:#?}");
        assert!(d.evidence().unwrap().lines.iter().any(|l| l.label == "BPFI+fr" && l.prominence_db > 6.0));
    }

    #[test]
    fn ball_spin_with_cage_sidebands_is_ball() {
        let f = cwru();
        let b2 = 2.0 * f.bsf_hz;
        let d = run(&[(b2, 10.0), (b2 - f.ftf_hz, 5.0), (b2 + f.ftf_hz, 5.0)]);
        assert_eq!(d.fault, Fault::Ball, "{d:#?}");
    }

    #[test]
    fn an_inner_race_sideband_on_the_ball_spin_line_is_not_a_ball_fault() {
        // 6309-like geometry at 24.4 Hz: 2×BSF = 95.5 Hz lies within 1.5 % of BPFI − fr = 96.8 Hz.
        let fr = 24.4;
        let f = BearingFrequencies {
            shaft_hz: fr,
            bpfo_hz: 3.04 * fr,
            bpfi_hz: 4.96 * fr,
            bsf_hz: 1.9555 * fr,
            ftf_hz: 0.38 * fr,
        };
        let a = spectrum(&[
            (f.bpfi_hz, 30.0),
            (2.0 * f.bpfi_hz, 12.0),
            (f.bpfi_hz - fr, 20.0),
            (f.bpfi_hz + fr, 20.0),
            (2.0 * f.bpfi_hz - fr, 8.0),
            (f.bpfi_hz - 2.0 * fr, 8.0),
        ]);
        let d = diagnose(&[(Amplitudes { df: 0.5, amplitudes: &a }, None)], None, &f, &DiagnosisConfig::default());
        assert_eq!(d.fault, Fault::InnerRace, "{d:#?}");
        let ball = d.hypotheses.iter().find(|h| h.fault == Fault::Ball).unwrap();
        assert!(!ball.detected, "{ball:#?}");
    }

    #[test]
    fn cage_modulation_of_a_ball_defect_is_not_a_cage_fault() {
        let f = cwru();
        let b2 = 2.0 * f.bsf_hz;
        // FTF line with one harmonic (modulation) alone: not a cage fault.
        let d = run(&[(f.ftf_hz, 20.0), (2.0 * f.ftf_hz, 8.0)]);
        assert_eq!(d.fault, Fault::Normal, "{d:#?}");
        // With the ball family present, the FTF lines belong to it.
        let d = run(&[
            (f.ftf_hz, 20.0),
            (2.0 * f.ftf_hz, 10.0),
            (3.0 * f.ftf_hz, 8.0),
            (b2, 12.0),
            (b2 - f.ftf_hz, 8.0),
            (b2 + f.ftf_hz, 8.0),
        ]);
        assert_eq!(d.fault, Fault::Ball, "{d:#?}");
        // An impact train at FTF (harmonics) without a ball family is a cage fault.
        let d = run(&[(f.ftf_hz, 15.0), (2.0 * f.ftf_hz, 10.0), (3.0 * f.ftf_hz, 8.0)]);
        assert_eq!(d.fault, Fault::Cage, "{d:#?}");
    }

    #[test]
    fn a_lone_line_is_not_a_fault() {
        // A strong BPFO line without any harmonic or sideband: could be anything (e.g. an electrical line).
        let f = cwru();
        let d = run(&[(f.bpfo_hz, 20.0)]);
        assert_eq!(d.fault, Fault::Normal, "{d:#?}");
        assert!(d.explanation.contains("strongest candidate"));
    }

    #[test]
    fn noise_only_is_normal() {
        let d = run(&[]);
        assert_eq!(d.fault, Fault::Normal);
        assert!(d.hypotheses.iter().all(|h| !h.detected));
    }

    #[test]
    fn coinciding_harmonics_do_not_steal_the_diagnosis() {
        // Outer race: 3×BPFO (10.75 fr) sits within 1 % of 2×BPFI (10.83 fr) on the 6205.
        let f = cwru();
        let d = run(&[(f.bpfo_hz, 25.0), (2.0 * f.bpfo_hz, 20.0), (3.0 * f.bpfo_hz, 20.0)]);
        assert_eq!(d.fault, Fault::OuterRace, "{d:#?}");
    }

    #[test]
    fn unbalance_and_misalignment_from_the_velocity_spectrum() {
        let fr: f64 = 29.95;
        let df: f64 = 0.5;
        let mk = |one: f64, two: f64| {
            let mut a = vec![0.01; 2001];
            let i1 = (fr / df).round() as usize;
            let i2 = (2.0 * fr / df).round() as usize;
            a[i1] = one;
            a[i2] = two;
            a
        };
        let cfg = DiagnosisConfig::default();
        // 1× of 4 mm/s peak = 2.83 mm/s RMS out of 3 mm/s overall.
        let a = mk(4.0, 0.5);
        let h = shaft_hypotheses(&Amplitudes { df, amplitudes: &a }, fr, 3.0, &cfg);
        let d = conclude(h);
        assert_eq!(d.fault, Fault::Unbalance, "{d:#?}");
        let a = mk(2.0, 3.0);
        let d = conclude(shaft_hypotheses(&Amplitudes { df, amplitudes: &a }, fr, 3.0, &cfg));
        assert_eq!(d.fault, Fault::Misalignment, "{d:#?}");
        // The same shape at a smooth 0.5 mm/s overall is not a fault.
        let a = mk(0.6, 0.1);
        let d = conclude(shaft_hypotheses(&Amplitudes { df, amplitudes: &a }, fr, 0.5, &cfg));
        assert_eq!(d.fault, Fault::Normal);
    }

    #[test]
    fn degenerate_spectra_do_not_panic() {
        let f = cwru();
        let cfg = DiagnosisConfig::default();
        for a in [vec![], vec![0.0; 3], vec![f64::NAN; 100], vec![0.0; 5000]] {
            let v = Amplitudes { df: 0.5, amplitudes: &a };
            let d = diagnose(&[(v, None)], Some((&v, 0.0)), &f, &cfg);
            assert_eq!(d.fault, Fault::Normal);
        }
        let a = vec![1.0; 100];
        let d = diagnose(&[(Amplitudes { df: 0.0, amplitudes: &a }, None)], None, &f, &cfg);
        assert_eq!(d.fault, Fault::Normal);
    }

    #[test]
    fn fault_names_round_trip() {
        for f in Fault::ALL {
            assert_eq!(Fault::parse(f.as_str()), Some(f));
            assert_eq!(Fault::ALL[f.index()], f);
        }
    }
}
