//! Backing up a SQLite registry while tem runs: copied under a temporary
//! name, checked, readable by the owner only (token and session hashes are
//! inside), and only then moved to the name asked for.

use std::path::Path;

use super::{ServiceError, ServiceResult, internal};
use crate::domain::DomainError;
pub use crate::store::backup::CopyCounts;

/// Copies the database at `source` to `output`; `force` replaces an
/// existing file. `on_progress(done, total)` hears pages copied.
pub fn sqlite(
    source: &Path,
    output: &Path,
    force: bool,
    on_progress: &mut dyn FnMut(u64, u64),
) -> ServiceResult<CopyCounts> {
    if !source.exists() {
        return Err(super::not_found("database", source.display()));
    }
    if output.exists() && !force {
        return Err(ServiceError::Conflict(format!(
            "{} exists; choose another file or pass --force to overwrite it",
            output.display()
        )));
    }
    let tmp = output.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    let counts = match crate::store::backup::sqlite_copy(source, &tmp, on_progress) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).map_err(internal)?;
    }
    std::fs::rename(&tmp, output).map_err(|e| {
        DomainError::new(
            "output",
            format!("moving the copy to {}: {e}", output.display()),
        )
    })?;
    Ok(counts)
}
