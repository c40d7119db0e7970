//! What every route decision reads, swapped whole on reload: the dialplan, the trunks, the
//! phone directory and the IVR menus. A call takes one snapshot when it starts and keeps it (a reload does not
//! change calls in progress).

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::directory::Directory;
use crate::config::Config;
use crate::config::dialplan::DialplanConfig;
use crate::config::ivr::IvrMenus;
use crate::trunk::Trunks;

/// One consistent routing configuration.
#[derive(Debug)]
pub struct Routing {
    /// Contexts and rules.
    pub dialplan: DialplanConfig,
    /// Carrier trunks and route groups, with their live state (calls, limits, health).
    pub trunks: Trunks,
    /// The phones extensions name.
    pub directory: Directory,
    /// IVR menus with their prompts.
    pub ivr: Arc<IvrMenus>,
}

impl Routing {
    /// The routing of `config`, over `trunks` (built from the same config).
    pub fn new(config: &Config, trunks: Trunks) -> Self {
        Self {
            dialplan: config.dialplan().clone(),
            trunks,
            directory: Directory::from_config(config),
            ivr: Arc::clone(config.ivr()),
        }
    }
}

/// The live routing, shared by every switchboard; reloads store a new one.
pub type SharedRouting = Arc<ArcSwap<Routing>>;
