//! Reloading the routing by SIGHUP: a bad dialplan is refused and the running one stays; a
//! good one is swapped in and the next call follows it.

use std::time::Duration;

use crate::trunk_peers::{DIALPLAN, Trunk, TrunkSwitch, phone_call};
use crate::trunks::{ports, priority};

/// How long a reload may take to show in the log.
const RELOAD_WITHIN: Duration = Duration::from_secs(10);

#[test]
fn sighup_refuses_a_bad_dialplan_and_swaps_in_a_good_one() {
    let [gateway] = ports();
    let sw = TrunkSwitch::start(
        &[Trunk::new("carrier-a", gateway)],
        &priority(&["carrier-a"]),
        "",
    );
    // 1999 matches the extensions rule but no user has that name.
    phone_call(&sw, "call_uac_404", "1999")
        .run()
        .assert_success("1999 is no extension before the reload");

    let file = sw.switch.config_dir().join("dialplans/it.toml");
    let broken = DIALPLAN.replace("route_group = \"pstn\"", "goto = \"nowhere\"");
    std::fs::write(&file, broken).expect("write the broken dialplan");
    sw.switch.hang_up_signal();
    sw.switch.wait_for_log("reload refused", 1, RELOAD_WITHIN);
    assert!(
        sw.switch.log().contains("unknown context \"nowhere\""),
        "the refusal names the error:\n{}",
        sw.switch.log()
    );
    phone_call(&sw, "call_uac_404", "1999")
        .run()
        .assert_success("the running dialplan stayed");

    let busy = DIALPLAN.replacen(
        "[[context.rule]]\nname = \"extensions\"",
        "[[context.rule]]\nname = \"closed\"\ndestination = \"1999\"\nhangup = 486\n\n\
         [[context.rule]]\nname = \"extensions\"",
        1,
    );
    assert_ne!(busy, DIALPLAN);
    std::fs::write(&file, busy).expect("write the new dialplan");
    sw.switch.hang_up_signal();
    sw.switch.wait_for_log("routing reloaded", 1, RELOAD_WITHIN);
    phone_call(&sw, "call_uac_486", "1999")
        .run()
        .assert_success("the new rule answers 486");
}
