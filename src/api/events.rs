//! `GET /api/v1/events`: the live event WebSocket (filter by type, resume by sequence number,
//! slow subscribers cut off with a close reason).
