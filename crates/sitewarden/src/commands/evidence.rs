//! `sitewarden evidence verify`.

use super::open_existing_store;
use std::path::Path;
use std::process::ExitCode;

/// Verifies the evidence register; exit 0 when intact, 2 when anything was altered.
pub async fn verify(data: &Path) -> anyhow::Result<ExitCode> {
    let store = open_existing_store(data).await?;
    let result = store.verify_evidence().await?;
    store.close().await;
    match result {
        Ok(count) => {
            println!(
                "evidence intact: {count} record{} verified",
                if count == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                println!("{problem}");
            }
            eprintln!(
                "evidence NOT intact: {} problem{}",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(2))
        }
    }
}
