//! Named points in a run where a test can stop it, to kill it (SIGKILL) or interrupt it
//! (SIGINT) at an exact moment. Inert unless `PGCUTOVER_TEST_STOP_AT` is set.
//!
//! `PGCUTOVER_TEST_STOP_AT=POINT:N` and `PGCUTOVER_TEST_STOP_FILE=PATH`: the Nth time the run
//! passes POINT, it writes PATH and waits (at most a minute) until the test removes it. The
//! thread that hit the point waits; the rest of the run goes on meanwhile.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

struct Armed {
    point: String,
    nth: u64,
    file: std::path::PathBuf,
}

fn armed() -> Option<&'static Armed> {
    static ARMED: OnceLock<Option<Armed>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let spec = std::env::var("PGCUTOVER_TEST_STOP_AT").ok()?;
            let file = std::env::var_os("PGCUTOVER_TEST_STOP_FILE")?;
            let (point, nth) = spec.rsplit_once(':')?;
            Some(Armed {
                point: point.to_owned(),
                nth: nth.parse().ok()?,
                file: file.into(),
            })
        })
        .as_ref()
}

/// Passes the named point.
pub fn hit(point: &str) {
    let Some(a) = armed() else { return };
    if a.point != point {
        return;
    }
    static COUNTS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let n = {
        let mut counts = COUNTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let n = counts.entry(point.to_owned()).or_insert(0);
        *n += 1;
        *n
    };
    if n != a.nth || std::fs::write(&a.file, point).is_err() {
        return;
    }
    for _ in 0..6000 {
        if !a.file.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
