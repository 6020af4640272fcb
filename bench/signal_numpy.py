#!/usr/bin/env python3
"""The doppel-signal per-channel pipeline written idiomatically with numpy/scipy, for the speed comparison.

Per one-second frame (10 kHz by default) it computes what `doppel_signal::ChannelMonitor` computes with a fixed
demodulation band: all time-domain features (RMS, peak, peak-to-peak, crest factor, kurtosis, skewness), the
Hann-windowed amplitude spectrum (np.fft.rfft), band RMS values, velocity by integration in the frequency domain
and its 10-1000 Hz RMS in mm/s, and the envelope spectrum of a band (Butterworth band-pass, scipy.signal.hilbert,
rfft of the envelope). It runs single-threaded (the BLAS/OpenMP thread variables are set to 1 before numpy is
imported) and prints one JSON line:

    {"us_per_channel_frame": ..., "frames": ..., "numpy": "...", "scipy": "...", "check": {...}}

where `check` holds the first frame's features, so the caller can see both sides computed the same thing.

Run it through the Rust side, which writes the same synthetic frames to a file and parses the answer:

    cargo run --release -p doppel-signal --example signal_bench -- /work/venv-bench/bin/python

or on its own (needs python3 with numpy and scipy):

    python3 bench/signal_numpy.py --frames 200                       # synthetic frames made here with numpy
    python3 bench/signal_numpy.py --input frames.f32 --frames 200    # little-endian float32, frame after frame
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.signal  # noqa: E402
import scipy.stats  # noqa: E402

G_MM_S2 = 9806.65  # 1 g in mm/s²
ENBW_HANN = 1.5  # equivalent noise bandwidth of the Hann window, bins


def synthetic(fs, n, seed=1):
    """The same signal model as doppel_signal::bench::SyntheticVibration::default() (numpy's RNG for the noise)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fs
    x = rng.normal(0.0, 0.1, n)
    for h, a in enumerate((0.25, 0.08, 0.04)):
        x += a * np.sin(2 * np.pi * 24.7 * (h + 1) * t)
    rate, res, amp, decay = 88.4, 3300.0, 0.5, 800.0
    ring = int(math.ceil(8.0 / decay * fs))
    for t0 in np.arange(0.0, n / fs, 1.0 / rate):
        start = int(math.ceil(t0 * fs))
        tau = t[start:start + ring] - t0
        x[start:start + ring] += amp * np.exp(-decay * tau) * np.sin(2 * np.pi * res * tau)
    return x.astype(np.float32)


def band_slice(lo, hi, df, bins):
    """Bins k with lo <= k*df < hi, DC excluded (the same rule as doppel_signal::Band)."""
    return slice(min(max(1, math.ceil(lo / df)), bins), min(max(0, math.ceil(hi / df)), bins))


class Pipeline:
    def __init__(self, fs, n, band, bands, velocity_band):
        self.fs, self.n = fs, n
        self.window = scipy.signal.get_window("hann", n)  # periodic Hann
        self.window_sum = self.window.sum()
        self.freqs = np.fft.rfftfreq(n, 1.0 / fs)
        df = fs / n
        bins = n // 2 + 1
        self.bands = [band_slice(lo, hi, df, bins) for lo, hi in bands]
        self.velocity = band_slice(velocity_band[0], velocity_band[1], df, bins)
        self.sos = scipy.signal.butter(4, band, btype="bandpass", fs=fs, output="sos")
        self.env_peak = band_slice(5.0, 500.0 + df, df, bins)

    def amplitude(self, x):
        spectrum = np.abs(np.fft.rfft(x * self.window)) * (2.0 / self.window_sum)
        spectrum[0] /= 2.0
        if self.n % 2 == 0:
            spectrum[-1] /= 2.0
        return spectrum

    def process(self, frame):
        x = frame - frame.mean()
        # Time-domain features.
        rms = np.sqrt(np.mean(x**2))
        peak = np.max(np.abs(x))
        features = {
            "rms": float(rms),
            "peak": float(peak),
            "peak_to_peak": float(np.ptp(frame)),
            "crest_factor": float(peak / rms) if rms > 0 else 0.0,
            "kurtosis": float(scipy.stats.kurtosis(frame, fisher=False)),
            "skewness": float(scipy.stats.skew(frame)),
        }
        # Windowed amplitude spectrum and band energies.
        amp = self.amplitude(x)
        features["band_rms"] = [float(np.sqrt(np.sum(amp[s] ** 2) / (2 * ENBW_HANN))) for s in self.bands]
        # Velocity: divide by j*2*pi*f in the frequency domain (magnitudes), mm/s from g.
        velocity = np.zeros_like(amp)
        velocity[1:] = amp[1:] * G_MM_S2 / (2 * np.pi * self.freqs[1:])
        features["velocity_rms_mm_s"] = float(np.sqrt(np.sum(velocity[self.velocity] ** 2) / (2 * ENBW_HANN)))
        # Envelope: band-pass, analytic signal, magnitude, spectrum of the envelope.
        envelope = np.abs(scipy.signal.hilbert(scipy.signal.sosfilt(self.sos, x)))
        env_spectrum = self.amplitude(envelope - envelope.mean())
        k = self.env_peak.start + int(np.argmax(env_spectrum[self.env_peak]))
        features["envelope_peak_hz"] = float(self.freqs[k])
        return features, amp, velocity, env_spectrum


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", help="little-endian float32 frames; synthesized here if absent")
    ap.add_argument("--fs", type=float, default=10_000.0)
    ap.add_argument("--frame-len", type=int, default=10_000)
    ap.add_argument("--frames", type=int, default=200, help="channel-frames to time")
    ap.add_argument("--band", type=float, nargs=2, default=(2500.0, 4500.0), help="demodulation band, Hz")
    args = ap.parse_args()

    n = args.frame_len
    if args.input:
        data = np.fromfile(args.input, dtype="<f4")
        frames = data[: len(data) // n * n].reshape(-1, n)
    else:
        frames = synthetic(args.fs, 8 * n).reshape(-1, n)
    if len(frames) == 0:
        raise SystemExit("no complete frame in the input")
    pipeline = Pipeline(args.fs, n, tuple(args.band), [(10.0, 1000.0), (1000.0, args.fs / 2)], (10.0, 1000.0))

    check, *_ = pipeline.process(frames[0])
    start = time.perf_counter()
    for i in range(args.frames):
        pipeline.process(frames[i % len(frames)])
    elapsed = time.perf_counter() - start

    print(
        json.dumps(
            {
                "us_per_channel_frame": elapsed * 1e6 / args.frames,
                "frames": args.frames,
                "numpy": np.__version__,
                "scipy": scipy.__version__,
                "check": check,
            }
        )
    )


if __name__ == "__main__":
    main()
