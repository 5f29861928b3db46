//! Where the MySQL/MariaDB source is and how to log in: `mysql://user@host:port/db?options`.
//!
//! The password comes, in this order, from the URL (discouraged: it shows in `ps`), the file
//! named by `--source-password-file`, or `MYSQL_PWD`. It never appears in [`MysqlSource::display`]
//! nor in any error this module returns.
//!
//! Options (query parameters), named as the `mysql` client names them:
//! - `ssl-mode=disabled|preferred|required|verify-ca|verify-identity` (default `preferred`);
//! - `ssl-ca=PATH`: the CA certificate (PEM) for `verify-ca` / `verify-identity`;
//! - `socket=PATH`: connect through a unix socket instead of TCP.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mysql_async::{Conn, Opts, OptsBuilder, SslOpts};

/// Every session speaks utf8mb4 (catalog text, errors) and UTC, and does not time out while the
/// target is slow. `net_write_timeout` is how long the server waits for us to take the next
/// packet of a result. Table values are read as stored: [`crate::read::read_table`] asks for
/// `character_set_results = binary` itself, and decodes each column by its charset.
pub const SESSION_SETUP: &[&str] = &[
    "SET NAMES utf8mb4",
    "SET time_zone = '+00:00'",
    "SET SESSION net_read_timeout = 86400, net_write_timeout = 86400, wait_timeout = 86400",
    // ANSI_QUOTES etc. would change how our catalog queries parse; keep the session's own checks
    // out of the way of reading (zero dates must be readable).
    "SET SESSION sql_mode = ''",
    "SET SESSION group_concat_max_len = 1048576",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disabled,
    Preferred,
    Required,
    VerifyCa,
    VerifyIdentity,
}

impl SslMode {
    fn parse(s: &str) -> Option<SslMode> {
        Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "disabled" => SslMode::Disabled,
            "preferred" => SslMode::Preferred,
            "required" => SslMode::Required,
            "verify-ca" => SslMode::VerifyCa,
            "verify-identity" => SslMode::VerifyIdentity,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            SslMode::Disabled => "disabled",
            SslMode::Preferred => "preferred",
            SslMode::Required => "required",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyIdentity => "verify-identity",
        }
    }
}

#[derive(Clone)]
pub struct MysqlSource {
    pub host: String,
    pub port: u16,
    pub socket: Option<PathBuf>,
    pub user: String,
    password: Option<String>,
    pub database: String,
    pub ssl_mode: SslMode,
    pub ssl_ca: Option<PathBuf>,
}

impl std::fmt::Debug for MysqlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceUrlError {
    /// `shown` is the URL as typed with its password masked ([`pgcutover_core::redact()`]).
    #[error("SOURCE \"{shown}\": {why}")]
    Invalid { shown: String, why: String },
    #[error("cannot read the password file {path}: {source}")]
    PasswordFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl MysqlSource {
    /// Parses `mysql://` or `mariadb://` URLs. `password_file` and `env_password` (MYSQL_PWD)
    /// are used when the URL carries no password.
    pub fn parse(
        uri: &str,
        password_file: Option<&Path>,
        env_password: Option<String>,
    ) -> Result<MysqlSource, SourceUrlError> {
        // Every error echoes the URL, with its password masked: a mistyped URL is where a
        // password sits where no parser expects it.
        let invalid = |why: &str| SourceUrlError::Invalid {
            shown: pgcutover_core::show(&pgcutover_core::redact(uri)).into_owned(),
            why: why.to_owned(),
        };
        let lower = uri.to_ascii_lowercase();
        if !(lower.starts_with("mysql://") || lower.starts_with("mariadb://")) {
            return Err(invalid(
                "the source URL must start with mysql:// or mariadb://",
            ));
        }
        let url = url::Url::parse(uri)
            .map_err(|e| invalid(&format!("not a valid mysql:// URL ({e})")))?;
        // `url` takes mysql://host/user:password@db as a database named "user:password@db",
        // which the server would then echo back.
        if url.path().contains('@') {
            return Err(invalid(
                "an @ after the host: write mysql://user@host/database (a literal @ in a database name is written %40)",
            ));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let database = decode(url.path().trim_start_matches('/'));
        if database.is_empty() {
            return Err(invalid(
                "the source URL names no database: write mysql://user@host/DATABASE",
            ));
        }
        let mut source = MysqlSource {
            host: url.host_str().unwrap_or("localhost").to_owned(),
            port: url.port().unwrap_or(3306),
            socket: None,
            user: if url.username().is_empty() {
                "root".to_owned()
            } else {
                decode(url.username())
            },
            password: url.password().map(decode),
            database,
            ssl_mode: SslMode::Preferred,
            ssl_ca: None,
        };
        let mut mode_given = false;
        for (k, v) in url.query_pairs() {
            match k.to_ascii_lowercase().replace('_', "-").as_str() {
                "ssl-mode" | "sslmode" => {
                    mode_given = true;
                    source.ssl_mode = SslMode::parse(&v).ok_or_else(|| {
                        invalid(&format!(
                            "ssl-mode={} is not one of disabled, preferred, required, verify-ca, verify-identity",
                            pgcutover_core::show(&v)
                        ))
                    })?
                }
                "ssl-ca" | "sslrootcert" => source.ssl_ca = Some(PathBuf::from(v.as_ref())),
                "socket" => source.socket = Some(PathBuf::from(v.as_ref())),
                other => {
                    return Err(invalid(&format!(
                        "unknown source URL option \"{}\" (known: ssl-mode, ssl-ca, socket)",
                        pgcutover_core::show(other)
                    )))
                }
            }
        }
        if source.ssl_ca.is_some() && !mode_given {
            // As the mysql client does: a CA without a mode means "verify against it".
            source.ssl_mode = SslMode::VerifyCa;
        }
        if source.password.is_none() {
            if let Some(path) = password_file {
                let text =
                    std::fs::read_to_string(path).map_err(|e| SourceUrlError::PasswordFile {
                        path: path.display().to_string(),
                        source: e,
                    })?;
                source.password = Some(text.trim_end_matches(['\n', '\r']).to_owned());
            } else {
                source.password = env_password;
            }
        }
        Ok(source)
    }

    /// The URL without the password, for output and reports.
    pub fn display(&self) -> String {
        let mut s = match &self.socket {
            Some(p) => format!(
                "mysql://{}@localhost/{}?socket={}",
                self.user,
                self.database,
                p.display()
            ),
            None => format!(
                "mysql://{}@{}:{}/{}",
                self.user, self.host, self.port, self.database
            ),
        };
        if self.ssl_mode != SslMode::Preferred {
            s.push_str(if self.socket.is_some() { "&" } else { "?" });
            s.push_str("ssl-mode=");
            s.push_str(self.ssl_mode.as_str());
        }
        s
    }

    fn opts(&self, ssl: Option<SslOpts>) -> Opts {
        let mut b = OptsBuilder::default()
            .ip_or_hostname(self.host.clone())
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(self.password.clone())
            .db_name(Some(self.database.clone()))
            .prefer_socket(false)
            // The largest packet MySQL can send; a 1 GB LONGBLOB must still arrive.
            .max_allowed_packet(Some(1 << 30))
            .tcp_keepalive(Some(Duration::from_secs(60)))
            .stmt_cache_size(0)
            .setup(SESSION_SETUP.to_vec())
            .ssl_opts(ssl);
        if let Some(sock) = &self.socket {
            b = b.socket(Some(sock.display().to_string()));
        }
        Opts::from(b)
    }

    fn ssl_opts(&self) -> Option<SslOpts> {
        let base = || {
            let mut o = SslOpts::default();
            if let Some(ca) = &self.ssl_ca {
                o = o.with_root_certs(vec![ca.clone().into()]);
            }
            o
        };
        match self.ssl_mode {
            SslMode::Disabled => None,
            // Encrypt, but like the mysql client, do not check whom we talk to.
            SslMode::Preferred | SslMode::Required => Some(
                base()
                    .with_danger_accept_invalid_certs(true)
                    .with_danger_skip_domain_validation(true),
            ),
            SslMode::VerifyCa => Some(base().with_danger_skip_domain_validation(true)),
            SslMode::VerifyIdentity => Some(base()),
        }
    }

    /// Opens one session, set up for reading (see [`SESSION_SETUP`]).
    pub async fn connect(&self) -> Result<Conn, ConnectError> {
        match self.connect_once().await {
            // mysql_common's AuthSwitchRequest::plugin_data drops a trailing 0 byte (it is the
            // terminator of a native-password scramble), so a MariaDB ed25519 nonce that ends
            // in 0x00, one login in 256, is signed short and refused. A new session gets a new
            // nonce: one more try turns that into one in 65536, and costs a user with a really
            // wrong password one extra refused attempt.
            Err(e) if e.code == Some(1045) && self.password.is_some() => self.connect_once().await,
            other => other,
        }
    }

    async fn connect_once(&self) -> Result<Conn, ConnectError> {
        let tls = self.ssl_opts();
        let use_tls = tls.is_some() && self.socket.is_none();
        let first = Conn::new(self.opts(if use_tls { tls } else { None })).await;
        match first {
            Ok(c) => Ok(c),
            // `preferred` falls back to plain text when the server has no TLS, as `mysql` does.
            Err(mysql_async::Error::Driver(
                mysql_async::DriverError::NoClientSslFlagFromServer,
            )) if self.ssl_mode == SslMode::Preferred => Conn::new(self.opts(None))
                .await
                .map_err(|e| ConnectError::new(self, e)),
            Err(e) => Err(ConnectError::new(self, e)),
        }
    }
}

/// A failed connection, with what to check. Never contains the password.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to {target}: {message}")]
pub struct ConnectError {
    pub target: String,
    /// The server's error number, when the server refused.
    pub code: Option<u16>,
    pub message: String,
    pub hint: String,
    /// Trying again may work: the server was down, restarting, or out of connections.
    pub transient: bool,
}

impl ConnectError {
    fn new(source: &MysqlSource, e: mysql_async::Error) -> ConnectError {
        let (message, hint) = explain(source, &e);
        ConnectError {
            transient: crate::source::fault_of(&e) == pgcutover_core::source::Fault::Transient,
            target: source.display(),
            code: match &e {
                mysql_async::Error::Server(s) => Some(s.code),
                _ => None,
            },
            message,
            hint,
        }
    }
}

/// What went wrong and what to check, from the driver's error.
pub fn explain(source: &MysqlSource, e: &mysql_async::Error) -> (String, String) {
    use mysql_async::{DriverError, Error, IoError};
    let where_ = match &source.socket {
        Some(p) => format!("the socket {}", p.display()),
        None => format!("{}:{}", source.host, source.port),
    };
    match e {
        Error::Server(s) => {
            let hint = match s.code {
                1045 => format!(
                    "check the user {:?} and its password (MYSQL_PWD or --source-password-file), and that the user may connect from this host{}",
                    source.user,
                    if source.ssl_mode == SslMode::Disabled {
                        "; an account created with REQUIRE SSL is refused like this without TLS: leave out ssl-mode=disabled"
                    } else {
                        ""
                    }
                ),
                1044 | 1049 => format!(
                    "check that the database {:?} exists and that {:?} may read it",
                    source.database, source.user
                ),
                1130 => "the server does not accept this user from this host: ask for a GRANT for this host".to_owned(),
                1251 | 2059 | 2061 => auth_plugin_hint(&s.message),
                3159 => "the server requires TLS for this user: use ssl-mode=required or stronger".to_owned(),
                _ => "check the server's error log".to_owned(),
            };
            (format!("server said: {} (error {})", s.message, s.code), hint)
        }
        Error::Io(IoError::Io(io)) => {
            let hint = match io.kind() {
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => {
                    format!("is MySQL/MariaDB running and listening on {where_}?")
                }
                std::io::ErrorKind::PermissionDenied => {
                    format!("this user may not open {where_}")
                }
                std::io::ErrorKind::TimedOut => {
                    format!("nothing answered at {where_}: check the host, port and firewalls")
                }
                _ => format!("check that {where_} is a MySQL/MariaDB server"),
            };
            (io.to_string(), hint)
        }
        Error::Io(IoError::Tls(t)) => (
            format!("TLS failed: {t}"),
            match source.ssl_mode {
                SslMode::VerifyCa | SslMode::VerifyIdentity => "the server's certificate was not accepted: check ssl-ca (the CA that signed it), and for verify-identity that the host name matches the certificate".to_owned(),
                _ => "check the server's TLS setup, or use ssl-mode=disabled on a trusted network".to_owned(),
            },
        ),
        Error::Driver(DriverError::NoClientSslFlagFromServer) => (
            "the server does not offer TLS".to_owned(),
            format!(
                "ssl-mode={} needs a server with TLS enabled; use ssl-mode=preferred or disabled to connect without it",
                source.ssl_mode.as_str()
            ),
        ),
        Error::Driver(DriverError::UnknownAuthPlugin { name }) => (
            format!("the server asked for the authentication plugin {name}, which pgcutover does not speak"),
            "use mysql_native_password, caching_sha2_password, sha256_password or ed25519 for this user".to_owned(),
        ),
        Error::Driver(DriverError::CleartextPluginDisabled) => (
            "the server asked for mysql_clear_password".to_owned(),
            "pgcutover does not send passwords in clear text; give the user another authentication plugin".to_owned(),
        ),
        other => (other.to_string(), format!("check that {where_} is a MySQL/MariaDB server")),
    }
}

fn auth_plugin_hint(message: &str) -> String {
    if message.contains("caching_sha2_password") && message.contains("secure") {
        // libmysqlclient's words when caching_sha2_password's full login has neither TLS nor
        // the server's RSA key; our driver fetches the key instead, so this is a safety net.
        "caching_sha2_password needs a secure connection for the first login: use ssl-mode=required (or log in once with the mysql client to fill the server's cache)".to_owned()
    } else {
        "the user's authentication plugin was refused: use mysql_native_password, caching_sha2_password or ed25519".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_never_shows_the_password() {
        let s = MysqlSource::parse(
            "mysql://app:s%40cret@db.example:3307/shop?ssl-mode=verify-identity&ssl-ca=/etc/ca.pem",
            None,
            None,
        )
        .unwrap();
        assert_eq!(s.host, "db.example");
        assert_eq!(s.port, 3307);
        assert_eq!(s.user, "app");
        assert_eq!(s.password.as_deref(), Some("s@cret"));
        assert_eq!(s.database, "shop");
        assert_eq!(s.ssl_mode, SslMode::VerifyIdentity);
        assert!(!s.display().contains("cret"));
        assert!(!format!("{s:?}").contains("cret"));
    }

    #[test]
    fn password_from_file_or_env_and_socket() {
        let dir = std::env::temp_dir().join(format!("pgct-pw-{}", std::process::id()));
        std::fs::write(&dir, "from-file\n").unwrap();
        let s = MysqlSource::parse(
            "mariadb://u@localhost/db?socket=/run/mysqld/mysqld.sock",
            Some(&dir),
            Some("from-env".into()),
        )
        .unwrap();
        assert_eq!(s.password.as_deref(), Some("from-file"));
        assert_eq!(
            s.socket.as_deref(),
            Some(Path::new("/run/mysqld/mysqld.sock"))
        );
        let s = MysqlSource::parse("mysql://u@h/db", None, Some("from-env".into())).unwrap();
        assert_eq!(s.password.as_deref(), Some("from-env"));
        std::fs::remove_file(dir).unwrap();
    }

    #[test]
    fn rejects_bad_urls_clearly() {
        let e = MysqlSource::parse("mysql://u@h", None, None).unwrap_err();
        assert!(e.to_string().contains("names no database"), "{e}");
        let e = MysqlSource::parse("mysql://u@h/db?ssl-mode=maybe", None, None).unwrap_err();
        assert!(e.to_string().contains("ssl-mode=maybe"), "{e}");
        let e = MysqlSource::parse("mysql://u@h/db?sslmod=x", None, None).unwrap_err();
        assert!(e.to_string().contains("unknown source URL option"), "{e}");
        // A CA alone means: verify against it.
        let s = MysqlSource::parse("mysql://u@h/db?ssl-ca=/ca.pem", None, None).unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyCa);
        // …but an explicit mode, in any spelling, stays.
        let s = MysqlSource::parse(
            "mysql://u@h/db?ssl_mode=required&ssl-ca=/ca.pem",
            None,
            None,
        )
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::Required);
    }

    #[test]
    fn every_refusal_echoes_the_url_without_its_password() {
        for bad in [
            "mysql:/ann:S3KRIT@h/db",
            "mysql:ann:S3KRIT@h/db",
            "mysql//ann:S3KRIT@h/db",
            "mysql://ann:S3KRIT@h",
            "mysql://ann:S3KRIT@h:port/db",
            "mysql://h/ann:S3KRIT@db",
            "mysql://ann:S3KRIT@h/db?ssl-mode=maybe",
            "mysql://ann:S3KRIT@h/db?password=S3KRIT",
            "mysql://ann@h/db?ssl-mode=disabled&password=S3KRIT",
            "postgresql://ann:S3KRIT@h/db",
        ] {
            let e = MysqlSource::parse(bad, None, None).unwrap_err().to_string();
            assert!(!e.contains("S3KRIT"), "{bad}: {e}");
            assert!(e.starts_with("SOURCE \""), "{bad}: {e}");
        }
    }

    #[test]
    fn mysql8_caching_sha2_refusal_gets_a_tls_hint() {
        // The message MySQL 8 sends when caching_sha2_password's full authentication is needed
        // over an unencrypted connection without the server's RSA key (error 2061).
        let h = auth_plugin_hint("Authentication plugin 'caching_sha2_password' reported error: Authentication requires secure connection.");
        assert!(h.contains("ssl-mode=required"), "{h}");
    }
}
