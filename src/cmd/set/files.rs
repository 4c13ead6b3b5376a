//! The two `ipgate.json` files the set subcommands read and write, and their errors.

use std::path::Path;

use crate::cli::{Args, load_project_option};
use crate::core::chalice::Project;
use crate::core::cidr::parse_entry;
use crate::core::sets::{self, IpgateConfig, IpgateFile, MergedConfig, Origin, SetsError};

use crate::cmd::exit::CommandError;

/// The project file, the user file and the two merged.
pub struct SetFiles {
    pub project: Option<Project>,
    /// The project's `.chalice/ipgate.json`, when there is a project.
    pub project_file: Option<IpgateFile>,
    /// The user file, when a user config directory is known.
    pub personal_file: Option<IpgateFile>,
    pub merged: MergedConfig,
}

impl SetFiles {
    /// Reads both files. A missing file counts as empty; one that does not parse is an error
    /// naming its line.
    pub fn load(args: &Args) -> Result<SetFiles, CommandError> {
        let project = load_project_option(args).map_err(CommandError::usage)?;
        let project_file = match &project {
            Some(project) => {
                Some(sets::load(&sets::project_file_path(&project.root)).map_err(sets_error)?)
            }
            None => None,
        };
        let personal_file = match sets::user_file_path() {
            Ok(path) => Some(sets::load(&path).map_err(sets_error)?),
            Err(error) => {
                tracing::info!(%error, "no user file for sets");
                None
            }
        };

        let empty = IpgateConfig::default();
        let merged = sets::merge(
            project_file.as_ref().map_or(&empty, |file| &file.model),
            personal_file.as_ref().map_or(&empty, |file| &file.model),
        );
        Ok(SetFiles {
            project,
            project_file,
            personal_file,
            merged,
        })
    }

    /// Returns the file an edit goes to: the user file with `--personal`, else the project file.
    pub fn target(&self, personal: bool) -> Result<&IpgateFile, CommandError> {
        if personal {
            return self.personal_file.as_ref().ok_or_else(|| {
                CommandError::usage(format!(
                    "no user config directory was found for the personal file; set {} to a writable directory",
                    sets::CONFIG_DIR_VAR
                ))
            });
        }
        self.project_file.as_ref().ok_or_else(|| {
            CommandError::usage(
                "no Chalice project here, so there is no .chalice/ipgate.json; pass --project DIR, or --personal to use your own file",
            )
        })
    }

    /// Returns the file an edit of set `name` goes to. Fails when the set is defined only in the other
    /// file, or in neither.
    pub fn target_with_set(&self, name: &str, personal: bool) -> Result<&IpgateFile, CommandError> {
        let file = self.target(personal)?;
        if file.model.set(name).is_some() {
            return Ok(file);
        }

        let other = if personal {
            self.project_file.as_ref()
        } else {
            self.personal_file.as_ref()
        };
        if let Some(other) = other.filter(|other| other.model.set(name).is_some()) {
            let hint = if personal {
                "drop --personal to edit it there"
            } else {
                "pass --personal to edit it there"
            };
            return Err(CommandError::usage(format!(
                "{}: set '{name}' is not defined in this file, but in {}; {hint}",
                file.path.display(),
                other.path.display()
            )));
        }
        Err(self.set_error(file, unknown_set_error(&file.model, name)))
    }

    /// Maps a set error of `file` to a command error that names the file.
    pub fn set_error(&self, file: &IpgateFile, error: SetsError) -> CommandError {
        match error {
            SetsError::UnknownSet {
                path: None,
                line,
                stage,
                set,
                suggestion,
            } => sets_error(SetsError::UnknownSet {
                path: Some(file.path.clone()),
                line,
                stage,
                set,
                suggestion,
            }),
            other => sets_error(other),
        }
    }

    /// Builds the error for a set the merged configuration does not define, naming both files.
    pub fn unknown_set(&self, name: &str) -> CommandError {
        let files: Vec<String> = [&self.project_file, &self.personal_file]
            .into_iter()
            .flatten()
            .map(|file| file.path.display().to_string())
            .collect();
        let place = match files.as_slice() {
            [] => "no ipgate.json was found".to_string(),
            [one] => format!("it is not defined in {one}"),
            several => format!("it is not defined in {}", several.join(" or ")),
        };
        let hint = match suggestion(&self.merged.config, name) {
            Some(suggestion) => format!("did you mean '{suggestion}'?"),
            None => "`ipgate set list` lists the sets".to_string(),
        };
        CommandError::usage(format!("unknown set '{name}': {place}; {hint}"))
    }

    /// Checks a stage key for `include`: a Chalice stage of the project, or `REST_API_ID/STAGE`.
    pub fn check_stage_key(&self, key: &str, personal: bool) -> Result<(), CommandError> {
        if let Some((rest_api_id, stage)) = key.split_once('/') {
            if rest_api_id.is_empty() || stage.is_empty() || stage.contains('/') {
                return Err(CommandError::usage(format!(
                    "invalid stage '{key}': name a Chalice stage, or a live stage as REST_API_ID/STAGE"
                )));
            }
            return Ok(());
        }

        let Some(project) = &self.project else {
            if personal {
                return Ok(());
            }
            return Err(CommandError::usage(format!(
                "no Chalice project here, so there is no Chalice stage '{key}'; name a live stage as REST_API_ID/STAGE"
            )));
        };
        if project.stage(key).is_some() {
            return Ok(());
        }
        let names: Vec<&str> = project
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        Err(CommandError::usage(format!(
            "{}: no Chalice stage is named '{key}'. Its stages: {}. A live stage is named REST_API_ID/STAGE.",
            project.config_path.display(),
            names.join(", ")
        )))
    }

    pub fn path_text(&self, origin: Origin) -> Option<String> {
        match origin {
            Origin::Project => self.project_path_text(),
            Origin::Personal => self.personal_path_text(),
        }
    }

    pub fn project_path_text(&self) -> Option<String> {
        self.project_file.as_ref().map(|file| display(&file.path))
    }

    pub fn personal_path_text(&self) -> Option<String> {
        self.personal_file.as_ref().map(|file| display(&file.path))
    }

    /// "Project file: PATH. Personal file: PATH (not created yet)."
    pub fn describe_files(&self) -> String {
        let describe = |file: Option<&IpgateFile>| match file {
            Some(file) if file.text.is_none() => {
                format!("{} (not created yet)", file.path.display())
            }
            Some(file) => file.path.display().to_string(),
            None => "none".to_string(),
        };
        format!(
            "Project file: {}. Personal file: {}.",
            describe(self.project_file.as_ref()),
            describe(self.personal_file.as_ref())
        )
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// Maps a sets error to its exit code: I/O failures are failures, the rest are invalid input.
pub fn sets_error(error: SetsError) -> CommandError {
    match error {
        SetsError::Read { .. }
        | SetsError::Write { .. }
        | SetsError::ChangedOnDisk { .. }
        | SetsError::NoConfigDir => CommandError::failure(error.to_string()),
        SetsError::Syntax { .. }
        | SetsError::Schema { .. }
        | SetsError::UnknownSet { .. }
        | SetsError::InvalidCidr { .. }
        | SetsError::InvalidName { .. } => CommandError::usage(error.to_string()),
    }
}

/// Returns the error `config` gives for the unknown set `name`, with its suggestion.
fn unknown_set_error(config: &IpgateConfig, name: &str) -> SetsError {
    // Removing from a set that does not exist returns the unknown-set error with the closest
    // name, and changes nothing.
    match config.clone().remove_from_set(name, "") {
        Err(error) => error,
        Ok(_) => SetsError::UnknownSet {
            path: None,
            line: None,
            stage: None,
            set: name.to_string(),
            suggestion: None,
        },
    }
}

/// Returns the defined set whose name is close to `name`, as the configuration suggests it.
fn suggestion(config: &IpgateConfig, name: &str) -> Option<String> {
    match unknown_set_error(config, name) {
        SetsError::UnknownSet { suggestion, .. } => suggestion,
        _ => None,
    }
}

/// Fails with a usage error when `cidr` is not a valid CIDR or address.
pub fn check_cidr(cidr: &str) -> Result<(), CommandError> {
    parse_entry(cidr)
        .map(|_| ())
        .map_err(|error| CommandError::usage(format!("invalid CIDR: {error}")))
}

/// Returns the canonical text of a CIDR that was checked to parse, else the trimmed text.
pub fn canonical(cidr: &str) -> String {
    match parse_entry(cidr) {
        Ok(entry) => entry.canonical(),
        Err(_) => cidr.trim().to_string(),
    }
}
