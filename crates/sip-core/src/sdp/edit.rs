//! In-place edits the media relay makes to a session description before forwarding it.
//!
//! Pure: no I/O.

use std::net::IpAddr;

use super::error::SdpError;
use super::model::{Attribute, Connection, Rtcp, SessionDescription};

impl SessionDescription {
    /// Points the session-level `c=` and every media-level `c=` at `ip` (media anchoring).
    pub fn set_connection_address(&mut self, ip: IpAddr) {
        let connection = Connection::from_ip(ip);
        self.connection = Some(connection.clone());
        for m in &mut self.media {
            if !m.connections.is_empty() {
                m.connections = vec![connection.clone()];
            }
        }
    }

    /// Sets the `o=` address (the relay's own address when it rewrites the offer).
    pub fn set_origin_address(&mut self, ip: IpAddr) {
        let c = Connection::from_ip(ip);
        self.origin.addr_type = c.addr_type;
        self.origin.address = c.address;
    }

    /// Sets the transport port of media `index`.
    pub fn set_media_port(&mut self, index: usize, port: u16) -> Result<(), SdpError> {
        let media = self
            .media
            .get_mut(index)
            .ok_or(SdpError::NoSuchMedia(index))?;
        media.port = port;
        Ok(())
    }

    /// Replaces (or with `None` removes) the RFC 3605 `a=rtcp` attribute of media `index`.
    pub fn set_rtcp(&mut self, index: usize, rtcp: Option<Rtcp>) -> Result<(), SdpError> {
        let media = self
            .media
            .get_mut(index)
            .ok_or(SdpError::NoSuchMedia(index))?;
        let position = media.attributes.iter().position(|a| a.name == "rtcp");
        media.attributes.retain(|a| a.name != "rtcp");
        if let Some(rtcp) = rtcp {
            let attr = Attribute::value("rtcp", rtcp.to_string());
            let at = position.unwrap_or(media.attributes.len());
            media
                .attributes
                .insert(at.min(media.attributes.len()), attr);
        }
        Ok(())
    }

    /// RFC 3264 §8: each new offer or answer in a session carries the version plus one.
    pub fn bump_version(&mut self) {
        self.origin.session_version = self.origin.session_version.wrapping_add(1);
    }
}
