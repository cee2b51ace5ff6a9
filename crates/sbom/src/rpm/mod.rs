//! rpm cataloger (placeholder until the database readers land).

use portcullis_image::FsView;

use crate::{Distro, Error, Package};

/// True for the files this cataloger reads.
pub fn wanted(path: &str) -> bool {
    let _ = path;
    false
}

/// Catalogues rpm databases.
pub fn catalog(fs: &FsView, distro: Option<&Distro>) -> Result<Vec<Package>, Error> {
    let _ = (fs, distro);
    Ok(Vec::new())
}
