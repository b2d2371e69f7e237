//! A small JSON reader and writer for the shapes Genesys sends and we send.
//!
//! Hand-written instead of serde_json because the browser package is budgeted in
//! kilobytes; numbers keep their source text (we only ever need integers from them),
//! so no float parsing or formatting code is linked. Input is bounded in depth, and
//! every malformed input is an `Err`, never a panic.

/// Deepest nesting accepted; Genesys documents are a handful of levels deep.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number's text exactly as it appeared (validated JSON number syntax).
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    /// Members in document order; a repeated key keeps its last value on lookup.
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Result<Json, String> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(p.err());
        }
        Ok(v)
    }

    /// Member `key` of an object (the last one if repeated); `None` for non-objects.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(m) => m.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The value as a non-negative integer, if it is a number without fraction or
    /// exponent that fits in `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Num(n) => n.parse().ok(),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Arr(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Obj(m) => Some(m),
            _ => None,
        }
    }

    /// String member `key`, treating absent and `null` alike.
    pub fn str_at(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    /// Serialises the value compactly.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) => out.push_str(n),
            Json::Str(s) => write_str(out, s),
            Json::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Obj(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string literal.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `n` in decimal. (`core::fmt` would cost kilobytes in the wasm.)
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf[i..].iter().for_each(|&b| out.push(b as char));
}

/// `n` in decimal, as a new string.
pub fn u64_string(n: u64) -> String {
    let mut s = String::new();
    push_u64(&mut s, n);
    s
}

/// Builds a JSON object member by member, skipping absent optional values, so
/// the output omits nulls the way Genesys does.
#[derive(Default)]
pub struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    pub fn new() -> Self {
        ObjectWriter {
            out: String::from("{"),
        }
    }

    fn key(&mut self, k: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        write_str(&mut self.out, k);
        self.out.push(':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(&mut self.out, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }

    pub fn num(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        push_u64(&mut self.out, v);
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    /// Inserts already-serialised JSON text as the member's value.
    pub fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }

    pub fn finish(&mut self) -> String {
        let mut s = std::mem::take(&mut self.out);
        s.push('}');
        s
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    /// One message for every syntax error (the byte offset says where): the
    /// distinct wordings cost more in the wasm than they help for a body that
    /// Genesys should never send.
    fn err(&self) -> String {
        let mut m = String::from("malformed JSON at byte ");
        push_u64(&mut m, self.i as u64);
        m
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            let mut m = String::from("JSON nested too deeply at byte ");
            push_u64(&mut m, self.i as u64);
            return Err(m);
        }
        match self.s.get(self.i) {
            None => Err(self.err()),
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.eat(b"}") {
                    return Ok(Json::Obj(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err());
                    }
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(b":") {
                        return Err(self.err());
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"}") {
                        return Ok(Json::Obj(members));
                    }
                    return Err(self.err());
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]") {
                    return Ok(Json::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"]") {
                        return Ok(Json::Arr(items));
                    }
                    return Err(self.err());
                }
            }
            Some(b'"') => self.string().map(Json::Str),
            Some(b't') if self.eat(b"true") => Ok(Json::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(Json::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err()),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        self.eat(b"-");
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.err()),
        }
        if self.eat(b".") && self.digits() == 0 {
            return Err(self.err());
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.err());
            }
        }
        let text: String = self.s[start..self.i].iter().map(|&b| b as char).collect();
        Ok(Json::Num(text))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.s.get(self.i) {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                _ => return Err(self.err()),
            };
            v = v * 16 + d as u32;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while let Some(&b) = self.s.get(self.i) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.i += 1;
            }
            // SAFETY: `self.s` is the bytes of a `&str` and the run starts and ends
            // at ASCII bytes (or the end), which are always char boundaries.
            // (`from_utf8` would re-validate and cost bytes in the wasm.)
            out.push_str(unsafe { std::str::from_utf8_unchecked(&self.s[start..self.i]) });
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if !self.eat(b"\\u") {
                                    return Err(self.err());
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            out.push(char::from_u32(code).ok_or_else(|| self.err())?);
                            continue;
                        }
                        _ => return Err(self.err()),
                    };
                    self.i += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.err()),
                None => return Err(self.err()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_genesys_error_body() {
        let v = Json::parse(
            r#"{"message":"Rate limit","code":"too.many.requests.retry.after","status":429,"details":[],"errors":[]}"#,
        )
        .unwrap();
        assert_eq!(v.str_at("code"), Some("too.many.requests.retry.after"));
        assert_eq!(v.get("status").and_then(Json::as_u64), Some(429));
        assert_eq!(
            v.get("details").and_then(Json::as_array).map(|a| a.len()),
            Some(0)
        );
    }

    #[test]
    fn round_trips_escapes_and_unicode() {
        let src =
            r#"{"a":"line\nbreak \"q\" \u00e9 \ud83d\ude00 \\","b":[true,false,null,-1.5e3]}"#;
        let v = Json::parse(src).unwrap();
        assert_eq!(v.str_at("a"), Some("line\nbreak \"q\" é 😀 \\"));
        let again = Json::parse(&v.to_json()).unwrap();
        assert_eq!(v, again);
    }

    #[test]
    fn rejects_malformed_input_without_panicking() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\"}",
            "{\"a\":}",
            "01",
            "1.",
            "-",
            "\"abc",
            "\"\\x\"",
            "\"\\ud800\"",
            "tru",
            "nul",
            "{\"a\":1}x",
            "[",
            "\"\u{1}\"",
            "1e",
            "{1:2}",
        ] {
            assert!(Json::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(10_000);
        assert!(Json::parse(&deep).unwrap_err().contains("deeply"));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(Json::parse(&ok).is_ok());
    }

    #[test]
    fn random_bytes_never_panic() {
        // A deterministic fuzz pass over mutations of a realistic document.
        let seed = r#"{"id":"c0ffee","participants":[{"id":"p1","purpose":"agent","state":"connected","user":{"id":"u"}},{"address":"tel:+13175550100","connectedTime":"2026-11-23T10:00:09.800Z"}],"n":[1,-2.5e-3,0]}"#;
        let mut x: u64 = 0x9E3779B97F4A7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"{}[]\",:\\ntrufalse0123456789.-eE u\x01";
        for _ in 0..20_000 {
            let mut bytes = seed.as_bytes().to_vec();
            for _ in 0..(next() % 6 + 1) {
                let pos = (next() as usize) % bytes.len();
                match next() % 3 {
                    0 => bytes[pos] = alphabet[(next() as usize) % alphabet.len()],
                    1 => {
                        bytes.remove(pos);
                    }
                    _ => bytes.truncate(pos),
                }
                if bytes.is_empty() {
                    break;
                }
            }
            if let Ok(s) = std::str::from_utf8(&bytes) {
                if let Ok(v) = Json::parse(s) {
                    // Whatever parses must re-serialise to something that parses the same.
                    assert_eq!(Json::parse(&v.to_json()).unwrap(), v);
                }
            }
        }
    }

    #[test]
    fn decimal_formatting_matches_std() {
        for n in [0, 7, 10, 99, 12_345, u64::MAX] {
            assert_eq!(u64_string(n), n.to_string());
        }
        let mut s = String::new();
        write_str(&mut s, "\u{1}\u{1f}");
        assert_eq!(s, r#""\u0001\u001f""#);
    }

    #[test]
    fn object_writer_omits_absent_members() {
        let s = ObjectWriter::new()
            .str("a", "x\"y")
            .opt_str("b", None)
            .num("c", 7)
            .bool("d", false)
            .raw("e", "[1]")
            .finish();
        assert_eq!(s, r#"{"a":"x\"y","c":7,"d":false,"e":[1]}"#);
    }
}
