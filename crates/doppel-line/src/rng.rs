//! Deterministic random streams: xoshiro256++ (Blackman & Vigna 2019) seeded through SplitMix64.
//!
//! Every random decision of the simulator draws from its own stream, derived from `(seed, key, sub)` where
//! `key` names the element (a station id, a source id) and `sub` the purpose and server. So the numbers a
//! station sees do not depend on how many other stations exist or on the order they are stepped, and a
//! what-if that changes one station leaves every other station's random numbers unchanged (common random
//! numbers between a baseline and its variants).

/// SplitMix64 step (Steele, Lea & Flood 2014): used to seed xoshiro and to mix stream keys.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a stable hash of element ids (std's hasher is not guaranteed stable across releases).
pub(crate) fn stable_hash(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Stream purposes (the `sub` of [`Rng::stream`]); servers add `server index << 8`.
pub(crate) mod purpose {
    pub const SERVICE: u64 = 1;
    pub const ROUTE: u64 = 2;
    pub const FAILURE: u64 = 3;
    pub const PROCESS: u64 = 4;
    pub const ARRIVAL: u64 = 5;
    pub const MIX: u64 = 6;
    pub const QUALITY: u64 = 7;
}

/// A xoshiro256++ generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
    spare_normal: Option<f64>,
}

impl Rng {
    /// A generator seeded from one 64-bit seed (SplitMix64 fills the state, as the xoshiro authors advise).
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)];
        Rng { s, spare_normal: None }
    }

    /// The stream of element `key` for purpose `sub` under `seed`.
    pub fn stream(seed: u64, key: &str, sub: u64) -> Rng {
        let mut a = seed;
        let mut b = stable_hash(key) ^ sub.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng::new(splitmix64(&mut a) ^ splitmix64(&mut b).rotate_left(29))
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in (0, 1): safe for logarithms.
    pub fn open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..n` (n > 0), by Lemire's multiply-shift (bias below 2⁻⁶⁴·n, negligible here).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Standard normal (Marsaglia polar method, both values used).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare_normal.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let f = (-2.0 * s.ln() / s).sqrt();
                self.spare_normal = Some(v * f);
                return u * f;
            }
        }
    }

    /// Exponential with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.open01().ln()
    }

    /// Gamma(shape, scale) by Marsaglia & Tsang (2000); shapes below 1 use the `U^(1/a)` boost.
    pub fn gamma(&mut self, shape: f64, scale: f64) -> f64 {
        if !(shape > 0.0 && scale > 0.0 && shape.is_finite()) {
            return 0.0;
        }
        if shape < 1.0 {
            let boost = (self.open01().ln() / shape).exp();
            return self.gamma(shape + 1.0, scale) * boost;
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.open01();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v * scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_of_splitmix_and_xoshiro() {
        // SplitMix64 from state 0 (reference output of Vigna's splitmix64.c).
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        // Streams are reproducible and distinct.
        let a: Vec<u64> = (0..3).map(|_| Rng::stream(1, "st", 2).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(1, "st", 2).next_u64(), Rng::stream(1, "st", 3).next_u64());
        assert_ne!(Rng::stream(1, "st", 2).next_u64(), Rng::stream(2, "st", 2).next_u64());
        assert_ne!(Rng::stream(1, "st", 2).next_u64(), Rng::stream(1, "su", 2).next_u64());
    }

    #[test]
    fn moments_are_right() {
        let mut r = Rng::new(11);
        let n = 200_000;
        let nf = n as f64;
        let (mut m, mut v) = (0.0, 0.0);
        for _ in 0..n {
            let z = r.normal();
            m += z;
            v += z * z;
        }
        assert!((m / nf).abs() < 0.01 && (v / nf - 1.0).abs() < 0.02);
        let e: f64 = (0..n).map(|_| r.exponential(2.0)).sum::<f64>() / nf;
        assert!((e - 2.0).abs() < 0.03, "{e}");
        for (shape, scale) in [(0.5, 2.0), (4.0, 0.5)] {
            let xs: Vec<f64> = (0..n).map(|_| r.gamma(shape, scale)).collect();
            let mean = xs.iter().sum::<f64>() / nf;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / nf;
            assert!((mean - shape * scale).abs() < 0.02 * shape * scale + 0.01, "{mean}");
            assert!((var - shape * scale * scale).abs() < 0.05 * shape * scale * scale, "{var}");
        }
        let u: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / nf;
        assert!((u - 0.5).abs() < 0.005);
        let mut counts = [0usize; 5];
        for _ in 0..n {
            counts[r.below(5)] += 1;
        }
        assert!(counts.iter().all(|&c| (c as f64 / nf - 0.2).abs() < 0.005), "{counts:?}");
    }
}
