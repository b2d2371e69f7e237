//! What the edge handler will dial, and for whom: the dial policy and CORS.
//! Deny by default: only numbers under an allowed E.164 prefix, and never the
//! premium-rate or toll-fraud ranges below, however broad the allowed prefix.

use crate::call::E164;

/// Ranges refused even when an allowed prefix covers them: premium-rate and
/// shared-cost services, satellite and international networks (the usual
/// International Revenue Share Fraud targets), and the NANP area codes the FCC
/// names in its "one-ring" scam warnings.
pub const BLOCKED_RANGES: &[(&str, &str)] = &[
    ("+1900", "NANP premium-rate (900)"),
    ("+1976", "NANP premium-rate (976)"),
    ("+1268", "Antigua and Barbuda (one-ring scam area code)"),
    ("+1284", "British Virgin Islands (one-ring scam area code)"),
    ("+1473", "Grenada (one-ring scam area code)"),
    ("+1649", "Turks and Caicos (one-ring scam area code)"),
    ("+1664", "Montserrat (one-ring scam area code)"),
    ("+1767", "Dominica (one-ring scam area code)"),
    ("+1809", "Dominican Republic (one-ring scam area code)"),
    ("+1829", "Dominican Republic (one-ring scam area code)"),
    ("+1849", "Dominican Republic (one-ring scam area code)"),
    ("+1876", "Jamaica (one-ring scam area code)"),
    ("+979", "International Premium Rate Service"),
    ("+808", "International Shared Cost Service"),
    ("+870", "Inmarsat satellite"),
    ("+878", "Universal Personal Telecommunications"),
    (
        "+881",
        "Global Mobile Satellite System (Iridium, Globalstar, …)",
    ),
    ("+882", "International Networks"),
    ("+883", "International Networks"),
    ("+888", "OCHA / international networks"),
    ("+4470", "UK personal numbering (070, fraud-prone)"),
    ("+4484", "UK shared-cost (084)"),
    ("+4487", "UK revenue-sharing (087)"),
    ("+449", "UK premium-rate (09)"),
    ("+3390", "France premium-rate (089)"),
    ("+3389", "France premium-rate (089)"),
    ("+49900", "Germany premium-rate (0900)"),
    ("+39899", "Italy premium-rate (899)"),
    ("+34905", "Spain premium-rate (905)"),
    ("+61190", "Australia premium-rate (190)"),
    ("+247", "Ascension Island (IRSF destination)"),
    ("+252", "Somalia (IRSF destination)"),
    ("+290", "Saint Helena (IRSF destination)"),
    ("+675", "Papua New Guinea (IRSF destination)"),
    ("+677", "Solomon Islands (IRSF destination)"),
    ("+678", "Vanuatu (IRSF destination)"),
    ("+682", "Cook Islands (IRSF destination)"),
    ("+683", "Niue (IRSF destination)"),
    ("+686", "Kiribati (IRSF destination)"),
    ("+688", "Tuvalu (IRSF destination)"),
    ("+690", "Tokelau (IRSF destination)"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// Not under any allowed prefix.
    NotAllowed,
    /// In a blocked range (the description says which).
    Blocked(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialPolicy {
    allowed: Vec<String>,
}

impl DialPolicy {
    /// `prefixes`: comma-separated E.164 prefixes such as `+1317555,+44`; `+`
    /// alone allows every country (the blocked ranges still apply).
    pub fn parse(prefixes: &str) -> Result<DialPolicy, String> {
        let mut allowed = Vec::new();
        for p in prefixes.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let digits = p
                .strip_prefix('+')
                .ok_or_else(|| ["'", p, "' is not an E.164 prefix such as +1317555"].concat())?;
            if digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(["'", p, "' is not an E.164 prefix such as +1317555"].concat());
            }
            allowed.push(p.to_string());
        }
        if allowed.is_empty() {
            return Err(
                "no prefixes: the edge dials nothing until ALLOWED_DIAL_PREFIXES lists some"
                    .to_string(),
            );
        }
        Ok(DialPolicy { allowed })
    }

    pub fn check(&self, number: &E164) -> Result<(), Denial> {
        let n = number.as_str();
        if let Some((_, why)) = BLOCKED_RANGES
            .iter()
            .find(|(prefix, _)| n.starts_with(prefix))
        {
            return Err(Denial::Blocked(why));
        }
        if self.allowed.iter().any(|p| n.starts_with(p.as_str())) {
            Ok(())
        } else {
            Err(Denial::NotAllowed)
        }
    }
}

/// Exact-match CORS: the `Origin` header must equal one configured origin.
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| a == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        E164::parse(s, "phoneNumber").unwrap()
    }

    #[test]
    fn deny_by_default_and_prefixes() {
        let p = DialPolicy::parse("+1317555, +4420").unwrap();
        assert_eq!(p.check(&n("+13175550100")), Ok(()));
        assert_eq!(p.check(&n("+442079460958")), Ok(()));
        assert_eq!(p.check(&n("+13125550100")), Err(Denial::NotAllowed));
        assert_eq!(p.check(&n("+33142685300")), Err(Denial::NotAllowed));
        assert!(DialPolicy::parse("").is_err());
        assert!(DialPolicy::parse("1317").is_err());
        assert!(DialPolicy::parse("+1-317").is_err());
    }

    #[test]
    fn every_blocked_range_is_refused_even_when_everything_is_allowed() {
        let everything = DialPolicy::parse("+").unwrap();
        for (prefix, why) in BLOCKED_RANGES {
            // Fill the prefix out to a valid number inside the range.
            let number = format!("{prefix}{}", "2".repeat(12 - (prefix.len() - 1).min(11)));
            let number = &number[..number.len().min(16)];
            assert_eq!(
                everything.check(&n(number)),
                Err(Denial::Blocked(why)),
                "{number}"
            );
            // …and under a narrower prefix that contains it.
            let narrow = DialPolicy::parse(&prefix[..2]).unwrap();
            assert!(
                matches!(narrow.check(&n(number)), Err(Denial::Blocked(_))),
                "{number}"
            );
        }
        assert_eq!(everything.check(&n("+13175550100")), Ok(()));
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
}
