//! Voice notifications: agentless outbound calls that play prompts, optionally collect a
//! confirmation digit, retry per policy inside a calling window, and report the outcome.
