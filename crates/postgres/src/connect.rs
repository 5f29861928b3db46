//! Target connection settings, resolved the way libpq resolves them, and connecting.
//!
//! A `postgresql://` URI or a keyword/value string (`host=db dbname=app`) is read first (anything
//! else is refused before a connection is tried); what it leaves out comes from PGHOST, PGPORT,
//! PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT and PGCONNECT_TIMEOUT, then from
//! `~/.pgpass` (or PGPASSFILE) for the password, then libpq's defaults. `sslmode` takes libpq's
//! spellings; `verify-ca` and `verify-full` check the server certificate against `sslrootcert`
//! (default `~/.postgresql/root.crt`) or the system roots.
//!
//! The password lives only inside the driver's config: [`Target::display`] never shows it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::SslMode as DriverSslMode;
use tokio_postgres::{Client, Config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<SslMode, ConfigError> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(ConfigError::Invalid(format!("sslmode {other:?} (expected disable, allow, prefer, require, verify-ca or verify-full)"))),
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Not a connection string libpq would read; `shown` is the string with its password masked.
    #[error("TARGET \"{shown}\" is not a PostgreSQL connection string: {why}")]
    Malformed { shown: String, why: String },
    #[error("invalid PostgreSQL connection setting: {0}")]
    Invalid(String),
    #[error("cannot read sslrootcert {path}")]
    RootCert {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot set up TLS")]
    Tls(#[from] native_tls::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to PostgreSQL at {target}")]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("cannot set up TLS for {target}")]
    Tls {
        target: String,
        #[source]
        source: ConfigError,
    },
}

/// A resolved target: what to connect to and how.
#[derive(Clone)]
pub struct Target {
    config: Config,
    ssl: SslMode,
    root_cert: Option<PathBuf>,
    display: String,
    pub database: String,
    /// Built on the first connection and shared by the rest: building one loads the system's
    /// CA store, which costs tens of milliseconds, and a run opens a connection per table.
    tls: std::sync::OnceLock<MakeTlsConnector>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("display", &self.display)
            .field("ssl", &self.ssl)
            .finish()
    }
}

/// Where settings come from besides the URI, so tests can supply their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

/// What the connection string says, before the environment and libpq's defaults fill the gaps.
/// Both forms (URI and keyword/value) fill this, so they resolve the same way. An empty value
/// counts as not given.
#[derive(Default)]
struct Given {
    host: Option<String>,
    port: Option<String>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<SslMode>,
    root_cert: Option<PathBuf>,
    connect_timeout: Option<String>,
    application_name: Option<String>,
}

impl Given {
    /// One `key=value` setting, from a URI's query or a keyword/value string (libpq's names).
    /// `Err`: why not, without the key or the value, which in a mistyped string can hold the
    /// password (`postgres:/ann:pw@db/app?sslmode=require` reads as one long key); the caller
    /// shows the whole string redacted.
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        let value = Some(value).filter(|v| !v.is_empty());
        match key {
            "host" => self.host = value,
            "port" => self.port = value,
            "user" => self.user = value,
            "password" => self.password = value,
            "dbname" => self.dbname = value,
            "sslmode" => self.sslmode = value.as_deref().map(SslMode::parse).transpose().map_err(
                |_| {
                    "sslmode is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        .to_owned()
                },
            )?,
            "sslrootcert" => self.root_cert = value.map(PathBuf::from),
            "connect_timeout" => self.connect_timeout = value,
            "application_name" => self.application_name = value,
            other => {
                // A plain word may be named; anything else may be part of a password.
                let named = if !other.is_empty()
                    && other.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                {
                    format!(" {other:?}")
                } else {
                    String::new()
                };
                return Err(format!(
                    "unsupported parameter{named} (supported: host, port, dbname, user, password, sslmode, sslrootcert, connect_timeout, application_name)"
                ));
            }
        }
        Ok(())
    }
}

/// libpq reads a string as a URI when it starts with exactly one of these (case matters).
const URI_PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// The two forms a TARGET may take, for a hint after a refusal.
pub const TARGET_FORMS: &str = "write the TARGET as a URI, postgresql://user@host:port/database?sslmode=…, or as libpq keyword/value pairs, 'host=… port=… dbname=… user=…'; keep the password in PGPASSWORD or ~/.pgpass";

impl Target {
    pub fn parse(conninfo: &str) -> Result<Target, ConfigError> {
        Self::parse_with(conninfo, &ProcessEnv)
    }

    /// Reads a libpq connection string: a URI starting with `postgresql://` or `postgres://`,
    /// or keyword/value pairs (`host=db port=5432 dbname=app`), told apart as libpq does (a
    /// string that is not a URI must hold a `=`). Anything else, such as `postgres:/u@h/db`, is
    /// refused here, so a malformed target never reaches a server as a database name.
    pub fn parse_with(conninfo: &str, env: &dyn Env) -> Result<Target, ConfigError> {
        let malformed = |why: &str| ConfigError::Malformed {
            shown: pgcutover_core::show(&pgcutover_core::redact(conninfo)).into_owned(),
            why: why.to_owned(),
        };
        let given = if URI_PREFIXES.iter().any(|p| conninfo.starts_with(p)) {
            Self::given_by_uri(conninfo, malformed)?
        } else if conninfo.contains('=') {
            let mut given = Given::default();
            for (key, value) in parse_keywords(conninfo).map_err(&malformed)? {
                given.set(&key, value).map_err(|why| malformed(&why))?;
            }
            given
        } else {
            let why = if conninfo.starts_with("postgres") {
                "a URI starts with postgresql:// or postgres://"
            } else {
                "neither a postgresql:// URI nor keyword=value pairs"
            };
            return Err(malformed(why));
        };
        Self::resolve(given, env)
    }

    /// The settings in a URI.
    fn given_by_uri(
        uri: &str,
        malformed: impl Fn(&str) -> ConfigError,
    ) -> Result<Given, ConfigError> {
        let url = url::Url::parse(uri).map_err(|e| malformed(&e.to_string()))?;
        // libpq has no fragment: `postgresql://u:12#x@h/db` is a password with a `#` in it,
        // which `url` would read as host u, port 12.
        if url.fragment().is_some() {
            return Err(malformed(
                "a # in the URI (a literal # in a password or name is written %23)",
            ));
        }
        // `url` accepts what libpq would read as part of the database name, e.g. the
        // user:password@host of postgresql:///user:password@host/db. A literal `@` in a
        // database name is written %40.
        if url.path().contains('@') {
            return Err(malformed("an @ after the host (user information goes before it: postgresql://user@host/database; a literal @ in a database name is written %40)"));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let mut given = Given {
            host: url
                .host_str()
                .filter(|h| !h.is_empty())
                .map(|h| decode(h.trim_start_matches('[').trim_end_matches(']'))),
            port: url.port().map(|p| p.to_string()),
            user: (!url.username().is_empty()).then(|| decode(url.username())),
            password: url.password().map(decode),
            dbname: Some(url.path().trim_start_matches('/'))
                .filter(|p| !p.is_empty())
                .map(decode),
            ..Given::default()
        };
        for (k, v) in url.query_pairs() {
            given
                .set(&k, v.into_owned())
                .map_err(|why| malformed(&why))?;
        }
        Ok(given)
    }

    fn resolve(given: Given, env: &dyn Env) -> Result<Target, ConfigError> {
        let Given {
            host,
            port,
            user,
            password,
            dbname,
            sslmode,
            root_cert,
            connect_timeout,
            application_name,
        } = given;
        let port = port
            .map(|v| {
                v.parse::<u16>().map_err(|_| {
                    ConfigError::Invalid(format!("port {:?}", pgcutover_core::show(&v)))
                })
            })
            .transpose()?;
        let host = host
            .or_else(|| env.var("PGHOST"))
            .unwrap_or_else(default_host);
        let port = match port {
            Some(p) => p,
            None => match env.var("PGPORT") {
                Some(p) => p
                    .parse()
                    .map_err(|_| ConfigError::Invalid(format!("PGPORT {p:?}")))?,
                None => 5432,
            },
        };
        let user = user
            .or_else(|| env.var("PGUSER"))
            .or_else(|| env.var("USER"))
            .unwrap_or_else(|| "postgres".into());
        let dbname = dbname
            .or_else(|| env.var("PGDATABASE"))
            .unwrap_or_else(|| user.clone());
        let ssl = match sslmode {
            Some(m) => m,
            None => env
                .var("PGSSLMODE")
                .map(|m| SslMode::parse(&m))
                .transpose()?
                .unwrap_or(SslMode::Prefer),
        };
        let root_cert = root_cert
            .or_else(|| env.var("PGSSLROOTCERT").map(PathBuf::from))
            .or_else(|| {
                env.home()
                    .map(|h| h.join(".postgresql/root.crt"))
                    .filter(|p| p.exists())
            });
        let password = password.or_else(|| env.var("PGPASSWORD")).or_else(|| {
            let file = env
                .var("PGPASSFILE")
                .map(PathBuf::from)
                .or_else(|| env.home().map(|h| h.join(".pgpass")))?;
            pgpass_lookup(&file, &host, port, &dbname, &user)
        });
        let timeout = connect_timeout.or_else(|| env.var("PGCONNECT_TIMEOUT"));

        let mut config = Config::new();
        if host.starts_with('/') {
            config.host_path(&host);
        } else {
            config.host(&host);
        }
        config.port(port).user(&user).dbname(&dbname);
        config.application_name(application_name.as_deref().unwrap_or("pgcutover"));
        if let Some(p) = &password {
            config.password(p);
        }
        if let Some(t) = timeout
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|&t| t > 0)
        {
            config.connect_timeout(Duration::from_secs(t.max(2)));
        }
        config.ssl_mode(match ssl {
            SslMode::Disable => DriverSslMode::Disable,
            SslMode::Allow | SslMode::Prefer => DriverSslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverSslMode::Require,
        });
        let shown_host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        let display = if host.starts_with('/') {
            format!("postgresql://{user}@/{dbname}?host={host}&port={port}")
        } else {
            format!("postgresql://{user}@{shown_host}:{port}/{dbname}")
        };
        Ok(Target {
            config,
            ssl,
            root_cert,
            display,
            database: dbname,
            tls: std::sync::OnceLock::new(),
        })
    }

    /// The target without credentials, for output, logs and reports.
    pub fn display(&self) -> &str {
        &self.display
    }

    pub async fn connect(&self) -> Result<Client, ConnectError> {
        let wrap = |source| ConnectError::Connect {
            target: self.display.clone(),
            source,
        };
        let client = if self.ssl == SslMode::Disable {
            let (client, conn) = self
                .config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(wrap)?;
            tokio::spawn(conn);
            client
        } else {
            let tls = match self.tls.get() {
                Some(t) => t.clone(),
                None => {
                    let built = self.tls().map_err(|source| ConnectError::Tls {
                        target: self.display.clone(),
                        source,
                    })?;
                    self.tls.get_or_init(|| built).clone()
                }
            };
            let (client, conn) = self.config.connect(tls).await.map_err(wrap)?;
            tokio::spawn(conn);
            client
        };
        Ok(client)
    }

    fn tls(&self) -> Result<MakeTlsConnector, ConfigError> {
        let mut builder = TlsConnector::builder();
        match self.ssl {
            // libpq's prefer/require encrypt without checking who answers.
            // Nothing is checked against the system's CA store, so it is not loaded (parsing it
            // took a twentieth of a 1M-row copy's CPU).
            SslMode::Allow | SslMode::Prefer | SslMode::Require => {
                builder
                    .danger_accept_invalid_certs(true)
                    .danger_accept_invalid_hostnames(true)
                    .disable_built_in_roots(true);
            }
            SslMode::VerifyCa => {
                builder.danger_accept_invalid_hostnames(true);
            }
            SslMode::VerifyFull | SslMode::Disable => {}
        }
        if let (Some(path), SslMode::VerifyCa | SslMode::VerifyFull) = (&self.root_cert, self.ssl) {
            let pem = std::fs::read(path).map_err(|source| ConfigError::RootCert {
                path: path.display().to_string(),
                source,
            })?;
            builder.add_root_certificate(Certificate::from_pem(&pem)?);
        }
        Ok(MakeTlsConnector::new(builder.build()?))
    }
}

/// Splits a libpq keyword/value string into its pairs, as libpq's `conninfo_parse` does: blanks
/// around `=` are allowed, a value is either single-quoted (`\'` and `\\` escaped, blanks kept)
/// or runs to the next blank (a backslash escapes the next character there too). The error says
/// what is wrong without quoting the string: a stray word may be half a password.
fn parse_keywords(s: &str) -> Result<Vec<(String, String)>, &'static str> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && !c.is_ascii_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err("a word without \"=\" after it (write keyword=value pairs separated by blanks; quote a value holding blanks: password='a b')");
        }
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err("a quoted value without its closing quote"),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn default_host() -> String {
    ["/var/run/postgresql", "/tmp"]
        .into_iter()
        .find(|d| Path::new(d).join(".s.PGSQL.5432").exists())
        .map(str::to_owned)
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Looks a password up in a pgpass file: `host:port:database:user:password`, `*` matching
/// anything, `\:` and `\\` escaped. A Unix-socket host matches `localhost`, as in libpq.
pub fn pgpass_lookup(file: &Path, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let host = if host.starts_with('/') {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        if fields.len() != 5 {
            continue;
        }
        let m = |f: &str, v: &str| f == "*" || f == v;
        if m(&fields[0], host) && m(&fields[1], &port) && m(&fields[2], db) && m(&fields[3], user) {
            return Some(fields[4].clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    fields.last_mut().expect("starts with one field").push(n);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            _ => fields.last_mut().expect("starts with one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct FakeEnv(HashMap<&'static str, String>, Option<PathBuf>);
    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.1.clone()
        }
    }

    /// PGPORT=5433 and PGUSER=alice, and a home whose ~/.pgpass holds `pgpass`.
    fn alice_env(dir: &Path, pgpass: &str) -> FakeEnv {
        std::fs::write(dir.join(".pgpass"), pgpass).unwrap();
        FakeEnv(
            HashMap::from([
                ("PGPORT", "5433".to_owned()),
                ("PGUSER", "alice".to_owned()),
            ]),
            Some(dir.to_owned()),
        )
    }

    #[test]
    fn uri_wins_then_env_then_pgpass() {
        let dir = tempfile::tempdir().unwrap();
        let env = alice_env(
            dir.path(),
            "# comment\nother:*:*:*:nope\ndb.example:5433:app:alice:s3cr\\:et\n",
        );
        let t = Target::parse_with("postgresql://db.example/app?sslmode=require", &env).unwrap();
        assert_eq!(t.display(), "postgresql://alice@db.example:5433/app");
        assert_eq!(t.config.get_password(), Some(&b"s3cr:et"[..]));
        assert_eq!(t.ssl, SslMode::Require);
    }

    #[test]
    fn password_never_displayed() {
        let env = FakeEnv(HashMap::new(), None);
        let t = Target::parse_with("postgresql://bob:hunter2@127.0.0.1:5432/test", &env).unwrap();
        assert!(!t.display().contains("hunter2"));
        assert!(!format!("{t:?}").contains("hunter2"));
        assert_eq!(t.config.get_password(), Some(&b"hunter2"[..]));
    }

    #[test]
    fn rejects_bad_settings() {
        let env = FakeEnv(HashMap::new(), None);
        assert!(Target::parse_with("postgresql://h/db?sslmode=maybe", &env).is_err());
        assert!(Target::parse_with("mysql://h/db", &env).is_err());
        assert!(Target::parse_with("postgresql://h/db?bogus=1", &env).is_err());
    }

    #[test]
    fn keyword_value_pairs_are_split_as_libpq_splits_them() {
        let ok: &[(&str, &[(&str, &str)])] = &[
            ("host=db", &[("host", "db")]),
            (
                "  host = db\tport=5433  dbname=app ",
                &[("host", "db"), ("port", "5433"), ("dbname", "app")],
            ),
            (
                r"password='it\'s a \\ secret' user=ann",
                &[("password", r"it's a \ secret"), ("user", "ann")],
            ),
            (r"password=a\ b\\c", &[("password", r"a b\c")]),
            ("dbname='' user=x", &[("dbname", ""), ("user", "x")]),
            ("application_name=a=b", &[("application_name", "a=b")]),
            // libpq skips blanks after '=', so an empty unquoted value takes the next word.
            ("host= port=5432", &[("host", "port=5432")]),
            ("", &[]),
        ];
        for (input, want) in ok {
            let got = parse_keywords(input).unwrap();
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{input:?}");
        }
        for bad in ["host=db secret", "password='open", "host", "host=db =x y"] {
            assert!(parse_keywords(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keyword_value_resolves_like_the_uri() {
        let dir = tempfile::tempdir().unwrap();
        let env = alice_env(dir.path(), "db.example:5433:app:alice:from-pgpass\n");
        let uri = Target::parse_with("postgresql://db.example/app?sslmode=require", &env).unwrap();
        let kv = Target::parse_with("host=db.example dbname=app sslmode=require", &env).unwrap();
        assert_eq!(kv.display(), uri.display());
        assert_eq!(kv.display(), "postgresql://alice@db.example:5433/app");
        assert_eq!(kv.config.get_password(), Some(&b"from-pgpass"[..]));
        assert_eq!(kv.ssl, SslMode::Require);

        let kv = Target::parse_with(
            "host=/var/run/postgresql port=5432 user=postgres dbname=test password='x y' application_name=me connect_timeout=5",
            &env,
        )
        .unwrap();
        assert_eq!(
            kv.display(),
            "postgresql://postgres@/test?host=/var/run/postgresql&port=5432"
        );
        assert_eq!(kv.config.get_password(), Some(&b"x y"[..]));
        assert_eq!(kv.config.get_application_name(), Some("me"));
        assert!(Target::parse_with("host=h sslmode=maybe", &env).is_err());
        assert!(Target::parse_with("host=h port=http", &env).is_err());
        assert!(Target::parse_with("host=h hostaddr=1.2.3.4", &env).is_err());
    }

    #[test]
    fn malformed_targets_are_refused_with_the_password_masked() {
        let env = FakeEnv(HashMap::new(), None);
        for bad in [
            "postgres:/user:S3KRIT@127.0.0.1/db",
            "postgresql:user:S3KRIT@127.0.0.1/db",
            "postgresql:/user:S3KRIT@127.0.0.1/db",
            "POSTGRESQL://user:S3KRIT@127.0.0.1/db",
            "postgresql//user:S3KRIT@127.0.0.1/db",
            "user:S3KRIT@127.0.0.1/db",
            "postgresql:///user:S3KRIT@127.0.0.1/db",
            "postgresql://127.0.0.1/user:S3KRIT@x",
            "postgresql://user:S3KRIT@127.0.0.1:port/db",
            "host=127.0.0.1 password=S3KRIT dbname",
            "host=127.0.0.1 password='S3KRIT",
            "host=127.0.0.1 password=S3KRIT more",
            "app",
        ] {
            match Target::parse_with(bad, &env) {
                Err(e @ ConfigError::Malformed { .. }) => {
                    let shown = e.to_string();
                    assert!(!shown.contains("S3KRIT"), "{bad}: {shown}");
                    assert!(shown.starts_with("TARGET \""), "{shown}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn socket_host_from_query() {
        let env = FakeEnv(HashMap::new(), None);
        let t = Target::parse_with(
            "postgresql:///test?host=/var/run/postgresql&user=postgres",
            &env,
        )
        .unwrap();
        assert_eq!(
            t.display(),
            "postgresql://postgres@/test?host=/var/run/postgresql&port=5432"
        );
    }
}
