//! FIX tag=value framing.
//!
//! # Rules
//! - A frame is `8=<BeginString>␁9=<BodyLength>␁35=<MsgType>␁…10=<CheckSum>␁`: the first
//!   three fields are 8, 9, 35 in that order, BodyLength counts the bytes from `35=` up to
//!   and including the SOH before `10=`, CheckSum is the byte sum of everything before
//!   `10=` modulo 256, as three digits.
//! - A frame breaking any of these (or with a non-numeric tag, an empty value, a value that
//!   is not UTF-8, a body above the configured maximum) is *garbled*: the decoder skips to
//!   the next `8=` that starts a field and reports it, so the session can ignore it as
//!   FIX says (no reply, no sequence number consumed).
//! - Repeating groups are not interpreted here: fields stay in wire order.

/// The field separator.
pub const SOH: u8 = 0x01;

/// A decoded message: BeginString, then every field after BodyLength except CheckSum, in
/// wire order (MsgType first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub begin_string: String,
    pub fields: Vec<(u32, String)>,
}

impl Message {
    /// A message to send: MsgType first, then what the caller pushes.
    pub fn new(msg_type: &str) -> Self {
        Self {
            begin_string: String::new(),
            fields: vec![(35, msg_type.to_owned())],
        }
    }

    pub fn push(&mut self, tag: u32, value: impl Into<String>) -> &mut Self {
        self.fields.push((tag, value.into()));
        self
    }

    pub fn with(mut self, tag: u32, value: impl Into<String>) -> Self {
        self.push(tag, value);
        self
    }

    /// The first occurrence of `tag`.
    pub fn get(&self, tag: u32) -> Option<&str> {
        self.fields
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    /// Replaces the first `tag` (or appends it).
    pub fn set(&mut self, tag: u32, value: &str) {
        match self.fields.iter_mut().find(|(t, _)| *t == tag) {
            Some(f) => f.1 = value.to_owned(),
            None => self.fields.push((tag, value.to_owned())),
        }
    }

    /// Every value of `tag`, in wire order (the entries of a repeating group).
    pub fn all(&self, tag: u32) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn msg_type(&self) -> &str {
        self.get(35).unwrap_or("")
    }

    /// `true` when `tag` is `Y`.
    pub fn flag(&self, tag: u32) -> bool {
        self.get(tag) == Some("Y")
    }

    /// Encodes with `begin_string`, computing BodyLength and CheckSum. Fields are written
    /// in the order they were pushed.
    pub fn encode(&self, begin_string: &str) -> Vec<u8> {
        let mut body = Vec::with_capacity(128);
        for (tag, value) in &self.fields {
            body.extend_from_slice(tag.to_string().as_bytes());
            body.push(b'=');
            body.extend_from_slice(value.as_bytes());
            body.push(SOH);
        }
        let mut out = format!("8={begin_string}\x019={}\x01", body.len()).into_bytes();
        out.extend_from_slice(&body);
        let sum = out.iter().fold(0u32, |s, b| s + u32::from(*b)) % 256;
        out.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        out
    }
}

/// What [`decode`] found at the start of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// A whole, valid message and the bytes it took.
    Message(Message, usize),
    /// A garbled frame: drop this many bytes and carry on.
    Garbled(usize),
    /// Not enough bytes yet.
    Incomplete,
}

/// Decodes the first frame of `buf`; `max_body` bounds BodyLength (a larger one is garbled,
/// so a peer cannot make the server buffer without limit).
pub fn decode(buf: &[u8], max_body: usize) -> Decoded {
    if buf.is_empty() {
        return Decoded::Incomplete;
    }
    let garbled = || Decoded::Garbled(resync(buf));
    if !b"8=".starts_with(&buf[..buf.len().min(2)]) {
        return garbled();
    }
    let Some((begin, after_begin)) = field(buf, 0, 2, 64) else {
        return if buf.len() < 64 && !buf.contains(&SOH) {
            Decoded::Incomplete
        } else {
            garbled()
        };
    };
    if !buf[after_begin..].starts_with(b"9=") {
        return if buf.len() < after_begin + 2 {
            Decoded::Incomplete
        } else {
            garbled()
        };
    }
    let Some((len, body_start)) = field(buf, after_begin, after_begin + 2, 12) else {
        return if buf.len() < after_begin + 12 && !buf[after_begin..].contains(&SOH) {
            Decoded::Incomplete
        } else {
            garbled()
        };
    };
    let Some(len) = parse_digits(len).filter(|l| *l <= max_body && *l > 0) else {
        return garbled();
    };
    let trailer = body_start + len;
    let total = trailer + 7;
    if buf.len() < total {
        return Decoded::Incomplete;
    }
    let t = &buf[trailer..total];
    if !(t.starts_with(b"10=") && t[3..6].iter().all(u8::is_ascii_digit) && t[6] == SOH) {
        return garbled();
    }
    let sum = buf[..trailer].iter().fold(0u32, |s, b| s + u32::from(*b)) % 256;
    if parse_digits(&t[3..6]) != Some(sum as usize) {
        return garbled();
    }
    match parse_fields(&buf[body_start..trailer]) {
        Some(fields) if fields.first().map(|f| f.0) == Some(35) => {
            let Ok(begin_string) = std::str::from_utf8(begin) else {
                return garbled();
            };
            Decoded::Message(
                Message {
                    begin_string: begin_string.to_owned(),
                    fields,
                },
                total,
            )
        }
        _ => garbled(),
    }
}

/// The value of the field starting at `start` (value at `value_start`) and the index after
/// its SOH, if the SOH is within `max` bytes.
fn field(buf: &[u8], _start: usize, value_start: usize, max: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(value_start..)?;
    let end = rest.iter().take(max).position(|b| *b == SOH)?;
    Some((&rest[..end], value_start + end + 1))
}

fn parse_digits(b: &[u8]) -> Option<usize> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

fn parse_fields(body: &[u8]) -> Option<Vec<(u32, String)>> {
    let mut out = Vec::with_capacity(16);
    for f in body.strip_suffix(&[SOH])?.split(|b| *b == SOH) {
        let eq = f.iter().position(|b| *b == b'=')?;
        let tag = parse_digits(&f[..eq]).filter(|t| *t > 0)? as u32;
        let value = &f[eq + 1..];
        if value.is_empty() {
            return None;
        }
        out.push((tag, String::from_utf8(value.to_vec()).ok()?));
    }
    Some(out)
}

/// Bytes to drop after a garbled frame: up to the next `8=` that starts a field (or what
/// may be the start of one at the end of the buffer), else all of it.
fn resync(buf: &[u8]) -> usize {
    (1..buf.len())
        .find(|&i| buf[i - 1] == SOH && b"8=".starts_with(&buf[i..buf.len().min(i + 2)]))
        .unwrap_or(buf.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(s: &str) -> Vec<u8> {
        s.replace('|', "\x01").into_bytes()
    }

    #[test]
    fn encodes_and_decodes_a_frame() {
        let m = Message::new("0").with(34, "2").with(49, "A").with(56, "B");
        let bytes = m.encode("FIX.4.4");
        assert_eq!(bytes, wire("8=FIX.4.4|9=20|35=0|34=2|49=A|56=B|10=126|"));
        let Decoded::Message(d, n) = decode(&bytes, 4096) else {
            panic!("not decoded")
        };
        assert_eq!(
            (d.begin_string.as_str(), d.fields, n),
            ("FIX.4.4", m.fields, bytes.len())
        );
    }

    #[test]
    fn garbled_frames_are_skipped_to_the_next_message() {
        let good = Message::new("0").with(34, "2").encode("FIX.4.4");
        let mut bad_sum = good.clone();
        let l = bad_sum.len();
        bad_sum[l - 2] = b'0' + (bad_sum[l - 2] - b'0' + 1) % 10;
        let out_of_order = wire("35=0|8=FIX.4.4|9=5|34=2|10=000|");
        let wrong_len = wire("8=FIX.4.4|9=3|35=0|34=2|10=000|");
        let no_type = wire("8=FIX.4.4|9=5|34=2|10=213|");
        for bad in [bad_sum, out_of_order, wrong_len, no_type] {
            let mut buf = bad.clone();
            buf.extend_from_slice(&good);
            let Decoded::Garbled(mut at) = decode(&buf, 4096) else {
                panic!("{:?} accepted", String::from_utf8_lossy(&bad))
            };
            // Skipping garbled frames always ends at the good message behind them.
            loop {
                match decode(&buf[at..], 4096) {
                    Decoded::Garbled(n) => at += n,
                    Decoded::Message(_, n) => break assert_eq!(at + n, buf.len()),
                    Decoded::Incomplete => panic!("lost the good message"),
                }
            }
        }
        assert_eq!(decode(&good[..good.len() - 1], 4096), Decoded::Incomplete);
        assert!(matches!(decode(&good, 3), Decoded::Garbled(_)));
    }
}
