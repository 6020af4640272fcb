//! Shared by the C-MAPSS tests: the data directory and the transformations that turn FD001 into stand-ins for the
//! subsets that are not shipped (FD002/FD004: six operating conditions; FD003/FD004: two fault modes).

#![allow(dead_code)]

use std::path::Path;

use doppel_learn::series::Trajectory;

pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/cmapss");

pub fn data_dir() -> &'static Path {
    let dir = Path::new(DIR);
    assert!(
        dir.join("train_FD001.txt").is_file(),
        "C-MAPSS FD001 is missing: expected train_FD001.txt, test_FD001.txt and RUL_FD001.txt in {DIR} (see ../shared/data/README.md)"
    );
    dir
}

/// FD002/FD004's six operating conditions (altitude kft, Mach, throttle resolver angle).
pub const CONDITIONS: [[f64; 3]; 6] = [
    [0.0, 0.0, 100.0],
    [10.0, 0.25, 100.0],
    [20.0, 0.7, 100.0],
    [25.0, 0.62, 60.0],
    [35.0, 0.84, 100.0],
    [42.0, 0.84, 100.0],
];

/// Units flown through six operating conditions: each step gets one condition (deterministic pseudo-random,
/// with a little setting noise) whose effect on every value is an offset and a scale far larger than the
/// degradation signal — only per-regime normalisation can undo it.
pub fn six_regimes(units: &[Trajectory], seed: u64) -> Vec<Trajectory> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    units
        .iter()
        .map(|u| {
            let mut t = u.clone();
            for (s, v) in t.settings.iter_mut().zip(t.values.iter_mut()) {
                let c = (next() % 6) as usize;
                let jitter = (next() % 1000) as f64 * 1e-6;
                *s = CONDITIONS[c].iter().map(|x| x + jitter).collect();
                for (j, x) in v.iter_mut().enumerate() {
                    let offset = 50.0 * c as f64 * (1.0 + (j % 5) as f64);
                    let scale = 1.0 + 0.3 * c as f64;
                    *x = offset + scale * *x;
                }
            }
            t
        })
        .collect()
}

/// A second fault mode (FD003/FD004 have two: HPC and fan degradation) for every other unit: the values with an
/// even index drift the other way — each is mirrored about its mean over the unit's first 20 steps (its healthy
/// baseline), so the same failure shows a different sensor signature. Apply before [`six_regimes`].
pub fn two_fault_modes(units: &[Trajectory]) -> Vec<Trajectory> {
    units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut t = u.clone();
            if i % 2 == 1 {
                let head = t.values.len().min(20);
                let width = t.values.first().map_or(0, Vec::len);
                for j in (0..width).step_by(2) {
                    let base = t.values[..head].iter().map(|v| v[j]).sum::<f64>() / head as f64;
                    for v in &mut t.values {
                        v[j] = 2.0 * base - v[j];
                    }
                }
            }
            t
        })
        .collect()
}
