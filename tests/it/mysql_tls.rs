//! TLS to MySQL/MariaDB against a real server: a MariaDB of the test's own, on a free port, with
//! a CA and server certificate made for it (the shared MariaDB here has no TLS). Needs the
//! `mariadbd` and `mariadb-install-db` programs (Debian's mariadb-server package).

use std::path::Path;
use std::process::{Command, Output};

use mysql_async::prelude::Queryable;

use crate::harness::{expect_code, one, stderr, MyDb, PrivateMariadb, TestDb};

/// A CA, and a certificate for the host name `localhost` signed by it: (CA PEM, cert PEM, key PEM).
fn certificates(ca_name: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("CA");
    let key = KeyPair::generate().expect("server key");
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = server.signed_by(&key, &ca).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A MariaDB of the test's own with TLS: a CA and a server certificate made for it, and a CA
/// that signed nothing this server has (verify-ca must refuse the server with it).
async fn tls_mariadb() -> PrivateMariadb {
    PrivateMariadb::start(|d| {
        let (ca, cert, key) = certificates("pgcutover test CA");
        std::fs::write(d.join("ca.pem"), ca).expect("write");
        std::fs::write(d.join("server.pem"), cert).expect("write");
        std::fs::write(d.join("server.key"), key).expect("write");
        std::fs::write(d.join("other-ca.pem"), certificates("some other CA").0).expect("write");
        let path = |f: &str| d.join(f).display().to_string();
        vec![
            format!("--ssl-ca={}", path("ca.pem")),
            format!("--ssl-cert={}", path("server.pem")),
            format!("--ssl-key={}", path("server.key")),
            "--skip-log-bin".to_owned(),
        ]
    })
    .await
}

/// `pgcutover ARGS` with MYSQL_PWD set.
fn run(dir: &Path, password: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgcutover"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("MYSQL_PWD", password)
        .output()
        .expect("run pgcutover")
}

#[tokio::test]
async fn tls_modes_against_a_server_with_tls() {
    let server = tls_mariadb().await;
    let mut root = mysql_async::Conn::from_url(server.root_url())
        .await
        .expect("root");
    // REQUIRE SSL: a login that works proves the session was encrypted.
    root.query_drop(
        "CREATE DATABASE tl;
         CREATE TABLE tl.t (id INT PRIMARY KEY, s VARCHAR(10));
         INSERT INTO tl.t VALUES (1, 'over tls');
         CREATE USER 'tlsuser'@'%' IDENTIFIED BY 'tls-pw-1' REQUIRE SSL;
         GRANT SELECT ON tl.* TO 'tlsuser'@'%';",
    )
    .await
    .expect("set up");
    let _ = root.disconnect().await;
    let db = TestDb::new("my_tls").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca, other_ca) = (server.file("ca.pem"), server.file("other-ca.pem"));
    let url =
        |host: &str, query: &str| format!("mysql://tlsuser@{host}:{}/tl?{query}", server.port);

    // required encrypts without checking the certificate, and copies.
    let out = run(
        dir.path(),
        "tls-pw-1",
        &["copy", &url("127.0.0.1", "ssl-mode=required"), &db.url],
    );
    expect_code(&out, 0);
    let client = db.client().await;
    assert_eq!(
        one(&client, "SELECT s FROM t WHERE id = 1")
            .await
            .as_deref(),
        Some("over tls")
    );

    let plan = |source: String| run(dir.path(), "tls-pw-1", &["plan", &source, &db.url]);
    // verify-ca: the CA signed the server's certificate; the host name is not checked.
    expect_code(
        &plan(url("127.0.0.1", &format!("ssl-mode=verify-ca&ssl-ca={ca}"))),
        0,
    );
    // verify-identity: also the name, which is `localhost` in the certificate.
    expect_code(
        &plan(url(
            "localhost",
            &format!("ssl-mode=verify-identity&ssl-ca={ca}"),
        )),
        0,
    );
    // ssl-ca alone means verify-ca.
    expect_code(&plan(url("127.0.0.1", &format!("ssl-ca={ca}"))), 0);

    let refused = |out: Output, why: &str| {
        expect_code(&out, 3);
        let err = stderr(&out);
        assert!(err.contains(why), "expected {why:?} in: {err}");
        assert!(
            err.contains("hint: the server's certificate was not accepted"),
            "{err}"
        );
        assert!(!err.contains("tls-pw-1"), "the password leaked: {err}");
    };
    // The certificate does not name 127.0.0.1.
    refused(
        plan(url(
            "127.0.0.1",
            &format!("ssl-mode=verify-identity&ssl-ca={ca}"),
        )),
        "IP address mismatch",
    );
    // Signed by a CA we were not told to trust.
    refused(
        plan(url(
            "127.0.0.1",
            &format!("ssl-mode=verify-ca&ssl-ca={other_ca}"),
        )),
        "certificate verify failed",
    );
    // No CA at all: the system's CAs do not know this one.
    refused(
        plan(url("127.0.0.1", "ssl-mode=verify-ca")),
        "certificate verify failed",
    );

    // The server's Unix socket (no TLS there; root of this private server has no password).
    let socket_db = TestDb::new("my_socket").await;
    let out = run(
        dir.path(),
        "",
        &[
            "copy",
            &format!("mysql://root@localhost/tl?socket={}", server.file("sock")),
            &socket_db.url,
        ],
    );
    expect_code(&out, 0);
    assert_eq!(
        one(&socket_db.client().await, "SELECT s FROM t WHERE id = 1")
            .await
            .as_deref(),
        Some("over tls")
    );
    socket_db.drop().await;

    // Without TLS, the REQUIRE SSL account is refused, and the hint says why it may be.
    let out = plan(url("127.0.0.1", "ssl-mode=disabled"));
    expect_code(&out, 3);
    assert!(stderr(&out).contains("REQUIRE SSL"), "{}", stderr(&out));
    db.drop().await;
}

#[tokio::test]
async fn preferred_falls_back_and_required_refuses_on_a_server_without_tls() {
    // The shared MariaDB has TLS disabled.
    let my = MyDb::from_sql(
        "pgctit_notls",
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (1);",
    )
    .await;
    let db = TestDb::new("my_notls").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let base = my.url.clone();
    let out = run(dir.path(), "", &["plan", &base, &db.url]);
    expect_code(&out, 0);
    let out = run(
        dir.path(),
        "",
        &["plan", &format!("{base}?ssl-mode=preferred"), &db.url],
    );
    expect_code(&out, 0);
    let out = run(
        dir.path(),
        "",
        &["plan", &format!("{base}?ssl-mode=required"), &db.url],
    );
    expect_code(&out, 3);
    let err = stderr(&out);
    assert!(
        err.contains("does not offer TLS") || err.contains("TLS"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
    db.drop().await;
    my.drop().await;
}
