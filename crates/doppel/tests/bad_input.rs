//! Bad input never takes the process down or loses other data: malformed plant files, malformed
//! MQTT payloads, unknown assets/signals/units, NaN and absurd values each get a clear error or a
//! quarantine record, while the good data travelling with them is stored.

mod common;

use std::time::Duration;

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[test]
fn malformed_plant_files_name_file_line_and_field() {
    let dir = tempdir("badplant");
    let text = std::fs::read_to_string(example_plant()).unwrap();
    let cases = [
        (text.replacen("unit = \"rpm\"", "unit = \"rmp\"", 1), "unit", "unknown unit 'rmp'"),
        (
            text.replacen("type = \"cnc_spindle\"", "type = \"cnc_spindel\"", 1),
            "type",
            "unknown asset type 'cnc_spindel'",
        ),
        (text.replacen("rate_hz = 1\n", "rate_hz = -1\n", 1), "rate_hz", "not a sampling rate"),
        (text.replacen("[sites.north]", "[sites.north\n", 1), "", "invalid"),
    ];
    for (i, (bad, field, msg)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, bad).unwrap();
        let out = std::process::Command::new(BIN).args(["check", path.to_str().unwrap()]).output().unwrap();
        assert!(!out.status.success(), "case {i} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&format!("bad{i}.toml:")), "case {i}: no file:line in {err}");
        assert!(err.contains(field) && err.to_lowercase().contains(&msg.to_lowercase()), "case {i}: {err}");
        // serve refuses to start on it, with the same message.
        let out = std::process::Command::new(BIN)
            .args([
                "serve",
                "--plant",
                path.to_str().unwrap(),
                "--no-mqtt",
                "--port",
                "0",
                "--data-dir",
                dir.join("d").to_str().unwrap(),
            ])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("bad{i}.toml:")), "case {i}");
    }
    let ok = std::process::Command::new(BIN)
        .args(["check", example_plant().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_samples_are_quarantined_and_good_ones_kept_over_http_and_mqtt() {
    let dir = tempdir("badinput");
    let port = free_port();
    let mqtt = free_port();
    let mut d = Doppel::serve(port, &dir, &["--mqtt-port", &mqtt.to_string()]);
    let t = now_ms() - 60_000;

    // HTTP: one good sample among bad ones.
    let body = format!(
        r#"{{"samples":[
          {{"asset":"l1-hyd-motor","signal":"winding_temp","ts":{t},"value":158.0,"unit":"degF"}},
          {{"asset":"no-such-asset","signal":"x","ts":{t},"value":1}},
          {{"asset":"l1-hyd-motor","signal":"no_such_signal","ts":{t},"value":1}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":{t},"value":1,"unit":"furlongs"}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":{t},"value":1,"unit":"bar"}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":{t},"value":null}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":{t},"value":1e400}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":{t},"value":-1e9}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":"yesterday","value":1}},
          {{"asset":"l1-hyd-motor","signal":"current","ts":0,"value":1}}
        ]}}"#
    );
    let (status, resp) = http(d.http, "POST", "/api/ingest", Some(&body));
    assert_eq!(status, 200, "{resp}");
    let resp: serde_json::Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(resp["accepted"], 1, "{resp}");
    let q = resp["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 9, "{resp}");
    let reasons: Vec<String> = q.iter().map(|x| format!("{} {}", x["field"], x["reason"])).collect();
    for want in [
        "unknown asset 'no-such-asset'",
        "has no signal 'no_such_signal'",
        "unknown unit 'furlongs'",
        "cannot convert 'bar'",
        "value is null",
        "number out of range",
        "outside the physically possible range",
        "not an RFC 3339",
        "before 1990",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(want)),
            "no quarantine reason containing {want:?}: {reasons:#?}"
        );
    }
    // The good sample was converted from °F to the signal's °C.
    let hist = d.get(&format!(
        "/api/assets/l1-hyd-motor/signals/winding_temp/history?raw=true&start={}&end={}",
        t - 1,
        t + 1
    ));
    let v = hist["points"][0][1].as_f64().unwrap();
    assert!((v - 70.0).abs() < 1e-9, "{hist}");

    // Malformed HTTP bodies: clear 4xx naming the field, never a crash.
    for (bad, field) in [("{", "body"), ("[1,2]", "body"), (r#"{"samples": 5}"#, "body")] {
        let (status, resp) = http(d.http, "POST", "/api/ingest", Some(bad));
        assert_eq!(status, 400, "{bad}: {resp}");
        let e: serde_json::Value = serde_json::from_str(&resp).unwrap();
        assert_eq!(e["error"]["field"], field, "{resp}");
    }
    let (status, resp) = http(d.http, "GET", "/api/assets/nope", None);
    assert_eq!(status, 404);
    assert!(resp.contains("\"field\":\"asset\""), "{resp}");
    let (status, resp) = http(d.http, "GET", "/api/assets/l1-hyd-motor/signals/current/history?start=banana", None);
    assert_eq!(status, 400);
    assert!(resp.contains("\"field\":\"start\""), "{resp}");
    let (status, _) = http(d.http, "POST", "/api/lines/l1/context", Some(r#"{"colour":"red"}"#));
    assert_eq!(status, 400);

    // MQTT: garbage, wrong topics, bad values, then a good message.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new("bad-publisher", "127.0.0.1", mqtt);
        o.set_keep_alive(Duration::from_secs(10));
        let (c, mut ev) = AsyncClient::new(o, 100);
        let acks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let a2 = acks.clone();
        tokio::spawn(async move {
            loop {
                match ev.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        a2.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
        let msgs: Vec<(String, Vec<u8>)> = vec![
            ("doppel/v1/data/l1-hyd-motor".into(), b"\xff\xfe not json".to_vec()),
            ("doppel/v1/data/l1-hyd-motor".into(), br#"{"ts": 1}"#.to_vec()),
            ("doppel/v1/elsewhere".into(), b"1".to_vec()),
            ("doppel/v1/data/l1-hyd-motor/current".into(), br#"{"value": NaN}"#.to_vec()),
            ("doppel/v1/data/ghost".into(), format!(r#"{{"ts":{t},"values":{{"a":1}}}}"#).into_bytes()),
            ("doppel/v1/context/ghost-line".into(), br#"{"product":"x"}"#.to_vec()),
            (
                "doppel/v1/data/l1-hyd-motor".into(),
                format!(r#"{{"ts":{},"values":{{"current":12.5,"speed":-5}}}}"#, t + 1000).into_bytes(),
            ),
        ];
        let n = msgs.len() as u32;
        for (topic, payload) in msgs {
            c.publish(topic, QoS::AtLeastOnce, false, payload).await.unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while acks.load(std::sync::atomic::Ordering::Relaxed) < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // Wait for the good MQTT sample, then check the quarantine records.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let h = d.get(&format!(
            "/api/assets/l1-hyd-motor/signals/current/history?raw=true&start={}&end={}",
            t + 999,
            t + 1001
        ));
        if h["points"].as_array().is_some_and(|p| p.len() == 1) {
            assert_eq!(h["points"][0][1], 12.5);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "good MQTT sample never stored: {h}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = d.get("/api/events?kind=quarantine&limit=100");
    let text = events.to_string();
    for want in [
        "not valid JSON",
        "expected value",
        "values|samples",
        "is not a doppel topic",
        "unknown asset 'ghost'",
        "unknown line 'ghost-line'",
        "-5 rpm is outside",
    ] {
        assert!(text.contains(want), "no quarantine record containing {want:?} in {text}");
    }
    assert!(d.is_running(), "bad input must not take the process down");
    let _ = std::fs::remove_dir_all(&dir);
}
