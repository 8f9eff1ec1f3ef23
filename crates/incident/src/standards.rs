//! The national incident classification tables, shipped as data: GB/Z
//! 20986-2007 (the guide the organisation's plan cites, PLAN §2) and its
//! successor GB/T 20986-2023, with the mapping from sitewarden's incident
//! kinds to a subcategory of each.
//!
//! Sources. The 2007 table follows the guide's 7 categories and 28
//! subcategories as PLAN §2 lists them (the spelling 其他 is used
//! throughout, as the store already records it). The 2023 table and its
//! codes (appendix B) are transcribed from a public tabulation of the
//! standard (10 categories; subcategories with their codes); the standard's
//! own text was not available to check against, so a code that differs
//! from the standard is a transcription error to fix here. English names
//! are ours.
//!
//! This module only holds data and looks things up; the levels are in
//! `level`.

use crate::model::SignalKind;
use serde::Serialize;

/// Which national guide a classification is under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Standard {
    /// GB/Z 20986-2007 信息安全事件分类分级指南.
    #[serde(rename = "GB/Z 20986-2007")]
    Gbz2007,
    /// GB/T 20986-2023 网络安全事件分类分级指南.
    #[serde(rename = "GB/T 20986-2023")]
    Gbt2023,
}

impl Standard {
    /// The standard's number as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Standard::Gbz2007 => "GB/Z 20986-2007",
            Standard::Gbt2023 => "GB/T 20986-2023",
        }
    }
}

/// One subcategory of a guide, with its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Subcategory {
    /// The guide.
    pub standard: Standard,
    /// The category's code (2007: the guide's English abbreviation, e.g.
    /// "IDI"; 2023: appendix B's code, e.g. "NA").
    pub category_code: &'static str,
    /// The category, in the guide's words.
    pub category_zh: &'static str,
    /// The category in English.
    pub category_en: &'static str,
    /// The subcategory's code ("IAI", "NAWEBMOD").
    pub code: &'static str,
    /// The subcategory, in the guide's words.
    pub subcategory_zh: &'static str,
    /// The subcategory in English.
    pub subcategory_en: &'static str,
}

macro_rules! table {
    ($standard:expr; $( $cat_code:literal $cat_zh:literal $cat_en:literal => [ $( $code:literal $zh:literal $en:literal ),* $(,)? ] )* ) => {
        &[ $( $( Subcategory {
            standard: $standard,
            category_code: $cat_code,
            category_zh: $cat_zh,
            category_en: $cat_en,
            code: $code,
            subcategory_zh: $zh,
            subcategory_en: $en,
        }, )* )* ]
    };
}

/// GB/Z 20986-2007: 7 categories, 28 subcategories; the two categories
/// without subcategories (灾害性事件, 其他事件) appear once each with the
/// category as its own subcategory.
pub const GBZ_20986_2007: &[Subcategory] = table![Standard::Gbz2007;
    "MI" "有害程序事件" "Malware" => [
        "CVI" "计算机病毒事件" "Computer virus",
        "WI" "蠕虫事件" "Worm",
        "THI" "特洛伊木马事件" "Trojan horse",
        "BI" "僵尸网络事件" "Botnet",
        "BAI" "混合攻击程序事件" "Blended attack",
        "WBPI" "网页内嵌恶意代码事件" "Web-embedded malicious code",
        "OMI" "其他有害程序事件" "Other malware",
    ]
    "NAI" "网络攻击事件" "Network attack" => [
        "DOSAI" "拒绝服务攻击事件" "Denial of service",
        "BDAI" "后门攻击事件" "Backdoor attack",
        "VAI" "漏洞攻击事件" "Vulnerability exploit",
        "NSEI" "网络扫描窃听事件" "Network scanning and eavesdropping",
        "PI" "网络钓鱼事件" "Phishing",
        "II" "干扰事件" "Interference",
        "ONAI" "其他网络攻击事件" "Other network attack",
    ]
    "IDI" "信息破坏事件" "Information destruction" => [
        "IAI" "信息篡改事件" "Information tampering",
        "IMI" "信息假冒事件" "Information impersonation",
        "ILEI" "信息泄露事件" "Information leak",
        "III" "信息窃取事件" "Information theft",
        "ILOI" "信息丢失事件" "Information loss",
        "OIDI" "其他信息破坏事件" "Other information destruction",
    ]
    "ICSI" "信息内容安全事件" "Information content security" => [
        "ICSI-LAW" "违反宪法和法律、行政法规的信息安全事件" "Content violating the constitution, laws or regulations",
        "ICSI-HOT" "针对社会事项进行讨论、评论形成网上敏感的舆论热点，出现一定规模炒作的信息安全事件" "Hyped online controversy on social matters",
        "ICSI-ORG" "组织串连、煽动集会游行的信息安全事件" "Organising or inciting assemblies and demonstrations",
        "OICSI" "其他信息内容安全事件" "Other information content security",
    ]
    "FF" "设备设施故障" "Equipment and facility failure" => [
        "SHF" "软硬件自身故障" "Software and hardware failure",
        "PSFF" "外围保障设施故障" "Supporting facility failure",
        "MDA" "人为破坏事故" "Man-made destruction",
        "IF-OT" "其他设备设施故障" "Other equipment and facility failure",
    ]
    "DI" "灾害性事件" "Disaster" => [
        "DI" "灾害性事件" "Disaster",
    ]
    "OI" "其他事件" "Other" => [
        "OI" "其他事件" "Other",
    ]
];

/// GB/T 20986-2023: 10 categories and their subcategories, with appendix
/// B's codes.
pub const GBT_20986_2023: &[Subcategory] = table![Standard::Gbt2023;
    "MP" "恶意程序事件" "Malicious program" => [
        "MPEVIR" "计算机病毒事件" "Computer virus",
        "MPWORM" "网络蠕虫事件" "Network worm",
        "MPTROJ" "特洛伊木马事件" "Trojan horse",
        "MPZOMB" "僵尸网络事件" "Botnet",
        "MPWEB" "恶意代码内嵌网页事件" "Web page with embedded malicious code",
        "MPHOST" "恶意代码宿主站点事件" "Malicious code host site",
        "MPRANS" "勒索软件事件" "Ransomware",
        "MPMINER" "挖矿病毒事件" "Cryptomining malware",
        "MPHYBR" "混合攻击程序事件" "Blended attack program",
        "MPOTH" "其他恶意程序事件" "Other malicious program",
    ]
    "NA" "网络攻击事件" "Network attack" => [
        "NASCAN" "网络扫描探测事件" "Network scanning and probing",
        "NAPHISH" "网络钓鱼事件" "Phishing",
        "NAEXPLOIT" "漏洞利用事件" "Vulnerability exploitation",
        "NABACKDOOR" "后门利用事件" "Backdoor exploitation",
        "NABACKIMPL" "后门植入事件" "Backdoor implantation",
        "NACRED" "凭据攻击事件" "Credential attack",
        "NASIGINT" "信号干扰事件" "Signal interference",
        "NADOS" "拒绝服务事件" "Denial of service",
        "NAWEBMOD" "网页篡改事件" "Web page tampering",
        "NALINK" "暗链植入事件" "Hidden link implantation",
        "NADNSHIJ" "域名劫持事件" "Domain name hijacking",
        "NATRANSFER" "域名转嫁事件" "Domain name redirection",
        "NADNSPOLL" "DNS污染事件" "DNS pollution",
        "NAWLANH" "WLAN劫持事件" "WLAN hijacking",
        "NATRAFHIJ" "流量劫持事件" "Traffic hijacking",
        "NABGPATT" "BGP劫持攻击事件" "BGP hijacking",
        "NABRDCAST" "广播欺诈事件" "Broadcast spoofing",
        "NAHACKED" "失陷主机事件" "Compromised host",
        "NASUPPLY" "供应链攻击事件" "Supply chain attack",
        "NAAPT" "APT事件" "Advanced persistent threat",
        "NAOTH" "其他网络攻击事件" "Other network attack",
    ]
    "DS" "数据安全事件" "Data security" => [
        "DSDATAALTER" "数据篡改事件" "Data tampering",
        "DSDATAFAKE" "数据假冒事件" "Data counterfeiting",
        "DSDATALEAK" "数据泄露事件" "Data leak",
        "DSSOCENG" "社会工程事件" "Social engineering",
        "DSDATASTEAL" "数据窃取事件" "Data theft",
        "DSDATAINTER" "数据拦截事件" "Data interception",
        "DSLOCDETECT" "位置检测事件" "Location detection",
        "DSDATAPOLL" "数据投毒事件" "Data poisoning",
        "DSDATAABUSE" "数据滥用事件" "Data abuse",
        "DSPRIVACY" "隐私侵犯事件" "Privacy infringement",
        "DSDATALOSS" "数据损失事件" "Data loss",
        "DSOTH" "其他数据安全事件" "Other data security",
    ]
    "IC" "信息内容安全事件" "Information content security" => [
        "ICRADICAL" "反动宣传事件" "Subversive propaganda",
        "ICTERROR" "暴恐宣扬事件" "Terrorist and extremist propaganda",
        "ICPORN" "色情传播事件" "Pornography",
        "ICFAKENEWS" "虚假信息传播事件" "False information",
        "ICRIGHTS" "权益侵害事件" "Infringement of rights",
        "ICSPAM" "信息滥发事件" "Spam",
        "ICFRAUD" "网络欺诈事件" "Online fraud",
        "ICOTH" "其他信息内容安全事件" "Other information content security",
    ]
    "DE" "设备设施故障事件" "Equipment and facility failure" => [
        "DETECH" "技术故障事件" "Technical failure",
        "DEACCFAC" "配套设施故障事件" "Supporting facility failure",
        "DEPHYS" "物理损害事件" "Physical damage",
        "DERADINT" "辐射干扰事件" "Radiation interference",
        "DEOTH" "其他设备设施故障事件" "Other equipment and facility failure",
    ]
    "RO" "违规操作事件" "Violating operation" => [
        "ROPABUSE" "权限滥用事件" "Privilege abuse",
        "ROPFAKE" "权限伪造事件" "Privilege forgery",
        "ROPDENY" "行为抵赖事件" "Repudiation",
        "ROPINTENT" "故意违规操作事件" "Deliberate violation",
        "ROPMISTAKE" "误操作事件" "Operator error",
        "ROPUAVAIL" "人员可用性破坏事件" "Loss of staff availability",
        "ROPNOUNAUTH" "资源未授权使用事件" "Unauthorised use of resources",
        "ROPO" "其他违规操作事件" "Other violating operation",
    ]
    "SHE" "安全隐患事件" "Security hazard" => [
        "SHEVULN" "网络漏洞事件" "Network vulnerability",
        "SHECONFIG" "网络配置合规缺陷事件" "Non-compliant configuration",
        "SHEOTH" "其他安全隐患事件" "Other security hazard",
    ]
    "AB" "异常行为事件" "Abnormal behaviour" => [
        "ABACCESS" "访问异常事件" "Abnormal access",
        "ABTRAFFIC" "流量异常事件" "Abnormal traffic",
        "ABOTH" "其他异常行为事件" "Other abnormal behaviour",
    ]
    "FOC" "不可抗力事件" "Force majeure" => [
        "FOCDISASTER" "自然灾害事件" "Natural disaster",
        "FOCACCIDENT" "事故灾难事件" "Accident",
        "FOCHEALTH" "公共卫生事件" "Public health",
        "FOCSOCIALSEC" "社会安全事件" "Social security",
        "FOCOTH" "其他不可抗力事件" "Other force majeure",
    ]
    "OTH" "其他事件" "Other" => [
        "OTH" "其他事件" "Other",
    ]
];

/// The subcategory with this `code` in `table`.
pub fn by_code(table: &'static [Subcategory], code: &str) -> Option<&'static Subcategory> {
    table.iter().find(|subcategory| subcategory.code == code)
}

/// An incident's classification under both guides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Classifications {
    /// Under GB/Z 20986-2007 (the plan's guide).
    pub gbz_2007: &'static Subcategory,
    /// Under GB/T 20986-2023 (its successor).
    pub gbt_2023: &'static Subcategory,
}

/// The 2007 and 2023 codes for a kind of incident. An outage counts as a
/// denial of service only once an attack is confirmed; until then it is a
/// facility failure (2007) or abnormal access (2023).
fn codes(kind: SignalKind, attack_confirmed: bool) -> (&'static str, &'static str) {
    match kind {
        SignalKind::Defacement => ("IAI", "NAWEBMOD"),
        SignalKind::HiddenLinks => ("IAI", "NALINK"),
        SignalKind::WebShell => ("BDAI", "NABACKIMPL"),
        SignalKind::Ddos => ("DOSAI", "NADOS"),
        SignalKind::Unavailable if attack_confirmed => ("DOSAI", "NADOS"),
        SignalKind::Unavailable => ("IF-OT", "ABACCESS"),
        SignalKind::Other => ("OI", "OTH"),
    }
}

/// The classification of a kind of incident under both guides.
pub fn classify_both(kind: SignalKind, attack_confirmed: bool) -> Classifications {
    let (old, new) = codes(kind, attack_confirmed);
    // Every code in `codes` is in its table (checked by a test); the
    // fallback is the tables' "other" row, never a panic.
    let other_2007 = &GBZ_20986_2007[GBZ_20986_2007.len() - 1];
    let other_2023 = &GBT_20986_2023[GBT_20986_2023.len() - 1];
    Classifications {
        gbz_2007: by_code(GBZ_20986_2007, old).unwrap_or(other_2007),
        gbt_2023: by_code(GBT_20986_2023, new).unwrap_or(other_2023),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::classify;
    use std::collections::BTreeSet;

    #[test]
    fn tables_have_the_guides_shape() {
        let categories = |table: &[Subcategory]| -> BTreeSet<&str> {
            table.iter().map(|row| row.category_zh).collect()
        };
        assert_eq!(categories(GBZ_20986_2007).len(), 7);
        assert_eq!(categories(GBT_20986_2023).len(), 10);
        // 28 subcategories in the five categories that have them.
        let with_subcategories = GBZ_20986_2007
            .iter()
            .filter(|row| row.category_code != "DI" && row.category_code != "OI")
            .count();
        assert_eq!(with_subcategories, 28);
        for table in [GBZ_20986_2007, GBT_20986_2023] {
            let codes: BTreeSet<&str> = table.iter().map(|row| row.code).collect();
            assert_eq!(codes.len(), table.len(), "codes are unique");
        }
    }

    fn check(kind: SignalKind, confirmed: bool, expected: (&str, &str)) {
        let both = classify_both(kind, confirmed);
        assert_eq!(
            (both.gbz_2007.subcategory_zh, both.gbt_2023.subcategory_zh),
            expected,
            "{kind:?} confirmed={confirmed}"
        );
        // The 2007 mapping agrees with the one the store records.
        assert_eq!(
            classify(kind, confirmed).subcategory_zh,
            both.gbz_2007.subcategory_zh
        );
        assert_eq!(
            classify(kind, confirmed).category_zh,
            both.gbz_2007.category_zh
        );
    }

    #[test]
    fn every_kind_maps_into_both_tables() {
        use SignalKind::*;
        check(Defacement, false, ("信息篡改事件", "网页篡改事件"));
        check(HiddenLinks, false, ("信息篡改事件", "暗链植入事件"));
        check(WebShell, false, ("后门攻击事件", "后门植入事件"));
        check(Ddos, false, ("拒绝服务攻击事件", "拒绝服务事件"));
        check(Unavailable, false, ("其他设备设施故障", "访问异常事件"));
        check(Unavailable, true, ("拒绝服务攻击事件", "拒绝服务事件"));
        check(Other, false, ("其他事件", "其他事件"));
        for kind in SignalKind::ALL {
            for confirmed in [false, true] {
                let (old, new) = codes(kind, confirmed);
                assert!(by_code(GBZ_20986_2007, old).is_some(), "{old}");
                assert!(by_code(GBT_20986_2023, new).is_some(), "{new}");
            }
        }
    }
}
