//! Offloaded payloads (items over the DynamoDB size limit, see [`super::dynamo`]): once an
//! item's pointer names its new payload, the older ones go.

use crate::aws::failure::Failed;
use crate::aws::s3;

/// Deletes the other payloads of an offloaded item once its pointer names `keep`
/// (`<folder>/<sha256>.json`): the other `<folder>/*` objects (older contents, or payloads of a
/// killed run) and `<folder>.json` (the layout before payloads were named by their hash).
/// Returns the number of retried attempts.
pub async fn remove_others(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    keep: &str,
) -> Result<u32, Failed> {
    let Some((folder, _)) = keep.rsplit_once('/') else {
        return Ok(0);
    };
    let mut doomed = vec![format!("{folder}.json")];
    let listed = s3::list(c, bucket, &format!("{folder}/")).await?;
    doomed.extend(listed.into_iter().map(|o| o.key).filter(|k| k != keep));
    let mut retries = 0;
    for k in doomed {
        retries += s3::delete(c, bucket, &k).await?;
    }
    Ok(retries)
}
