//! `sitewarden guard baseline --plan FILE` approves a web root with the
//! site, upload directories and excludes of the plan's `[[sites.web_roots]]`
//! entry for it — what `serve` guards it with — so the CLI and `serve`
//! agree; flags that contradict the plan are refused, and a root the plan
//! does not list is approved with the flags and a warning.

use sitewarden_guard::{GuardData, RelPath};
use std::path::Path;
use std::process::Output;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_sitewarden");

async fn sitewarden(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .await
        .unwrap()
}

/// The sample plan (`sitewarden init`), its portal web root moved to `root`.
async fn plan_guarding(dir: &Path, root: &Path) -> std::path::PathBuf {
    let init = sitewarden(&["init", dir.to_str().unwrap()]).await;
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let plan = dir.join("sitewarden.toml");
    let text = std::fs::read_to_string(&plan).unwrap();
    let sample = "[[sites.web_roots]]\npath = \"/srv/www/portal\"\nupload_dirs = [\"uploads\"]\nexclude = [\"cache/**\", \"*.log\"]\n";
    assert!(
        text.contains(sample),
        "the sample plan guards /srv/www/portal"
    );
    std::fs::write(
        &plan,
        text.replace(
            "path = \"/srv/www/portal\"",
            &format!("path = \"{}\"", root.display()),
        ),
    )
    .unwrap();
    plan
}

#[tokio::test]
async fn guard_baseline_with_the_plan_records_the_plans_upload_dirs_and_excludes() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("www");
    std::fs::create_dir_all(root.join("uploads")).unwrap();
    std::fs::create_dir_all(root.join("cache")).unwrap();
    std::fs::write(root.join("index.html"), b"<html>home</html>").unwrap();
    std::fs::write(root.join("cache/page.html"), b"cached").unwrap();
    std::fs::write(root.join("access.log"), b"GET /").unwrap();
    let plan = plan_guarding(temp.path(), &root).await;
    let data = temp.path().join("data");
    let (plan_arg, data_arg) = (plan.to_str().unwrap(), data.to_str().unwrap());

    // Given through a path with a `.` in it: the plan's entry is found by
    // the canonical path, as serve finds the root's data.
    let dotted = temp.path().join(".").join("www");
    let baseline = sitewarden(&[
        "guard",
        "baseline",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--root",
        dotted.to_str().unwrap(),
    ])
    .await;
    assert!(
        baseline.status.success(),
        "{}",
        String::from_utf8_lossy(&baseline.stderr)
    );
    let guard = GuardData::open(&data).unwrap();
    let (root_data, _) = guard.root(&root).unwrap();
    let manifest = root_data.current_manifest(&root).unwrap();
    assert_eq!(manifest.site, "portal");
    assert_eq!(
        manifest.upload_dirs,
        vec![RelPath::parse("uploads").unwrap()]
    );
    let mut excludes = manifest.excludes.clone();
    excludes.sort();
    assert_eq!(excludes, vec!["*.log".to_string(), "cache/**".to_string()]);
    // What the excludes leave out is not in the version.
    let paths: Vec<String> = manifest.entries.keys().map(ToString::to_string).collect();
    assert!(paths.contains(&"index.html".to_string()), "{paths:?}");
    assert!(
        !paths
            .iter()
            .any(|path| path.starts_with("cache/") || path.ends_with(".log")),
        "{paths:?}"
    );

    // A flag that contradicts the plan is refused, and nothing is approved.
    let contradicting = sitewarden(&[
        "guard",
        "baseline",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--root",
        root.to_str().unwrap(),
        "--exclude",
        "*.tmp",
    ])
    .await;
    assert!(!contradicting.status.success());
    let message = String::from_utf8_lossy(&contradicting.stderr);
    assert!(
        message.contains("--exclude") && message.contains("cache/**"),
        "{message}"
    );
    let wrong_site = sitewarden(&[
        "guard",
        "baseline",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--root",
        root.to_str().unwrap(),
        "--site",
        "zfcg",
    ])
    .await;
    assert!(!wrong_site.status.success());
    assert_eq!(root_data.versions().unwrap(), vec![1]);

    // A root the plan does not list: the flags, and a warning.
    let other = temp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("a.html"), b"a").unwrap();
    let unlisted = sitewarden(&[
        "guard",
        "baseline",
        "--plan",
        plan_arg,
        "--data",
        data_arg,
        "--root",
        other.to_str().unwrap(),
        "--upload-dir",
        "files",
    ])
    .await;
    assert!(unlisted.status.success());
    let warning = String::from_utf8_lossy(&unlisted.stderr);
    assert!(warning.contains("not one of the web roots"), "{warning}");
    let (other_data, _) = guard.root(&other).unwrap();
    let other_manifest = other_data.current_manifest(&other).unwrap();
    assert_eq!(
        other_manifest.upload_dirs,
        vec![RelPath::parse("files").unwrap()]
    );
}
