//! What a number is, by libphonenumber's numbering plans: its region (a +1
//! number resolves to its real NANP country) and its type (fixed line, mobile,
//! premium rate, …), or that it is not a valid number at all.
//!
//! build.rs compiles the metadata the `phonenumber` crate ships into one
//! sparse DFA per plan; this module only reads them in place and searches, so
//! the edge pays neither a metadata parse nor a regex compile. The algorithm is
//! libphonenumber's `getRegionCodeForNumber` + `getNumberType`.

use std::sync::OnceLock;

use regex_automata::dfa::{sparse, Automaton};
use regex_automata::{Anchored, Input, PatternSet};

use crate::call::E164;

/// One numbering plan (a region, or a non-geographic calling code such as +800).
struct Plan {
    /// ISO 3166 region code, or "001" for non-geographic entities.
    region: &'static str,
    /// English name for a visitor's message.
    name: &'static str,
    code: u16,
    /// Offset and length of its DFA in `TABLE`.
    dfa: (usize, usize),
    /// Per pattern, the national-number lengths it allows (bit n: n digits; 0: any).
    lengths: [u32; 11],
    fixed_is_mobile: bool,
    /// Whether pattern 11 (the plan's leading digits) picks it among a shared code's plans.
    leading_digits: bool,
}

include!(concat!(env!("OUT_DIR"), "/numbering.rs"));

/// Every plan's DFA, little-endian (wasm32 and the hosts we build on).
static TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/numbering.bin"));

/// Pattern ids in each plan's DFA (the order build.rs writes them).
const GENERAL: usize = 0;
const FIXED_LINE: usize = 9;
const MOBILE: usize = 10;
const LEADING_DIGITS: usize = 11;
/// Patterns 1..=8, in libphonenumber's precedence: the first that matches is the type.
const SPECIAL: [(usize, NumberKind); 8] = [
    (1, NumberKind::PremiumRate),
    (2, NumberKind::TollFree),
    (3, NumberKind::SharedCost),
    (4, NumberKind::Voip),
    (5, NumberKind::Personal),
    (6, NumberKind::Pager),
    (7, NumberKind::Uan),
    (8, NumberKind::Voicemail),
];

/// libphonenumber's number types (those a valid number can have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    FixedLine,
    Mobile,
    /// Where fixed and mobile ranges cannot be told apart (the US and Canada).
    FixedLineOrMobile,
    TollFree,
    PremiumRate,
    SharedCost,
    Voip,
    Personal,
    Pager,
    Uan,
    Voicemail,
}

impl NumberKind {
    pub const ALL: [NumberKind; 11] = [
        NumberKind::FixedLine,
        NumberKind::Mobile,
        NumberKind::FixedLineOrMobile,
        NumberKind::TollFree,
        NumberKind::PremiumRate,
        NumberKind::SharedCost,
        NumberKind::Voip,
        NumberKind::Personal,
        NumberKind::Pager,
        NumberKind::Uan,
        NumberKind::Voicemail,
    ];

    /// The name `ALLOWED_NUMBER_TYPES` uses (libphonenumber's, in kebab case).
    pub fn name(self) -> &'static str {
        match self {
            NumberKind::FixedLine => "fixed-line",
            NumberKind::Mobile => "mobile",
            NumberKind::FixedLineOrMobile => "fixed-line-or-mobile",
            NumberKind::TollFree => "toll-free",
            NumberKind::PremiumRate => "premium-rate",
            NumberKind::SharedCost => "shared-cost",
            NumberKind::Voip => "voip",
            NumberKind::Personal => "personal",
            NumberKind::Pager => "pager",
            NumberKind::Uan => "uan",
            NumberKind::Voicemail => "voicemail",
        }
    }

    /// Accepts the names above in any case, with '_' for '-' (libphonenumber
    /// spells them PREMIUM_RATE), and its PERSONAL_NUMBER.
    pub fn parse(name: &str) -> Option<NumberKind> {
        let name = name.trim().to_ascii_lowercase().replace('_', "-");
        let name = if name == "personal-number" {
            "personal"
        } else {
            &name
        };
        NumberKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How a visitor's message names such numbers ("Premium-rate numbers can't be called.").
    pub fn plural(self) -> &'static str {
        match self {
            NumberKind::FixedLine => "Landline numbers",
            NumberKind::Mobile => "Mobile numbers",
            NumberKind::FixedLineOrMobile => "Landline and mobile numbers",
            NumberKind::TollFree => "Toll-free numbers",
            NumberKind::PremiumRate => "Premium-rate numbers",
            NumberKind::SharedCost => "Shared-cost numbers",
            NumberKind::Voip => "Internet (VoIP) numbers",
            NumberKind::Personal => "Personal (follow-me) numbers",
            NumberKind::Pager => "Pager numbers",
            NumberKind::Uan => "Universal access (UAN) numbers",
            NumberKind::Voicemail => "Voicemail access numbers",
        }
    }
}

/// A region of the numbering plans: a country or territory, or the
/// non-geographic "001" (international freephone, satellite, networks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// ISO 3166 code ("US"), or "001".
    pub code: &'static str,
    /// English name ("United States").
    pub name: &'static str,
    pub calling_code: u16,
}

impl Region {
    /// Looks up an ISO 3166 region code (any case) that libphonenumber has a plan for.
    pub fn from_code(code: &str) -> Option<Region> {
        PLANS
            .iter()
            .find(|p| p.region.eq_ignore_ascii_case(code.trim()))
            .map(Plan::region)
    }

    /// Every plan's region: a region per calling code it uses ("001" once per
    /// non-geographic code), for checks that need the codes.
    pub fn each_plan() -> impl Iterator<Item = Region> {
        PLANS.iter().map(Plan::region)
    }

    pub fn is_non_geographic(&self) -> bool {
        self.code == "001"
    }

    /// "the United States", "Canada": the name as it reads inside a sentence.
    pub fn name_in_sentence(&self) -> String {
        let n = self.name;
        let plural_or_union = n.starts_with("United ")
            || n.ends_with(" Islands")
            || n.ends_with(" Republic")
            || n.starts_with("Republic ")
            || matches!(
                n,
                "Bahamas"
                    | "Netherlands"
                    | "Philippines"
                    | "Maldives"
                    | "Comoros"
                    | "Seychelles"
                    | "Gambia"
            );
        if plural_or_union && !n.starts_with("the ") {
            ["the ", n].concat()
        } else {
            n.to_string()
        }
    }
}

impl Plan {
    fn region(&self) -> Region {
        Region {
            code: self.region,
            name: self.name,
            calling_code: self.code,
        }
    }
}

/// A valid number's region and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub region: Region,
    pub kind: NumberKind,
}

/// Why a number is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// No plan has this calling code.
    UnknownCallingCode,
    /// Nothing is assigned there: no region of the code claims it, or the
    /// region's plan has no such range or length. Carries the region when known.
    NotAssigned(Option<Region>),
}

/// The calling code (1 to 3 digits) and the national significant number.
/// Calling codes are prefix-free, so the first known prefix is the code.
pub fn split(number: &E164) -> Option<(u16, &str)> {
    let digits = number.as_str().strip_prefix('+')?;
    (1..=3.min(digits.len())).find_map(|n| {
        let code: u16 = digits[..n].parse().ok()?;
        plans_for(code).map(|_| (code, &digits[n..]))
    })
}

fn plans_for(code: u16) -> Option<&'static [u16]> {
    CODES
        .binary_search_by_key(&code, |(c, _)| *c)
        .ok()
        .map(|i| CODES[i].1)
}

/// Classifies a number as libphonenumber would: the region among those
/// sharing its calling code, then the number's type there.
pub fn classify(number: &E164) -> Result<Classified, Invalid> {
    let (code, national) = split(number).ok_or(Invalid::UnknownCallingCode)?;
    let plans = plans_for(code).ok_or(Invalid::UnknownCallingCode)?;
    if national.is_empty() {
        return Err(Invalid::NotAssigned(None));
    }
    // One plan: it is the region. Several (+1, +7, +44, …): the first whose
    // leading digits match, or, for plans without them, whose patterns accept
    // the number (libphonenumber's getRegionCodeForNumberFromRegionList).
    let mut chosen = None;
    for &i in plans {
        let plan = &PLANS[i as usize];
        if plans.len() == 1 {
            chosen = Some((plan, matches(i as usize, national)));
            break;
        }
        let found = matches(i as usize, national);
        let claims = if plan.leading_digits {
            found.contains(LEADING_DIGITS)
        } else {
            kind_of(plan, national, &found).is_some()
        };
        if claims {
            chosen = Some((plan, found));
            break;
        }
    }
    let (plan, found) = chosen.ok_or(Invalid::NotAssigned(None))?;
    match kind_of(plan, national, &found) {
        Some(kind) => Ok(Classified {
            region: plan.region(),
            kind,
        }),
        None => Err(Invalid::NotAssigned(Some(plan.region()))),
    }
}

/// libphonenumber's getNumberTypeHelper over the patterns that matched.
fn kind_of(plan: &Plan, national: &str, found: &Matched) -> Option<NumberKind> {
    let len = national.len();
    let fits = |p: usize| {
        found.contains(p)
            && (plan.lengths[p] == 0 || (len < 32 && plan.lengths[p] & (1 << len) != 0))
    };
    if !fits(GENERAL) {
        return None;
    }
    if let Some((_, kind)) = SPECIAL.iter().find(|(p, _)| fits(*p)) {
        return Some(*kind);
    }
    if fits(FIXED_LINE) {
        return Some(if plan.fixed_is_mobile || fits(MOBILE) {
            NumberKind::FixedLineOrMobile
        } else {
            NumberKind::FixedLine
        });
    }
    fits(MOBILE).then_some(NumberKind::Mobile)
}

/// Which of a plan's patterns match a national number.
struct Matched(Option<PatternSet>);

impl Matched {
    fn contains(&self, pattern: usize) -> bool {
        self.0
            .as_ref()
            .is_some_and(|s| regex_automata::PatternID::new(pattern).is_ok_and(|p| s.contains(p)))
    }
}

/// Searches a plan's DFA. An unreadable table matches nothing, so every
/// number is refused as invalid (fail closed) rather than a panic.
fn matches(plan: usize, national: &str) -> Matched {
    let Some(dfa) = dfa(plan) else {
        return Matched(None);
    };
    let mut set = PatternSet::new(dfa.pattern_len());
    let input = Input::new(national).anchored(Anchored::Yes);
    match dfa.try_which_overlapping_matches(&input, &mut set) {
        Ok(()) => Matched(Some(set)),
        Err(_) => Matched(None),
    }
}

/// A plan's DFA, validated the first time it is needed (a few µs), so a cold
/// isolate reads only the plans of the numbers it is asked about.
fn dfa(plan: usize) -> Option<&'static sparse::DFA<&'static [u8]>> {
    type Slot = OnceLock<Option<sparse::DFA<&'static [u8]>>>;
    static LOADED: OnceLock<Vec<Slot>> = OnceLock::new();
    let slots = LOADED.get_or_init(|| PLANS.iter().map(|_| OnceLock::new()).collect());
    slots
        .get(plan)?
        .get_or_init(|| {
            let (start, len) = PLANS[plan].dfa;
            let bytes = TABLE.get(start..start.checked_add(len)?)?;
            sparse::DFA::from_bytes(bytes).ok().map(|(dfa, _)| dfa)
        })
        .as_ref()
}

/// Whether every plan's DFA reads. Tests call it; the edge validates lazily.
pub fn table_is_readable() -> bool {
    (0..PLANS.len()).all(|i| dfa(i).is_some())
}

/// How many plans the table holds (regions, and non-geographic codes).
pub fn plan_count() -> usize {
    PLANS.len()
}

/// Whether the table holds every byte the plans point into (cheap: for startup).
pub fn table_is_complete() -> bool {
    PLANS.iter().all(|p| {
        p.dfa
            .0
            .checked_add(p.dfa.1)
            .is_some_and(|end| end <= TABLE.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::parse(s, "phoneNumber").unwrap()
    }

    fn kind(s: &str) -> Result<(&'static str, NumberKind), Invalid> {
        classify(&n(s)).map(|c| (c.region.code, c.kind))
    }

    #[test]
    fn every_plan_in_the_table_reads() {
        assert!(table_is_readable());
        assert!(PLANS.len() > 240, "{} plans", PLANS.len());
    }

    #[test]
    fn nanp_numbers_resolve_to_their_real_country() {
        assert_eq!(
            kind("+13175550100"),
            Ok(("US", NumberKind::FixedLineOrMobile))
        );
        assert_eq!(
            kind("+16135550123"),
            Ok(("CA", NumberKind::FixedLineOrMobile))
        );
        assert_eq!(kind("+18765550100").map(|k| k.0), Ok("JM"));
        assert_eq!(kind("+12423456789").map(|k| k.0), Ok("BS"));
        assert_eq!(
            kind("+12425550100").map(|k| k.0),
            Err(Invalid::NotAssigned(Region::from_code("BS")))
        );
        assert_eq!(kind("+19005550100"), Ok(("US", NumberKind::PremiumRate)));
    }

    #[test]
    fn calling_codes_split_by_prefix() {
        assert_eq!(split(&n("+13175550100")), Some((1, "3175550100")));
        assert_eq!(split(&n("+442079460958")), Some((44, "2079460958")));
        assert_eq!(split(&n("+3725123456")), Some((372, "5123456")));
        assert_eq!(split(&n("+9991234567")), None);
        assert_eq!(kind("+9991234567"), Err(Invalid::UnknownCallingCode));
    }

    #[test]
    fn type_names_parse_as_libphonenumber_spells_them() {
        assert_eq!(
            NumberKind::parse("PREMIUM_RATE"),
            Some(NumberKind::PremiumRate)
        );
        assert_eq!(NumberKind::parse(" toll-free "), Some(NumberKind::TollFree));
        assert_eq!(
            NumberKind::parse("personal_number"),
            Some(NumberKind::Personal)
        );
        assert_eq!(NumberKind::parse("premium"), None);
        for k in NumberKind::ALL {
            assert_eq!(NumberKind::parse(k.name()), Some(k));
        }
    }

    #[test]
    fn region_names_read_in_a_sentence() {
        let name = |c: &str| Region::from_code(c).unwrap().name_in_sentence();
        assert_eq!(name("us"), "the United States");
        assert_eq!(name("CA"), "Canada");
        assert_eq!(name("GB"), "the United Kingdom");
        assert_eq!(name("BS"), "the Bahamas");
        assert_eq!(name("DO"), "the Dominican Republic");
        assert_eq!(name("JM"), "Jamaica");
        assert_eq!(name("PS"), "State of Palestine");
        assert!(Region::from_code("ZZ").is_none());
    }
}
