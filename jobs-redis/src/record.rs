//! The job record as the scripts store it (a msgpack array; the format is defined in
//! `lua/lib.lua`). Decoded here rather than in Lua: reserve hands records out as stored,
//! which keeps the unpacking off the Redis server's single core.

use rmpv::Value;

/// What a worker needs of a record at reservation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub name: String,
    pub payload: Vec<u8>,
    pub max_attempts: u32,
    /// Attempts used by deliveries that ended; the current one is not counted yet.
    pub attempts: u32,
    /// Deliveries that ended; the current one is not counted yet.
    pub deliveries: u32,
    /// The batch it belongs to.
    pub batch: Option<jobs_core::BatchId>,
    /// Its limit key.
    pub limit_key: Option<String>,
}

// 1-based positions in lib.lua: F_NAME, F_PAYLOAD, F_MAX_ATTEMPTS, F_ATTEMPTS, F_DELIVERIES.
const NAME: usize = 0;
const PAYLOAD: usize = 1;
const MAX_ATTEMPTS: usize = 3;
const ATTEMPTS: usize = 4;
const DELIVERIES: usize = 5;
const BATCH: usize = 14;
// F_KEY.
const KEY: usize = 16;

/// Decodes a stored record; `Err` says what is wrong with it.
pub(crate) fn decode(mut raw: &[u8]) -> Result<Record, String> {
    let value = rmpv::decode::read_value(&mut raw).map_err(|e| format!("not msgpack: {e}"))?;
    let Value::Array(fields) = value else {
        return Err(format!("not a msgpack array: {value}"));
    };
    let bytes = |i: usize| match fields.get(i) {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Binary(b)) => Ok(b.clone()),
        other => Err(format!("field {} is not a string: {other:?}", i + 1)),
    };
    let count = |i: usize| {
        fields
            .get(i)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| format!("field {} is not a count: {:?}", i + 1, fields.get(i)))
    };
    Ok(Record {
        name: String::from_utf8(bytes(NAME)?).map_err(|e| format!("name is not UTF-8: {e}"))?,
        payload: bytes(PAYLOAD)?,
        max_attempts: count(MAX_ATTEMPTS)?,
        attempts: count(ATTEMPTS)?,
        deliveries: count(DELIVERIES)?,
        batch: match fields.get(BATCH) {
            Some(Value::String(s)) => Some(
                s.as_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("field {} is not a batch id: {s:?}", BATCH + 1))?,
            ),
            _ => None,
        },
        limit_key: match fields.get(KEY) {
            Some(Value::String(s)) => Some(
                s.as_str()
                    .ok_or_else(|| format!("field {} is not UTF-8: {s:?}", KEY + 1))?
                    .to_owned(),
            ),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &v).unwrap();
        out
    }

    #[test]
    fn decodes_a_waiting_record() {
        let raw = pack(Value::Array(vec![
            "format_disk".into(),
            Value::Binary(b"{\"host\":\"a\"}".to_vec()),
            0.into(),
            25.into(),
            2.into(),
            3.into(),
            1.into(),
            1_700_000_000_000_u64.into(),
            0.into(),
        ]));
        let rec = decode(&raw).unwrap();
        assert_eq!(rec.name, "format_disk");
        assert_eq!(rec.payload, b"{\"host\":\"a\"}");
        assert_eq!((rec.max_attempts, rec.attempts, rec.deliveries), (25, 2, 3));
    }

    #[test]
    fn reports_what_is_wrong() {
        assert!(decode(b"junk").unwrap_err().contains("not"));
        let short = pack(Value::Array(vec!["x".into()]));
        assert!(decode(&short).unwrap_err().contains("field 2"));
    }
}
