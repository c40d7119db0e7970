//! IVR menus: prompts, digit maps, digit collection into call variables, transfers, the
//! webhook step. Runs as a [`crate::call::app::CallApp`] on a call the switch answered.
