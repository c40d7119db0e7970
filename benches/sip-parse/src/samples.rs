//! The messages every parser in the bench reads: what a softswitch sees most.

/// An INVITE from a softphone with an SDP offer (G.711 and telephone-event).
pub const INVITE: &[u8] = b"INVITE sip:1001@pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
From: \"Alice\" <sip:1000@pbx.example.com>;tag=1928301774\r\n\
To: <sip:1001@pbx.example.com>\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1000@192.0.2.10:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r\n\
Supported: replaces, timer\r\n\
User-Agent: Softphone/5.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 238\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// A REGISTER answering a digest challenge (MD5, qop=auth).
pub const REGISTER: &[u8] = b"REGISTER sip:pbx.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bKnashds7\r\n\
Max-Forwards: 70\r\n\
From: <sip:1000@pbx.example.com>;tag=a73kszlfl\r\n\
To: <sip:1000@pbx.example.com>\r\n\
Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10\r\n\
CSeq: 2 REGISTER\r\n\
Contact: <sip:1000@192.0.2.10:5060;transport=udp>;expires=3600\r\n\
Authorization: Digest username=\"1000\", realm=\"pbx.example.com\", \
nonce=\"6f7e2a1c0b9d8e7f6a5b4c3d2e1f0a9b\", uri=\"sip:pbx.example.com\", \
response=\"4f4bb8a4c1d1e2f3a4b5c6d7e8f90a1b\", algorithm=MD5, cnonce=\"0a4f113b\", \
qop=auth, nc=00000001\r\n\
Expires: 3600\r\n\
User-Agent: Softphone/5.2\r\n\
Content-Length: 0\r\n\
\r\n";

/// A 200 OK to the INVITE above, passed through a proxy (two Vias, Record-Route) with an SDP
/// answer.
pub const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK4b43c2ff8.1;received=198.51.100.1\r\n\
Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;branch=z9hG4bK776asdhds;received=192.0.2.10\r\n\
Record-Route: <sip:198.51.100.1;lr>\r\n\
From: \"Alice\" <sip:1000@pbx.example.com>;tag=1928301774\r\n\
To: <sip:1001@pbx.example.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@192.0.2.10\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:1001@192.0.2.20:5060>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n\
Supported: replaces\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 170\r\n\
\r\n\
v=0\r\n\
o=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\n\
s=-\r\n\
c=IN IP4 192.0.2.20\r\n\
t=0 0\r\n\
m=audio 3456 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n";

/// Every sample with its name, in bench order.
pub const ALL: [(&str, &[u8]); 3] = [
    ("invite", INVITE),
    ("register", REGISTER),
    ("ok_200", OK_200),
];
