//! SIPp, a real SIP peer, against the real switch: registration with digest auth, refusal and
//! ban of wrong passwords, unregistration and OPTIONS, over UDP and TCP.

use crate::harness::{Profile, Switch, password_of};
use crate::sipp::{Sipp, Transport};

#[test]
fn sipp_registers_with_digest_auth_over_udp() {
    let switch = Switch::start();
    Sipp::new("register_auth", "1000", &password_of(1000))
        .run(&switch)
        .assert_success("REGISTER with digest auth over UDP");
}

#[test]
fn sipp_registers_with_digest_auth_over_tcp() {
    let switch = Switch::start();
    Sipp::new("register_auth", "1001", &password_of(1001))
        .transport(Transport::Tcp)
        .run(&switch)
        .assert_success("REGISTER with digest auth over TCP");
}

#[test]
fn sipp_wrong_password_is_challenged_then_refused_with_403() {
    let switch = Switch::start();
    Sipp::new("register_wrong_password", "1000", "not-the-password")
        .run(&switch)
        .assert_success("wrong password: 401 then 403");
}

#[test]
fn repeated_wrong_passwords_ban_the_source_even_for_the_right_password() {
    let profile = Profile {
        max_failures: 3,
        ..Profile::default()
    };
    let switch = Switch::start_with(&profile);
    // Before any failure the right password works: the ban below is caused by the failures.
    Sipp::new("register_auth", "1001", &password_of(1001))
        .run(&switch)
        .assert_success("right password before any failure");
    Sipp::new("register_wrong_password", "1000", "not-the-password")
        .calls(3)
        .run(&switch)
        .assert_success("three wrong passwords");
    // Another user, the right password, a new SIPp (new source port): still refused, because
    // the source address is banned.
    Sipp::new("register_banned", "1002", &password_of(1002))
        .run(&switch)
        .assert_success("right password from a banned source gets 403");
    assert!(
        switch.log().to_ascii_lowercase().contains("ban"),
        "the ban is logged; log:\n{}",
        switch.log()
    );
}

#[test]
fn sipp_unregister_leaves_no_contact_over_udp() {
    let switch = Switch::start();
    Sipp::new("unregister", "1003", &password_of(1003))
        .run(&switch)
        .assert_success("register, then Expires: 0 -> 200 without Contact");
}

#[test]
fn sipp_unregister_leaves_no_contact_over_tcp() {
    let switch = Switch::start();
    Sipp::new("unregister", "1003", &password_of(1003))
        .transport(Transport::Tcp)
        .run(&switch)
        .assert_success("unregister over TCP");
}

#[test]
fn sipp_options_gets_200_with_allow_over_udp_and_tcp() {
    let switch = Switch::start();
    Sipp::new("options", "1000", "unused")
        .run(&switch)
        .assert_success("OPTIONS over UDP");
    Sipp::new("options", "1000", "unused")
        .transport(Transport::Tcp)
        .run(&switch)
        .assert_success("OPTIONS over TCP");
}
