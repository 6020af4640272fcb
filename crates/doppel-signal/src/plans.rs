//! FFT plans and windows for one frame length, built once and shared (they are immutable and `Arc`ed).

use crate::SignalError;
use crate::window::{Window, WindowKind};
use realfft::{RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};
use std::sync::Arc;

/// Smallest power-of-two length used for the small envelope / kurtogram FFTs.
pub(crate) const MIN_SMALL_FFT: usize = 16;

/// Everything a [`crate::ChannelMonitor`] needs that does not depend on the channel: the forward real FFT of the
/// frame length, the Hann window, and the small power-of-two FFTs (complex inverse and real forward) used by the
/// envelope and the kurtogram. Build it once per frame length and pass clones (cheap: `Arc`s) to many monitors,
/// so the twiddle tables exist once per process rather than once per channel.
#[derive(Clone)]
pub struct FramePlans {
    frame_len: usize,
    window: Arc<Window>,
    forward: Arc<dyn RealToComplex<f32>>,
    /// Index `i` holds the plan of length `2^i` (for `2^i ≥ MIN_SMALL_FFT`), up to `max_small`.
    inverse_pow2: Vec<Option<Arc<dyn Fft<f32>>>>,
    forward_pow2: Vec<Option<Arc<dyn RealToComplex<f32>>>>,
    max_small: usize,
    scratch_len: usize,
    /// `(small size, scratch it needs)` for every small plan.
    small_scratch: Vec<(usize, usize)>,
}

impl std::fmt::Debug for FramePlans {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FramePlans")
            .field("frame_len", &self.frame_len)
            .field("max_small", &self.max_small)
            .finish()
    }
}

impl FramePlans {
    /// Plans for frames of `frame_len` samples (at least 16). Small FFTs are planned for every power of two
    /// from 16 up to the one that holds an envelope of the full band (`2·(frame_len/2+1)` samples).
    pub fn new(frame_len: usize) -> Result<Self, SignalError> {
        if frame_len < MIN_SMALL_FFT {
            return Err(SignalError::TooShort {
                needed: MIN_SMALL_FFT,
                got: frame_len,
            });
        }
        let max_small = small_len(2 * (frame_len / 2 + 1));
        let sizes: Vec<usize> = std::iter::successors(Some(MIN_SMALL_FFT), |&s| (s < max_small).then_some(s * 2)).collect();
        Self::with_small_sizes(frame_len, &sizes, &sizes)
    }

    /// Plans for one signal of `len` samples and only the given small sizes (each a power of two ≥ 16).
    pub(crate) fn with_small_sizes(len: usize, inverse_sizes: &[usize], forward_sizes: &[usize]) -> Result<Self, SignalError> {
        if len == 0 {
            return Err(SignalError::EmptyInput);
        }
        let mut real_planner = RealFftPlanner::<f32>::new();
        let mut planner = FftPlanner::<f32>::new();
        let forward = real_planner.plan_fft_forward(len);
        let max_small = inverse_sizes.iter().chain(forward_sizes).copied().max().unwrap_or(MIN_SMALL_FFT);
        let slots = max_small.trailing_zeros() as usize + 1;
        let mut inverse_pow2: Vec<Option<Arc<dyn Fft<f32>>>> = vec![None; slots];
        let mut forward_pow2: Vec<Option<Arc<dyn RealToComplex<f32>>>> = vec![None; slots];
        let mut scratch_len = forward.get_scratch_len();
        let mut small_scratch = Vec::new();
        for &s in inverse_sizes {
            let plan = planner.plan_fft_inverse(s);
            scratch_len = scratch_len.max(plan.get_inplace_scratch_len());
            small_scratch.push((s, plan.get_inplace_scratch_len()));
            inverse_pow2[s.trailing_zeros() as usize] = Some(plan);
        }
        for &s in forward_sizes {
            let plan = real_planner.plan_fft_forward(s);
            scratch_len = scratch_len.max(plan.get_scratch_len());
            small_scratch.push((s, plan.get_scratch_len()));
            forward_pow2[s.trailing_zeros() as usize] = Some(plan);
        }
        Ok(Self {
            frame_len: len,
            window: Arc::new(Window::new(WindowKind::Hann, len)?),
            forward,
            inverse_pow2,
            forward_pow2,
            max_small,
            scratch_len,
            small_scratch,
        })
    }

    /// The frame length these plans are for.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// Number of bins of the single-sided spectrum, `frame_len/2 + 1`.
    pub fn bins(&self) -> usize {
        self.frame_len / 2 + 1
    }

    /// The Hann window of the frame length.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The largest small FFT planned.
    pub(crate) fn max_small(&self) -> usize {
        self.max_small
    }

    /// Scratch length (complex values) enough for every plan here.
    pub(crate) fn scratch_len(&self) -> usize {
        self.scratch_len
    }

    /// Scratch length enough for the frame FFT and the small FFTs up to `max_small`.
    pub(crate) fn scratch_len_upto(&self, max_small: usize) -> usize {
        self.small_scratch
            .iter()
            .filter(|(s, _)| *s <= max_small)
            .map(|(_, l)| *l)
            .fold(self.forward.get_scratch_len(), usize::max)
    }

    /// Forward real FFT of the frame: `input` (destroyed) → `output` (`bins()` values).
    pub(crate) fn forward(&self, input: &mut [f32], output: &mut [Complex32], scratch: &mut [Complex32]) -> Result<(), SignalError> {
        self.forward
            .process_with_scratch(input, output, &mut scratch[..self.forward.get_scratch_len()])?;
        Ok(())
    }

    /// In-place inverse complex FFT (unnormalised) of `buffer` (a planned power-of-two length).
    pub(crate) fn inverse_small(&self, buffer: &mut [Complex32], scratch: &mut [Complex32]) -> Result<(), SignalError> {
        let plan = self
            .inverse_pow2
            .get(buffer.len().trailing_zeros() as usize)
            .and_then(Option::as_ref)
            .filter(|p| p.len() == buffer.len())
            .ok_or_else(|| SignalError::Fft(format!("no inverse plan of length {}", buffer.len())))?;
        plan.process_with_scratch(buffer, &mut scratch[..plan.get_inplace_scratch_len()]);
        Ok(())
    }

    /// Forward real FFT of `input` (a planned power-of-two length, destroyed) into `output` (`len/2+1` values).
    pub(crate) fn forward_small(&self, input: &mut [f32], output: &mut [Complex32], scratch: &mut [Complex32]) -> Result<(), SignalError> {
        let plan = self
            .forward_pow2
            .get(input.len().trailing_zeros() as usize)
            .and_then(Option::as_ref)
            .filter(|p| p.len() == input.len())
            .ok_or_else(|| SignalError::Fft(format!("no forward plan of length {}", input.len())))?;
        plan.process_with_scratch(input, output, &mut scratch[..plan.get_scratch_len()])?;
        Ok(())
    }
}

/// The power-of-two length (≥ 16) used for `needed` samples.
pub(crate) fn small_len(needed: usize) -> usize {
    needed.max(MIN_SMALL_FFT).next_power_of_two()
}

/// Scratch buffers for processing frames. A [`crate::ChannelMonitor`] made with [`crate::ChannelMonitor::new`] or
/// [`crate::ChannelMonitor::with_plans`] owns one; monitors made with
/// [`crate::ChannelMonitor::with_shared_scratch`] borrow one per call of
/// [`crate::ChannelMonitor::process_with`], so a thread serving many channels needs only one. The buffers grow to
/// what the largest monitor needs on first use and are then reused: steady-state processing does not allocate.
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    /// Real input of the frame FFT (`frame_len`), later the envelope samples.
    pub(crate) real: Vec<f32>,
    /// Complex buffer of the small FFTs.
    pub(crate) small: Vec<Complex32>,
    /// FFT scratch.
    pub(crate) scratch: Vec<Complex32>,
}

impl Scratch {
    /// Empty buffers (they grow on first use).
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows the buffers to at least these lengths (no-op when they are large enough).
    pub(crate) fn ensure(&mut self, real: usize, small: usize, scratch: usize) {
        if self.real.len() < real {
            self.real.resize(real, 0.0);
        }
        if self.small.len() < small {
            self.small.resize(small, Complex32::default());
        }
        if self.scratch.len() < scratch {
            self.scratch.resize(scratch, Complex32::default());
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.real.capacity() * size_of::<f32>() + (self.small.capacity() + self.scratch.capacity()) * size_of::<Complex32>()
    }
}
