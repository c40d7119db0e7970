//! SDP serializer: writes a `SessionDescription` with CRLF in RFC 8866 §5 canonical order.
//!
//! Pure: no I/O.

use std::fmt::{self, Write};

use super::model::{Attribute, Bandwidth, Connection, MediaDescription, SessionDescription};

impl SessionDescription {
    /// The description as SDP text with CRLF line endings.
    pub fn serialize(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for SessionDescription {
    // RFC 8866 §5: v o s [i] [u] [e] [p] [c] [b] t [r] [z] [k] [a] m...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v=0\r\n")?;
        write!(
            f,
            "o={} {} {} IN {} {}\r\n",
            o.username,
            o.session_id,
            o.session_version,
            o.addr_type.as_str(),
            o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(i) = &self.info {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = &self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write_connection(f, c)?;
        }
        write_bandwidths(f, &self.bandwidths)?;
        for t in &self.timings {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(z) = &self.zone {
            write!(f, "z={z}\r\n")?;
        }
        if let Some(k) = &self.key {
            write!(f, "k={k}\r\n")?;
        }
        write_attributes(f, &self.attributes)?;
        for m in &self.media {
            write_media(f, m)?;
        }
        Ok(())
    }
}

// RFC 8866 §5.14: m= [i] [c]* [b]* [k] [a]*
fn write_media(f: &mut fmt::Formatter<'_>, m: &MediaDescription) -> fmt::Result {
    write!(f, "m={} {}", m.media, m.port)?;
    if let Some(n) = m.port_count {
        write!(f, "/{n}")?;
    }
    write!(f, " {}", m.proto)?;
    for fmt in &m.formats {
        write!(f, " {fmt}")?;
    }
    f.write_str("\r\n")?;
    if let Some(i) = &m.info {
        write!(f, "i={i}\r\n")?;
    }
    for c in &m.connections {
        write_connection(f, c)?;
    }
    write_bandwidths(f, &m.bandwidths)?;
    if let Some(k) = &m.key {
        write!(f, "k={k}\r\n")?;
    }
    write_attributes(f, &m.attributes)
}

fn write_connection(f: &mut fmt::Formatter<'_>, c: &Connection) -> fmt::Result {
    write!(f, "c=IN {} {}", c.addr_type.as_str(), c.address)?;
    if let Some(ttl) = c.ttl {
        write!(f, "/{ttl}")?;
    }
    if let Some(n) = c.count {
        write!(f, "/{n}")?;
    }
    f.write_str("\r\n")
}

fn write_bandwidths(f: &mut fmt::Formatter<'_>, bws: &[Bandwidth]) -> fmt::Result {
    for b in bws {
        write!(f, "b={}:{}\r\n", b.modifier, b.value)?;
    }
    Ok(())
}

fn write_attributes(f: &mut fmt::Formatter<'_>, attrs: &[Attribute]) -> fmt::Result {
    for a in attrs {
        f.write_str("a=")?;
        f.write_str(&a.name)?;
        if let Some(v) = &a.value {
            f.write_char(':')?;
            f.write_str(v)?;
        }
        f.write_str("\r\n")?;
    }
    Ok(())
}
