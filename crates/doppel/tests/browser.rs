//! The web dashboard end to end in a real browser: the demo binary on loopback, Debian's `chromium` driven by
//! npm `playwright-core` (`tests/browser/dashboard.mjs`, which lists what it checks). Screenshots of every
//! view go to `target/browser-screenshots/`.
//!
//! Needs `/usr/bin/chromium` (`apt-get install chromium`), Node.js and `npm ci` in `tests/browser/`;
//! `scripts/test.sh` provides all three. Without them the test fails and says what to install.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_DIR when set, else the workspace's target/.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("browser-screenshots")
}

fn requirements() {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "the browser test needs Debian's chromium at /usr/bin/chromium: install it with `apt-get install -y chromium` (scripts/test.sh does this)"
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the browser test needs Node.js (`node`, 18 or later) on the PATH: install it with `apt-get install -y nodejs npm`"
    );
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    assert!(
        playwright.exists(),
        "the browser test needs playwright-core: run `npm ci` in {} (scripts/test.sh does this)",
        browser_dir().display()
    );
}

#[test]
fn dashboard_in_a_real_browser_live_values_asset_view_approval_and_3d() {
    requirements();
    let dir = tempdir("browser");
    let port = free_port();
    let mqtt = free_port();
    let log = dir.join("log.txt");
    let d = Doppel::start(
        &[
            "demo",
            "--port",
            &port.to_string(),
            "--mqtt-port",
            &mqtt.to_string(),
            "--data-dir",
            dir.to_str().unwrap(),
            // Faults develop ten times faster, so a repair is recommended within minutes (as in prescribe.rs).
            "--speed",
            "10",
        ],
        port,
        &log,
    );
    // The dashboard is worth testing once the twin has something to show: models trained in the background,
    // then a plan with a recommendation waiting for a person.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(300);
    while d.get("/api/models")["in_use"].is_null() {
        assert!(
            Instant::now() < deadline,
            "no predictive model within 300 s; log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // A repair: part-order recommendations come and go with every re-plan, a repair stays open for a person.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !d.get("/api/recommendations?state=open")["recommendations"]
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["action"] == "maintain"))
    {
        assert!(
            Instant::now() < deadline,
            "no open repair recommendation within 300 s of the model: {}",
            d.get("/api/recommendations")
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!("demo ready (model and an open repair recommendation) after {:.0} s", started.elapsed().as_secs_f64());

    let shots = screenshot_dir();
    let run = Instant::now();
    let out = Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .arg(format!("http://{}", d.http))
        .arg(&shots)
        .current_dir(browser_dir())
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "the browser checks failed ({}):\n{stdout}{stderr}\nscreenshots so far in {}",
        out.status,
        shots.display()
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
    for f in [
        "overview.png",
        "asset.png",
        "asset-vibration.png",
        "recommendations.png",
        "plant3d.png",
        "tablet-asset.png",
    ] {
        let meta = std::fs::metadata(shots.join(f)).unwrap_or_else(|e| panic!("screenshot {f} missing: {e}"));
        assert!(meta.len() > 10_000, "screenshot {f} is only {} bytes", meta.len());
    }
    eprintln!("browser checks took {:.0} s; screenshots in {}", run.elapsed().as_secs_f64(), shots.display());
}
