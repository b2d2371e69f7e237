//! What the edge handler will dial, and for whom: the dial policy and CORS.
//!
//! Deny by default, in layers, each built on data rather than a hand-kept list
//! of ranges. A number is dialled only when all of these hold:
//! 1. it is a valid number (libphonenumber's numbering plans: `numbering`);
//! 2. its country is allowed (`ALLOWED_COUNTRIES`; a +1 number is its real
//!    NANP country, so `US` does not admit Jamaica);
//! 3. its type is allowed (`ALLOWED_NUMBER_TYPES`; fixed line and mobile by
//!    default — never premium-rate, shared-cost, UAN or personal unless named);
//! 4. it is under one of `ALLOWED_DIAL_PREFIXES`, when that is set;
//! 5. it is not under a high-risk (IRSF) destination (`irsf_destinations.txt`,
//!    or `BLOCKED_DIAL_PREFIXES`).

use super::numbering::{self, Classified, Invalid, NumberKind, Region};
use crate::call::E164;

/// The built-in high-risk destinations (documented in the file itself).
pub const IRSF_DESTINATIONS: &str = include_str!("irsf_destinations.txt");

/// The number types a fresh deployment dials.
pub const DEFAULT_NUMBER_TYPES: [NumberKind; 3] = [
    NumberKind::FixedLine,
    NumberKind::Mobile,
    NumberKind::FixedLineOrMobile,
];
/// The countries a fresh deployment dials (also wrangler.toml's value).
pub const DEFAULT_COUNTRIES: &str = "US,CA";

/// More allowed countries than this and a refusal names the refused country
/// instead of listing the allowed ones.
const NAMED_IN_MESSAGES: usize = 6;

/// The policy's settings, as the runtime's environment gives them (absent: `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicySettings<'a> {
    pub countries: Option<&'a str>,
    pub number_types: Option<&'a str>,
    pub dial_prefixes: Option<&'a str>,
    pub blocked_prefixes: Option<&'a str>,
}

/// A setting the policy cannot use: which variable, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub variable: &'static str,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Countries {
    /// `*`: every country; the non-geographic "001" only when also named.
    Every {
        non_geographic: bool,
    },
    Listed(Vec<Region>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicy {
    countries: Countries,
    kinds: Vec<NumberKind>,
    /// Empty: no narrowing.
    prefixes: Vec<String>,
    /// (prefix, what it is)
    blocked: Vec<(String, String)>,
}

/// Why a number is refused; `code()` is stable (it is in the log line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    InvalidNumber,
    CountryNotAllowed,
    NumberTypeNotAllowed,
    PrefixNotAllowed,
    HighRiskDestination,
}

impl RefusalReason {
    pub fn code(self) -> &'static str {
        match self {
            RefusalReason::InvalidNumber => "invalid_number",
            RefusalReason::CountryNotAllowed => "country_not_allowed",
            RefusalReason::NumberTypeNotAllowed => "number_type_not_allowed",
            RefusalReason::PrefixNotAllowed => "prefix_not_allowed",
            RefusalReason::HighRiskDestination => "high_risk_destination",
        }
    }
}

/// A refused number: a sentence for the visitor, and for the log the reason,
/// country and type with the number masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub visitor_message: String,
    pub log_detail: String,
}

impl DialPolicy {
    /// Reads the four settings; absent ones take their defaults: countries
    /// `US,CA`, types fixed line and mobile, no prefix narrowing, the built-in
    /// high-risk list.
    pub fn from_settings(s: PolicySettings<'_>) -> Result<DialPolicy, PolicyError> {
        let countries = parse_countries(s.countries.unwrap_or(DEFAULT_COUNTRIES))?;
        let kinds = match s.number_types {
            None => DEFAULT_NUMBER_TYPES.to_vec(),
            Some(v) => parse_kinds(v)?,
        };
        let prefixes = match s.dial_prefixes {
            None => Vec::new(),
            Some(v) => parse_prefixes(v).map_err(|problem| PolicyError {
                variable: "ALLOWED_DIAL_PREFIXES",
                problem,
            })?,
        };
        let blocked = match s.blocked_prefixes.map(str::trim) {
            None => parse_blocked_list(IRSF_DESTINATIONS).map_err(|problem| PolicyError {
                variable: "BLOCKED_DIAL_PREFIXES",
                problem: ["the built-in list does not read: ", &problem].concat(),
            })?,
            Some(v) if v.eq_ignore_ascii_case("none") => Vec::new(),
            Some(v) => parse_prefixes(v)
                .map_err(|problem| PolicyError {
                    variable: "BLOCKED_DIAL_PREFIXES",
                    problem,
                })?
                .into_iter()
                .map(|p| (p, "listed in BLOCKED_DIAL_PREFIXES".to_string()))
                .collect(),
        };
        let policy = DialPolicy {
            countries,
            kinds,
            prefixes,
            blocked,
        };
        policy.check_consistent()?;
        Ok(policy)
    }

    /// Settings that could never dial what they name are errors at startup,
    /// not silent refusals later: a narrowing prefix outside every allowed
    /// country, or an allowed country wholly on the high-risk list.
    fn check_consistent(&self) -> Result<(), PolicyError> {
        let plans: Vec<Region> = Region::each_plan()
            .filter(|r| self.country_allowed(r))
            .collect();
        for p in &self.prefixes {
            let digits = &p[1..];
            let reachable = plans.iter().any(|r| {
                let code = r.calling_code.to_string();
                code.starts_with(digits) || digits.starts_with(code.as_str())
            });
            if !reachable {
                return Err(PolicyError {
                    variable: "ALLOWED_DIAL_PREFIXES",
                    problem: "lists a prefix outside every country ALLOWED_COUNTRIES allows"
                        .to_string(),
                });
            }
        }
        if let Countries::Listed(listed) = &self.countries {
            for r in listed {
                if let Some((p, _)) = self.blocked_whole(r.calling_code) {
                    return Err(PolicyError {
                        variable: "ALLOWED_COUNTRIES",
                        problem: [
                            r.code,
                            " is wholly on the high-risk list (",
                            p,
                            "); remove it, or override BLOCKED_DIAL_PREFIXES",
                        ]
                        .concat(),
                    });
                }
            }
        }
        // Only the table's size here, so a cold isolate reads none of it; a
        // plan's table is read when a number needs it, and fails closed.
        if !numbering::table_is_complete() {
            return Err(PolicyError {
                variable: "ALLOWED_COUNTRIES",
                problem: "cannot be checked: the numbering-plan table in this build is damaged"
                    .to_string(),
            });
        }
        Ok(())
    }

    fn blocked_whole(&self, calling_code: u16) -> Option<(&str, &str)> {
        let code = ["+", &calling_code.to_string()].concat();
        self.blocked
            .iter()
            .find(|(p, _)| code.starts_with(p.as_str()))
            .map(|(p, why)| (p.as_str(), why.as_str()))
    }

    fn country_allowed(&self, region: &Region) -> bool {
        match &self.countries {
            Countries::Every { non_geographic } => !region.is_non_geographic() || *non_geographic,
            Countries::Listed(list) => list.iter().any(|r| r.code == region.code),
        }
    }

    fn kind_allowed(&self, kind: NumberKind) -> bool {
        self.kinds.contains(&kind)
            // Either a landline or a mobile: fine when both are.
            || (kind == NumberKind::FixedLineOrMobile
                && self.kinds.contains(&NumberKind::FixedLine)
                && self.kinds.contains(&NumberKind::Mobile))
    }

    /// Decides whether a number may be dialled: its region and type when it
    /// may, the reason when it may not. Never panics, whatever the number.
    pub fn check(&self, number: &E164) -> Result<Classified, Refusal> {
        let masked = mask_number(number);
        let found = numbering::classify(number).map_err(|why| {
            let (message, detail) = match why {
                Invalid::UnknownCallingCode => (
                    "That number's country code doesn't exist. Please check the number."
                        .to_string(),
                    "unknown calling code".to_string(),
                ),
                Invalid::NotAssigned(Some(r)) if !r.is_non_geographic() => (
                    [
                        "That isn't a valid phone number in ",
                        &r.name_in_sentence(),
                        ". Please check the number.",
                    ]
                    .concat(),
                    ["not a valid number in ", r.code].concat(),
                ),
                Invalid::NotAssigned(_) => (
                    "That isn't a valid phone number. Please check the number.".to_string(),
                    "not a valid number in any region".to_string(),
                ),
            };
            refusal(RefusalReason::InvalidNumber, message, &masked, &detail)
        })?;
        let Classified { region, kind } = found;
        let what = [kind.name(), " number in ", region.code].concat();
        if !self.country_allowed(&region) {
            return Err(refusal(
                RefusalReason::CountryNotAllowed,
                self.country_message(&region),
                &masked,
                &what,
            ));
        }
        if !self.kind_allowed(kind) {
            return Err(refusal(
                RefusalReason::NumberTypeNotAllowed,
                [kind.plural(), " can't be called."].concat(),
                &masked,
                &what,
            ));
        }
        let n = number.as_str();
        if !self.prefixes.is_empty() && !self.prefixes.iter().any(|p| n.starts_with(p.as_str())) {
            return Err(refusal(
                RefusalReason::PrefixNotAllowed,
                "We can't call this number from here.".to_string(),
                &masked,
                &[&what, ", outside ALLOWED_DIAL_PREFIXES"].concat(),
            ));
        }
        if let Some((p, why)) = self.blocked.iter().find(|(p, _)| n.starts_with(p.as_str())) {
            return Err(refusal(
                RefusalReason::HighRiskDestination,
                ["We can't call numbers in ", &region.name_in_sentence(), "."].concat(),
                &masked,
                &[&what, ", high-risk destination ", p, " (", why, ")"].concat(),
            ));
        }
        Ok(found)
    }

    fn country_message(&self, refused: &Region) -> String {
        let listed: Vec<String> = match &self.countries {
            Countries::Listed(list) => list
                .iter()
                .filter(|r| !r.is_non_geographic())
                .map(Region::name_in_sentence)
                .collect(),
            Countries::Every { .. } => Vec::new(),
        };
        if refused.is_non_geographic() {
            "We can't call international network or satellite numbers.".to_string()
        } else if !listed.is_empty() && listed.len() <= NAMED_IN_MESSAGES {
            ["We can only call numbers in ", &join_names(&listed), "."].concat()
        } else {
            [
                "We can't call numbers in ",
                &refused.name_in_sentence(),
                ".",
            ]
            .concat()
        }
    }
}

fn refusal(reason: RefusalReason, visitor_message: String, masked: &str, detail: &str) -> Refusal {
    Refusal {
        reason,
        visitor_message,
        log_detail: ["refused ", masked, ": ", reason.code(), ", ", detail].concat(),
    }
}

/// "A", "A and B", "A, B and C".
fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => [rest.join(", ").as_str(), " and ", last].concat(),
    }
}

fn parse_countries(value: &str) -> Result<Countries, PolicyError> {
    let bad = |problem: String| PolicyError {
        variable: "ALLOWED_COUNTRIES",
        problem,
    };
    let mut every = false;
    let mut non_geographic = false;
    let mut listed: Vec<Region> = Vec::new();
    for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if token == "*" {
            every = true;
            continue;
        }
        let region = Region::from_code(token).ok_or_else(|| {
            let shown: String = token.chars().take(12).collect();
            bad([
                "'",
                &shown,
                "' is not a region code (ISO 3166 such as US, GB; * for every country; 001 for international networks)",
            ]
            .concat())
        })?;
        non_geographic |= region.is_non_geographic();
        if !listed.iter().any(|r| r.code == region.code) {
            listed.push(region);
        }
    }
    match (every, listed.is_empty()) {
        (true, _) => Ok(Countries::Every { non_geographic }),
        (false, false) => Ok(Countries::Listed(listed)),
        (false, true) => Err(bad(
            "lists no country: name ISO 3166 region codes such as US,CA, or *".to_string(),
        )),
    }
}

fn parse_kinds(value: &str) -> Result<Vec<NumberKind>, PolicyError> {
    let mut kinds = Vec::new();
    for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let kind = NumberKind::parse(token).ok_or_else(|| {
            let shown: String = token.chars().take(24).collect();
            let names: Vec<&str> = NumberKind::ALL.iter().map(|k| k.name()).collect();
            PolicyError {
                variable: "ALLOWED_NUMBER_TYPES",
                problem: [
                    "'",
                    &shown,
                    "' is not a number type (one of ",
                    &names.join(", "),
                    ")",
                ]
                .concat(),
            }
        })?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err(PolicyError {
            variable: "ALLOWED_NUMBER_TYPES",
            problem: "lists no number type (the default is fixed-line,mobile,fixed-line-or-mobile)"
                .to_string(),
        });
    }
    Ok(kinds)
}

/// Comma-separated E.164 prefixes such as `+1317555,+44`; `+` alone is every number.
fn parse_prefixes(value: &str) -> Result<Vec<String>, String> {
    let mut prefixes = Vec::new();
    for p in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ok = p
            .strip_prefix('+')
            .is_some_and(|d| d.len() <= 15 && d.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(
                "must list E.164 prefixes such as +44,+1212555 (comma-separated)".to_string(),
            );
        }
        prefixes.push(p.to_string());
    }
    // `+` narrows nothing.
    if prefixes.iter().any(|p| p == "+") {
        prefixes.clear();
    }
    Ok(prefixes)
}

/// The data file's format: a prefix, whitespace, what it is; `#` comments.
fn parse_blocked_list(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (prefix, what) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let prefix = parse_prefixes(prefix)?
            .pop()
            .ok_or_else(|| "'+' alone would block everything".to_string())?;
        out.push((prefix, what.trim().to_string()));
    }
    Ok(out)
}

/// A number as a log line may show it: the country code and the last two
/// digits in a fixed shape (`+1 •••• ••• ••00`), so one caller's calls can be
/// followed without the log holding anyone's number, or even its length.
pub fn mask_number(number: &E164) -> String {
    let digits = number.as_str().trim_start_matches('+');
    let code = numbering::split(number).map_or(String::new(), |(code, _)| code.to_string());
    // E164 holds at least 7 digits, so the last two are never the country code.
    let last_two = digits.get(digits.len().saturating_sub(2)..).unwrap_or("");
    ["+", &code, " •••• ••• ••", last_two].concat()
}

/// Exact-match CORS: the `Origin` header must equal one configured origin.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| a == origin)
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
