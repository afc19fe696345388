//! The embedded default app (examples/default.qmz) and the example apps, served for real.
mod support;

use support::Server;

#[test]
fn default_app_routes() {
    let s = Server::start(&[]);
    let r = s.get("/");
    assert_eq!(
        (r.status, r.header("Content-Type")),
        (200, Some("application/json"))
    );
    assert!(r.text().contains("வணக்கம்"), "{}", r.text());
    assert_eq!(s.get("/gst/1000").text(), r#"{"gst":180}"#);
    let r = s.get("/emi?principal=100000&rate=12&months=6");
    assert!(r.text().contains(r#""emi":17254.84"#), "{}", r.text());
    let r = s.get("/hello/%E0%AE%B0%E0%AE%B5%E0%AE%BF");
    assert!(r.text().contains("வணக்கம், ரவி!"), "{}", r.text());
    let r = s.get("/rupees/12345678.5");
    assert!(r.text().contains("₹1,23,45,678.50"), "{}", r.text());
    assert_eq!(s.get("/cpu").text(), r#"{"sum":50000}"#);

    let mut c = s.client();
    let body = "{\"தொகை\": 1500.50}\n";
    c.send(
        format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}", body.len())
            .as_bytes(),
    );
    let r = c.response();
    assert_eq!(r.body, body.as_bytes());
    assert_eq!(
        r.header("Content-Type"),
        Some("application/json; charset=utf-8")
    );
}

#[test]
fn example_apps_compile() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "qmz") {
            let o = std::process::Command::new(support::bin())
                .arg("check")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

#[test]
fn example_apps_answer() {
    let ex = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name)
    };
    let s = Server::start(&[ex("invoice.qmz").to_str().unwrap()]);
    let mut c = s.client();
    let body = r#"{"lines": [{"item": "pen", "price": 100, "qty": 2, "rate": 18}, {"item": "rice", "price": 49.99, "qty": 3, "rate": 5}]}"#;
    c.send(
        format!(
            "POST /invoice HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    let r = c.response();
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(
        r.text().contains(r#""taxable":349.97"#) && r.text().contains(r#""total":393"#),
        "{}",
        r.text()
    );
    drop(s);

    let s = Server::start(&[ex("bank.qmz").to_str().unwrap()]);
    assert_eq!(s.get("/accounts/SB001").status, 401);
    let mut c = s.client();
    c.send(b"GET /accounts/SB001 HTTP/1.1\r\nHost: t\r\nX-API-Key: demo-key\r\n\r\n");
    let r = c.response();
    assert!(r.text().contains("₹25,000.50"), "{}", r.text());
    drop(s);

    let s = Server::start(&[ex("tax.qmz").to_str().unwrap()]);
    let r = s.get("/tax?income=1500000");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(r#""tax":105000"#) && r.text().contains(r#""cess":4200"#),
        "{}",
        r.text()
    );
    drop(s);

    let s = Server::start(&[ex("hello.qmz").to_str().unwrap()]);
    let r = s.get("/?name=%E0%AE%B0%E0%AE%B5%E0%AE%BF");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("ரவி"), "{}", r.text());
}
