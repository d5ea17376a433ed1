//! DynamoDB items: JSON <-> AttributeValue (numbers as exact decimal strings, structure kept:
//! maps, lists, strings, numbers, booleans, null), item size, batched idempotent writes.
//!
//! Items over the 400 KB limit (the référentiel is ~1 MB, a comptages day can be many MB) are
//! stored without loss: the payload object (`metrics` or `report`) goes to S3 as compact JSON
//! under `<payload prefix>/<table>/<pk>/<date>/<sha256>.json`, and the item keeps its keys,
//! `timestamp`, `ttl` and a pointer `{payload_s3_uri, sha256, bytes}`. [`item_to_json`] + the S3 read in
//! `upload::verify` give the whole object back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use serde_json::{Map, Number, Value};

/// Items above this (bytes, as DynamoDB counts them) are offloaded to S3 (limit: 400 KB).
pub const OFFLOAD_ABOVE: usize = 350 * 1024;

/// JSON -> AttributeValue. Numbers keep their exact decimal text.
pub fn to_attr(v: &Value) -> AttributeValue {
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(to_attr).collect()),
        Value::Object(o) => {
            AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

/// AttributeValue -> JSON (numbers back from their decimal text; maps with sorted keys).
pub fn from_attr(a: &AttributeValue) -> Value {
    match a {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(n) => parse_number(n),
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::L(l) => Value::Array(l.iter().map(from_attr).collect()),
        AttributeValue::M(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), from_attr(&m[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        AttributeValue::Ss(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(v) => Value::Array(v.iter().map(|n| parse_number(n)).collect()),
        _ => Value::Null,
    }
}

fn parse_number(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::Number(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::Number(u.into());
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::String(n.to_string()))
}

/// Equality of two JSON values with numbers compared by value (`1034.0` = `1034`) and maps
/// compared whatever their key order.
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

/// The size DynamoDB counts for an item (names + values), close to its own rule.
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    item.iter().map(|(k, v)| k.len() + attr_size(v)).sum()
}

fn attr_size(a: &AttributeValue) -> usize {
    match a {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len().div_ceil(2) + 1,
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|v| attr_size(v) + 1).sum::<usize>(),
        AttributeValue::M(m) => {
            3 + m
                .iter()
                .map(|(k, v)| k.len() + attr_size(v) + 1)
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// Reads an item back as the local envelope's JSON (offload pointers left as they are).
pub fn item_to_json(item: &HashMap<String, AttributeValue>) -> Value {
    from_attr(&AttributeValue::M(item.clone()))
}

/// Rounds of `UnprocessedItems` accepted before a batch is reported as failed.
pub const MAX_UNPROCESSED_ROUNDS: u32 = 15;

/// Writes items (≤ 25 per `BatchWriteItem`), retrying errors worth retrying
/// ([`crate::aws::retry`]) and the `UnprocessedItems` the server hands back, with exponential
/// backoff and jitter. Returns the number of retried attempts.
pub async fn batch_put(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<HashMap<String, AttributeValue>>,
) -> Result<u32, crate::aws::failure::Failed> {
    use crate::aws::failure::{classify, describe, Failure};
    use crate::aws::retry::{backoff, retry};
    debug_assert!(items.len() <= 25);
    let mut pending: Vec<WriteRequest> = items
        .into_iter()
        .map(|item| {
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("item is set");
            WriteRequest::builder().put_request(put).build()
        })
        .collect();
    let mut retries = 0u32;
    let mut rounds = 0u32;
    while !pending.is_empty() {
        let (res, r) = retry(client, || {
            client
                .batch_write_item()
                .request_items(table, pending.clone())
                .send()
        })
        .await;
        retries += r;
        let out = res.map_err(|e| (classify(&e), describe(&e)))?;
        pending = out
            .unprocessed_items
            .and_then(|mut m| m.remove(table))
            .unwrap_or_default();
        if pending.is_empty() {
            break;
        }
        rounds += 1;
        if rounds >= MAX_UNPROCESSED_ROUNDS {
            let msg = format!(
                "{} item(s) still unprocessed after {rounds} rounds of UnprocessedItems",
                pending.len()
            );
            return Err((Failure::Other, msg));
        }
        retries += 1;
        tokio::time::sleep(backoff(rounds)).await;
    }
    Ok(retries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_structure_and_exact_numbers() {
        let v = json!({"a": 17.922639583333332, "b": [1, 2.5, null, true, "x"], "c": {"d": -0.0001, "e": 12345678901234567u64}, "f": 1e-7});
        let a = to_attr(&v);
        match &a {
            AttributeValue::M(m) => {
                assert_eq!(m["a"], AttributeValue::N("17.922639583333332".into()))
            }
            _ => panic!(),
        }
        let back = from_attr(&a);
        assert!(same_json(&v, &back), "{back}");
        assert!(same_json(&json!(1034.0), &json!(1034)));
        assert!(!same_json(&json!({"a": 1}), &json!({"a": 2})));
    }

    #[test]
    fn sizes_grow_with_content() {
        let small: HashMap<String, AttributeValue> =
            [("k".to_string(), AttributeValue::S("abc".into()))].into();
        assert_eq!(item_size(&small), 4);
        let big = to_attr(&json!({"x": "y".repeat(1000)}));
        let m: HashMap<String, AttributeValue> = [("m".to_string(), big)].into();
        assert!(item_size(&m) > 1000);
    }
}
