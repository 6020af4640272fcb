//! Vibration of rotating machines: the acceleration seen by one accelerometer on a bearing housing.
//!
//! A frame is the sum of four parts, all in g:
//!
//! * **Shaft harmonics.** Sinusoids at 1× running speed (residual unbalance), 2× (misalignment) and 3×–5×
//!   (looseness, coupling), each with a random phase. Their levels are given as velocity RMS in mm/s and turned
//!   into acceleration by `a = √2 · v · 2πf` (peak), so that a frame and the 1 Hz velocity signal of the same
//!   asset describe one state ([`VibrationLevels`]).
//! * **Bearing defect impacts.** After fault onset the rolling elements strike the defect once per defect
//!   period: BPFO for an outer-race defect, BPFI for the inner race, 2×BSF for a ball (it strikes both races
//!   once per spin revolution), FTF for the cage. Following McFadden & Smith (1984) and Randall & Antoni (2011),
//!   each impact excites a structural resonance of the housing (a damped sinusoid, 2.5–4.5 kHz, damping ratio
//!   0.05–0.1 per asset), the inter-arrival times jitter randomly by 1–2 % (rolling-element slip, which makes the
//!   signal cyclostationary rather than periodic) and the mean defect frequency sits a little below the
//!   kinematic value (the cage lags). Inner-race impacts are amplitude-modulated at shaft speed as the defect
//!   passes through the load zone, ball impacts at the cage speed (FTF); an outer-race defect sits in the fixed
//!   load zone and is not modulated. The load-zone weight is Stribeck's `cos(ψ)^1.5` over ±90° with a floor of
//!   0.15 (impacts outside the load zone are weak, not absent). Each impact varies by ±10 % at random.
//! * **Low-frequency bearing content.** The same impacts also excite a lower housing mode (400–800 Hz, damping
//!   ratio 0.06), scaled so that its velocity RMS is the bearing term of [`VibrationLevels`]. This is how late
//!   damage raises the ISO 10816 velocity: the high-frequency resonance carries the envelope and kurtosis
//!   signature but lies above the 10–1000 Hz velocity band.
//! * **Broadband noise.** Gaussian, high-passed at 1 kHz (machine and flow noise; a first-order filter, so the
//!   contribution to the 10–1000 Hz velocity stays below 0.1 mm/s), RMS [`FrameState::noise_g`].
//!
//! Impact amplitude grows with the bearing damage `D` as [`impact_peak_g`] `= 2·D + 8·D³` g (0 before
//! onset), the low-frequency bearing velocity as [`bearing_velocity_mm_s`] `= 0.6·D + 7.6·D³` mm/s. Early damage
//! (D ≲ 0.1) is therefore plain in the envelope spectrum but adds only a few per cent to the overall RMS; late
//! damage dominates acceleration and velocity.
//!
//! Speed: the impulse responses are precomputed kernels (truncated at 0.1 % of their peak) added at each impact,
//! the harmonics are rotating phasors and the noise comes from a ziggurat sampler, so a frame costs
//! O(samples + impacts × kernel length): 0.12–0.2 ms for a 1 s frame of 12 800 samples in a release build
//! (about 40 % noise, 25 % harmonics, the rest impacts).
//!
//! Sources: P. D. McFadden, J. D. Smith, "Model for the vibration produced by a single point defect in a rolling
//! element bearing", Journal of Sound and Vibration 96(1), 1984, 69–82. R. B. Randall, J. Antoni, "Rolling
//! element bearing diagnostics — A tutorial", Mechanical Systems and Signal Processing 25(2), 2011, 485–520.

use std::f64::consts::TAU;

use doppel_physics::G;
use doppel_physics::bearing::BearingGeometry;
use serde::Serialize;

use crate::rng::Stream;

/// Kernels are truncated once their envelope falls below this fraction of the peak.
const KERNEL_FLOOR: f64 = 1e-3;
/// Load-zone weight of an impact outside the load zone.
const LOAD_ZONE_FLOOR: f64 = 0.15;
/// Relative random variation of the impact amplitude.
const IMPACT_SPREAD: f64 = 0.1;
/// Corner of the first-order high-pass that shapes the broadband noise, Hz.
const NOISE_HIGHPASS_HZ: f64 = 1000.0;
/// Relative amplitudes of 3×, 4× and 5× (normalised to the harmonics level).
const HIGHER: [f64; 3] = [0.8, 0.5, 0.33];

/// Where a rolling-element bearing defect sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BearingFault {
    OuterRace,
    InnerRace,
    Ball,
    Cage,
}

impl BearingFault {
    pub const ALL: [BearingFault; 4] = [BearingFault::OuterRace, BearingFault::InnerRace, BearingFault::Ball, BearingFault::Cage];

    pub fn as_str(self) -> &'static str {
        match self {
            BearingFault::OuterRace => "outer_race",
            BearingFault::InnerRace => "inner_race",
            BearingFault::Ball => "ball",
            BearingFault::Cage => "cage",
        }
    }

    /// Share of bearing faults that start at this location in the simulator: outer race 45 %, inner race 35 %,
    /// ball 15 %, cage 5 % (the stationary outer race carries its load zone in one place and fails most often).
    pub fn prevalence(self) -> f64 {
        match self {
            BearingFault::OuterRace => 0.45,
            BearingFault::InnerRace => 0.35,
            BearingFault::Ball => 0.15,
            BearingFault::Cage => 0.05,
        }
    }

    /// The fault location for a uniform number `u` in [0, 1), by [`BearingFault::prevalence`].
    pub fn from_uniform(u: f64) -> BearingFault {
        let mut acc = 0.0;
        for f in BearingFault::ALL {
            acc += f.prevalence();
            if u < acc {
                return f;
            }
        }
        BearingFault::Cage
    }

    /// Strength of the impacts at the sensor relative to an outer-race defect: the inner race and the balls are
    /// further from the housing (longer transmission path), and ball and cage defects strike more softly.
    pub fn impact_factor(self) -> f64 {
        match self {
            BearingFault::OuterRace => 1.0,
            BearingFault::InnerRace => 0.8,
            BearingFault::Ball => 0.6,
            BearingFault::Cage => 0.4,
        }
    }
}

/// Peak acceleration (g) of one impact of a defect on the outer race at damage `d` and rated speed.
pub fn impact_peak_g(d: f64) -> f64 {
    let d = d.clamp(0.0, 1.0);
    2.0 * d + 8.0 * d * d * d
}

/// Velocity RMS (mm/s, 10–1000 Hz) added by bearing damage `d` at rated speed.
pub fn bearing_velocity_mm_s(d: f64) -> f64 {
    let d = d.clamp(0.0, 1.0);
    0.6 * d + 7.6 * d * d * d
}

/// Static vibration properties of one machine and its measurement point, fixed at installation.
#[derive(Debug, Clone, PartialEq)]
pub struct VibrationProfile {
    /// Velocity RMS at 1× from residual unbalance at rated speed, mm/s.
    pub unbalance_mm_s: f64,
    /// Velocity RMS at 2× from shaft misalignment at rated speed, mm/s.
    pub misalignment_mm_s: f64,
    /// Velocity RMS of 3×–5× together at rated speed, mm/s.
    pub harmonics_mm_s: f64,
    /// The monitored bearing.
    pub geometry: BearingGeometry,
    /// Structural resonance excited by the impacts, Hz, and its damping ratio.
    pub resonance_hz: f64,
    pub resonance_damping: f64,
    /// Lower housing mode that carries the low-frequency bearing content, Hz, and its damping ratio.
    pub housing_hz: f64,
    pub housing_damping: f64,
    /// Standard deviation of the impact inter-arrival time, as a fraction of the period (0.01–0.02).
    pub jitter: f64,
    /// Mean slip of the rolling elements: the cage turns this fraction slower than kinematics says.
    pub slip: f64,
    /// Broadband noise RMS while running, g.
    pub noise_g: f64,
}

/// Velocity RMS of each part of the vibration, mm/s (ISO 10816 band, 10–1000 Hz).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct VibrationLevels {
    /// 1× (unbalance).
    pub unbalance: f64,
    /// 2× (misalignment).
    pub misalignment: f64,
    /// 3×–5×.
    pub harmonics: f64,
    /// Bearing defect (low-frequency housing response to the impacts).
    pub bearing: f64,
}

impl VibrationLevels {
    /// Overall velocity RMS: the parts are incoherent, so their squares add.
    pub fn overall(&self) -> f64 {
        (self.unbalance.powi(2) + self.misalignment.powi(2) + self.harmonics.powi(2) + self.bearing.powi(2)).sqrt()
    }
}

/// The machine's state during one frame.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameState {
    /// Shaft speed, Hz (0: stopped: no harmonics, no impacts).
    pub shaft_hz: f64,
    pub levels: VibrationLevels,
    pub fault: Option<BearingFault>,
    /// Peak acceleration of one impact at the resonance, g, before the fault's [`BearingFault::impact_factor`]
    /// and the load-zone weight.
    pub impact_g: f64,
    /// Broadband noise RMS, g.
    pub noise_g: f64,
}

impl VibrationProfile {
    /// Draws the profile of a newly installed machine. `unbalance` is the range of the 1× level; `coupled`
    /// machines (motor driving a load through a coupling) are usually well aligned (2× at 0.1–0.5 mm/s) but
    /// 15 % are notably misaligned (1.0–2.0 mm/s); close-coupled or motorised machines get 0.05–0.2 mm/s.
    pub(crate) fn draw(rng: &mut Stream, geometry: BearingGeometry, unbalance: (f64, f64), coupled: bool) -> VibrationProfile {
        let unbalance_mm_s = rng.range(unbalance.0, unbalance.1);
        let misaligned = rng.uniform() < 0.15;
        let misalignment_mm_s = match (coupled, misaligned) {
            (true, true) => rng.range(1.0, 2.0),
            (true, false) => rng.range(0.1, 0.5),
            (false, _) => rng.range(0.05, 0.2),
        };
        VibrationProfile {
            unbalance_mm_s,
            misalignment_mm_s,
            harmonics_mm_s: unbalance_mm_s * rng.range(0.15, 0.3),
            geometry,
            resonance_hz: rng.range(2500.0, 4500.0),
            resonance_damping: rng.range(0.05, 0.1),
            housing_hz: rng.range(400.0, 800.0),
            housing_damping: 0.06,
            jitter: rng.range(0.01, 0.02),
            slip: rng.range(0.003, 0.01),
            noise_g: rng.range(0.05, 0.09),
        }
    }

    /// Levels at `speed_factor` (1 = rated) with bearing damage `damage` and extra 1× unbalance (mm/s at rated
    /// speed, e.g. from impeller erosion). Every part scales with the speed factor.
    pub fn levels(&self, speed_factor: f64, damage: f64, extra_unbalance_mm_s: f64) -> VibrationLevels {
        let f = speed_factor.max(0.0);
        VibrationLevels {
            unbalance: (self.unbalance_mm_s + extra_unbalance_mm_s.max(0.0)) * f,
            misalignment: self.misalignment_mm_s * f,
            harmonics: self.harmonics_mm_s * f,
            bearing: bearing_velocity_mm_s(damage) * f,
        }
    }

    /// Mean frequency (Hz) of the impacts of `fault` at shaft speed `shaft_hz`, slip included: BPFO, FTF and
    /// 2×BSF lower by the slip; BPFI = n·(f_r − FTF) correspondingly higher.
    pub fn defect_hz(&self, fault: BearingFault, shaft_hz: f64) -> f64 {
        let f = self.geometry.defect_frequencies(shaft_hz);
        let s = self.slip;
        match fault {
            BearingFault::OuterRace => f.bpfo * (1.0 - s),
            BearingFault::InnerRace => f.bpfi + f.bpfo * s,
            BearingFault::Ball => 2.0 * f.bsf * (1.0 - s),
            BearingFault::Cage => f.ftf * (1.0 - s),
        }
    }

    /// Frequency (Hz) at which the load zone modulates the impacts: shaft speed for the inner race, cage speed
    /// for a ball; none for the outer race (fixed load zone) and the cage.
    pub fn modulation_hz(&self, fault: BearingFault, shaft_hz: f64) -> Option<f64> {
        match fault {
            BearingFault::InnerRace => Some(shaft_hz),
            BearingFault::Ball => Some(self.geometry.defect_frequencies(shaft_hz).ftf * (1.0 - self.slip)),
            BearingFault::OuterRace | BearingFault::Cage => None,
        }
    }
}

/// Stribeck load-zone weight of an impact at angle `psi` from the load direction (ε = 0.5: ±90° zone).
fn load_zone(psi: f64) -> f64 {
    let c = psi.cos().max(0.0);
    LOAD_ZONE_FLOOR + (1.0 - LOAD_ZONE_FLOOR) * c * c.sqrt()
}

/// Impulse response of a mode at `f_hz` with damping ratio `zeta`, sampled at `fs`: a damped cosine with
/// envelope 1, truncated at [`KERNEL_FLOOR`]. An impact leaves the structure at rest, so the response must carry
/// no net velocity: the phase is chosen so that the *sampled* kernel sums to zero (the continuous zero-mean phase
/// `asin ζ` does not give a zero sum once a resonance has only a few samples per cycle, and the remainder would
/// leak into the velocity band); the sum left by the truncation is spread evenly over the kernel.
fn kernel(f_hz: f64, zeta: f64, fs: f64) -> Vec<f64> {
    let a = zeta * TAU * f_hz / fs;
    let b = TAU * f_hz * (1.0 - zeta * zeta).sqrt() / fs;
    // Σ e^{−an}·cos(bn + φ) = Re(e^{iφ}·S), S = 1/(1 − e^{−a+ib}); zero for φ = π/2 − arg S.
    let (re, im) = (1.0 - (-a).exp() * b.cos(), (-a).exp() * b.sin());
    let phi = std::f64::consts::FRAC_PI_2 - im.atan2(re);
    let len = (-KERNEL_FLOOR.ln() / a).ceil().max(2.0) as usize;
    let mut k: Vec<f64> = (0..len).map(|j| (-a * j as f64).exp() * (b * j as f64 + phi).cos()).collect();
    let residual = k.iter().sum::<f64>() / len as f64;
    for x in &mut k {
        *x -= residual;
    }
    k
}

/// Velocity RMS (mm/s) of an acceleration signal in g: trapezoidal integration, mean removed.
pub fn velocity_rms_mm_s(accel_g: &[f64], sample_rate_hz: f64) -> f64 {
    if accel_g.is_empty() {
        return 0.0;
    }
    let k = G * 1000.0 / sample_rate_hz;
    let mut v = 0.0;
    let mut prev = accel_g[0];
    let (mut s, mut s2) = (0.0, 0.0);
    for &a in accel_g {
        v += 0.5 * (a + prev) * k;
        prev = a;
        s += v;
        s2 += v * v;
    }
    let n = accel_g.len() as f64;
    (s2 / n - (s / n).powi(2)).max(0.0).sqrt()
}

/// Synthesises frames for one accelerometer at one sample rate; holds the precomputed impulse responses.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthesiser {
    profile: VibrationProfile,
    sample_rate_hz: f64,
    resonance: Vec<f64>,
    housing: Vec<f64>,
    noise_alpha: f64,
    noise_gain: f64,
}

impl Synthesiser {
    /// Resonances are kept below 0.4 × the sample rate (a slowly sampled sensor would see them aliased). Below
    /// about 6 kHz the clamped resonance falls into the 10–1000 Hz band, and a faulty bearing's frames then carry
    /// more velocity than [`VibrationLevels::bearing`].
    pub fn new(profile: &VibrationProfile, sample_rate_hz: f64) -> Synthesiser {
        let fs = sample_rate_hz.max(1.0);
        let nyq = 0.4 * fs;
        let resonance = kernel(profile.resonance_hz.min(nyq), profile.resonance_damping.clamp(0.005, 0.5), fs);
        let housing = kernel(profile.housing_hz.min(nyq), profile.housing_damping.clamp(0.005, 0.5), fs);
        let rc = 1.0 / (TAU * NOISE_HIGHPASS_HZ.min(nyq));
        let alpha = rc / (rc + 1.0 / fs);
        // Power gain of y[n] = α·(y[n−1] + x[n] − x[n−1]) for white input: 2α²/(1 + α).
        let noise_gain = (2.0 * alpha * alpha / (1.0 + alpha)).sqrt();
        Synthesiser {
            profile: profile.clone(),
            sample_rate_hz: fs,
            resonance,
            housing,
            noise_alpha: alpha,
            noise_gain,
        }
    }

    pub fn profile(&self) -> &VibrationProfile {
        &self.profile
    }

    pub fn sample_rate_hz(&self) -> f64 {
        self.sample_rate_hz
    }

    /// One frame of `n` samples (acceleration in g) for `state`; the same `seed` gives the same frame.
    pub fn frame(&self, state: &FrameState, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = Stream::new(seed, 0);
        let mut out = vec![0.0; n];
        if state.shaft_hz > 0.0 && state.shaft_hz.is_finite() {
            self.add_harmonics(&mut out, state, &mut rng);
            if let Some(fault) = state.fault
                && state.impact_g > 0.0
            {
                self.add_impacts(&mut out, state, fault, &mut rng);
            }
        }
        if state.noise_g > 0.0 {
            let (alpha, gain) = (self.noise_alpha, state.noise_g / self.noise_gain);
            let (mut x_prev, mut y) = (0.0, 0.0);
            // Start the filter in its stationary state rather than at rest.
            for _ in 0..((5.0 / (1.0 - alpha)) as usize).min(4096) {
                let x = rng.normal_fast();
                y = alpha * (y + x - x_prev);
                x_prev = x;
            }
            for o in out.iter_mut() {
                let x = rng.normal_fast();
                y = alpha * (y + x - x_prev);
                x_prev = x;
                *o += gain * y;
            }
        }
        out
    }

    fn add_harmonics(&self, out: &mut [f64], state: &FrameState, rng: &mut Stream) {
        let fs = self.sample_rate_hz;
        let l = &state.levels;
        let norm = HIGHER.iter().map(|h| h * h).sum::<f64>().sqrt();
        let parts = [
            (1.0, l.unbalance),
            (2.0, l.misalignment),
            (3.0, l.harmonics * HIGHER[0] / norm),
            (4.0, l.harmonics * HIGHER[1] / norm),
            (5.0, l.harmonics * HIGHER[2] / norm),
        ];
        // Five independent oscillators (rotating phasors) advanced together.
        let (mut amp, mut sn, mut cs, mut sw, mut cw) = ([0.0; 5], [0.0; 5], [1.0; 5], [0.0; 5], [1.0; 5]);
        for (h, (k, v_mm_s)) in parts.into_iter().enumerate() {
            let f = k * state.shaft_hz;
            (sn[h], cs[h]) = (TAU * rng.uniform()).sin_cos();
            if v_mm_s > 0.0 && f < 0.5 * fs {
                // velocity RMS v → acceleration peak √2·v·ω, in g
                amp[h] = std::f64::consts::SQRT_2 * v_mm_s * 1e-3 * TAU * f / G;
                (sw[h], cw[h]) = (TAU * f / fs).sin_cos();
            }
        }
        for o in out.iter_mut() {
            let mut acc = 0.0;
            for h in 0..5 {
                acc += amp[h] * sn[h];
                (sn[h], cs[h]) = (sn[h] * cw[h] + cs[h] * sw[h], cs[h] * cw[h] - sn[h] * sw[h]);
            }
            *o += acc;
        }
    }

    fn add_impacts(&self, out: &mut [f64], state: &FrameState, fault: BearingFault, rng: &mut Stream) {
        let fs = self.sample_rate_hz;
        let n = out.len();
        let p = &self.profile;
        let fd = p.defect_hz(fault, state.shaft_hz);
        if !(fd > 0.0 && fd.is_finite()) {
            return;
        }
        let period = 1.0 / fd;
        let modulation = p.modulation_hz(fault, state.shaft_hz);
        let psi0 = TAU * rng.uniform();
        let amp0 = state.impact_g * fault.impact_factor();
        let tail = self.resonance.len().max(self.housing.len());
        let mut low = vec![0.0; n];
        // Start early enough that impacts just before the frame ring into it.
        let mut t = -(tail as f64) / fs - period * rng.uniform();
        let end = n as f64 / fs;
        while t < end {
            let m = modulation.map(|fm| load_zone(TAU * fm * t + psi0)).unwrap_or(1.0);
            let a = amp0 * m * (1.0 + IMPACT_SPREAD * rng.normal()).max(0.0);
            let start = (t * fs).round() as i64;
            let skip = (-start).max(0) as usize;
            let first = start.max(0) as usize;
            if first < n {
                for (o, k) in out[first..].iter_mut().zip(self.resonance.iter().skip(skip)) {
                    *o += a * k;
                }
                for (o, k) in low[first..].iter_mut().zip(self.housing.iter().skip(skip)) {
                    *o += a * k;
                }
            }
            t += period * (1.0 + p.jitter * rng.normal().clamp(-3.0, 3.0));
        }
        let v = velocity_rms_mm_s(&low, fs);
        if v > 0.0 && state.levels.bearing > 0.0 {
            let scale = state.levels.bearing / v;
            for (o, l) in out.iter_mut().zip(&low) {
                *o += scale * l;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> VibrationProfile {
        VibrationProfile {
            unbalance_mm_s: 0.8,
            misalignment_mm_s: 0.3,
            harmonics_mm_s: 0.16,
            // 6309, as on the example plant's motors
            geometry: BearingGeometry::new(8.0, 17.46, 72.5, 0.0).unwrap(),
            resonance_hz: 3500.0,
            resonance_damping: 0.07,
            housing_hz: 600.0,
            housing_damping: 0.06,
            jitter: 0.015,
            slip: 0.007,
            noise_g: 0.07,
        }
    }

    const FS: f64 = 12_800.0;
    const SHAFT_HZ: f64 = 1465.0 / 60.0;

    fn state(p: &VibrationProfile, fault: Option<BearingFault>, d: f64) -> FrameState {
        FrameState {
            shaft_hz: SHAFT_HZ,
            levels: p.levels(1.0, if fault.is_some() { d } else { 0.0 }, 0.0),
            fault,
            impact_g: if fault.is_some() { impact_peak_g(d) } else { 0.0 },
            noise_g: p.noise_g,
        }
    }

    fn kurtosis(x: &[f64]) -> f64 {
        let n = x.len() as f64;
        let m = x.iter().sum::<f64>() / n;
        let v = x.iter().map(|a| (a - m).powi(2)).sum::<f64>() / n;
        x.iter().map(|a| (a - m).powi(4)).sum::<f64>() / n / (v * v)
    }

    fn rms(x: &[f64]) -> f64 {
        (x.iter().map(|a| a * a).sum::<f64>() / x.len() as f64).sqrt()
    }

    /// RBJ band-pass biquad (constant 0 dB peak gain).
    fn band_pass(x: &[f64], f0: f64, q: f64, fs: f64) -> Vec<f64> {
        let w = TAU * f0 / fs;
        let alpha = w.sin() / (2.0 * q);
        let a0 = 1.0 + alpha;
        let (b0, b2, a1, a2) = (alpha / a0, -alpha / a0, -2.0 * w.cos() / a0, (1.0 - alpha) / a0);
        let (mut x1, mut x2, mut y1, mut y2) = (0.0, 0.0, 0.0, 0.0);
        x.iter()
            .map(|&x0| {
                let y0 = b0 * x0 + b2 * x2 - a1 * y1 - a2 * y2;
                (x2, x1, y2, y1) = (x1, x0, y1, y0);
                y0
            })
            .collect()
    }

    /// |DFT|² of `x` at frequency `f` (naive, one bin).
    fn power_at(x: &[f64], f: f64, fs: f64) -> f64 {
        let (sw, cw) = (TAU * f / fs).sin_cos();
        let (mut s, mut c) = (0.0f64, 1.0f64);
        let (mut re, mut im) = (0.0, 0.0);
        for &v in x {
            re += v * c;
            im -= v * s;
            (s, c) = (s * cw + c * sw, c * cw - s * sw);
        }
        re * re + im * im
    }

    /// Envelope spectrum: band-pass around the resonance, square, remove the mean, decimate by 8 (block mean).
    fn envelope(x: &[f64], p: &VibrationProfile) -> (Vec<f64>, f64) {
        let bp = band_pass(x, p.resonance_hz, 2.0, FS);
        let sq: Vec<f64> = bp.iter().map(|v| v * v).collect();
        let dec: Vec<f64> = sq.chunks(8).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect();
        let m = dec.iter().sum::<f64>() / dec.len() as f64;
        (dec.iter().map(|v| v - m).collect(), FS / 8.0)
    }

    /// Frequency of the largest envelope-spectrum line in [lo, hi] (0.1 Hz grid).
    fn peak(env: &[f64], fs: f64, lo: f64, hi: f64) -> f64 {
        let mut best = (0.0, lo);
        let mut f = lo;
        while f <= hi {
            let p = power_at(env, f, fs);
            if p > best.0 {
                best = (p, f);
            }
            f += 0.1;
        }
        best.1
    }

    /// Velocity RMS (mm/s) in 10–1000 Hz by a naive DFT of the whole frame.
    pub(crate) fn band_velocity_mm_s(x: &[f64], fs: f64) -> f64 {
        let n = x.len();
        let df = fs / n as f64;
        let k_lo = (10.0 / df).ceil() as usize;
        let k_hi = (1000.0 / df).floor() as usize;
        let mut sum = 0.0;
        for k in k_lo..=k_hi {
            let f = k as f64 * df;
            let v = power_at(x, f, fs).sqrt() * 2.0 / n as f64 / (TAU * f) * G * 1000.0; // amplitude, mm/s
            sum += v * v / 2.0;
        }
        sum.sqrt()
    }

    #[test]
    fn fault_locations_follow_their_prevalence() {
        let mut rng = Stream::new(3, 3);
        let mut counts = [0usize; 4];
        let n = 20_000;
        for _ in 0..n {
            let f = BearingFault::from_uniform(rng.uniform());
            counts[BearingFault::ALL.iter().position(|g| *g == f).unwrap()] += 1;
        }
        for (f, c) in BearingFault::ALL.iter().zip(counts) {
            assert!((c as f64 / n as f64 - f.prevalence()).abs() < 0.015, "{f:?}: {c}");
        }
        assert!((BearingFault::ALL.iter().map(|f| f.prevalence()).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn kernels_are_zero_mean_and_decay_from_their_peak() {
        let k = kernel(3500.0, 0.07, FS);
        assert!(k.iter().sum::<f64>().abs() < 1e-9);
        assert!(k.iter().all(|v| v.abs() <= 1.0 + 1e-9));
        assert!(k[..4].iter().any(|v| v.abs() > 0.75), "{:?}", &k[..4]);
        // truncated where e^{-ζωt} = 1e-3
        let expected = (1e3f64.ln() / (0.07 * TAU * 3500.0) * FS).ceil() as usize;
        assert_eq!(k.len(), expected);
    }

    #[test]
    fn same_seed_same_frame() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let st = state(&p, Some(BearingFault::InnerRace), 0.4);
        let a = s.frame(&st, 12_800, 9);
        let b = s.frame(&st, 12_800, 9);
        let c = s.frame(&st, 12_800, 10);
        assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()));
        assert_ne!(a, c);
        assert!(a.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn outer_race_fault_shows_at_bpfo_in_the_envelope_spectrum() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let kinematic = p.geometry.defect_frequencies(SHAFT_HZ).bpfo;
        for seed in 0..3 {
            // 4 s for 0.25 Hz resolution
            let x = s.frame(&state(&p, Some(BearingFault::OuterRace), 0.3), 4 * 12_800, seed);
            let (env, efs) = envelope(&x, &p);
            let f = peak(&env, efs, 5.0, 400.0);
            assert!((f / kinematic - 1.0).abs() < 0.02, "envelope peak {f} Hz, BPFO {kinematic} Hz");
        }
        // early damage: plain in the envelope spectrum, a few per cent of the overall RMS
        let healthy = s.frame(&state(&p, None, 0.0), 4 * 12_800, 1);
        let early = s.frame(&state(&p, Some(BearingFault::OuterRace), 0.08), 4 * 12_800, 1);
        let (env, efs) = envelope(&early, &p);
        let f = peak(&env, efs, 5.0, 400.0);
        assert!((f / kinematic - 1.0).abs() < 0.02, "early: envelope peak {f} Hz, BPFO {kinematic} Hz");
        let ratio = rms(&early) / rms(&healthy);
        assert!(ratio < 1.1, "early damage raised the RMS by {ratio}");
    }

    #[test]
    fn inner_race_fault_shows_at_bpfi_with_shaft_sidebands() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let bpfi = p.geometry.defect_frequencies(SHAFT_HZ).bpfi;
        let x = s.frame(&state(&p, Some(BearingFault::InnerRace), 0.4), 4 * 12_800, 5);
        let (env, efs) = envelope(&x, &p);
        let f = peak(&env, efs, 100.0, 400.0);
        assert!((f / bpfi - 1.0).abs() < 0.02, "envelope peak {f} Hz, BPFI {bpfi} Hz");
        // the load zone modulates at shaft speed: a line at f_r and sidebands at BPFI ± f_r above the floor
        let floor = |c: f64| (power_at(&env, c + 7.3, efs) + power_at(&env, c - 6.9, efs)) / 2.0;
        for c in [SHAFT_HZ, f - SHAFT_HZ, f + SHAFT_HZ] {
            let line = (-2..=2).map(|k| power_at(&env, c + 0.25 * f64::from(k), efs)).fold(0.0, f64::max);
            assert!(line > 5.0 * floor(c), "no line at {c} Hz: {line} vs floor {}", floor(c));
        }
    }

    #[test]
    fn healthy_kurtosis_is_gaussian_and_late_damage_is_impulsive() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let healthy = s.frame(&state(&p, None, 0.0), 12_800, 2);
        let k = kurtosis(&healthy);
        assert!((2.7..3.3).contains(&k), "healthy kurtosis {k}");
        for fault in BearingFault::ALL {
            let x = s.frame(&state(&p, Some(fault), 0.8), 12_800, 2);
            let k = kurtosis(&x);
            let min = if fault == BearingFault::Cage { 3.5 } else { 5.0 };
            assert!(k > min, "{fault:?} at damage 0.8: kurtosis {k}");
        }
    }

    #[test]
    fn velocity_of_a_frame_matches_its_levels() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        for (fault, d) in [
            (None, 0.0),
            (Some(BearingFault::OuterRace), 0.3),
            (Some(BearingFault::InnerRace), 0.7),
            (Some(BearingFault::Ball), 1.0),
        ] {
            let st = state(&p, fault, d);
            let x = s.frame(&st, 12_800, 4);
            let v = band_velocity_mm_s(&x, FS);
            let want = st.levels.overall();
            assert!((v / want - 1.0).abs() < 0.1, "{fault:?} at {d}: frame {v} mm/s, levels {want} mm/s");
        }
        // late damage raises velocity and acceleration a lot, early damage barely
        let v = |d: f64| state(&p, Some(BearingFault::OuterRace), d).levels.overall();
        assert!(v(0.1) / v(0.0) < 1.05 && v(0.9) / v(0.0) > 4.0);
    }

    #[test]
    fn a_stopped_machine_gives_noise_only() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let st = FrameState {
            noise_g: 0.002,
            fault: Some(BearingFault::OuterRace),
            impact_g: 3.0,
            ..FrameState::default()
        };
        let x = s.frame(&st, 12_800, 1);
        assert!((rms(&x) / 0.002 - 1.0).abs() < 0.05, "{}", rms(&x));
        assert!((kurtosis(&x) - 3.0).abs() < 0.3);
        // the broadband noise of a running machine hardly reaches the velocity band
        let x = s.frame(&FrameState { noise_g: 0.09, ..st }, 12_800, 1);
        let v = band_velocity_mm_s(&x, FS);
        assert!(v < 0.1, "{v} mm/s");
    }

    #[test]
    fn a_frame_is_fast() {
        let p = profile();
        let s = Synthesiser::new(&p, FS);
        let st = state(&p, Some(BearingFault::InnerRace), 0.5);
        let n = 20;
        let t = std::time::Instant::now();
        for seed in 0..n {
            std::hint::black_box(s.frame(&st, 12_800, seed));
        }
        let per = t.elapsed().as_secs_f64() / f64::from(n as u32);
        eprintln!("{:.3} ms per 12 800-sample frame", per * 1e3);
        // Release builds take 0.12–0.2 ms; unoptimised test builds are about ten times slower.
        assert!(per < 0.05, "{per} s per frame");
    }
}
