//! `tollgate docs`: write, print or check `docs/tools.md`, the tool reference
//! generated from the registry (`tools::reference`).
//!
//! Invariant: `--check` fails (exit 1) whenever the file is not exactly what
//! the code generates, so CI catches a reference that drifted.

use std::path::Path;

use super::CliError;
use crate::tools::reference;

fn generated() -> Result<String, CliError> {
    let registry = crate::tools::standard().map_err(|e| CliError::Failed(format!("the tool registry: {e}")))?;
    Ok(reference::render(&registry))
}

/// `tollgate docs --out FILE`.
pub fn write(file: &Path) -> Result<(), CliError> {
    std::fs::write(file, generated()?)?;
    eprintln!("wrote the tool reference to {}", file.display());
    Ok(())
}

/// `tollgate docs --check [--file FILE]`.
pub fn check(file: &Path) -> Result<(), CliError> {
    let committed =
        std::fs::read_to_string(file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    match reference::drift(&committed, &generated()?) {
        None => {
            eprintln!("docs: {} matches the code", file.display());
            Ok(())
        }
        Some(problem) => Err(CliError::Failed(problem)),
    }
}

/// `tollgate docs`: print the reference.
pub fn print() -> Result<(), CliError> {
    print!("{}", generated()?);
    Ok(())
}
