//! Chalice project files: `.chalice/config.json`, deployed records and policy files.
//!
//! Settings resolve as Chalice's `Config._chain_lookup` resolves them: the Chalice stage's key
//! first, then the top-level key, where a key set to `null` counts as absent.

use std::fs;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value};

pub use super::jsontext::detect_line_ending;
use super::jsontext::{SyntaxError, parse_strict};

/// The place a setting was found: the Chalice stage or the top level of config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLevel {
    Stage,
    TopLevel,
}

/// The `api_gateway_policy_file` setting that applies to one Chalice stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFileSetting {
    /// The value as written in config.json.
    pub value: String,
    /// Joined to `.chalice/` as Chalice does; an absolute value is kept.
    pub path: PathBuf,
    pub level: KeyLevel,
}

/// The REST API a Chalice stage was last deployed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployedApi {
    pub rest_api_id: String,
    pub region: Option<String>,
    /// The deployed record it was read from.
    pub source: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaliceStage {
    pub name: String,
    /// `api_gateway_stage`: stage key, then top level, then `api`.
    pub api_gateway_stage: String,
    pub policy_file: Option<PolicyFileSetting>,
    pub deployed: Option<DeployedApi>,
    pub autogen_policy: Option<bool>,
    /// `api_gateway_endpoint_type`: `EDGE` (Chalice's default), `REGIONAL` or `PRIVATE`.
    pub endpoint_type: Option<String>,
    /// `api_gateway_endpoint_vpce`, with a list of endpoint ids joined by ", ".
    pub endpoint_vpce: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config_path: PathBuf,
    /// config.json exactly as read, for edits that keep its formatting.
    pub config_text: String,
    pub app_name: String,
    pub stages: Vec<ChaliceStage>,
}

/// A policy file's text and parsed document.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyFile {
    pub path: PathBuf,
    pub text: String,
    pub document: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {error}. Fix the file and try again; nothing was written.")]
    Syntax { path: PathBuf, error: SyntaxError },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// The `api_gateway_stage` Chalice uses when none is configured.
const DEFAULT_API_GATEWAY_STAGE: &str = "api";

/// The only deployed-record schema that Chalice's `Config.deployed_resources` accepts.
const DEPLOYED_SCHEMA_VERSION: &str = "2.0";

/// Loads the project in `dir`; `Ok(None)` when `dir` has no `.chalice/config.json`.
///
/// Stages keep their order in config.json. Fails when config.json or a deployed record is not
/// valid JSON, or has a shape Chalice cannot use.
pub fn load_project(dir: &Path) -> Result<Option<Project>, ProjectError> {
    let chalice_dir = dir.join(".chalice");
    let config_path = chalice_dir.join("config.json");
    let Some(config_text) = read_text_file(&config_path)? else {
        return Ok(None);
    };

    let config = parse_json_file(&config_path, &config_text)?;
    let Some(top) = config.as_object() else {
        return Err(invalid(
            &config_path,
            format!(
                "the top level must be an object such as {{\"version\": \"2.0\", \"app_name\": \"app\", \"stages\": {{\"dev\": {{}}}}}}, but it is {}",
                describe_type(&config)
            ),
        ));
    };

    let app_name = match top.get("app_name") {
        None | Some(Value::Null) => project_dir_name(dir),
        Some(Value::String(name)) => name.clone(),
        Some(other) => {
            return Err(invalid(
                &config_path,
                format!(
                    "\"app_name\" must be a string, but it is {}",
                    describe_type(other)
                ),
            ));
        }
    };

    let mut legacy_deployed = LegacyDeployed::new(&chalice_dir);
    let mut stages = Vec::new();
    for (name, stage_config) in stage_configs(&config_path, top)? {
        let lookup = SettingLookup {
            config_path: &config_path,
            stage_name: name,
            stage_config,
            top,
        };
        let deployed = read_deployed(&chalice_dir, name, &mut legacy_deployed)?;
        stages.push(resolve_stage(&lookup, &chalice_dir, deployed)?);
    }

    Ok(Some(Project {
        root: dir.to_path_buf(),
        config_path,
        config_text,
        app_name,
        stages,
    }))
}

impl Project {
    pub fn stage(&self, name: &str) -> Option<&ChaliceStage> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// Reads the stage's policy file; `Ok(None)` when none is configured or the file is missing.
    ///
    /// Fails when the file is not valid JSON (as Chalice's `json.loads` would) or does not
    /// contain an object.
    pub fn read_policy_file(&self, stage: &str) -> Result<Option<PolicyFile>, ProjectError> {
        let Some(setting) = self
            .stage(stage)
            .and_then(|stage| stage.policy_file.as_ref())
        else {
            return Ok(None);
        };
        let path = setting.path.clone();
        let Some(text) = read_text_file(&path)? else {
            return Ok(None);
        };

        let document = parse_json_file(&path, &text)?;
        if !document.is_object() {
            return Err(invalid(
                &path,
                format!(
                    "a resource policy must be a JSON object with \"Version\" and \"Statement\", but this file contains {}",
                    describe_type(&document)
                ),
            ));
        }
        Ok(Some(PolicyFile {
            path,
            text,
            document,
        }))
    }

    /// Other Chalice stages whose policy file resolves to the same path as `stage`'s.
    pub fn stages_sharing_policy_file(&self, stage: &str) -> Vec<String> {
        let Some(setting) = self
            .stage(stage)
            .and_then(|stage| stage.policy_file.as_ref())
        else {
            return Vec::new();
        };

        self.stages
            .iter()
            .filter(|other| other.name != stage)
            .filter(|other| {
                other
                    .policy_file
                    .as_ref()
                    .is_some_and(|other_setting| same_file(&other_setting.path, &setting.path))
            })
            .map(|other| other.name.clone())
            .collect()
    }

    /// Warnings a user must see before saving `stage`, each a full sentence with the fix.
    ///
    /// The PRIVATE endpoint warnings also apply to a stage without a policy file, because saving
    /// an allowlist gives it one.
    pub fn warnings(&self, stage: &str) -> Vec<String> {
        let Some(chalice_stage) = self.stage(stage) else {
            return Vec::new();
        };

        let mut warnings = Vec::new();
        if let Some(setting) = &chalice_stage.policy_file {
            warnings.extend(self.lambda_policy_name_warning(stage, setting));
            warnings.extend(self.shared_file_warning(stage, setting));
        }
        warnings.extend(private_endpoint_warnings(chalice_stage));
        warnings
    }

    /// Warns when the policy file is `.chalice/policy-<stage>.json` of some Chalice stage: with
    /// `autogen_policy` false, Chalice reads that file as the Lambda role's IAM policy.
    fn lambda_policy_name_warning(
        &self,
        stage: &str,
        setting: &PolicyFileSetting,
    ) -> Option<String> {
        let chalice_dir = self.root.join(".chalice");
        let owner = self.stages.iter().find(|candidate| {
            let lambda_policy = chalice_dir.join(format!("policy-{}.json", candidate.name));
            same_file(&setting.path, &lambda_policy)
        })?;

        let owner_name = &owner.name;
        let mut warning = format!(
            "policy-{owner_name}.json is the name Chalice uses for the Lambda role policy of stage {owner_name} when autogen_policy is false; use another name such as {}.",
            default_policy_file_name(stage)
        );
        if owner.autogen_policy == Some(false) {
            warning.push_str(&format!(
                " Stage {owner_name} has autogen_policy false, so chalice deploy applies this file to the Lambda role and fails with \"Policy document should not specify a principal\"."
            ));
        }
        Some(warning)
    }

    fn shared_file_warning(&self, stage: &str, setting: &PolicyFileSetting) -> Option<String> {
        let sharing = self.stages_sharing_policy_file(stage);
        let (first, rest) = sharing.split_first()?;

        let others = if rest.is_empty() {
            format!("stage {first}, so saving {stage} changes {first} too")
        } else {
            format!(
                "stages {}, so saving {stage} changes them too",
                join_names(&sharing)
            )
        };
        Some(format!(
            "{value} is also the policy file of {others}. To keep them apart, give {stage} its own file by setting api_gateway_policy_file in stage {stage}, for example to {suggestion}.",
            value = setting.value,
            suggestion = default_policy_file_name(stage),
        ))
    }
}

/// Warnings for a PRIVATE endpoint, whose policy file ipgate writes. Chalice compares the
/// endpoint type exactly, so `private` is not PRIVATE.
fn private_endpoint_warnings(stage: &ChaliceStage) -> Vec<String> {
    if stage.endpoint_type.as_deref() != Some("PRIVATE") {
        return Vec::new();
    }

    let mut warnings = Vec::new();
    if stage.endpoint_vpce.is_some() {
        let conflict = if stage.policy_file.is_some() {
            "sets both api_gateway_endpoint_vpce and api_gateway_policy_file, and Chalice rejects that combination on deploy"
        } else {
            "sets api_gateway_endpoint_vpce, and Chalice rejects it on deploy together with the api_gateway_policy_file that saving an allowlist adds"
        };
        warnings.push(format!(
            "Stage {} {conflict}. Remove api_gateway_endpoint_vpce and let the policy file carry the VPC endpoint condition (aws:SourceVpce) instead.",
            stage.name
        ));
    }
    warnings.push(format!(
        "Stage {} has a PRIVATE endpoint: requests arrive through a VPC endpoint, where aws:SourceIp is absent and aws:VpcSourceIp holds the caller's address, so an aws:SourceIp allowlist matches no caller. List the addresses under aws:VpcSourceIp instead.",
        stage.name
    ));
    warnings
}

/// The file name ipgate gives a stage's resource policy. Never `policy-<stage>.json`, which
/// Chalice uses for the Lambda role policy.
pub fn default_policy_file_name(stage: &str) -> String {
    format!("apigw-policy-{stage}.json")
}

/// Policy file text: 2-space indent and a trailing newline, with the given line ending.
pub fn format_policy_file(document: &Value, line_ending: &str) -> String {
    // Serializing a `Value` cannot fail: its map keys are always strings.
    let pretty = serde_json::to_string_pretty(document).expect("a JSON value always serializes");
    // JSON strings escape line breaks, so every '\n' here is a line break of the layout.
    let mut text = pretty.replace('\n', line_ending);
    text.push_str(line_ending);
    text
}

/// Writes through a temporary file in the same directory and a rename, so readers see the old
/// or the new contents, never a mix.
///
/// The new file keeps the permissions of the file it replaces. A symbolic link is followed, so
/// the file it points to is replaced and the link stays. On error the temporary file is removed
/// and the original is untouched.
pub fn atomic_write(path: &Path, contents: &[u8]) -> io::Result<()> {
    let target = follow_symlink(path);
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(file_name) = target.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} does not name a file", path.display()),
        ));
    };

    let permissions = match fs::metadata(&target) {
        Ok(metadata) => Some(metadata.permissions()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(error),
    };

    let (temporary_path, file) = create_temporary_file(&directory, &file_name.to_string_lossy())?;
    let result = write_and_rename(file, &temporary_path, &target, contents, permissions);
    if result.is_err() {
        // Best effort: the error being returned matters more than a failed cleanup.
        let _ = fs::remove_file(&temporary_path);
        return result;
    }

    sync_directory(&directory);
    Ok(())
}

fn follow_symlink(path: &Path) -> PathBuf {
    let is_symlink =
        fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink());
    if is_symlink {
        // A dangling link cannot be resolved, so writing to the link's path replaces the link.
        if let Ok(resolved) = fs::canonicalize(path) {
            return resolved;
        }
    }
    path.to_path_buf()
}

fn create_temporary_file(directory: &Path, file_name: &str) -> io::Result<(PathBuf, fs::File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ATTEMPTS: usize = 100;

    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let number = COUNTER.fetch_add(1, Ordering::Relaxed);
        let candidate = directory.join(format!(
            ".{file_name}.ipgate-tmp-{}-{number}",
            std::process::id()
        ));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
            Ok(file) => return Ok((candidate, file)),
            // A leftover from a crashed run with a reused process id: try the next number.
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free temporary file name")))
}

fn write_and_rename(
    mut file: fs::File,
    temporary_path: &Path,
    target: &Path,
    contents: &[u8],
    permissions: Option<fs::Permissions>,
) -> io::Result<()> {
    file.write_all(contents)?;
    file.flush()?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    file.sync_all()?;
    drop(file);

    fs::rename(temporary_path, target)
}

/// Makes the rename durable across a crash. Best effort: the new contents are already in place,
/// and some platforms and file systems cannot open or sync a directory.
fn sync_directory(directory: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = fs::File::open(directory) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = directory;
}

/// Reads a UTF-8 file, or returns `Ok(None)` when it does not exist.
fn read_text_file(path: &Path) -> Result<Option<String>, ProjectError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(source) => {
            return Err(ProjectError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };

    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(error) => Err(invalid(
            path,
            describe_utf8_error(error.as_bytes(), error.utf8_error()),
        )),
    }
}

fn describe_utf8_error(bytes: &[u8], error: std::str::Utf8Error) -> String {
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        return "the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8 without BOM"
            .to_string();
    }

    let valid = &bytes[..error.valid_up_to()];
    let line = valid.iter().filter(|&&byte| byte == b'\n').count() + 1;
    let line_start = valid
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |index| index + 1);
    // The prefix up to `valid_up_to` is valid UTF-8 by definition.
    let column = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    format!(
        "line {line}, column {column}: invalid UTF-8 (byte offset {}); save the file as UTF-8",
        error.valid_up_to()
    )
}

fn parse_json_file(path: &Path, text: &str) -> Result<Value, ProjectError> {
    parse_strict(text).map_err(|error| ProjectError::Syntax {
        path: path.to_path_buf(),
        error,
    })
}

fn invalid(path: &Path, reason: impl Into<String>) -> ProjectError {
    ProjectError::Invalid {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn describe_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn project_dir_name(dir: &Path) -> String {
    let name = dir.file_name().map(|name| name.to_os_string()).or_else(|| {
        // `.` and `..` have no file name of their own.
        fs::canonicalize(dir)
            .ok()
            .and_then(|path| path.file_name().map(|name| name.to_os_string()))
    });
    name.map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A Chalice stage's name and settings in config.json.
type StageConfig<'c> = (&'c String, &'c Map<String, Value>);

/// Lists the Chalice stages in file order. A missing or null `stages` means none.
fn stage_configs<'c>(
    config_path: &Path,
    top: &'c Map<String, Value>,
) -> Result<Vec<StageConfig<'c>>, ProjectError> {
    let stages = match top.get("stages") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Object(stages)) => stages,
        Some(other) => {
            return Err(invalid(
                config_path,
                format!(
                    "\"stages\" must be an object that maps each Chalice stage name to its settings, such as {{\"dev\": {{}}}}, but it is {}",
                    describe_type(other)
                ),
            ));
        }
    };

    let mut configs = Vec::new();
    for (name, stage_config) in stages {
        let Some(stage_config) = stage_config.as_object() else {
            return Err(invalid(
                config_path,
                format!(
                    "stage \"{name}\" in \"stages\" must be an object of settings, but it is {}",
                    describe_type(stage_config)
                ),
            ));
        };
        configs.push((name, stage_config));
    }
    Ok(configs)
}

/// Looks settings up in one Chalice stage, then at the top level, as Chalice does.
struct SettingLookup<'c> {
    config_path: &'c Path,
    stage_name: &'c str,
    stage_config: &'c Map<String, Value>,
    top: &'c Map<String, Value>,
}

impl<'c> SettingLookup<'c> {
    /// Finds the first value that is set and not null.
    fn find(&self, key: &str) -> Option<(&'c Value, KeyLevel)> {
        let in_stage = self.stage_config.get(key).filter(|value| !value.is_null());
        match in_stage {
            Some(value) => Some((value, KeyLevel::Stage)),
            None => self
                .top
                .get(key)
                .filter(|value| !value.is_null())
                .map(|value| (value, KeyLevel::TopLevel)),
        }
    }

    fn string(&self, key: &str) -> Result<Option<(String, KeyLevel)>, ProjectError> {
        match self.find(key) {
            None => Ok(None),
            Some((Value::String(value), level)) => Ok(Some((value.clone(), level))),
            Some((other, level)) => Err(self.wrong_type(key, level, "a string", other)),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ProjectError> {
        match self.find(key) {
            None => Ok(None),
            Some((Value::Bool(value), _)) => Ok(Some(*value)),
            Some((other, level)) => Err(self.wrong_type(key, level, "true or false", other)),
        }
    }

    /// Reads a string, or a list of strings joined with ", ".
    fn string_or_list(&self, key: &str) -> Result<Option<String>, ProjectError> {
        let Some((value, level)) = self.find(key) else {
            return Ok(None);
        };
        let expected = "a string or a list of strings";
        match value {
            Value::String(value) => Ok(Some(value.clone())),
            Value::Array(items) => {
                let mut strings = Vec::with_capacity(items.len());
                for item in items {
                    let Some(item) = item.as_str() else {
                        return Err(self.wrong_type(key, level, expected, value));
                    };
                    strings.push(item);
                }
                Ok(Some(strings.join(", ")))
            }
            other => Err(self.wrong_type(key, level, expected, other)),
        }
    }

    fn wrong_type(
        &self,
        key: &str,
        level: KeyLevel,
        expected: &str,
        found: &Value,
    ) -> ProjectError {
        let location = match level {
            KeyLevel::Stage => format!("in stage \"{}\"", self.stage_name),
            KeyLevel::TopLevel => "at the top level".to_string(),
        };
        invalid(
            self.config_path,
            format!(
                "\"{key}\" {location} must be {expected}, but it is {}",
                describe_type(found)
            ),
        )
    }
}

fn resolve_stage(
    lookup: &SettingLookup<'_>,
    chalice_dir: &Path,
    deployed: Option<DeployedApi>,
) -> Result<ChaliceStage, ProjectError> {
    let api_gateway_stage = lookup
        .string("api_gateway_stage")?
        .map_or_else(|| DEFAULT_API_GATEWAY_STAGE.to_string(), |(value, _)| value);

    // Chalice skips an empty file name, as it does a missing one.
    let policy_file = lookup
        .string("api_gateway_policy_file")?
        .filter(|(value, _)| !value.is_empty())
        .map(|(value, level)| PolicyFileSetting {
            path: chalice_dir.join(&value),
            value,
            level,
        });

    Ok(ChaliceStage {
        name: lookup.stage_name.to_string(),
        api_gateway_stage,
        policy_file,
        deployed,
        autogen_policy: lookup.bool("autogen_policy")?,
        endpoint_type: lookup
            .string("api_gateway_endpoint_type")?
            .map(|(value, _)| value),
        endpoint_vpce: lookup.string_or_list("api_gateway_endpoint_vpce")?,
    })
}

/// Reads where a Chalice stage was deployed: `.chalice/deployed/<stage>.json`, or for older
/// projects, the stage's entry in `.chalice/deployed.json`.
fn read_deployed(
    chalice_dir: &Path,
    stage: &str,
    legacy: &mut LegacyDeployed,
) -> Result<Option<DeployedApi>, ProjectError> {
    let path = chalice_dir.join("deployed").join(format!("{stage}.json"));
    match read_text_file(&path)? {
        Some(text) => {
            let record = parse_json_file(&path, &text)?;
            deployed_from_record(&path, &record)
        }
        None => legacy.stage(stage),
    }
}

/// Reads a `schema_version` 2.0 record. `Ok(None)` when it lists no REST API.
fn deployed_from_record(path: &Path, record: &Value) -> Result<Option<DeployedApi>, ProjectError> {
    let Some(record) = record.as_object() else {
        return Err(invalid(
            path,
            format!(
                "a deployed record must be a JSON object, but it is {}",
                describe_type(record)
            ),
        ));
    };

    // Chalice reads a record without schema_version as version 1.0 and rejects it.
    let version = match record.get("schema_version") {
        Some(Value::String(version)) if version == DEPLOYED_SCHEMA_VERSION => None,
        Some(Value::String(version)) => Some(format!("\"{version}\"")),
        Some(other) => Some(other.to_string()),
        None => Some("missing (read as \"1.0\")".to_string()),
    };
    if let Some(version) = version {
        return Err(invalid(
            path,
            format!(
                "schema_version is {version}, but Chalice reads only \"{DEPLOYED_SCHEMA_VERSION}\" and rejects this record too; restore the file chalice deploy wrote"
            ),
        ));
    }

    let resources = match record.get("resources") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(resources)) => resources,
        Some(other) => {
            return Err(invalid(
                path,
                format!(
                    "\"resources\" must be a list, but it is {}",
                    describe_type(other)
                ),
            ));
        }
    };
    let rest_api = resources
        .iter()
        .find(|resource| resource.get("resource_type").and_then(Value::as_str) == Some("rest_api"));
    let Some(rest_api) = rest_api else {
        return Ok(None);
    };

    let Some(rest_api_id) = rest_api.get("rest_api_id").and_then(Value::as_str) else {
        return Err(invalid(
            path,
            "the rest_api resource has no \"rest_api_id\" string",
        ));
    };
    let region = rest_api
        .get("rest_api_url")
        .and_then(Value::as_str)
        .and_then(region_from_url);
    Ok(Some(DeployedApi {
        rest_api_id: rest_api_id.to_string(),
        region,
        source: path.to_path_buf(),
    }))
}

/// Takes the region from `https://{id}.execute-api.{region}.amazonaws.com/{stage}/`.
fn region_from_url(url: &str) -> Option<String> {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = without_scheme.split(['/', ':']).next()?;
    let (_, after) = host.split_once(".execute-api.")?;
    let region = after.split('.').next()?;
    (!region.is_empty()).then(|| region.to_string())
}

/// `.chalice/deployed.json`, read at most once because every stage shares it.
struct LegacyDeployed {
    path: PathBuf,
    record: Option<Option<Value>>,
}

impl LegacyDeployed {
    fn new(chalice_dir: &Path) -> Self {
        LegacyDeployed {
            path: chalice_dir.join("deployed.json"),
            record: None,
        }
    }

    fn stage(&mut self, stage: &str) -> Result<Option<DeployedApi>, ProjectError> {
        if self.record.is_none() {
            let record = match read_text_file(&self.path)? {
                Some(text) => Some(parse_json_file(&self.path, &text)?),
                None => None,
            };
            self.record = Some(record);
        }
        let Some(Some(record)) = &self.record else {
            return Ok(None);
        };

        let Some(stages) = record.as_object() else {
            return Err(invalid(
                &self.path,
                format!(
                    "deployed.json must be an object keyed by Chalice stage, but it is {}",
                    describe_type(record)
                ),
            ));
        };
        let Some(entry) = stages.get(stage) else {
            return Ok(None);
        };
        let Some(rest_api_id) = entry.get("rest_api_id").and_then(Value::as_str) else {
            return Ok(None);
        };
        let region = entry
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_string);
        Ok(Some(DeployedApi {
            rest_api_id: rest_api_id.to_string(),
            region,
            source: self.path.clone(),
        }))
    }
}

/// Checks whether two paths name the same file: equal once `.` and `..` are resolved, or equal
/// after resolving symbolic links when both exist.
fn same_file(left: &Path, right: &Path) -> bool {
    if normalize(left) == normalize(right) {
        return true;
    }
    match (fs::canonicalize(left), fs::canonicalize(right)) {
        (Ok(left), Ok(right)) => left == right,
        _ => false,
    }
}

/// Resolves `.` and `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped = matches!(
                    normalized.components().next_back(),
                    Some(Component::Normal(_))
                ) && normalized.pop();
                if !popped {
                    normalized.push("..");
                }
            }
            other => normalized.push(other),
        }
    }
    normalized
}

fn join_names(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tempfile::TempDir;

    use super::*;
    use crate::core::jsontext::set_string_key;

    /// Creates a project directory named `app-dir` holding `files` (paths relative to it).
    fn project_dir(files: &[(&str, &[u8])]) -> (TempDir, PathBuf) {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("app-dir");
        fs::create_dir_all(root.join(".chalice")).unwrap();
        for (relative, contents) in files {
            let path = root.join(relative);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, contents).unwrap();
        }
        (temp, root)
    }

    fn load(files: &[(&str, &[u8])]) -> (TempDir, Project) {
        let (temp, root) = project_dir(files);
        let project = load_project(&root).unwrap().expect("config.json exists");
        (temp, project)
    }

    fn load_config(config: &str) -> (TempDir, Project) {
        load(&[(".chalice/config.json", config.as_bytes())])
    }

    fn load_error(files: &[(&str, &[u8])]) -> ProjectError {
        let (_temp, root) = project_dir(files);
        load_project(&root).expect_err("loading must fail")
    }

    fn stage<'p>(project: &'p Project, name: &str) -> &'p ChaliceStage {
        project
            .stage(name)
            .unwrap_or_else(|| panic!("stage {name} missing"))
    }

    #[test]
    fn load_project_without_config_is_none() {
        let temp = tempfile::tempdir().unwrap();
        assert!(load_project(temp.path()).unwrap().is_none());

        fs::create_dir(temp.path().join(".chalice")).unwrap();
        assert!(load_project(temp.path()).unwrap().is_none());

        // `.chalice` as a plain file is no project either.
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(".chalice"), "").unwrap();
        assert!(load_project(other.path()).unwrap().is_none());
    }

    #[test]
    fn load_project_reads_names_and_order() {
        let config = r#"{"version": "2.0", "app_name": "shop", "stages": {"prod": {}, "dev": {}, "qa": {}}}"#;
        let (_temp, project) = load_config(config);

        assert_eq!(project.app_name, "shop");
        assert_eq!(project.config_text, config);
        assert!(project.config_path.ends_with(".chalice/config.json"));
        let names: Vec<&str> = project
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        assert_eq!(names, ["prod", "dev", "qa"]);
    }

    #[test]
    fn load_project_defaults() {
        // (config, expected stage names)
        let cases: &[(&str, &[&str])] = &[
            (r#"{"version": "2.0"}"#, &[]),
            (r#"{"version": "2.0", "stages": null}"#, &[]),
            (r#"{"version": "2.0", "stages": {}}"#, &[]),
            (r#"{"stages": {"dev": {}}}"#, &["dev"]),
        ];
        for &(config, names) in cases {
            let (_temp, project) = load_config(config);
            assert_eq!(project.app_name, "app-dir", "config {config}");
            let loaded: Vec<&str> = project
                .stages
                .iter()
                .map(|stage| stage.name.as_str())
                .collect();
            assert_eq!(loaded, names, "config {config}");
        }
    }

    #[test]
    fn api_gateway_stage_resolution() {
        // (config, stage, expected api_gateway_stage)
        let cases = [
            (
                r#"{"api_gateway_stage": "v1", "stages": {"dev": {}, "prod": {"api_gateway_stage": "live"}}}"#,
                "prod",
                "live",
            ),
            (
                r#"{"api_gateway_stage": "v1", "stages": {"dev": {}, "prod": {"api_gateway_stage": "live"}}}"#,
                "dev",
                "v1",
            ),
            (r#"{"stages": {"dev": {}, "prod": {}}}"#, "dev", "api"),
            (r#"{"stages": {"dev": {}, "prod": {}}}"#, "prod", "api"),
            (
                r#"{"stages": {"dev": {"api_gateway_stage": "beta"}}}"#,
                "dev",
                "beta",
            ),
            (
                r#"{"api_gateway_stage": "v1", "stages": {"dev": {"api_gateway_stage": null}}}"#,
                "dev",
                "v1",
            ),
            (
                r#"{"api_gateway_stage": null, "stages": {"dev": {}}}"#,
                "dev",
                "api",
            ),
        ];
        for (config, name, expected) in cases {
            let (_temp, project) = load_config(config);
            assert_eq!(
                stage(&project, name).api_gateway_stage,
                expected,
                "config {config}, stage {name}"
            );
        }
    }

    #[test]
    fn policy_file_resolution() {
        // (config, stage, expected (value, path relative to the project root, level))
        type Case = (
            &'static str,
            &'static str,
            Option<(&'static str, &'static str, KeyLevel)>,
        );
        let cases: &[Case] = &[
            (r#"{"stages": {"dev": {}}}"#, "dev", None),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "apigw-dev.json"}}}"#,
                "dev",
                Some(("apigw-dev.json", ".chalice/apigw-dev.json", KeyLevel::Stage)),
            ),
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {}}}"#,
                "dev",
                Some(("apigw.json", ".chalice/apigw.json", KeyLevel::TopLevel)),
            ),
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {"api_gateway_policy_file": "own.json"}}}"#,
                "dev",
                Some(("own.json", ".chalice/own.json", KeyLevel::Stage)),
            ),
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {"api_gateway_policy_file": null}}}"#,
                "dev",
                Some(("apigw.json", ".chalice/apigw.json", KeyLevel::TopLevel)),
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "../policies/dev.json"}}}"#,
                "dev",
                Some((
                    "../policies/dev.json",
                    ".chalice/../policies/dev.json",
                    KeyLevel::Stage,
                )),
            ),
            // An empty name stops the lookup, and Chalice then attaches no policy.
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {"api_gateway_policy_file": ""}}}"#,
                "dev",
                None,
            ),
        ];
        for &(config, name, expected) in cases {
            let (_temp, project) = load_config(config);
            let actual = stage(&project, name).policy_file.clone();
            let expected = expected.map(|(value, relative, level)| PolicyFileSetting {
                value: value.to_string(),
                path: project.root.join(relative),
                level,
            });
            assert_eq!(actual, expected, "config {config}");
        }
    }

    #[test]
    fn policy_file_absolute_path_kept() {
        let absolute = std::env::temp_dir().join("shared-apigw.json");
        let config = json!({"stages": {"dev": {"api_gateway_policy_file": absolute}}}).to_string();
        let (_temp, project) = load_config(&config);
        assert_eq!(
            stage(&project, "dev")
                .policy_file
                .as_ref()
                .map(|setting| &setting.path),
            Some(&absolute)
        );
    }

    #[test]
    fn stage_settings_resolution() {
        // (config, autogen_policy, endpoint_type, endpoint_vpce) of stage dev
        type Case = (
            &'static str,
            Option<bool>,
            Option<&'static str>,
            Option<&'static str>,
        );
        let cases: &[Case] = &[
            (r#"{"stages": {"dev": {}}}"#, None, None, None),
            (
                r#"{"autogen_policy": false, "stages": {"dev": {}}}"#,
                Some(false),
                None,
                None,
            ),
            (
                r#"{"autogen_policy": false, "stages": {"dev": {"autogen_policy": true}}}"#,
                Some(true),
                None,
                None,
            ),
            (
                r#"{"api_gateway_endpoint_type": "PRIVATE", "api_gateway_endpoint_vpce": "vpce-1", "stages": {"dev": {}}}"#,
                None,
                Some("PRIVATE"),
                Some("vpce-1"),
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_endpoint_type": "REGIONAL", "api_gateway_endpoint_vpce": ["vpce-1", "vpce-2"]}}}"#,
                None,
                Some("REGIONAL"),
                Some("vpce-1, vpce-2"),
            ),
        ];
        for &(config, autogen, endpoint_type, vpce) in cases {
            let (_temp, project) = load_config(config);
            let dev = stage(&project, "dev");
            assert_eq!(dev.autogen_policy, autogen, "config {config}");
            assert_eq!(
                dev.endpoint_type.as_deref(),
                endpoint_type,
                "config {config}"
            );
            assert_eq!(dev.endpoint_vpce.as_deref(), vpce, "config {config}");
        }
    }

    #[test]
    fn load_project_rejects_invalid_shapes() {
        // (config, words the reason must contain)
        let cases = [
            (r#"[{"stages": {}}]"#, "the top level must be an object"),
            (r#"{"stages": ["dev"]}"#, "\"stages\" must be an object"),
            (r#"{"stages": "dev"}"#, "but it is a string"),
            (
                r#"{"stages": {"dev": []}}"#,
                "stage \"dev\" in \"stages\" must be an object",
            ),
            (
                r#"{"app_name": 3, "stages": {}}"#,
                "\"app_name\" must be a string",
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_stage": 1}}}"#,
                "\"api_gateway_stage\" in stage \"dev\" must be a string",
            ),
            (
                r#"{"api_gateway_policy_file": true, "stages": {"dev": {}}}"#,
                "\"api_gateway_policy_file\" at the top level must be a string",
            ),
            (
                r#"{"stages": {"dev": {"autogen_policy": "no"}}}"#,
                "\"autogen_policy\" in stage \"dev\" must be true or false",
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_endpoint_vpce": [1]}}}"#,
                "a string or a list of strings",
            ),
        ];
        for (config, reason_part) in cases {
            match load_error(&[(".chalice/config.json", config.as_bytes())]) {
                ProjectError::Invalid { path, reason } => {
                    assert!(path.ends_with(".chalice/config.json"), "config {config}");
                    assert!(
                        reason.contains(reason_part),
                        "config {config}: reason {reason:?}"
                    );
                }
                other => panic!("config {config}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn load_project_reports_syntax_errors() {
        // (config bytes, line, column, cause)
        let cases: &[(&[u8], usize, usize, &str)] = &[
            (
                b"{\n  \"app_name\": \"app\",\n  \"stages\": {\n    \"dev\": {},\n  }\n}\n",
                4,
                14,
                "trailing comma before '}'",
            ),
            (
                b"{\n  \"app_name\": \"app\",\n  // the stages\n  \"stages\": {}\n}\n",
                3,
                3,
                "comments are not allowed in JSON",
            ),
            (
                b"\xef\xbb\xbf{\"app_name\": \"app\"}",
                1,
                1,
                "the file starts with a byte-order mark (bytes EF BB BF); save it as UTF-8 without BOM",
            ),
            (
                b"{\r\n  \"stages\": {\"dev\": {}},\r\n}\r\n",
                2,
                24,
                "trailing comma before '}'",
            ),
        ];
        for &(config, line, column, cause) in cases {
            match load_error(&[(".chalice/config.json", config)]) {
                ProjectError::Syntax { path, error } => {
                    assert!(path.ends_with(".chalice/config.json"));
                    assert_eq!(
                        (error.line, error.column),
                        (line, column),
                        "config {:?}",
                        String::from_utf8_lossy(config)
                    );
                    assert_eq!(error.cause, cause);
                }
                other => panic!("expected Syntax, got {other:?}"),
            }
        }
    }

    #[test]
    fn syntax_error_message_names_file_and_position() {
        let error = load_error(&[(".chalice/config.json", b"{\"stages\": {},}")]);
        let message = error.to_string();
        assert!(
            message.contains("config.json: line 1, column 14: trailing comma before '}'"),
            "{message}"
        );
        assert!(
            message.ends_with("Fix the file and try again; nothing was written."),
            "{message}"
        );
    }

    #[test]
    fn load_project_rejects_non_utf8() {
        // (bytes, words the reason must contain)
        let cases: &[(&[u8], &str)] = &[
            (
                b"{\n  \"app_name\": \"caf\xe9\"}",
                "line 2, column 19: invalid UTF-8 (byte offset 20)",
            ),
            (b"\xff\xfe{\x00}\x00", "UTF-16"),
        ];
        for &(config, reason_part) in cases {
            match load_error(&[(".chalice/config.json", config)]) {
                ProjectError::Invalid { reason, .. } => {
                    assert!(reason.contains(reason_part), "reason {reason:?}");
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
        }
    }

    const TWO_STAGES: &str = r#"{"stages": {"dev": {}, "prod": {}}}"#;

    #[test]
    fn deployed_record_v2() {
        let record = br#"{
  "resources": [
    {"name": "api_handler", "resource_type": "lambda_function", "lambda_arn": "arn:aws:lambda:eu-west-1:123456789012:function:app-dev"},
    {"name": "rest_api", "resource_type": "rest_api", "rest_api_id": "abc123", "rest_api_url": "https://abc123.execute-api.eu-west-1.amazonaws.com/api/"}
  ],
  "schema_version": "2.0",
  "backend": "api"
}
"#;
        let (_temp, project) = load(&[
            (".chalice/config.json", TWO_STAGES.as_bytes()),
            (".chalice/deployed/dev.json", record),
        ]);

        let dev = stage(&project, "dev");
        assert_eq!(
            dev.deployed,
            Some(DeployedApi {
                rest_api_id: "abc123".to_string(),
                region: Some("eu-west-1".to_string()),
                source: project.root.join(".chalice/deployed/dev.json"),
            })
        );
        assert_eq!(stage(&project, "prod").deployed, None);
    }

    #[test]
    fn deployed_record_legacy() {
        let legacy = br#"{"dev": {"rest_api_id": "old1", "api_gateway_stage": "api", "region": "us-west-2", "backend": "api"}, "prod": {"api_handler_name": "app-prod"}}"#;
        let (_temp, project) = load(&[
            (".chalice/config.json", TWO_STAGES.as_bytes()),
            (".chalice/deployed.json", legacy),
        ]);

        assert_eq!(
            stage(&project, "dev").deployed,
            Some(DeployedApi {
                rest_api_id: "old1".to_string(),
                region: Some("us-west-2".to_string()),
                source: project.root.join(".chalice/deployed.json"),
            })
        );
        // An entry without a REST API is no deployed API.
        assert_eq!(stage(&project, "prod").deployed, None);
    }

    #[test]
    fn deployed_record_v2_wins_over_legacy() {
        let record = br#"{"resources": [{"resource_type": "rest_api", "rest_api_id": "new1", "rest_api_url": "https://new1.execute-api.us-east-1.amazonaws.com/api/"}], "schema_version": "2.0", "backend": "api"}"#;
        let legacy = br#"{"dev": {"rest_api_id": "old1", "region": "us-west-2"}}"#;
        let (_temp, project) = load(&[
            (".chalice/config.json", TWO_STAGES.as_bytes()),
            (".chalice/deployed/dev.json", record),
            (".chalice/deployed.json", legacy),
        ]);

        let deployed = stage(&project, "dev").deployed.clone().unwrap();
        assert_eq!(deployed.rest_api_id, "new1");
        assert_eq!(deployed.region.as_deref(), Some("us-east-1"));
    }

    #[test]
    fn deployed_record_without_rest_api() {
        let cases: &[&[u8]] = &[
            br#"{"resources": [], "schema_version": "2.0", "backend": "api"}"#,
            br#"{"resources": [{"resource_type": "lambda_function", "name": "worker"}], "schema_version": "2.0"}"#,
            br#"{"schema_version": "2.0"}"#,
        ];
        for record in cases {
            let (_temp, project) = load(&[
                (".chalice/config.json", TWO_STAGES.as_bytes()),
                (".chalice/deployed/dev.json", record),
            ]);
            assert_eq!(
                stage(&project, "dev").deployed,
                None,
                "record {}",
                String::from_utf8_lossy(record)
            );
        }
    }

    #[test]
    fn deployed_record_rejected() {
        // (record, words the reason must contain)
        let cases: &[(&[u8], &str)] = &[
            (
                br#"{"resources": [], "schema_version": "1.0"}"#,
                "schema_version is \"1.0\"",
            ),
            (
                br#"{"resources": [], "schema_version": "3.0"}"#,
                "schema_version is \"3.0\"",
            ),
            (br#"{"resources": []}"#, "missing (read as \"1.0\")"),
            (
                br#"{"resources": [], "schema_version": 2}"#,
                "schema_version is 2,",
            ),
            (br#"[]"#, "must be a JSON object"),
            (
                br#"{"resources": {}, "schema_version": "2.0"}"#,
                "\"resources\" must be a list",
            ),
            (
                br#"{"resources": [{"resource_type": "rest_api"}], "schema_version": "2.0"}"#,
                "no \"rest_api_id\"",
            ),
        ];
        for &(record, reason_part) in cases {
            let error = load_error(&[
                (".chalice/config.json", TWO_STAGES.as_bytes()),
                (".chalice/deployed/dev.json", record),
            ]);
            match error {
                ProjectError::Invalid { path, reason } => {
                    assert!(path.ends_with(".chalice/deployed/dev.json"));
                    assert!(reason.contains(reason_part), "reason {reason:?}");
                }
                other => panic!("expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn deployed_record_syntax_error() {
        // (file, contents, column of the trailing comma on line 1)
        let cases: &[(&str, &[u8], usize)] = &[
            (".chalice/deployed/dev.json", b"{\"resources\": [],\n}", 17),
            (".chalice/deployed.json", b"{\"dev\": {},\n}", 11),
        ];
        for &(relative, record, column) in cases {
            let error = load_error(&[
                (".chalice/config.json", TWO_STAGES.as_bytes()),
                (relative, record),
            ]);
            match error {
                ProjectError::Syntax { path, error } => {
                    assert!(path.ends_with(relative), "path {path:?}");
                    assert_eq!((error.line, error.column), (1, column));
                    assert_eq!(error.cause, "trailing comma before '}'");
                }
                other => panic!("{relative}: expected Syntax, got {other:?}"),
            }
        }
    }

    #[test]
    fn region_from_url_table() {
        let cases = [
            (
                "https://abc123.execute-api.eu-west-1.amazonaws.com/api/",
                Some("eu-west-1"),
            ),
            (
                "https://abc123.execute-api.cn-north-1.amazonaws.com.cn/api/",
                Some("cn-north-1"),
            ),
            (
                "https://abc123.execute-api.us-east-2.amazonaws.com",
                Some("us-east-2"),
            ),
            ("http://localhost:4566/restapis/abc123/api/", None),
            ("https://api.example.com/", None),
            ("", None),
        ];
        for (url, expected) in cases {
            assert_eq!(region_from_url(url).as_deref(), expected, "url {url}");
        }
    }

    #[test]
    fn warning_lambda_role_policy_name() {
        let config = r#"{"version": "2.0", "app_name": "app", "autogen_policy": false, "stages": {"dev": {"api_gateway_policy_file": "policy-dev.json"}}}"#;
        let (_temp, project) = load_config(config);

        let warnings = project.warnings("dev");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(
                "policy-dev.json is the name Chalice uses for the Lambda role policy of stage dev when autogen_policy is false; use another name such as apigw-policy-dev.json."
            ),
            "{}",
            warnings[0]
        );
        assert!(
            warnings[0].contains("Stage dev has autogen_policy false"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn warning_lambda_role_policy_other_stage() {
        // (config, stage saved, expected warning prefix or None)
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                r#"{"stages": {"dev": {}, "prod": {"api_gateway_policy_file": "policy-dev.json"}}}"#,
                "prod",
                Some(
                    "policy-dev.json is the name Chalice uses for the Lambda role policy of stage dev when autogen_policy is false; use another name such as apigw-policy-prod.json.",
                ),
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "./policy-dev.json"}}}"#,
                "dev",
                Some("policy-dev.json is the name"),
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "policies/policy-dev.json"}}}"#,
                "dev",
                None,
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "policy-qa.json"}}}"#,
                "dev",
                None,
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "apigw-policy-dev.json"}}}"#,
                "dev",
                None,
            ),
            (r#"{"stages": {"dev": {}}}"#, "dev", None),
        ];
        for &(config, name, expected) in cases {
            let (_temp, project) = load_config(config);
            let warnings = project.warnings(name);
            match expected {
                Some(prefix) => {
                    assert_eq!(warnings.len(), 1, "config {config}: {warnings:?}");
                    assert!(
                        warnings[0].starts_with(prefix),
                        "config {config}: {}",
                        warnings[0]
                    );
                    assert!(
                        !warnings[0].contains("has autogen_policy false"),
                        "{}",
                        warnings[0]
                    );
                }
                None => assert!(warnings.is_empty(), "config {config}: {warnings:?}"),
            }
        }
    }

    #[test]
    fn warning_shared_policy_file() {
        let config =
            r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {}, "prod": {}}}"#;
        let (_temp, project) = load_config(config);

        assert_eq!(project.stages_sharing_policy_file("prod"), ["dev"]);
        assert_eq!(project.stages_sharing_policy_file("dev"), ["prod"]);
        assert_eq!(
            project.warnings("prod"),
            [
                "apigw.json is also the policy file of stage dev, so saving prod changes dev too. To keep them apart, give prod its own file by setting api_gateway_policy_file in stage prod, for example to apigw-policy-prod.json."
            ]
        );
        assert!(
            project.warnings("dev")[0]
                .starts_with("apigw.json is also the policy file of stage prod,")
        );
    }

    #[test]
    fn shared_policy_file_table() {
        // (config, stage, expected sharing stages)
        let cases: &[(&str, &str, &[&str])] = &[
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {}, "qa": {}, "prod": {}}}"#,
                "prod",
                &["dev", "qa"],
            ),
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {}, "prod": {"api_gateway_policy_file": "prod.json"}}}"#,
                "prod",
                &[],
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_policy_file": "apigw.json"}, "prod": {"api_gateway_policy_file": "sub/../apigw.json"}}}"#,
                "prod",
                &["dev"],
            ),
            (r#"{"stages": {"dev": {}, "prod": {}}}"#, "prod", &[]),
            (
                r#"{"api_gateway_policy_file": "apigw.json", "stages": {"dev": {}}}"#,
                "missing",
                &[],
            ),
        ];
        for &(config, name, expected) in cases {
            let (_temp, project) = load_config(config);
            assert_eq!(
                project.stages_sharing_policy_file(name),
                expected,
                "config {config}"
            );
        }

        let (_temp, project) = load_config(cases[0].0);
        assert!(
            project.warnings("prod")[0].starts_with(
                "apigw.json is also the policy file of stages dev and qa, so saving prod changes them too."
            ),
            "{:?}",
            project.warnings("prod")
        );
    }

    #[test]
    fn warning_private_endpoint() {
        // (config, expected warning prefixes for stage dev)
        let cases: &[(&str, &[&str])] = &[
            (
                r#"{"api_gateway_endpoint_type": "PRIVATE", "api_gateway_endpoint_vpce": "vpce-1", "stages": {"dev": {"api_gateway_policy_file": "apigw-policy-dev.json"}}}"#,
                &[
                    "Stage dev sets both api_gateway_endpoint_vpce and api_gateway_policy_file, and Chalice rejects",
                    "Stage dev has a PRIVATE endpoint: requests arrive through a VPC endpoint, where aws:SourceIp is absent and aws:VpcSourceIp holds the caller's address",
                ],
            ),
            (
                r#"{"stages": {"dev": {"api_gateway_endpoint_type": "PRIVATE", "api_gateway_policy_file": "p.json"}}}"#,
                &["Stage dev has a PRIVATE endpoint"],
            ),
            (
                r#"{"api_gateway_endpoint_type": "PRIVATE", "api_gateway_endpoint_vpce": "vpce-1", "stages": {"dev": {}}}"#,
                &[
                    "Stage dev sets api_gateway_endpoint_vpce, and Chalice rejects it on deploy together with the api_gateway_policy_file that saving an allowlist adds.",
                    "Stage dev has a PRIVATE endpoint",
                ],
            ),
            (
                r#"{"api_gateway_endpoint_type": "private", "stages": {"dev": {"api_gateway_policy_file": "p.json"}}}"#,
                &[],
            ),
            (
                r#"{"api_gateway_endpoint_type": "REGIONAL", "stages": {"dev": {"api_gateway_policy_file": "p.json"}}}"#,
                &[],
            ),
        ];
        for &(config, prefixes) in cases {
            let (_temp, project) = load_config(config);
            let warnings = project.warnings("dev");
            assert_eq!(
                warnings.len(),
                prefixes.len(),
                "config {config}: {warnings:?}"
            );
            for (warning, prefix) in warnings.iter().zip(prefixes) {
                assert!(warning.starts_with(prefix), "config {config}: {warning}");
            }
        }
    }

    #[test]
    fn warnings_unknown_stage_empty() {
        let (_temp, project) = load_config(TWO_STAGES);
        assert!(project.warnings("staging").is_empty());
    }

    const POLICY_CONFIG: &str =
        r#"{"stages": {"dev": {"api_gateway_policy_file": "apigw-policy-dev.json"}, "prod": {}}}"#;

    #[test]
    fn read_policy_file_valid() {
        let policy = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}\n";
        let (_temp, project) = load(&[
            (".chalice/config.json", POLICY_CONFIG.as_bytes()),
            (".chalice/apigw-policy-dev.json", policy.as_bytes()),
        ]);

        let file = project.read_policy_file("dev").unwrap().unwrap();
        assert_eq!(
            file.path,
            project.root.join(".chalice/apigw-policy-dev.json")
        );
        assert_eq!(file.text, policy);
        assert_eq!(
            file.document,
            json!({"Version": "2012-10-17", "Statement": []})
        );
    }

    #[test]
    fn read_policy_file_absent() {
        let (_temp, project) = load_config(POLICY_CONFIG);
        assert_eq!(
            project.read_policy_file("dev").unwrap(),
            None,
            "file missing"
        );
        assert_eq!(
            project.read_policy_file("prod").unwrap(),
            None,
            "no setting"
        );
        assert_eq!(
            project.read_policy_file("staging").unwrap(),
            None,
            "unknown stage"
        );
    }

    #[test]
    fn read_policy_file_errors() {
        // (policy bytes, Some((line, column, cause)) for Syntax, or None for Invalid)
        type Case = (&'static [u8], Option<(usize, usize, &'static str)>);
        let cases: &[Case] = &[
            (
                b"\xef\xbb\xbf{\"Version\": \"2012-10-17\"}",
                Some((1, 1, "byte-order mark")),
            ),
            (
                b"{\n  // office\n  \"Version\": \"2012-10-17\"\n}",
                Some((2, 3, "comments are not allowed in JSON")),
            ),
            (
                b"{\n  \"Statement\": [\n    {\"Effect\": \"Allow\"},\n  ]\n}",
                Some((3, 24, "trailing comma before ']'")),
            ),
            (b"[]", None),
            (b"\"policy\"", None),
        ];
        for &(policy, expected) in cases {
            let (_temp, project) = load(&[
                (".chalice/config.json", POLICY_CONFIG.as_bytes()),
                (".chalice/apigw-policy-dev.json", policy),
            ]);
            let error = project.read_policy_file("dev").unwrap_err();
            match (error, expected) {
                (ProjectError::Syntax { path, error }, Some((line, column, cause))) => {
                    assert!(path.ends_with(".chalice/apigw-policy-dev.json"));
                    assert_eq!(
                        (error.line, error.column),
                        (line, column),
                        "{}",
                        String::from_utf8_lossy(policy)
                    );
                    assert!(error.cause.contains(cause), "{}", error.cause);
                }
                (ProjectError::Invalid { reason, .. }, None) => {
                    assert!(
                        reason.contains("a resource policy must be a JSON object"),
                        "{reason}"
                    );
                }
                (other, _) => panic!(
                    "unexpected {other:?} for {}",
                    String::from_utf8_lossy(policy)
                ),
            }
        }
    }

    #[test]
    fn format_policy_file_table() {
        let document =
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*"}]});
        let lf = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Principal\": \"*\"\n    }\n  ]\n}\n";
        let cases = [
            (&document, "\n", lf.to_string()),
            (&document, "\r\n", lf.replace('\n', "\r\n")),
        ];
        for (document, line_ending, expected) in cases {
            assert_eq!(format_policy_file(document, line_ending), expected);
        }

        assert_eq!(format_policy_file(&json!({}), "\r\n"), "{}\r\n");
        let with_newline = json!({"Sid": "a\nb"});
        assert_eq!(
            format_policy_file(&with_newline, "\r\n"),
            "{\r\n  \"Sid\": \"a\\nb\"\r\n}\r\n"
        );
    }

    #[test]
    fn detect_line_ending_reexported() {
        assert_eq!(detect_line_ending("{\r\n}"), "\r\n");
        assert_eq!(detect_line_ending("{\n}"), "\n");
    }

    fn directory_entries(directory: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(directory)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn atomic_write_creates_and_replaces() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("apigw.json");

        atomic_write(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");

        atomic_write(&path, b"second, longer").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second, longer");

        atomic_write(&path, b"").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        assert_eq!(directory_entries(temp.path()), ["apigw.json"]);
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;

        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("config.json");
        fs::write(&path, "{}").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();

        atomic_write(&path, b"{\"a\": 1}").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_follows_symlink() {
        let temp = tempfile::tempdir().unwrap();
        let target = temp.path().join("real.json");
        let link = temp.path().join("link.json");
        fs::write(&target, "old").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();

        atomic_write(&link, b"new").unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn atomic_write_errors_leave_no_temporary_file() {
        let temp = tempfile::tempdir().unwrap();

        // A missing directory: the temporary file cannot be created.
        assert!(atomic_write(&temp.path().join("missing/apigw.json"), b"x").is_err());

        // A directory in the way: the rename fails after the temporary file was written.
        let directory = temp.path().join("apigw.json");
        fs::create_dir(&directory).unwrap();
        fs::write(directory.join("inside"), "kept").unwrap();
        assert!(atomic_write(&directory, b"x").is_err());

        assert_eq!(directory_entries(temp.path()), ["apigw.json"]);
        assert_eq!(directory_entries(&directory), ["inside"]);
    }

    #[test]
    fn config_edit_changes_only_the_key() {
        let config = "{\r\n    \"stages\": {\r\n        \"prod\": {\r\n            \"api_gateway_stage\": \"live\"\r\n        },\r\n        \"dev\": {\r\n            \"api_gateway_policy_file\": \"policy-dev.json\",\r\n            \"autogen_policy\": false\r\n        }\r\n    },\r\n    \"version\": \"2.0\",\r\n    \"app_name\": \"app\"\r\n}\r\n";
        let (_temp, root) = project_dir(&[(".chalice/config.json", config.as_bytes())]);
        let project = load_project(&root).unwrap().unwrap();

        let edited = set_string_key(
            &project.config_text,
            &["stages", "dev"],
            "api_gateway_policy_file",
            "apigw-policy-dev.json",
        )
        .unwrap();
        let before: Vec<&str> = config.split_inclusive('\n').collect();
        let after: Vec<&str> = edited.split_inclusive('\n').collect();
        assert_eq!(before.len(), after.len());
        let changed: Vec<usize> = (0..before.len())
            .filter(|&index| before[index] != after[index])
            .collect();
        assert_eq!(changed, [6]);
        assert_eq!(
            after[6],
            "            \"api_gateway_policy_file\": \"apigw-policy-dev.json\",\r\n"
        );

        atomic_write(&project.config_path, edited.as_bytes()).unwrap();
        let reloaded = load_project(&root).unwrap().unwrap();
        assert_eq!(reloaded.config_text, edited);
        let dev = stage(&reloaded, "dev");
        assert_eq!(
            dev.policy_file
                .as_ref()
                .map(|setting| setting.value.as_str()),
            Some("apigw-policy-dev.json")
        );
        assert!(
            reloaded.warnings("dev").is_empty(),
            "{:?}",
            reloaded.warnings("dev")
        );
        let names: Vec<&str> = reloaded
            .stages
            .iter()
            .map(|stage| stage.name.as_str())
            .collect();
        assert_eq!(names, ["prod", "dev"]);
    }
}
