//! The checks shared by the `websocket` fuzz target (fuzz/) and the mutation loop below,
//! which CI runs: whatever bytes arrive, the HTTP head parsers, the opening-handshake
//! check, the frame codec and both roles' sessions must not panic; what decodes must
//! encode back to the same thing; and a session must reach the same verdicts whether
//! the bytes come in one read or in many (TCP keeps no boundaries).
//!
//! A broken invariant panics (that is how libFuzzer and the test notice it). [`crate::random::mutate`]
//! is the mutation step the protocol layers above share.

use crate::random::Rng;
use crate::wire::http;
use crate::wire::websocket::{self as wsw, Frame, Role};
use crate::ws::{Action, Session};

/// Runs every parser and both sessions over `data`.
pub fn check(data: &[u8]) {
    if let Ok(Some((req, used))) = http::parse_request(data) {
        assert!(used <= data.len());
        // A head we accept, written back, reads back to the same head (the written form
        // is a fixed point: spacing is normalised, names and values are kept).
        let again = req.to_bytes();
        let (back, n) = http::parse_request(&again)
            .expect("a written request head parses")
            .expect("a written request head is complete");
        assert_eq!(n, again.len());
        assert_eq!(
            (&back.method, &back.target, back.to_bytes()),
            (&req.method, &req.target, again),
            "request head round trip"
        );
        if let Ok(hs) = wsw::validate_client_request(&req) {
            let resp = hs.accept_response(None).to_bytes();
            let (r, _) = http::parse_response(&resp)
                .expect("our 101 parses")
                .expect("our 101 is complete");
            assert_eq!(r.status, 101);
        }
    }
    if let Ok(Some((resp, used))) = http::parse_response(data) {
        // status-code = 3DIGIT (RFC 9112 § 4)
        assert!(
            used <= data.len() && resp.status < 1000,
            "status {}",
            resp.status
        );
    }

    // Frames one after the other: each decodes, re-encodes and decodes to itself.
    let mut rest = data;
    while let Ok(Some((frame, used))) = Frame::decode(rest) {
        assert!(used > 0 && used <= rest.len());
        let again = frame.encode();
        let (back, n) = Frame::decode(&again)
            .expect("an encoded frame decodes")
            .expect("an encoded frame is complete");
        assert_eq!((&back, n), (&frame, again.len()), "frame round trip");
        rest = &rest[used..];
    }

    // Sessions: one read, or the same bytes cut into pieces, give the same verdicts.
    for role in [Role::Server, Role::Client] {
        let whole = verdicts(role, &[data]);
        let cuts: Vec<&[u8]> = data.chunks(1 + data.len() % 7).collect();
        assert_eq!(whole, verdicts(role, &cuts), "{role:?}: split reads");
    }
}

/// What a session concluded from these reads: messages, pings/pongs, close or failure
/// (trace previews and the frames it sends back are left out).
fn verdicts(role: Role, reads: &[&[u8]]) -> Vec<Action> {
    let mut s = Session::new(role, 1 << 16, Rng::seeded(7));
    let mut out = Vec::new();
    for r in reads {
        out.extend(
            s.receive(r)
                .into_iter()
                .filter(|a| !matches!(a, Action::Send(_) | Action::Received { .. })),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::http::examples::{RFC6455_REQUEST, RFC6455_RESPONSE};

    /// RFC 6455's handshake (§ 1.2) and frames (§ 5.7).
    const SEEDS: &[&[u8]] = &[
        RFC6455_REQUEST,
        RFC6455_RESPONSE,
        b"\x81\x05\x48\x65\x6c\x6c\x6f",
        b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58",
        b"\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f",
        b"\x89\x05\x48\x65\x6c\x6c\x6f\x8a\x05\x48\x65\x6c\x6c\x6f",
        b"\x82\x7e\x01\x00",
        b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00",
        b"\x88\x02\x03\xe8\x81\x02\xce\xbb",
    ];

    /// Bytes that mean something to these protocols.
    const SPECIAL: &[u8] = b"\x00\x01\x02\x08\x09\x0a\x7e\x7f\x80\x81\x82\x88\x89\x8a\xff\r\n: ";

    #[test]
    fn mutated_heads_and_frames_never_panic_and_agree_with_themselves() {
        let mut rng = crate::random::mutation_seed();
        let mut cases = 0;
        for seed in SEEDS {
            check(seed);
            for _ in 0..1500 {
                let mut b = seed.to_vec();
                crate::random::mutate(&mut b, &mut rng, SPECIAL);
                check(&b);
                cases += 1;
            }
        }
        assert!(cases > 10_000);
    }

    #[test]
    fn the_checks_see_real_messages() {
        // Not vacuous: the RFC's masked "Hello" is a message for a server session.
        let v = verdicts(Role::Server, &[SEEDS[3]]);
        assert!(matches!(&v[..], [Action::Message(_)]), "{v:?}");
    }
}
