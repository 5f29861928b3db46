//! MySQL 8's `caching_sha2_password` login, with no MySQL 8 server on this machine: a fake
//! server speaks the handshake (as MySQL 8.0 does, with a utf8mb4_0900 default collation) and
//! checks what `MysqlSource::connect` sends with its own SHA-256 and RSA code:
//! - the fast path: the scramble SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || nonce);
//! - the full path over plain TCP: ask for the server's RSA key, send the password XOR the
//!   nonce, RSA-OAEP encrypted;
//! - a refusal: error 1045 becomes a hint, and the password appears nowhere.

use std::sync::{Arc, Mutex};

use pgcutover_mysql::MysqlSource;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{Oaep, RsaPrivateKey};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CLIENT_CONNECT_WITH_DB: u32 = 0x8;
const CLIENT_PROTOCOL_41: u32 = 0x200;
const CLIENT_TRANSACTIONS: u32 = 0x2000;
const CLIENT_SECURE_CONNECTION: u32 = 0x8000;
const CLIENT_MULTI_STATEMENTS: u32 = 0x1_0000;
const CLIENT_MULTI_RESULTS: u32 = 0x2_0000;
const CLIENT_PLUGIN_AUTH: u32 = 0x8_0000;
const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;

/// How the fake server finishes a login.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// The password's hash is in the server's cache: check the scramble, answer "fast auth ok".
    Fast,
    /// Not cached: "perform full authentication"; the client must fetch the RSA key.
    Full,
}

/// What the fake server saw.
#[derive(Default, Debug)]
struct Seen {
    users: Vec<String>,
    /// Per login: did the client prove it knows the password?
    proofs: Vec<bool>,
    queries: Vec<String>,
}

struct Fake {
    port: u16,
    seen: Arc<Mutex<Seen>>,
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 4];
    s.read_exact(&mut head).await.ok()?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize;
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some((head[3], body))
}

async fn write_packet(s: &mut TcpStream, seq: u8, body: &[u8]) {
    let len = body.len() as u32;
    let mut out = len.to_le_bytes()[..3].to_vec();
    out.push(seq);
    out.extend_from_slice(body);
    s.write_all(&out).await.expect("write");
}

fn ok_packet() -> Vec<u8> {
    vec![0x00, 0, 0, 0x02, 0x00, 0, 0]
}

fn err_packet(code: u16, state: &str, message: &str) -> Vec<u8> {
    let mut p = vec![0xff];
    p.extend_from_slice(&code.to_le_bytes());
    p.push(b'#');
    p.extend_from_slice(state.as_bytes());
    p.extend_from_slice(message.as_bytes());
    p
}

fn lenenc_str(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 251);
    out.push(s.len() as u8);
    out.extend_from_slice(s);
}

fn eof_packet() -> Vec<u8> {
    vec![0xfe, 0, 0, 0x02, 0]
}

impl Fake {
    async fn start(password: &'static str, path: Path) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let key = Arc::new(
            RsaPrivateKey::from_pkcs8_pem(include_str!("test-rsa-key.pem")).expect("test key"),
        );
        let s = Arc::clone(&seen);
        tokio::spawn(async move {
            let mut conn_id = 0u32;
            while let Ok((stream, _)) = listener.accept().await {
                conn_id += 1;
                tokio::spawn(session(
                    stream,
                    conn_id,
                    password,
                    path,
                    Arc::clone(&key),
                    Arc::clone(&s),
                ));
            }
        });
        Fake { port, seen }
    }
}

async fn session(
    mut s: TcpStream,
    conn_id: u32,
    password: &str,
    path: Path,
    key: Arc<RsaPrivateKey>,
    seen: Arc<Mutex<Seen>>,
) {
    // A fresh 20-byte nonce per login, as printable bytes (MySQL avoids 0 and '$').
    let nonce: Vec<u8> = (0..20u8)
        .map(|i| b'A' + ((i as u32 * 7 + conn_id * 13) % 26) as u8)
        .collect();
    let caps = CLIENT_CONNECT_WITH_DB
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_MULTI_STATEMENTS
        | CLIENT_MULTI_RESULTS
        | CLIENT_PLUGIN_AUTH
        | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | 0x1; // CLIENT_LONG_PASSWORD
    let mut hello = vec![0x0a];
    hello.extend_from_slice(b"8.0.36\0");
    hello.extend_from_slice(&conn_id.to_le_bytes());
    hello.extend_from_slice(&nonce[..8]);
    hello.push(0);
    hello.extend_from_slice(&(caps as u16).to_le_bytes());
    hello.push(255); // utf8mb4_0900_ai_ci, MySQL 8's default collation
    hello.extend_from_slice(&0x0002u16.to_le_bytes());
    hello.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    hello.push(21);
    hello.extend_from_slice(&[0; 10]);
    hello.extend_from_slice(&nonce[8..]);
    hello.push(0);
    hello.extend_from_slice(b"caching_sha2_password\0");
    write_packet(&mut s, 0, &hello).await;

    // HandshakeResponse41: caps, max packet, charset, 23 zero bytes, user\0, auth data.
    let Some((_, resp)) = read_packet(&mut s).await else {
        return;
    };
    let client_caps = u32::from_le_bytes(resp[0..4].try_into().expect("caps"));
    assert!(client_caps & CLIENT_SECURE_CONNECTION != 0);
    let rest = &resp[32..];
    let nul = rest.iter().position(|&b| b == 0).expect("user");
    let user = String::from_utf8_lossy(&rest[..nul]).into_owned();
    let rest = &rest[nul + 1..];
    // A length byte (or, with CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, a length-encoded integer,
    // the same byte below 251), then the auth data.
    let auth = &rest[1..1 + rest[0] as usize];
    seen.lock().expect("seen").users.push(user.clone());

    let proved = match path {
        Path::Fast => {
            let h1 = sha256(&[password.as_bytes()]);
            let h2 = sha256(&[&sha256(&[&h1])[..], &nonce]);
            let want: Vec<u8> = h1.iter().zip(h2).map(|(a, b)| a ^ b).collect();
            let ok = auth == want.as_slice();
            if ok {
                write_packet(&mut s, 2, &[0x01, 0x03]).await; // fast auth success
                write_packet(&mut s, 3, &ok_packet()).await;
            }
            ok
        }
        Path::Full => {
            write_packet(&mut s, 2, &[0x01, 0x04]).await; // perform full authentication
            let Some((_, ask)) = read_packet(&mut s).await else {
                return;
            };
            assert_eq!(
                ask,
                [0x02],
                "over plain TCP the client must ask for the RSA key"
            );
            let pem = key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem");
            let mut p = vec![0x01];
            p.extend_from_slice(pem.as_bytes());
            write_packet(&mut s, 4, &p).await;
            let Some((_, sealed)) = read_packet(&mut s).await else {
                return;
            };
            let plain = key
                .decrypt(Oaep::new::<sha1::Sha1>(), &sealed)
                .expect("RSA-OAEP (SHA-1) with our public key");
            let unmasked: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ nonce[i % nonce.len()])
                .collect();
            let ok = unmasked == [password.as_bytes(), b"\0"].concat();
            if ok {
                write_packet(&mut s, 6, &ok_packet()).await;
            }
            ok
        }
    };
    seen.lock().expect("seen").proofs.push(proved);
    if !proved {
        let msg = format!("Access denied for user '{user}'@'localhost' (using password: YES)");
        write_packet(&mut s, 2, &err_packet(1045, "28000", &msg)).await;
        return;
    }

    // Commands: OK for SET…, a one-row result for SELECT @@…, goodbye on COM_QUIT.
    while let Some((_, cmd)) = read_packet(&mut s).await {
        match cmd.first() {
            Some(0x01) => return,
            Some(0x03) => {
                let q = String::from_utf8_lossy(&cmd[1..]).into_owned();
                seen.lock().expect("seen").queries.push(q.clone());
                if let Some(vars) = q.strip_prefix("SELECT ") {
                    let vars: Vec<&str> = vars.split(',').map(str::trim).collect();
                    let mut seq = 1;
                    write_packet(&mut s, seq, &[vars.len() as u8]).await;
                    for v in &vars {
                        let mut col = Vec::new();
                        for part in [&b"def"[..], b"", b"", b"", v.as_bytes(), b""] {
                            lenenc_str(&mut col, part);
                        }
                        col.push(0x0c);
                        col.extend_from_slice(&63u16.to_le_bytes());
                        col.extend_from_slice(&21u32.to_le_bytes());
                        col.push(0x08); // LONGLONG
                        col.extend_from_slice(&[0, 0, 0, 0, 0]);
                        seq += 1;
                        write_packet(&mut s, seq, &col).await;
                    }
                    seq += 1;
                    write_packet(&mut s, seq, &eof_packet()).await;
                    let mut row = Vec::new();
                    for _ in &vars {
                        lenenc_str(&mut row, b"28800");
                    }
                    seq += 1;
                    write_packet(&mut s, seq, &row).await;
                    seq += 1;
                    write_packet(&mut s, seq, &eof_packet()).await;
                } else {
                    write_packet(&mut s, 1, &ok_packet()).await;
                }
            }
            Some(0x0e) => write_packet(&mut s, 1, &ok_packet()).await,
            _ => write_packet(&mut s, 1, &err_packet(1047, "08S01", "Unknown command")).await,
        }
    }
}

fn source(port: u16, user: &str, password: &str) -> MysqlSource {
    MysqlSource::parse(
        &format!("mysql://{user}@127.0.0.1:{port}/shop?ssl-mode=disabled"),
        None,
        Some(password.to_owned()),
    )
    .expect("url")
}

#[tokio::test]
async fn fast_path_scramble_is_sha256_based() {
    let fake = Fake::start("s3cret-8", Path::Fast).await;
    let conn = source(fake.port, "app", "s3cret-8")
        .connect()
        .await
        .expect("the fast path logs in");
    drop(conn);
    let seen = fake.seen.lock().expect("seen");
    assert_eq!(seen.users, ["app"]);
    assert_eq!(seen.proofs, [true]);
    // The session is set up as for any server: utf8mb4, UTC, long timeouts, sql_mode ''.
    for q in pgcutover_mysql::connect::SESSION_SETUP {
        assert!(
            seen.queries.iter().any(|s| s == q),
            "{q} not sent: {seen:?}"
        );
    }
}

#[tokio::test]
async fn full_path_over_plain_tcp_sends_the_password_rsa_encrypted() {
    let fake = Fake::start("long-and-s3cret-password-for-the-full-path", Path::Full).await;
    let conn = source(
        fake.port,
        "app",
        "long-and-s3cret-password-for-the-full-path",
    )
    .connect()
    .await
    .expect("the full path logs in");
    drop(conn);
    assert_eq!(fake.seen.lock().expect("seen").proofs, [true]);
}

#[tokio::test]
async fn refused_login_gets_a_hint_and_hides_the_password() {
    let fake = Fake::start("right-password", Path::Fast).await;
    let err = source(fake.port, "app", "wrong-password")
        .connect()
        .await
        .expect_err("a wrong password is refused");
    let text = format!("{err} {err:?}");
    assert!(text.contains("error 1045"), "{text}");
    assert!(
        err.hint.contains("check the user \"app\" and its password"),
        "{}",
        err.hint
    );
    assert!(
        !text.contains("wrong-password"),
        "the password leaked: {text}"
    );
    // A refusal is tried once more (see MysqlSource::connect), never more.
    assert_eq!(fake.seen.lock().expect("seen").proofs, [false, false]);
}
