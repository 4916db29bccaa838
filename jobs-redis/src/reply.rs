//! Reading script replies: small, strict accessors that report a reply of the wrong shape
//! as corrupt data instead of panicking.

use jobs_core::{BackendError, JobId};
use redis::Value;

use crate::error::corrupt;

pub(crate) fn array(v: Value) -> Result<Vec<Value>, BackendError> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(corrupt(format!("expected an array reply, got {other:?}"))),
    }
}

pub(crate) fn int(v: &Value) -> Result<i64, BackendError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(|f| f as i64)
            .ok_or_else(|| {
                corrupt(format!(
                    "expected a number, got {:?}",
                    String::from_utf8_lossy(b)
                ))
            }),
        other => Err(corrupt(format!("expected a number, got {other:?}"))),
    }
}

pub(crate) fn uint(v: &Value) -> Result<u64, BackendError> {
    u64::try_from(int(v)?).map_err(|_| corrupt("expected a non-negative number"))
}

/// A number, or `None` for the empty string the scripts use for "absent".
pub(crate) fn opt_uint(v: &Value) -> Result<Option<u64>, BackendError> {
    match v {
        Value::BulkString(b) if b.is_empty() => Ok(None),
        Value::Nil => Ok(None),
        other => uint(other).map(Some),
    }
}

pub(crate) fn bytes(v: Value) -> Result<Vec<u8>, BackendError> {
    match v {
        Value::BulkString(b) => Ok(b),
        Value::SimpleString(s) => Ok(s.into_bytes()),
        Value::Int(i) => Ok(i.to_string().into_bytes()),
        other => Err(corrupt(format!("expected a string, got {other:?}"))),
    }
}

/// Bytes, or `None` for the empty string.
pub(crate) fn opt_bytes(v: Value) -> Result<Option<Vec<u8>>, BackendError> {
    bytes(v).map(|b| (!b.is_empty()).then_some(b))
}

pub(crate) fn string(v: Value) -> Result<String, BackendError> {
    String::from_utf8(bytes(v)?).map_err(|e| corrupt(format!("expected UTF-8 text: {e}")))
}

pub(crate) fn job_id(v: Value) -> Result<JobId, BackendError> {
    let s = string(v)?;
    s.parse()
        .map_err(|e| corrupt(format!("bad job id {s:?} in the store: {e}")))
}

/// Takes the next `N` values of a flat reply.
pub(crate) fn take<const N: usize>(
    it: &mut impl Iterator<Item = Value>,
) -> Result<[Value; N], BackendError> {
    let mut out: [Value; N] = std::array::from_fn(|_| Value::Nil);
    for slot in &mut out {
        *slot = it
            .next()
            .ok_or_else(|| corrupt("reply shorter than expected"))?;
    }
    Ok(out)
}
