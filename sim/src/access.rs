//! Permission checks with Genesys' two 403 bodies: `missing.permissions` where
//! the API reference says "Requires ALL permissions", `missing.any.permissions`
//! where it says "Requires ANY". User tokens hold every permission in the sim.

use axum::response::Response;

use crate::util::api_error;
use crate::Principal;

/// The principal must hold every one of `perms`.
pub fn require_all(p: &Principal, perms: &[&str], corr: &str) -> Result<(), Response> {
    let missing: Vec<&str> = perms
        .iter()
        .copied()
        .filter(|perm| !p.has_any(&[perm]))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let msg = format!(
        "Unable to perform the requested action. You are missing the following permission(s): [{}]",
        missing.join(", ")
    );
    Err(api_error(403, "missing.permissions", &msg, corr))
}

/// The principal must hold at least one of `perms`.
pub fn require_any(p: &Principal, perms: &[&str], corr: &str) -> Result<(), Response> {
    if p.has_any(perms) {
        return Ok(());
    }
    let msg = format!(
        "Unable to perform the requested action. You must have at least one of the following permissions assigned: [{}]",
        perms.join(", ")
    );
    Err(api_error(403, "missing.any.permissions", &msg, corr))
}
