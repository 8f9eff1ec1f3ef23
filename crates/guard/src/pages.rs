//! Which of the plan's pages a web-root file serves.
//!
//! The incident engine measures exposure per page of the plan, with home
//! pages marked: the national grading guide counts hours on the home page
//! far more heavily than on another page. A repair of `index.html` in the
//! portal's root is a repair of the portal's home page, so its signal must
//! name the page `home`, not the file. [`PageMap`] maps each file that can
//! answer a page's URL (`sitewarden_plan::Page::web_root_files`: `/` and
//! `/dir/` → the directory's index files, `/a.html` → `a.html`) to that
//! page. The root is taken to be the document root of every host of its
//! site. Pure.

use crate::relpath::RelPath;
use sitewarden_plan::Site;
use std::collections::HashMap;

/// A page of the plan, as a signal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedPage {
    /// The plan's page name (`home`, `notices`…).
    pub name: String,
    /// Whether it is a home page.
    pub home: bool,
}

/// The files of one web root that serve pages of the plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMap {
    files: HashMap<Vec<u8>, MappedPage>,
}

impl PageMap {
    /// The files that serve `site`'s pages. A file that could answer
    /// several pages (the same path on two hosts, `/` and `/index.html`)
    /// maps to a home page among them if there is one, else to the first
    /// in the plan's order.
    pub fn for_site(site: &Site) -> PageMap {
        let mut files: HashMap<Vec<u8>, MappedPage> = HashMap::new();
        for page in &site.pages {
            for file in page.web_root_files() {
                let mapped = MappedPage {
                    name: page.name.clone(),
                    home: page.home,
                };
                match files.get(&file) {
                    Some(known) if known.home || !mapped.home => {}
                    _ => {
                        files.insert(file, mapped);
                    }
                }
            }
        }
        PageMap { files }
    }

    /// The page `path` serves, if it serves one.
    pub fn page(&self, path: &RelPath) -> Option<&MappedPage> {
        self.files.get(path.as_bytes())
    }

    /// Whether no file maps to a page (no plan, or no pages).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map() -> PageMap {
        let plan = sitewarden_plan::Plan::from_toml_str(
            r#"
[organisation]
name = "示例省财政厅"

[[sites]]
name = "portal"
pages = [
    { name = "notices", url = "https://portal.example.gov.test/tzgg/" },
    { name = "about", url = "https://portal.example.gov.test/about.html" },
    { name = "index", url = "https://portal.example.gov.test/index.html" },
    { url = "https://portal.example.gov.test/" },
]
"#,
        )
        .expect("valid plan");
        PageMap::for_site(&plan.sites[0])
    }

    fn check(path: &str, expected: Option<(&str, bool)>) {
        let map = map();
        let found = map
            .page(&RelPath::parse(path).unwrap())
            .map(|page| (page.name.as_str(), page.home));
        assert_eq!(found, expected, "{path}");
    }

    #[test]
    fn files_map_to_the_pages_they_serve() {
        // `/` is the home page; `/index.html`, a page of its own, is served
        // by the same file: the home page wins.
        check("index.html", Some(("home", true)));
        check("index.htm", Some(("home", true)));
        check("default.htm", Some(("home", true)));
        check("tzgg/index.html", Some(("notices", false)));
        check("about.html", Some(("about", false)));
        check("tzgg/2025/notice-1.html", None);
        check("css/site.css", None);
        check("about.htm", None);
        assert!(PageMap::default().is_empty());
    }
}
