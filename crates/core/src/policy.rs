//! What every source does with values PostgreSQL cannot hold as they are: the operator's
//! choices ([`ValuePolicy`]) and the reason a value is rejected ([`Problem`]).

use std::borrow::Cow;

/// What to do with text that contains NUL bytes, which PostgreSQL text cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NulPolicy {
    #[default]
    Reject,
    Strip,
}

/// What to do with text that is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Utf8Policy {
    #[default]
    Reject,
    /// Replace invalid sequences with U+FFFD (a change to the value, counted in the report).
    Replace,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ValuePolicy {
    pub nul_bytes: NulPolicy,
    pub invalid_utf8: Utf8Policy,
    /// The zone a SQLite source's wall-clock times are in (`--source-timezone`): what an
    /// instant (a Unix epoch, text with an offset) shows in a `timestamp` column, and what
    /// offset-less text means in a `timestamptz` one.
    pub zone: crate::zone::SourceZone,
}

/// Why a value cannot arrive exactly, and what the operator can do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub reason: String,
    pub hint: &'static str,
}

pub fn problem(reason: impl Into<String>, hint: &'static str) -> Problem {
    Problem {
        reason: reason.into(),
        hint,
    }
}

pub fn utf8(b: &[u8]) -> Result<&str, Problem> {
    std::str::from_utf8(b).map_err(|e| {
        problem(
            format!("text is not valid UTF-8 ({e})"),
            "use --invalid-utf8 replace to substitute U+FFFD, or fix the source",
        )
    })
}

/// Bytes that should be UTF-8 text → text PostgreSQL accepts, under the policy.
pub fn text_from_bytes<'a>(b: &'a [u8], policy: &ValuePolicy) -> Result<Cow<'a, str>, Problem> {
    let text = match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) if policy.invalid_utf8 == Utf8Policy::Replace => String::from_utf8_lossy(b),
        Err(_) => utf8(b).map(Cow::Borrowed)?,
    };
    strip_or_reject_nul(text, policy)
}

pub fn strip_or_reject_nul<'a>(
    text: Cow<'a, str>,
    policy: &ValuePolicy,
) -> Result<Cow<'a, str>, Problem> {
    if !text.contains('\0') {
        return Ok(text);
    }
    match policy.nul_bytes {
        NulPolicy::Strip => Ok(Cow::Owned(text.replace('\0', ""))),
        NulPolicy::Reject => Err(problem(
            "text contains a NUL byte, which PostgreSQL text cannot hold",
            "use --nul-bytes strip to drop NUL bytes, or map the column to bytea (--cast)",
        )),
    }
}

/// Checks that `text` is JSON that jsonb accepts.
pub fn check_json(text: &str, hint: &'static str) -> Result<(), Problem> {
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(problem(format!("invalid JSON: {e}"), hint));
    }
    reject_jsonb_nul(text, hint)
}

/// jsonb cannot store the NUL character, even as an escape.
pub fn reject_jsonb_nul(text: &str, hint: &'static str) -> Result<(), Problem> {
    if text.contains("\\u0000") {
        return Err(problem(
            "JSON string contains \\u0000, which jsonb cannot hold",
            hint,
        ));
    }
    Ok(())
}
