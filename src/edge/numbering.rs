//! What a number is, by libphonenumber's numbering plans: its region (a +1
//! number resolves to its real NANP country) and its type (fixed line, mobile,
//! premium rate, …), or that it is not a valid number at all.
//!
//! build.rs compiles the metadata the `phonenumber` crate ships into one DFA
//! per plan (regex-automata determinizes and minimizes it), written as a table
//! over the ten digits; this module only walks it, so the edge pays neither a
//! metadata parse nor a regex compile, and no table is read until a number
//! needs it. The algorithm is
//! libphonenumber's `getRegionCodeForNumber` + `getNumberType`.

use crate::call::E164;

/// One numbering plan (a region, or a non-geographic calling code such as +800).
struct Plan {
    /// ISO 3166 region code, or "001" for non-geographic entities.
    region: &'static str,
    /// English name for a visitor's message.
    name: &'static str,
    code: u16,
    dfa: Table,
    /// Per pattern, the national-number lengths it allows (bit n: n digits; 0: any).
    lengths: [u32; 11],
    fixed_is_mobile: bool,
    /// Whether pattern 11 (the plan's leading digits) picks it among a shared code's plans.
    leading_digits: bool,
}

/// Where a plan's DFA is in `TABLE` (the layout is build.rs's `compile`):
/// `states` × 10 successor ids of one byte (two, little-endian, when `wide`),
/// all ones for "no number continues this way"; then `states` little-endian
/// u16 masks of the patterns matching the digits read so far. State 0 is the start.
struct Table {
    offset: usize,
    states: usize,
    wide: bool,
}

include!(concat!(env!("OUT_DIR"), "/numbering.rs"));

/// Every plan's DFA.
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

/// Which of a plan's patterns match a national number: bit p for pattern p.
#[derive(Clone, Copy)]
struct Matched(u16);

impl Matched {
    fn contains(&self, pattern: usize) -> bool {
        pattern < 16 && self.0 & (1 << pattern) != 0
    }
}

impl Table {
    fn width(&self) -> usize {
        if self.wide {
            2
        } else {
            1
        }
    }

    /// The state after `state` on `digit`; `None` when no number continues so
    /// (or the table is short, which build.rs never writes: fail closed).
    fn next(&self, state: usize, digit: usize) -> Option<usize> {
        let at = self.offset + (state * 10 + digit) * self.width();
        let id = match *TABLE.get(at..at + self.width())? {
            [b] if b != 0xFF => usize::from(b),
            [lo, hi] if u16::from_le_bytes([lo, hi]) != 0xFFFF => {
                usize::from(u16::from_le_bytes([lo, hi]))
            }
            _ => return None,
        };
        (id < self.states).then_some(id)
    }

    /// The patterns that match exactly the digits read to reach `state`.
    fn mask(&self, state: usize) -> u16 {
        let at = self.offset + self.states * 10 * self.width() + state * 2;
        TABLE
            .get(at..at + 2)
            .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn end(&self) -> usize {
        self.offset + self.states * (10 * self.width() + 2)
    }
}

/// Walks a plan's DFA over a national number: the whole-number patterns that
/// match at its end, and the leading-digits pattern if any prefix matches it.
fn matches(plan: usize, national: &str) -> Matched {
    let Some(table) = PLANS.get(plan).map(|p| &p.dfa) else {
        return Matched(0);
    };
    let leading = 1 << LEADING_DIGITS;
    let mut state = 0;
    let mut prefix = 0;
    for b in national.bytes() {
        prefix |= table.mask(state) & leading;
        let next = b
            .checked_sub(b'0')
            .filter(|d| *d <= 9)
            .and_then(|d| table.next(state, usize::from(d)));
        match next {
            Some(s) => state = s,
            None => return Matched(prefix),
        }
    }
    Matched(table.mask(state) | prefix)
}

/// Whether every plan's table is whole and every successor names a state
/// (tests; build.rs writes it so).
pub fn table_is_readable() -> bool {
    table_is_complete()
        && PLANS.iter().all(|p| {
            (0..p.dfa.states).all(|s| {
                (0..10).all(|d| {
                    let at = p.dfa.offset + (s * 10 + d) * p.dfa.width();
                    let dead = TABLE[at..at + p.dfa.width()].iter().all(|b| *b == 0xFF);
                    dead || p.dfa.next(s, d).is_some()
                })
            })
        })
}

/// How many plans the table holds (regions, and non-geographic codes).
pub fn plan_count() -> usize {
    PLANS.len()
}

/// Whether the table holds every byte the plans point into (cheap: for startup).
pub fn table_is_complete() -> bool {
    PLANS.iter().all(|p| p.dfa.end() <= TABLE.len())
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
