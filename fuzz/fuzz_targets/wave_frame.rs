//! Waveform frame decoding (`DWF1`) must never panic, whatever arrives; what decodes must
//! re-encode to a frame that decodes to the same values.
#![no_main]
use doppel_model::wave::{self, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((frame, used)) = wave::decode(data) {
        assert!(used <= data.len());
        assert!(frame.samples.iter().all(|x| x.is_finite()));
        let bytes = wave::encode(&frame, Encoding::F32).expect("a decoded frame is within the limits");
        let (again, n) = wave::decode(&bytes).expect("re-encoded frame decodes");
        assert_eq!(n, bytes.len());
        assert_eq!(again, frame);
    }
    if let Ok(frames) = wave::decode_all(data) {
        assert!(!frames.is_empty());
    }
});
