//! Request bodies as Lambda limits them: the payload limits and reading a body to them, for both APIs.

/// The largest payload Lambda takes on a synchronous invocation (6 MiB, 6,291,456 bytes).
pub(super) const MAX_REQUEST_PAYLOAD: usize = 6 * 1024 * 1024;
/// The largest response it returns: 100 bytes more than it takes (6,291,556 bytes).
pub(super) const MAX_RESPONSE_PAYLOAD: usize = MAX_REQUEST_PAYLOAD + 100;
/// How much of an oversized body is still read (and thrown away) to count it and answer on the same connection.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Why a request body was not read whole.
#[derive(Debug)]
pub(super) enum BodyError {
    /// Longer than allowed.
    TooLarge,
    /// The connection failed while reading it.
    Broken(String),
}

/// Reads a request body of at most `limit` bytes. Reading goes on past the limit only to count (never to keep)
/// what comes, so an oversized body gets Lambda's own error, not a bare 413 from the HTTP server.
pub(super) async fn read_body(body: axum::body::Body, limit: usize) -> Result<axum::body::Bytes, BodyError> {
    use futures::StreamExt;
    let mut stream = body.into_data_stream();
    let mut kept = Vec::new();
    let mut size = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Broken(e.to_string()))?;
        size = size.saturating_add(chunk.len());
        if size > DRAIN_LIMIT {
            break;
        }
        if size <= limit {
            kept.extend_from_slice(&chunk);
        } else {
            kept = Vec::new();
        }
    }
    if size > limit { Err(BodyError::TooLarge) } else { Ok(kept.into()) }
}
