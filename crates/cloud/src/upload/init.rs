//! `upload --init`: the tables (and the bucket) a destination needs.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use crate::aws::client::Clients;
use crate::aws::failure::{classify, describe, Failed, Failure};
use crate::aws::health;
use crate::aws::options::AwsOptions;
use crate::aws::retry::{dynamodb_timeouts, retry_check};

/// Creates the tables `(name, partition key)` if missing (on-demand billing, sort key `date`),
/// enables TTL on `ttl`, and creates the buckets given (with where their names come from).
/// Returns what was done, one line each.
pub async fn init(
    c: &Clients,
    aws: &AwsOptions,
    tables: &[(&str, &str)],
    buckets: &[(&str, &health::BucketHint)],
) -> Result<Vec<String>, Failed> {
    let mut done = Vec::new();
    let at = aws.dynamodb_shown();
    for (table, pk) in tables {
        tracing::info!("--init: table {table} at {at} ...");
        let t = create_table(&c.dynamodb, table, pk).await;
        done.push(t.map_err(|(f, m)| (f, format!("{m} (at {at})")))?);
        done.push(enable_ttl(&c.dynamodb, table).await?);
    }
    let at = aws.s3_shown();
    for (b, hint) in buckets {
        done.push(match health::bucket(&c.s3, &at, b, true, hint).await? {
            health::Bucket::Existed => format!("bucket {b}: exists"),
            health::Bucket::Created => format!("bucket {b}: created"),
        });
    }
    Ok(done)
}

async fn create_table(
    c: &aws_sdk_dynamodb::Client,
    table: &str,
    pk: &str,
) -> Result<String, Failed> {
    let (r, _) = retry_check(&dynamodb_timeouts(c), || {
        c.describe_table().table_name(table).send()
    })
    .await;
    match r {
        Ok(_) => return Ok(format!("table {table}: exists")),
        Err(e) if classify(&e) == Failure::Missing => {}
        Err(e) => return Err((classify(&e), format!("table {table}: {}", describe(&e)))),
    }
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("complete")
    };
    let key = |n: &str, k: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
            .expect("complete")
    };
    c.create_table()
        .table_name(table)
        .attribute_definitions(attr(pk))
        .attribute_definitions(attr("date"))
        .key_schema(key(pk, KeyType::Hash))
        .key_schema(key("date", KeyType::Range))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| {
            let m = format!("creating table {table}: {}", describe(&e));
            (classify(&e), m)
        })?;
    Ok(format!("table {table}: created ({pk}, date)"))
}

async fn enable_ttl(c: &aws_sdk_dynamodb::Client, table: &str) -> Result<String, Failed> {
    let spec = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name("ttl")
        .build()
        .expect("complete");
    match c
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
    {
        Ok(_) => Ok(format!("table {table}: TTL on `ttl`")),
        // Already enabled is not an error.
        Err(e) if describe(&e).contains("already enabled") => {
            Ok(format!("table {table}: TTL already on"))
        }
        Err(e) => Err((classify(&e), format!("TTL on {table}: {}", describe(&e)))),
    }
}
