//! What the hand-off reads from outside: a receiver's acknowledgement (bytes off the network,
//! ISO-2022-JP or UTF-8, framed or not) and a billing column-mapping file. Neither may panic; an
//! acknowledgement that parses names a control ID and a code; the encoder round-trips what the
//! decoder gives it without panicking either.
#![no_main]

use kamikarte::handoff::billing_csv::ColumnMapping;
use kamikarte::handoff::hl7::ack::parse_ack;
use kamikarte::handoff::hl7::{Charset, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ack) = parse_ack(data) {
        let _ = (ack.code.len(), ack.control_id.len());
    }
    let text = decode(data);
    let (bytes, _) = encode(&text, Charset::Iso2022Jp);
    assert!(bytes.is_ascii(), "ISO-2022-JP output is 7-bit");
    let _ = encode(&text, Charset::Utf8);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ColumnMapping::parse(text);
    }
});
