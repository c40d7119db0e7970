//! Webhooks: the durable outbox fed from the event bus, signed delivery with retries and
//! backoff, dead letters, and their API endpoints.
