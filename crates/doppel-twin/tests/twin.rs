use std::sync::Arc;

use doppel_model::{LineContext, Plant, Status};
use doppel_twin::{Health, OperatingState, TwinEvent, TwinRuntime};

const S: i64 = 1_000_000_000;

fn plant() -> Arc<Plant> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../plants/example.toml");
    Arc::new(Plant::load(std::path::Path::new(path)).unwrap())
}

fn ids(plant: &Plant, asset: &str, signal: &str) -> (usize, usize) {
    let a = plant.asset_position(asset).unwrap();
    (a, plant.assets[a].signal_index(signal).unwrap())
}

fn mode(m: &str) -> LineContext {
    LineContext {
        mode: Some(m.to_string()),
        ..LineContext::default()
    }
}

fn normal() -> LineContext {
    mode("normal")
}

fn kinds(events: &[TwinEvent]) -> Vec<&'static str> {
    events.iter().map(TwinEvent::kind).collect()
}

#[test]
fn last_value_only_moves_forward_and_equal_ts_later_wins() {
    let p = plant();
    let (m, temp) = ids(&p, "l1-chip-motor", "bearing_temp");
    let mut t = TwinRuntime::new(p, 0);
    t.apply(m, temp, 10 * S, 50.0, &normal());
    // Older sample: no rollback, no alert even though it is out of the envelope.
    let ev = t.apply(m, temp, 5 * S, 99.0, &normal());
    assert!(ev.is_empty());
    let st = t.asset_state(m).unwrap();
    let sig = st.signals.iter().find(|s| s.name == "bearing_temp").unwrap();
    assert_eq!((sig.last_value, sig.last_ts, sig.status), (Some(50.0), Some(10 * S), Status::Normal));
    assert_eq!(st.late_samples, 1);
    // Equal timestamp: the later call wins.
    t.apply(m, temp, 10 * S, 60.0, &normal());
    let st = t.asset_state(m).unwrap();
    let sig = st.signals.iter().find(|s| s.name == "bearing_temp").unwrap();
    assert_eq!((sig.last_value, sig.last_ts), (Some(60.0), Some(10 * S)));
    assert_eq!(st.late_samples, 1);
    assert_eq!(st.last_seen, Some(10 * S));
}

#[test]
fn alerts_raise_escalate_downgrade_and_clear_with_stable_id() {
    let p = plant();
    let (m, w) = ids(&p, "l1-chip-motor", "winding_temp"); // normal <= 120, warning <= 140, hysteresis 2
    let mut t = TwinRuntime::new(p, 0);
    assert!(t.apply(m, w, S, 100.0, &normal()).iter().all(|e| e.kind() == "state_changed"));

    let ev = t.apply(m, w, 2 * S, 125.0, &normal());
    match &ev[..] {
        [
            TwinEvent::AlertRaised {
                alert_id,
                asset,
                signal,
                level,
                previous,
                value,
                limit,
                since,
                ts,
            },
        ] => {
            assert_eq!(
                (alert_id.as_str(), asset.as_str(), signal.as_str()),
                ("l1-chip-motor/winding_temp", "l1-chip-motor", "winding_temp")
            );
            assert_eq!((*level, *previous, *value, *since, *ts), (Status::Warning, Status::Normal, 125.0, 2 * S, 2 * S));
            assert_eq!(limit, "> 120 degC (normal high)");
        }
        other => panic!("{other:?}"),
    }
    // Escalation: same alert, new level, since kept.
    let ev = t.apply(m, w, 3 * S, 145.0, &normal());
    match &ev[..] {
        [
            TwinEvent::AlertRaised {
                alert_id,
                level,
                previous,
                limit,
                since,
                ..
            },
        ] => {
            assert_eq!(
                (alert_id.as_str(), *level, *previous, *since),
                ("l1-chip-motor/winding_temp", Status::Alarm, Status::Warning, 2 * S)
            );
            assert_eq!(limit, "> 140 degC (warning high)");
        }
        other => panic!("{other:?}"),
    }
    let alerts = t.open_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].id.as_str(), alerts[0].level, alerts[0].since, alerts[0].level_since),
        ("l1-chip-motor/winding_temp", Status::Alarm, 2 * S, 3 * S)
    );
    assert_eq!(t.asset_state(m).unwrap().open_alerts, vec!["l1-chip-motor/winding_temp".to_string()]);

    // 139 is back inside warning but within the 2 K margin: stays alarm.
    assert!(t.apply(m, w, 4 * S, 139.0, &normal()).is_empty());
    let ev = t.apply(m, w, 5 * S, 137.0, &normal());
    assert_eq!(kinds(&ev), ["alert_downgraded"]);
    let a = &t.open_alerts()[0];
    assert_eq!((a.level, a.since, a.level_since, a.value), (Status::Warning, 2 * S, 5 * S, 137.0));
    assert_eq!(a.limit, "> 120 degC (normal high)");
    assert!(t.apply(m, w, 6 * S, 119.0, &normal()).is_empty());
    let ev = t.apply(m, w, 7 * S, 117.0, &normal());
    match &ev[..] {
        [
            TwinEvent::AlertCleared {
                alert_id, previous, since, ts, ..
            },
        ] => {
            assert_eq!(
                (alert_id.as_str(), *previous, *since, *ts),
                ("l1-chip-motor/winding_temp", Status::Warning, 2 * S, 7 * S)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(t.open_alerts().is_empty());
    assert!(t.asset_state(m).unwrap().open_alerts.is_empty());

    // Straight to alarm from normal: one raise at alarm level, the limit crossed is the warning one.
    let ev = t.apply(m, w, 8 * S, 150.0, &normal());
    assert!(matches!(&ev[..], [TwinEvent::AlertRaised { level: Status::Alarm, previous: Status::Normal, since, .. }] if *since == 8 * S));
}

#[test]
fn low_side_limits_are_described() {
    let p = plant();
    let (pump, flow) = ids(&p, "l1-coolant-pump", "flow"); // normal [35, 75], warning [25, 85]
    let mut t = TwinRuntime::new(p, 0);
    let ev = t.apply(pump, flow, S, 20.0, &normal());
    let raised = ev.iter().find(|e| e.kind() == "alert_raised").unwrap();
    assert!(
        matches!(raised, TwinEvent::AlertRaised { limit, .. } if limit == "< 25 m3/h (warning low)"),
        "{raised:?}"
    );
}

/// Deterministic noise in [-1, 1).
fn noise(state: &mut u64) -> f64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

#[test]
fn noise_around_a_limit_does_not_flap() {
    let p = plant();
    let (m, w) = ids(&p, "l1-chip-motor", "winding_temp"); // limit 120, hysteresis 2
    let env = *p.assets[m].signals[w].envelopes.default.as_ref().unwrap();
    let mut t = TwinRuntime::new(p, 0);
    let mut rng = 42;
    let (mut raised, mut cleared, mut raw_changes) = (0, 0, 0);
    let mut raw_prev = Status::Normal;
    for i in 0..2000 {
        let v = 120.0 + 1.5 * noise(&mut rng); // noise ±1.5 < hysteresis 2
        let raw = env.classify(v);
        raw_changes += usize::from(raw != raw_prev);
        raw_prev = raw;
        for e in t.apply(m, w, i * S, v, &normal()) {
            match e.kind() {
                "alert_raised" => raised += 1,
                "alert_cleared" => cleared += 1,
                _ => {}
            }
        }
    }
    assert!(raw_changes > 100, "the series must cross the limit often ({raw_changes})");
    assert_eq!((raised, cleared), (1, 0));
    let ev = t.apply(m, w, 3000 * S, 110.0, &normal());
    assert_eq!(kinds(&ev), ["alert_cleared"]);
}

#[test]
fn envelope_follows_the_line_context() {
    let p = plant();
    let (m, cur) = ids(&p, "l1-chip-motor", "current"); // normal <= 22, high_load: <= 23.5
    let mut t = TwinRuntime::new(p, 0);
    let ev = t.apply(m, cur, S, 23.0, &normal());
    assert!(kinds(&ev).contains(&"alert_raised"));
    // 23 A sits within the default hysteresis (2 % of 26 A = 0.52 A) of the high_load limit: held.
    let ev = t.apply(m, cur, 2 * S, 23.0, &mode("high_load"));
    assert!(ev.is_empty(), "{ev:?}");
    let ev = t.apply(m, cur, 3 * S, 22.9, &mode("high_load"));
    assert_eq!(kinds(&ev), ["alert_cleared"]);
    let st = t.asset_state(m).unwrap();
    let sig = st.signals.iter().find(|s| s.name == "current").unwrap();
    assert_eq!(sig.envelope.unwrap().normal.high, 23.5);
    assert_eq!(sig.status, Status::Normal);
    // A signal without samples shows the envelope selected by the line's current context.
    t.set_line_context("l1", 3 * S, mode("high_load"));
    let (m2, cur2) = ids(t.plant(), "l1-hyd-motor", "current");
    let st = t.asset_state(m2).unwrap();
    assert_eq!(st.signals[cur2].envelope.unwrap().normal.high, 23.5);
}

#[test]
fn operating_state_running_down_idle_fault() {
    let p = plant();
    let (c, speed) = ids(&p, "l1-conv-3", "belt_speed");
    let (_, state) = ids(&p, "l1-conv-3", "state"); // ["stopped", "running", "blocked", "fault"]
    let mut t = TwinRuntime::new(p, 0);
    assert_eq!(t.operating_state(c), Some(OperatingState::Unknown));

    let ev = t.apply(c, speed, S, 0.5, &normal());
    assert!(matches!(&ev[..], [TwinEvent::StateChanged { from: OperatingState::Unknown, to: OperatingState::Running, ts, .. }] if *ts == S));
    // Stopped while scheduled: down (unplanned).
    let ev = t.apply(c, speed, 2 * S, 0.0, &normal());
    assert!(matches!(
        &ev[..],
        [TwinEvent::StateChanged {
            from: OperatingState::Running,
            to: OperatingState::Down,
            ..
        }]
    ));
    // The line goes to planned stop: idle.
    let ev = t.set_line_context("l1", 3 * S, mode("planned_stop"));
    assert!(ev.iter().any(
        |e| matches!(e, TwinEvent::StateChanged { asset, from: OperatingState::Down, to: OperatingState::Idle, ts } if asset == "l1-conv-3" && *ts == 3 * S)
    ));
    assert_eq!(t.line_state("l1").unwrap().context.mode.as_deref(), Some("planned_stop"));
    // Running again regardless of the mode.
    t.apply(c, speed, 4 * S, 0.5, &mode("planned_stop"));
    assert_eq!(t.operating_state(c), Some(OperatingState::Running));
    // A state signal reading "fault" forces down even with the belt moving.
    let ev = t.apply(c, state, 5 * S, 3.0, &normal());
    assert!(matches!(&ev[..], [TwinEvent::StateChanged { to: OperatingState::Down, .. }]));
    let st = t.asset_state(c).unwrap();
    assert_eq!(st.signals[state].label.as_deref(), Some("fault"));
    assert_eq!((st.state, st.state_since, st.health), (OperatingState::Down, 5 * S, Health::Down));
    t.apply(c, state, 6 * S, 1.0, &normal());
    assert_eq!(t.operating_state(c), Some(OperatingState::Running));

    // Without a running rule: running while data flows.
    let (amb, temp) = ids(t.plant(), "u1-climate", "temperature");
    let ev = t.apply(amb, temp, 6 * S, 21.0, &LineContext::default());
    assert!(matches!(
        &ev[..],
        [TwinEvent::StateChanged {
            to: OperatingState::Running,
            ..
        }]
    ));
}

#[test]
fn stale_after_silence_and_back() {
    let p = plant();
    let (m, speed) = ids(&p, "l1-chip-motor", "speed"); // 1 Hz: stale after max(10 s, 30 s) = 30 s
    let mut t = TwinRuntime::new(p, 0);
    t.apply(m, speed, 10 * S, 1460.0, &normal());
    assert!(t.tick(40 * S).iter().all(|e| e.subject() != "l1-chip-motor"));
    assert_eq!(t.operating_state(m), Some(OperatingState::Running));
    // Ticks late: the stale instant is the end of the limit, not the tick.
    let ev: Vec<_> = t.tick(55 * S).into_iter().filter(|e| e.subject() == "l1-chip-motor").collect();
    assert!(
        matches!(&ev[..], [TwinEvent::StateChanged { from: OperatingState::Running, to: OperatingState::Stale, ts, .. }] if *ts == 40 * S),
        "{ev:?}"
    );
    assert_eq!(t.health(m), Some(Health::Stale));
    assert!(t.tick(60 * S).iter().all(|e| e.subject() != "l1-chip-motor"), "stale is reported once");
    let ev = t.apply(m, speed, 70 * S, 1460.0, &normal());
    assert!(matches!(
        &ev[..],
        [TwinEvent::StateChanged {
            from: OperatingState::Stale,
            to: OperatingState::Running,
            ..
        }]
    ));
    let k = t.kpis(m).unwrap();
    assert_eq!((k.running_s, k.stale_s, k.down_s), (30.0, 30.0, 0.0));
    // Assets that never sent anything go stale once the limit after the start has run out.
    let (pump, _) = ids(t.plant(), "l1-coolant-pump", "flow");
    assert_eq!(t.operating_state(pump), Some(OperatingState::Stale));
}

#[test]
fn time_accounting_counters_and_oee() {
    let p = plant();
    let (c, speed) = ids(&p, "l1-conv-3", "belt_speed"); // ideal cycle 40 s
    let (_, total) = ids(&p, "l1-conv-3", "items_total");
    let (_, scrap) = ids(&p, "l1-conv-3", "items_rejected");
    let mut t = TwinRuntime::new(p, 0);
    let ctx = normal();
    let stop = mode("planned_stop");
    for s in 0..=250 {
        let ts = s * S;
        // running [0,100), down [100,150), running [150,200), idle [200,250]
        let v = if s < 100 || (150..200).contains(&s) { 0.5 } else { 0.0 };
        if s == 200 {
            t.set_line_context("l1", ts, stop.clone());
        }
        let c_ctx = if s >= 200 { &stop } else { &ctx };
        t.apply(c, speed, ts, v, c_ctx);
        // Counter: 1000 at start, +2 by t=100, reset to 1 at t=120 (+1), 2 at t=199 (+1) => 4.
        let tot = match s {
            0..100 => 1000.0,
            100..120 => 1002.0,
            120..199 => 1.0,
            _ => 2.0,
        };
        t.apply(c, total, ts, tot, c_ctx);
        t.apply(c, scrap, ts, if s < 199 { 5.0 } else { 6.0 }, c_ctx);
    }
    let k = t.kpis(c).unwrap();
    assert_eq!((k.running_s, k.down_s, k.idle_s), (150.0, 50.0, 50.0));
    assert_eq!((k.produced, k.scrap), (Some(4.0), Some(1.0)));
    let close = |a: Option<f64>, b: f64| assert!((a.unwrap() - b).abs() < 1e-12, "{a:?} != {b}");
    close(k.availability, 0.75);
    close(k.performance, 1.0); // raw 160/150 is clamped: OEE stays a fraction
    close(k.performance_raw, 40.0 * 4.0 / 150.0);
    close(k.quality, 0.75);
    close(k.oee, 0.75 * 1.0 * 0.75);
    // The tick advances accounting in the current state.
    t.tick(260 * S);
    assert_eq!(t.kpis(c).unwrap().idle_s, 60.0);
}

#[test]
fn performance_is_clamped_and_raw_reported() {
    let p = plant();
    let (c, speed) = ids(&p, "l1-conv-3", "belt_speed");
    let (_, total) = ids(&p, "l1-conv-3", "items_total");
    let mut t = TwinRuntime::new(p, 0);
    t.apply(c, speed, 0, 0.5, &normal());
    t.apply(c, total, 0, 0.0, &normal());
    t.apply(c, speed, 10 * S, 0.5, &normal());
    t.apply(c, total, 10 * S, 100.0, &normal());
    let k = t.kpis(c).unwrap();
    assert_eq!(k.performance_raw, Some(400.0)); // 40 s × 100 / 10 s
    assert_eq!(k.performance, Some(1.0));
    assert_eq!(k.quality, Some(1.0)); // no scrap counted
    assert_eq!(k.oee, Some(1.0));
    // Assets without production counters have no P/Q/OEE.
    let (m, ms) = ids(t.plant(), "l1-chip-motor", "speed");
    t.apply(m, ms, 0, 1000.0, &normal());
    t.apply(m, ms, 5 * S, 1000.0, &normal());
    let k = t.kpis(m).unwrap();
    assert_eq!(
        (k.availability, k.performance, k.quality, k.oee, k.produced),
        (Some(1.0), None, None, None, None)
    );
}

#[test]
fn line_state_aggregates() {
    let p = plant();
    let (c, speed) = ids(&p, "l1-conv-3", "belt_speed");
    let (_, total) = ids(&p, "l1-conv-3", "items_total");
    let (cnc, sp) = ids(&p, "l1-cnc-1", "spindle_speed");
    let (_, load) = ids(&p, "l1-cnc-1", "spindle_load");
    let (m, w) = ids(&p, "l1-chip-motor", "winding_temp");
    let mut t = TwinRuntime::new(p, 0);
    let ctx = normal();
    t.set_line_context("l1", 0, ctx.clone());
    for s in 0..=20 {
        let ts = s * S;
        t.apply(c, speed, ts, if s < 16 { 0.5 } else { 0.0 }, &ctx); // down 4 s
        t.apply(c, total, ts, (s / 4) as f64, &ctx);
        t.apply(cnc, sp, ts, if s < 10 { 8000.0 } else { 0.0 }, &ctx); // down 10 s
        t.apply(cnc, load, ts, 120.0, &ctx); // alarm
        t.apply(m, w, ts, 130.0, &ctx); // warning
    }
    let l = t.line_state("l1").unwrap();
    assert_eq!(l.output.as_deref(), Some("l1-conv-3"));
    assert_eq!(l.output_state, Some(OperatingState::Down));
    assert_eq!(l.kpis.availability, Some(16.0 / 20.0));
    assert_eq!(l.kpis.produced, Some(5.0));
    assert_eq!(l.kpis.performance_raw, Some(40.0 * 5.0 / 16.0));
    assert_eq!(l.kpis.performance, Some(1.0));
    assert_eq!(l.kpis.unplanned_downtime_s, 14.0);
    assert_eq!(l.kpis.open_alerts, 2);
    assert_eq!((l.health.down, l.health.warning, l.health.unknown), (2, 1, 8));
    assert_eq!(l.worst_health, Health::Down);
    assert_eq!(l.context, ctx);
    assert!(t.line_state("nope").is_none());
    // A line without output asset: no OEE terms, still downtime and alerts.
    let u1 = t.line_state("u1").unwrap();
    assert_eq!((u1.output, u1.kpis.availability, u1.kpis.open_alerts), (None, None, 0));
}

#[test]
fn health_is_worst_of_status_and_state() {
    let p = plant();
    let (m, speed) = ids(&p, "l1-chip-motor", "speed");
    let (_, vib) = ids(&p, "l1-chip-motor", "vibration"); // normal <= 2.8, warning <= 4.5
    let mut t = TwinRuntime::new(p, 0);
    assert_eq!(t.health(m), Some(Health::Unknown));
    t.apply(m, speed, S, 1460.0, &normal());
    assert_eq!(t.health(m), Some(Health::Ok));
    t.apply(m, vib, S, 3.0, &normal());
    assert_eq!(t.health(m), Some(Health::Warning));
    t.apply(m, vib, 2 * S, 5.0, &normal());
    assert_eq!(t.health(m), Some(Health::Alarm));
    t.apply(m, speed, 3 * S, 0.0, &normal());
    assert_eq!(t.health(m), Some(Health::Down));
    t.apply(m, speed, 4 * S, 0.0, &mode("planned_stop"));
    assert_eq!(t.health(m), Some(Health::Alarm), "idle is not a fault: the alarm shows");
    t.tick(100 * S);
    assert_eq!(t.health(m), Some(Health::Stale));
}

#[test]
fn events_and_states_serialize() {
    let p = plant();
    let (m, w) = ids(&p, "l1-chip-motor", "winding_temp");
    let (_, speed) = ids(&p, "l1-chip-motor", "speed");
    let mut t = TwinRuntime::new(p, 0);
    let mut events = t.apply(m, speed, S, 1460.0, &normal());
    events.extend(t.apply(m, w, S, 150.0, &normal()));
    events.extend(t.apply(m, w, 2 * S, 100.0, &normal()));
    assert_eq!(kinds(&events), ["state_changed", "alert_raised", "alert_cleared"]);
    for e in &events {
        let v: serde_json::Value = serde_json::to_value(e).unwrap();
        assert_eq!(v["type"], e.kind());
        assert_eq!(e.subject(), "l1-chip-motor");
        assert_eq!(v["ts"].as_i64(), Some(e.ts()));
    }
    let v = serde_json::to_value(&events[1]).unwrap();
    assert_eq!(
        (v["level"].as_str(), v["alert_id"].as_str()),
        (Some("alarm"), Some("l1-chip-motor/winding_temp"))
    );
    let v = serde_json::to_value(&events[0]).unwrap();
    assert_eq!((v["from"].as_str(), v["to"].as_str()), (Some("unknown"), Some("running")));

    let st = serde_json::to_value(t.asset_state(m).unwrap()).unwrap();
    assert_eq!(st["state"], "running");
    assert_eq!(st["health"], "ok");
    assert_eq!(st["signals"][w]["status"], "normal");
    assert_eq!(st["signals"][w]["envelope"]["normal"]["high"], 120.0);
    assert!(st["signals"][w]["envelope"]["normal"]["low"].is_null(), "-inf is an open end");
    assert!(st["kpis"]["performance"].is_null());
    let ls = serde_json::to_value(t.line_state("l1").unwrap()).unwrap();
    assert_eq!(ls["kpis"]["open_alerts"], 0);
    assert_eq!(ls["health"]["ok"], 1);
}

#[test]
fn steady_state_apply_does_not_allocate_events_and_bad_input_is_ignored() {
    let p = plant();
    let (m, w) = ids(&p, "l1-chip-motor", "winding_temp");
    let mut t = TwinRuntime::new(p, 0);
    t.apply(m, w, 0, 90.0, &normal());
    for i in 1..1000 {
        let ev = t.apply(m, w, i * S, 90.0 + (i % 7) as f64, &normal());
        assert_eq!(ev.capacity(), 0);
    }
    assert!(t.apply(9999, 0, S, 1.0, &normal()).is_empty());
    assert!(t.apply(m, 9999, S, 1.0, &normal()).is_empty());
    assert!(t.apply(m, w, 5000 * S, f64::NAN, &normal()).is_empty());
    assert!(t.set_line_context("nope", S, normal()).is_empty());
    assert!(t.asset_state(9999).is_none());
    assert_eq!(t.asset_state(m).unwrap().signals[w].last_value, Some(90.0 + (999 % 7) as f64));
}

#[test]
fn replay_is_deterministic() {
    let run = || {
        let p = plant();
        let (c, speed) = ids(&p, "l2-conv-3", "belt_speed");
        let (m, w) = ids(&p, "l2-hyd-motor", "winding_temp");
        let mut t = TwinRuntime::new(p, 0);
        let mut rng = 7;
        let mut all = Vec::new();
        for s in 0..500 {
            all.extend(t.apply(c, speed, s * S, 0.3 + 0.3 * noise(&mut rng), &normal()));
            all.extend(t.apply(m, w, s * S, 125.0 + 20.0 * noise(&mut rng), &normal()));
            if s % 50 == 0 {
                all.extend(t.tick(s * S));
            }
        }
        (all, t.asset_state(c), t.line_state("l2"))
    };
    assert_eq!(run(), run());
}

const SLOW: &str = r#"
enterprise = "Acme"

[asset_types.tank]
running_when = { signal = "level", above = 1.0 }

[asset_types.tank.signals.level]
unit = "m"
kind = "process"
rate_hz = 0.01

[sites.s1]
name = "Site"

[sites.s1.areas.a1]
name = "Area"

[sites.s1.areas.a1.lines.l1]
name = "Line"
assets = [{ id = "t1", type = "tank" }, { id = "t2", type = "tank" }]
"#;

#[test]
fn stale_limit_scales_with_the_nominal_period() {
    // 0.01 Hz: stale after 10 × 100 s = 1000 s, not 30 s.
    let p = Arc::new(Plant::parse(SLOW, "slow.toml").unwrap());
    let mut t = TwinRuntime::new(p, 0);
    t.apply(0, 0, 0, 2.0, &LineContext::default());
    assert!(t.tick(999 * S).is_empty());
    assert!(t.tick(1000 * S).iter().all(|e| e.subject() != "t1"));
    let ev: Vec<_> = t.tick(1001 * S).into_iter().filter(|e| e.subject() == "t1").collect();
    assert!(matches!(&ev[..], [TwinEvent::StateChanged { to: OperatingState::Stale, ts, .. }] if *ts == 1000 * S));
}

#[test]
fn context_changes_move_stopped_assets_between_down_and_idle() {
    let p = Arc::new(Plant::parse(SLOW, "slow.toml").unwrap());
    let mut t = TwinRuntime::new(p, 0);
    t.apply(0, 0, 0, 0.0, &LineContext::default());
    t.apply(1, 0, 0, 0.0, &LineContext::default());
    assert_eq!(
        (t.operating_state(0), t.operating_state(1)),
        (Some(OperatingState::Down), Some(OperatingState::Down))
    );
    let ev = t.set_line_context("l1", 10 * S, mode("planned_stop"));
    assert_eq!(ev.len(), 2);
    assert!(
        ev.iter()
            .all(|e| matches!(e, TwinEvent::StateChanged { from: OperatingState::Down, to: OperatingState::Idle, ts, .. } if *ts == 10 * S))
    );
    let ev = t.set_line_context("l1", 30 * S, mode("normal"));
    assert!(ev.iter().all(|e| matches!(
        e,
        TwinEvent::StateChanged {
            from: OperatingState::Idle,
            to: OperatingState::Down,
            ..
        }
    )));
    t.tick(50 * S);
    let k = t.kpis(0).unwrap();
    assert_eq!((k.down_s, k.idle_s, k.availability), (30.0, 20.0, Some(0.0)));
    let l = t.line_state("l1").unwrap();
    assert_eq!((l.kpis.unplanned_downtime_s, l.context_since), (60.0, Some(30 * S)));
    assert_eq!(t.line_context("l1").unwrap().mode.as_deref(), Some("normal"));
}
