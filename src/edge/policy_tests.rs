//! The dial policy's tests: table tests over libphonenumber's own example
//! numbers, NANP, invalid numbers, configuration errors, masking, and a
//! comparison of the compiled table with the `phonenumber` crate itself.

use std::collections::HashMap;

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};

use super::*;

fn n(s: &str) -> E164 {
    E164::parse(s, "phoneNumber").unwrap()
}

fn policy(countries: &str) -> DialPolicy {
    DialPolicy::from_settings(PolicySettings {
        countries: Some(countries),
        ..Default::default()
    })
    .unwrap()
}

fn everything() -> DialPolicy {
    DialPolicy::from_settings(PolicySettings {
        countries: Some("*"),
        dial_prefixes: Some("+"),
        ..Default::default()
    })
    .unwrap()
}

fn reason(p: &DialPolicy, number: &str) -> Option<RefusalReason> {
    p.check(&n(number)).err().map(|r| r.reason)
}

fn settings_error(s: PolicySettings<'_>) -> PolicyError {
    DialPolicy::from_settings(s).unwrap_err()
}

/// Per country: a premium-rate (or, where it has none, shared-cost) number,
/// a fixed-line and a mobile number — libphonenumber's example numbers for
/// those types (`numbers_are_libphonenumbers_own_examples` proves it).
#[rustfmt::skip]
const COUNTRIES: [(&str, &str, NumberKind, &str, &str); 60] = [
    ("AT", "+43900123456", NumberKind::PremiumRate, "+431234567890", "+43664123456"),
    ("AU", "+611900123456", NumberKind::PremiumRate, "+61212345678", "+61412345678"),
    ("AR", "+546001234567", NumberKind::PremiumRate, "+541123456789", "+5491123456789"),
    ("AE", "+971900234567", NumberKind::PremiumRate, "+97122345678", "+971501234567"),
    ("BE", "+3290012345", NumberKind::PremiumRate, "+3212345678", "+32450001234"),
    ("BG", "+35990123456", NumberKind::PremiumRate, "+3592123456", "+35943012345"),
    ("BR", "+55500123456", NumberKind::PremiumRate, "+551123456789", "+5511961234567"),
    ("CH", "+41900123456", NumberKind::PremiumRate, "+41212345678", "+41781234567"),
    ("CL", "+566001234567", NumberKind::SharedCost, "+56600123456", "+56221234567"),
    ("CN", "+8616812345", NumberKind::PremiumRate, "+861012345678", "+8613123456789"),
    ("CO", "+5719001234567", NumberKind::PremiumRate, "+576012345678", "+573211234567"),
    ("CZ", "+420900123456", NumberKind::PremiumRate, "+420212345678", "+420601123456"),
    ("DE", "+499001234567", NumberKind::PremiumRate, "+4930123456", "+4915123456789"),
    ("DK", "+4590123456", NumberKind::PremiumRate, "+4532123456", "+4534412345"),
    ("EE", "+3729001234", NumberKind::PremiumRate, "+3723212345", "+37251234567"),
    ("ES", "+34803123456", NumberKind::PremiumRate, "+34810123456", "+34612345678"),
    ("FI", "+358600123456", NumberKind::PremiumRate, "+358131234567", "+358412345678"),
    ("FR", "+33891123456", NumberKind::PremiumRate, "+33123456789", "+33612345678"),
    ("GB", "+449012345678", NumberKind::PremiumRate, "+441212345678", "+447400123456"),
    ("GR", "+309091234567", NumberKind::PremiumRate, "+302123456789", "+306912345678"),
    ("HK", "+85290012345678", NumberKind::PremiumRate, "+85221234567", "+85251234567"),
    ("HR", "+3856001234", NumberKind::PremiumRate, "+38512345678", "+385921234567"),
    ("HU", "+3690123456", NumberKind::PremiumRate, "+3612345678", "+36201234567"),
    ("IE", "+3531520123456", NumberKind::PremiumRate, "+3532212345", "+353850123456"),
    ("IL", "+9721919123456", NumberKind::PremiumRate, "+97221234567", "+972502345678"),
    ("IN", "+911861123456789", NumberKind::PremiumRate, "+917410410123", "+918123456789"),
    ("IS", "+3549001234", NumberKind::PremiumRate, "+3544101234", "+3546111234"),
    ("IT", "+39899123456", NumberKind::PremiumRate, "+390212345678", "+393123456789"),
    ("JP", "+81990123456", NumberKind::PremiumRate, "+81312345678", "+819012345678"),
    ("KR", "+82602345678", NumberKind::PremiumRate, "+8222123456", "+821020000000"),
    ("LT", "+37090012345", NumberKind::PremiumRate, "+37031234567", "+37061234567"),
    ("LU", "+35290012345", NumberKind::PremiumRate, "+35227123456", "+352628123456"),
    ("LV", "+37190123456", NumberKind::PremiumRate, "+37163123456", "+37121234567"),
    ("MX", "+529001234567", NumberKind::PremiumRate, "+522001234567", "+522221234567"),
    ("MY", "+601600123456", NumberKind::PremiumRate, "+60323856789", "+60123456789"),
    ("NL", "+319061234", NumberKind::PremiumRate, "+31101234567", "+31612345678"),
    ("NO", "+4782012345", NumberKind::PremiumRate, "+4721234567", "+4740612345"),
    ("NZ", "+64900123456", NumberKind::PremiumRate, "+6432345678", "+64211234567"),
    ("PE", "+5180512345", NumberKind::PremiumRate, "+5111234567", "+51912345678"),
    ("PL", "+48701234567", NumberKind::PremiumRate, "+48123456789", "+48512345678"),
    ("PT", "+351760123456", NumberKind::PremiumRate, "+351212345678", "+351912345678"),
    ("RO", "+40900123456", NumberKind::PremiumRate, "+40211234567", "+40712034567"),
    ("RS", "+38190012345", NumberKind::PremiumRate, "+38110234567", "+381601234567"),
    ("RU", "+78091234567", NumberKind::PremiumRate, "+73011234567", "+79123456789"),
    ("SA", "+966925012345", NumberKind::PremiumRate, "+966112345678", "+966512345678"),
    ("SE", "+469001234567", NumberKind::PremiumRate, "+468123456", "+46701234567"),
    ("SG", "+6519001234567", NumberKind::PremiumRate, "+6561234567", "+6581234567"),
    ("SI", "+38690123456", NumberKind::PremiumRate, "+38612345678", "+38631234567"),
    ("SK", "+421900123456", NumberKind::PremiumRate, "+421221234567", "+421912123456"),
    ("TH", "+661900123456", NumberKind::PremiumRate, "+6621234567", "+66812345678"),
    ("TR", "+909001234567", NumberKind::PremiumRate, "+902123456789", "+905012345678"),
    ("TW", "+886203123456", NumberKind::PremiumRate, "+886221234567", "+886912345678"),
    ("UA", "+380900212345", NumberKind::PremiumRate, "+380311234567", "+380501234567"),
    ("ZA", "+27862345678", NumberKind::PremiumRate, "+27101234567", "+27711234567"),
    ("EG", "+209001234567", NumberKind::PremiumRate, "+20234567890", "+201001234567"),
    ("KE", "+254900223456", NumberKind::PremiumRate, "+254202012345", "+254712123456"),
    ("ID", "+628091234567", NumberKind::PremiumRate, "+62218350123", "+62812345678"),
    ("VN", "+841900123456", NumberKind::PremiumRate, "+842101234567", "+84912345678"),
    ("PK", "+9290012345", NumberKind::PremiumRate, "+922123456789", "+923012345678"),
    ("MA", "+212891234567", NumberKind::PremiumRate, "+212520123456", "+212650123456"),
];

/// An example number of a type, in E.164, as the crate's metadata gives it.
fn example(meta: &Metadata, desc: Option<&Descriptor>) -> Option<String> {
    desc.and_then(Descriptor::example)
        .map(|e| ["+", &meta.country_code().to_string(), e].concat())
}

#[test]
fn numbers_are_libphonenumbers_own_examples() {
    for (region, bad, kind, fixed, mobile) in COUNTRIES {
        let meta = DATABASE.by_id(region).unwrap();
        let d = meta.descriptors();
        let bad_desc = match kind {
            NumberKind::PremiumRate => d.premium_rate(),
            _ => d.shared_cost(),
        };
        assert_eq!(example(meta, bad_desc).as_deref(), Some(bad), "{region}");
        assert_eq!(
            example(meta, d.fixed_line()).as_deref(),
            Some(fixed),
            "{region}"
        );
        assert_eq!(
            example(meta, d.mobile()).as_deref(),
            Some(mobile),
            "{region}"
        );
    }
}

#[test]
fn premium_or_shared_cost_refused_fixed_and_mobile_allowed_in_sixty_countries() {
    let every = everything();
    for (region, bad, kind, fixed, mobile) in COUNTRIES {
        for p in [policy(region), every.clone()] {
            let refused = p.check(&n(bad)).unwrap_err();
            assert_eq!(refused.reason, RefusalReason::NumberTypeNotAllowed, "{bad}");
            assert_eq!(
                refused.visitor_message,
                [kind.plural(), " can't be called."].concat()
            );
            assert!(
                refused.log_detail.contains(region),
                "{}",
                refused.log_detail
            );
            assert!(
                refused.log_detail.contains(kind.name()),
                "{}",
                refused.log_detail
            );
            for ok in [fixed, mobile] {
                let c = p.check(&n(ok)).unwrap_or_else(|r| panic!("{ok}: {r:?}"));
                assert_eq!(c.region.code, region, "{ok}");
            }
        }
        // …and another country's policy refuses all three by country.
        let elsewhere = policy(if region == "NZ" { "AU" } else { "NZ" });
        for number in [bad, fixed, mobile] {
            assert_eq!(
                reason(&elsewhere, number),
                Some(RefusalReason::CountryNotAllowed),
                "{number}"
            );
        }
    }
}

#[test]
fn the_simulators_test_numbers_are_valid_us_numbers() {
    let p = policy("US,CA");
    for i in 0..=5 {
        let number = format!("+1317555010{i}");
        let c = p.check(&n(&number)).unwrap();
        assert_eq!(
            (c.region.code, c.kind),
            ("US", NumberKind::FixedLineOrMobile),
            "{number}"
        );
    }
}

#[test]
fn nanp_us_and_canada_only_with_us_ca() {
    let p = policy("US,CA");
    for (number, region) in [
        ("+12015550123", "US"), // libphonenumber's US example
        ("+15062345678", "CA"), // …and Canada's
        ("+16135550123", "CA"),
    ] {
        assert_eq!(p.check(&n(number)).unwrap().region.code, region, "{number}");
    }
    let only = "We can only call numbers in the United States and Canada.";
    for (number, region) in [
        ("+12423456789", "BS"), // the Bahamas
        ("+18765230123", "JM"), // Jamaica, 876
        ("+16585550100", "JM"), // Jamaica's 658 overlay
        ("+18092345678", "DO"), // the Dominican Republic
        ("+14414123456", "BM"), // Bermuda
        ("+12464123456", "BB"), // Barbados
    ] {
        let r = p.check(&n(number)).unwrap_err();
        assert_eq!(r.reason, RefusalReason::CountryNotAllowed, "{number}");
        assert_eq!(r.visitor_message, only);
        assert!(r.log_detail.contains(region), "{}", r.log_detail);
        // The region is real, not a prefix guess: allowing it admits the number.
        assert!(policy(region).check(&n(number)).is_ok(), "{number}");
    }
    for (number, kind) in [
        ("+15002345678", NumberKind::Personal), // the 5XX personal-communication range
        ("+15212345678", NumberKind::Personal),
        ("+19002345678", NumberKind::PremiumRate),
        ("+19005550100", NumberKind::PremiumRate),
        ("+18002345678", NumberKind::TollFree),
    ] {
        let r = p.check(&n(number)).unwrap_err();
        assert_eq!(r.reason, RefusalReason::NumberTypeNotAllowed, "{number}");
        assert!(r.log_detail.contains(kind.name()), "{}", r.log_detail);
    }
    assert_eq!(
        p.check(&n("+19005550100")).unwrap_err().visitor_message,
        "Premium-rate numbers can't be called."
    );
}

#[test]
fn invalid_numbers_are_refused_with_their_own_reason() {
    let every = everything();
    for (number, message) in [
        // Wrong length for the region.
        (
            "+1317555010",
            "That isn't a valid phone number. Please check the number.",
        ),
        (
            "+44207946095",
            "That isn't a valid phone number. Please check the number.",
        ),
        (
            "+3361234567",
            "That isn't a valid phone number in France. Please check the number.",
        ),
        (
            "+4901234567",
            "That isn't a valid phone number in Germany. Please check the number.",
        ),
        (
            "+12425550100",
            "That isn't a valid phone number in the Bahamas. Please check the number.",
        ),
        // Unassigned ranges: NANP area code 555; an unassigned Jamaican exchange.
        (
            "+15551234567",
            "That isn't a valid phone number. Please check the number.",
        ),
        (
            "+18760001234",
            "That isn't a valid phone number in Jamaica. Please check the number.",
        ),
        // No such calling code.
        (
            "+9991234567",
            "That number's country code doesn't exist. Please check the number.",
        ),
        (
            "+2801234567",
            "That number's country code doesn't exist. Please check the number.",
        ),
    ] {
        let r = every.check(&n(number)).unwrap_err();
        assert_eq!(r.reason, RefusalReason::InvalidNumber, "{number}");
        assert_eq!(r.visitor_message, message, "{number}");
        // libphonenumber agrees it is not valid.
        if let Ok(parsed) = phonenumber::parse(None, number) {
            assert!(!phonenumber::is_valid(&parsed), "{number}");
        }
    }
}

#[test]
fn toll_free_and_other_types_are_opt_in_by_name() {
    let with = |types: &str| {
        DialPolicy::from_settings(PolicySettings {
            countries: Some("US,GB"),
            number_types: Some(types),
            ..Default::default()
        })
        .unwrap()
    };
    let toll_free = "+18002345678";
    assert_eq!(
        reason(&policy("US"), toll_free),
        Some(RefusalReason::NumberTypeNotAllowed)
    );
    assert!(with("fixed-line,mobile,toll-free")
        .check(&n(toll_free))
        .is_ok());
    // libphonenumber's spelling works too; US numbers are fixed-line-or-mobile,
    // admitted when both fixed line and mobile are.
    let p = with("FIXED_LINE, MOBILE");
    assert!(p.check(&n("+13175550100")).is_ok());
    assert!(p.check(&n("+441212345678")).is_ok());
    // Mobile only: a UK landline and a US number (which may be a landline) are refused.
    let mobile = with("mobile");
    assert!(mobile.check(&n("+447400123456")).is_ok());
    assert_eq!(
        mobile
            .check(&n("+441212345678"))
            .unwrap_err()
            .visitor_message,
        "Landline numbers can't be called."
    );
    assert_eq!(
        reason(&mobile, "+13175550100"),
        Some(RefusalReason::NumberTypeNotAllowed)
    );
    // Premium rate only when named.
    assert!(with("premium-rate").check(&n("+449012345678")).is_ok());
}

#[test]
fn dial_prefixes_narrow_and_never_widen() {
    let p = DialPolicy::from_settings(PolicySettings {
        countries: Some("US,CA"),
        dial_prefixes: Some("+1317555, +1613"),
        ..Default::default()
    })
    .unwrap();
    assert!(p.check(&n("+13175550100")).is_ok());
    assert!(p.check(&n("+16135550123")).is_ok());
    assert_eq!(
        reason(&p, "+12015550123"),
        Some(RefusalReason::PrefixNotAllowed)
    );
    // A premium number under an allowed prefix is still refused by type.
    let wide = DialPolicy::from_settings(PolicySettings {
        countries: Some("US"),
        dial_prefixes: Some("+1900,+1317"),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        reason(&wide, "+19005550100"),
        Some(RefusalReason::NumberTypeNotAllowed)
    );
}

#[test]
fn high_risk_destinations_are_the_last_layer_and_can_be_overridden() {
    let every = everything();
    // Somalia's mobile example: a valid mobile number in an allowed ("*") country.
    let somalia = "+252907123456";
    let r = every.check(&n(somalia)).unwrap_err();
    assert_eq!(r.reason, RefusalReason::HighRiskDestination);
    assert_eq!(r.visitor_message, "We can't call numbers in Somalia.");
    assert!(r.log_detail.contains("+252"), "{}", r.log_detail);
    let off = DialPolicy::from_settings(PolicySettings {
        countries: Some("*"),
        blocked_prefixes: Some("none"),
        ..Default::default()
    })
    .unwrap();
    assert!(off.check(&n(somalia)).is_ok());
    let own = DialPolicy::from_settings(PolicySettings {
        countries: Some("*"),
        blocked_prefixes: Some("+4420"),
        ..Default::default()
    })
    .unwrap();
    assert!(own.check(&n(somalia)).is_ok());
    assert_eq!(
        reason(&own, "+442079460958"),
        Some(RefusalReason::HighRiskDestination)
    );
    // The built-in list reads, and names each entry.
    let list = parse_blocked_list(IRSF_DESTINATIONS).unwrap();
    assert!(list.len() >= 10);
    assert!(list.iter().all(|(p, what)| p.len() > 1 && !what.is_empty()));
}

#[test]
fn non_geographic_numbers_need_001() {
    let intl_freephone = "+80012345678"; // libphonenumber's +800 example
    let satellite = "+881612345678";
    let every = everything();
    let r = every.check(&n(intl_freephone)).unwrap_err();
    assert_eq!(r.reason, RefusalReason::CountryNotAllowed);
    assert_eq!(
        r.visitor_message,
        "We can't call international network or satellite numbers."
    );
    assert_eq!(
        reason(&every, satellite),
        Some(RefusalReason::CountryNotAllowed)
    );
    let with_001 = DialPolicy::from_settings(PolicySettings {
        countries: Some("*,001"),
        number_types: Some("fixed-line,mobile,toll-free"),
        ..Default::default()
    })
    .unwrap();
    assert!(with_001.check(&n(intl_freephone)).is_ok());
    // Satellite stays on the high-risk list.
    assert_eq!(
        reason(&with_001, satellite),
        Some(RefusalReason::HighRiskDestination)
    );
}

#[test]
fn refusals_name_allowed_countries_or_the_refused_one() {
    let three = policy("GB,IE,FR");
    assert_eq!(
        three.check(&n("+4930123456")).unwrap_err().visitor_message,
        "We can only call numbers in the United Kingdom, Ireland and France."
    );
    let many = policy("AT,BE,CH,DE,DK,ES,FR");
    assert_eq!(
        many.check(&n("+12423456789")).unwrap_err().visitor_message,
        "We can't call numbers in the Bahamas."
    );
}

#[test]
fn bad_settings_name_their_variable() {
    // (variable, value): each alone, the others left at their defaults.
    let cases = [
        ("ALLOWED_COUNTRIES", "UK"),
        ("ALLOWED_COUNTRIES", "US,XX"),
        ("ALLOWED_COUNTRIES", "usa"),
        ("ALLOWED_COUNTRIES", " , "),
        // Wholly on the high-risk list: it could never be dialled.
        ("ALLOWED_COUNTRIES", "US,CU"),
        ("ALLOWED_NUMBER_TYPES", "premium"),
        ("ALLOWED_NUMBER_TYPES", ","),
        ("ALLOWED_DIAL_PREFIXES", "1317"),
        // Outside every allowed country (US,CA by default): an upgrade's old "+44".
        ("ALLOWED_DIAL_PREFIXES", "+44"),
        ("BLOCKED_DIAL_PREFIXES", "+53;+252"),
        ("BLOCKED_DIAL_PREFIXES", "53"),
    ];
    for (variable, value) in cases {
        let mut s = PolicySettings::default();
        match variable {
            "ALLOWED_COUNTRIES" => s.countries = Some(value),
            "ALLOWED_NUMBER_TYPES" => s.number_types = Some(value),
            "ALLOWED_DIAL_PREFIXES" => s.dial_prefixes = Some(value),
            _ => s.blocked_prefixes = Some(value),
        }
        let e = settings_error(s);
        assert_eq!(e.variable, variable, "{variable}={value}: {}", e.problem);
    }
    assert!(settings_error(PolicySettings {
        countries: Some("UK"),
        ..Default::default()
    })
    .problem
    .contains("'UK'"));
    // The defaults read: US and Canada, fixed and mobile, the built-in list.
    let d = DialPolicy::from_settings(PolicySettings::default()).unwrap();
    assert_eq!(d, policy("US,CA"));
    assert!(d.check(&n("+13175550100")).is_ok());
}

#[test]
fn masked_numbers_keep_the_country_code_and_last_two_digits() {
    for (number, masked) in [
        ("+13175550100", "+1 •••• ••• ••00"),
        ("+442079460958", "+44 •••• ••• ••58"),
        ("+33612345678", "+33 •••• ••• ••78"),
        ("+3725123456", "+372 •••• ••• ••56"),
        ("+9991234567", "+ •••• ••• ••67"),
    ] {
        assert_eq!(mask_number(&n(number)), masked, "{number}");
    }
}

#[test]
fn log_details_never_hold_the_number() {
    let p = policy("US,CA");
    for number in [
        "+19005550100",
        "+18765230123",
        "+1317555010",
        "+9991234567",
        "+447400123456",
    ] {
        let r = p.check(&n(number)).unwrap_err();
        let digits = &number[1..];
        assert!(!r.log_detail.contains(digits), "{}", r.log_detail);
        assert!(
            !r.log_detail.contains(&digits[digits.len() - 6..]),
            "{}",
            r.log_detail
        );
        assert!(r.log_detail.contains(r.reason.code()));
    }
}

#[test]
fn no_input_panics() {
    // A deterministic spread of E.164-shaped inputs of every length.
    let every = everything();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 7 + (x % 9) as usize;
        let digits: String = (0..len)
            .map(|i| char::from(b'0' + ((x >> (i * 4)) % 10) as u8))
            .collect();
        let digits = match digits.strip_prefix('0') {
            Some(rest) => ["1", rest].concat(),
            None => digits,
        };
        let number = n(&["+", &digits].concat());
        let _ = every.check(&number);
        let _ = mask_number(&number);
    }
}

/// libphonenumber's algorithm written over the crate's patterns with the
/// `regex` crate, anchored at both ends as libphonenumber matches them: the
/// reference the compiled DFAs must agree with.
struct Reference {
    compiled: HashMap<String, regex::Regex>,
}

impl Reference {
    fn new() -> Reference {
        Reference {
            compiled: HashMap::new(),
        }
    }

    fn matches(&mut self, pattern: &str, text: &str, whole: bool) -> bool {
        let source = if whole {
            format!("^(?:{pattern})$")
        } else {
            format!("^(?:{pattern})")
        };
        self.compiled
            .entry(source.clone())
            .or_insert_with(|| {
                regex::RegexBuilder::new(&source)
                    .ignore_whitespace(true)
                    .build()
                    .unwrap()
            })
            .is_match(text)
    }

    fn desc(&mut self, desc: Option<&Descriptor>, national: &str) -> bool {
        let Some(desc) = desc else { return false };
        let lengths = desc.possible_length();
        if !lengths.is_empty() && !lengths.contains(&(national.len() as u16)) {
            return false;
        }
        self.matches(desc.national_number().as_str(), national, true)
    }

    fn kind(&mut self, meta: &Metadata, national: &str) -> Option<NumberKind> {
        let d = meta.descriptors();
        if !self.desc(Some(d.general()), national) {
            return None;
        }
        for (desc, kind) in [
            (d.premium_rate(), NumberKind::PremiumRate),
            (d.toll_free(), NumberKind::TollFree),
            (d.shared_cost(), NumberKind::SharedCost),
            (d.voip(), NumberKind::Voip),
            (d.personal_number(), NumberKind::Personal),
            (d.pager(), NumberKind::Pager),
            (d.uan(), NumberKind::Uan),
            (d.voicemail(), NumberKind::Voicemail),
        ] {
            if self.desc(desc, national) {
                return Some(kind);
            }
        }
        if self.desc(d.fixed_line(), national) {
            let same = d.fixed_line().map(|f| f.national_number().as_str())
                == d.mobile().map(|m| m.national_number().as_str());
            return Some(if same || self.desc(d.mobile(), national) {
                NumberKind::FixedLineOrMobile
            } else {
                NumberKind::FixedLine
            });
        }
        self.desc(d.mobile(), national)
            .then_some(NumberKind::Mobile)
    }

    fn classify(&mut self, number: &str) -> Option<(String, NumberKind)> {
        let digits = &number[1..];
        let (code, national) = (1..=3).find_map(|k| {
            let code: u16 = digits.get(..k)?.parse().ok()?;
            DATABASE.by_code(&code).map(|m| (m, &digits[k..]))
        })?;
        let single = code.len() == 1;
        for meta in code {
            let claims = single
                || match meta.leading_digits() {
                    Some(l) => self.matches(l.as_str(), national, false),
                    None => self.kind(meta, national).is_some(),
                };
            if claims {
                return self
                    .kind(meta, national)
                    .map(|k| (meta.id().to_string(), k));
            }
        }
        None
    }
}

/// Every example number of every region, and numbers made from them by
/// changing digits and lengths: the compiled table classifies each exactly as
/// libphonenumber's algorithm over the crate's patterns does.
#[test]
fn the_compiled_table_agrees_with_libphonenumbers_patterns() {
    let mut reference = Reference::new();
    let mut checked = 0;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut seen = std::collections::HashSet::new();
    for code in 1..1000u16 {
        let Some(metas) = DATABASE.by_code(&code) else {
            continue;
        };
        for meta in metas {
            let d = meta.descriptors();
            for desc in [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ] {
                let Some(ex) = example(meta, desc) else {
                    continue;
                };
                let mut variants = vec![
                    ex.clone(),
                    ex[..ex.len() - 1].to_string(),
                    [&ex, "5"].concat(),
                ];
                for _ in 0..6 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let keep = ex.len() - 1 - (x % 4) as usize;
                    let tail: String = (keep..ex.len())
                        .map(|i| char::from(b'0' + ((x >> (i * 3)) % 10) as u8))
                        .collect();
                    variants.push([&ex[..keep], &tail].concat());
                }
                for v in variants {
                    let Ok(number) = E164::parse(&v, "n") else {
                        continue;
                    };
                    if !seen.insert(v.clone()) {
                        continue;
                    }
                    let ours = numbering::classify(&number)
                        .ok()
                        .map(|c| (c.region.code.to_string(), c.kind));
                    assert_eq!(ours, reference.classify(&v), "{v}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 5_000, "{checked}");
}

/// The "done when" of the issue: with every country and every prefix allowed,
/// no premium-rate, shared-cost, UAN or personal number of any region is
/// dialled, and every region's fixed and mobile examples are (bar the
/// high-risk list and the non-geographic plans, which `*` does not cover).
#[test]
fn everything_allowed_still_refuses_every_premium_shared_uan_and_personal_number() {
    let every = everything();
    let (mut refused, mut allowed) = (0, 0);
    for code in 1..1000u16 {
        let Some(metas) = DATABASE.by_code(&code) else {
            continue;
        };
        for meta in metas {
            let d = meta.descriptors();
            for desc in [
                d.premium_rate(),
                d.shared_cost(),
                d.uan(),
                d.personal_number(),
            ] {
                let Some(ex) = example(meta, desc) else {
                    continue;
                };
                let Ok(number) = E164::parse(&ex, "n") else {
                    continue;
                };
                assert!(
                    every.check(&number).is_err(),
                    "{} {ex} was allowed",
                    meta.id()
                );
                refused += 1;
            }
            for desc in [d.fixed_line(), d.mobile()] {
                let Some(ex) = example(meta, desc) else {
                    continue;
                };
                let Ok(number) = E164::parse(&ex, "n") else {
                    continue;
                };
                let ordinary = matches!(
                    numbering::classify(&number).map(|c| c.kind),
                    Ok(NumberKind::FixedLine | NumberKind::Mobile | NumberKind::FixedLineOrMobile)
                );
                match every.check(&number) {
                    Ok(_) => allowed += 1,
                    // Only the high-risk list and "001" may refuse an ordinary number here.
                    Err(r) => assert!(
                        !ordinary
                            || r.reason == RefusalReason::HighRiskDestination
                            || meta.id() == "001",
                        "{} {ex}: {r:?}",
                        meta.id()
                    ),
                }
            }
        }
    }
    assert!(refused > 250, "{refused}");
    assert!(allowed > 400, "{allowed}");
}

#[test]
fn the_pinned_crate_is_the_one_the_table_names() {
    let lock = include_str!("../../Cargo.lock");
    let want = [
        "name = \"phonenumber\"\nversion = \"",
        numbering::PHONENUMBER_CRATE,
        "\"",
    ]
    .concat();
    assert!(lock.contains(&want), "Cargo.lock does not lock {want}");
}

#[test]
fn cors_is_exact_match() {
    let allowed = vec!["https://shop.example".to_string()];
    assert!(origin_allowed(&allowed, "https://shop.example"));
    for o in [
        "https://shop.example.evil",
        "http://shop.example",
        "https://shop.example/",
        "null",
        "",
    ] {
        assert!(!origin_allowed(&allowed, o), "{o}");
    }
}
