//! Classification of signals under the national guidelines the plan follows
//! (PLAN §2): GB/Z 20986-2007 and its successor GB/T 20986-2023.
//!
//! This is the GB/Z 20986-2007 mapping the store records with each incident;
//! `standards` ships both guides' full tables and the 2023 mapping.

use crate::model::SignalKind;
use serde::Serialize;

/// A category and subcategory, in Chinese (the guideline's words) and English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Category, e.g. 信息破坏事件.
    pub category_zh: &'static str,
    /// Subcategory, e.g. 信息篡改事件.
    pub subcategory_zh: &'static str,
    /// Category in English.
    pub category_en: &'static str,
    /// Subcategory in English.
    pub subcategory_en: &'static str,
}

/// Tampered content: 信息破坏事件 / 信息篡改事件.
pub const INFORMATION_TAMPERING: Classification = Classification {
    category_zh: "信息破坏事件",
    subcategory_zh: "信息篡改事件",
    category_en: "Information destruction",
    subcategory_en: "Information tampering",
};

/// An outage that the logs have shown to be a flood: 网络攻击事件 / 拒绝服务攻击事件.
pub const DENIAL_OF_SERVICE: Classification = Classification {
    category_zh: "网络攻击事件",
    subcategory_zh: "拒绝服务攻击事件",
    category_en: "Network attack",
    subcategory_en: "Denial of service",
};

/// An outage with no attack shown (yet): 设备设施故障 / 其他设备设施故障.
pub const FACILITY_FAILURE: Classification = Classification {
    category_zh: "设备设施故障",
    subcategory_zh: "其他设备设施故障",
    category_en: "Equipment and facility failure",
    subcategory_en: "Other equipment and facility failure",
};

/// A planted web shell: 网络攻击事件 / 后门攻击事件.
pub const BACKDOOR: Classification = Classification {
    category_zh: "网络攻击事件",
    subcategory_zh: "后门攻击事件",
    category_en: "Network attack",
    subcategory_en: "Backdoor attack",
};

/// Anything else: 其他事件 (the 2007 guide has no subcategories here).
pub const OTHER: Classification = Classification {
    category_zh: "其他事件",
    subcategory_zh: "其他事件",
    category_en: "Other",
    subcategory_en: "Other",
};

/// The classification a signal gives its incident. An outage counts as a
/// denial-of-service attack only once the logs confirm a flood
/// (`attack_confirmed`); until then it is a facility failure.
pub fn classify(kind: SignalKind, attack_confirmed: bool) -> Classification {
    match kind {
        SignalKind::Defacement | SignalKind::HiddenLinks => INFORMATION_TAMPERING,
        SignalKind::Unavailable if attack_confirmed => DENIAL_OF_SERVICE,
        SignalKind::Unavailable => FACILITY_FAILURE,
        SignalKind::Ddos => DENIAL_OF_SERVICE,
        SignalKind::WebShell => BACKDOOR,
        SignalKind::Other => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_follows_the_guideline() {
        let check = |kind, confirmed, expected: &str| {
            assert_eq!(classify(kind, confirmed).subcategory_zh, expected);
        };
        check(SignalKind::Defacement, false, "信息篡改事件");
        check(SignalKind::Defacement, true, "信息篡改事件");
        check(SignalKind::Unavailable, false, "其他设备设施故障");
        check(SignalKind::Unavailable, true, "拒绝服务攻击事件");
        check(SignalKind::WebShell, false, "后门攻击事件");
        check(SignalKind::HiddenLinks, false, "信息篡改事件");
        check(SignalKind::Ddos, false, "拒绝服务攻击事件");
        check(SignalKind::Other, false, "其他事件");
    }
}
