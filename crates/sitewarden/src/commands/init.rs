//! `sitewarden init` and `sitewarden check-plan`.

use sitewarden_plan::{LoadError, Plan, sample_plan};
use std::path::Path;
use std::process::ExitCode;

/// Writes the commented sample plan into `dir/sitewarden.toml`.
pub fn run(dir: &Path, force: bool) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join("sitewarden.toml");
    if path.exists() && !force {
        anyhow::bail!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        );
    }
    std::fs::write(&path, sample_plan())?;
    println!("wrote {}", path.display());
    println!(
        "next: edit it, then `sitewarden check-plan {}`",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Validates a plan: every problem on its own line with its path; exit 1 when any.
pub fn check_plan(file: &Path) -> anyhow::Result<ExitCode> {
    match Plan::load_with_warnings(file) {
        Ok((plan, warnings)) => {
            // Valid, but worth fixing before an incident finds it.
            for warning in &warnings {
                println!("{}: warning: {warning}", file.display());
            }
            let pages = plan.pages().count();
            println!(
                "{}: valid ({} site{}, {} page{}, {} roster entr{}){}",
                file.display(),
                plan.sites.len(),
                if plan.sites.len() == 1 { "" } else { "s" },
                pages,
                if pages == 1 { "" } else { "s" },
                plan.roster.len(),
                if plan.roster.len() == 1 { "y" } else { "ies" },
                match warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(LoadError::Invalid { errors, .. }) => {
            for error in &errors.0 {
                println!("{}: {error}", file.display());
            }
            eprintln!(
                "{}: {} problem{}",
                file.display(),
                errors.0.len(),
                if errors.0.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
        Err(error) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(1))
        }
    }
}
