//! Trunk files (`sip-profiles/trunks/*.toml`): carrier trunks and route groups, validated.
