//! Dialplan files (`dialplans/*.toml`): contexts of ordered rules, validated.
