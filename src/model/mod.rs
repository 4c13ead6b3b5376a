//! The account's and the project's state as ipgate loaded it, and the rows of the home screen.

pub mod edit;
mod load;
mod open;

pub use load::{STAGE_LISTING_CONCURRENCY, load_inventory};
pub use open::{
    OpenedStage, deploy_shared_stages, has_drift, open_stage, plan_stage_save, save_record,
};

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::Value;

use crate::aws::{RestApiSummary, StageSummary};
use crate::core::chalice::{PolicyFile, Project};
use crate::core::live::{decode_live_policy, same_meaning};
use crate::core::policy::{StageAccess, stage_access};
use crate::core::resource::ApiContext;
use crate::core::sets::{self, IpgateFile, MergedConfig};
use crate::history::HistoryStore;

/// A value fetched in the background.
#[derive(Debug, Clone, PartialEq)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> Load<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Load::Ready(value) => Some(value),
            _ => None,
        }
    }
}

/// Whether ipgate talks to AWS in this session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Listing REST APIs is in flight.
    Connecting,
    Online,
    /// No credentials or AWS unreachable: only local files are read and written.
    LocalOnly {
        reason: String,
    },
}

/// One live REST API with its decoded policy and its stages.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveApi {
    pub summary: RestApiSummary,
    /// The decoded live policy, or why it could not be decoded.
    pub policy: Result<Option<Value>, String>,
    pub stages: Load<Vec<StageSummary>>,
}

impl LiveApi {
    pub fn new(summary: RestApiSummary) -> LiveApi {
        let policy =
            decode_live_policy(summary.policy.as_deref()).map_err(|error| error.to_string());
        LiveApi {
            summary,
            policy,
            stages: Load::Loading,
        }
    }
}

/// The comparison of a stage's local policy file with its live policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    Loading,
    InSync,
    Differ,
    /// A Chalice stage whose REST API, or its stage on that REST API, is not reachable or no
    /// longer exists.
    LocalOnly,
    /// A live stage that no Chalice stage of the project is deployed to.
    LiveOnly,
    /// A Chalice stage with no deployed record.
    NotDeployed,
    Error(String),
}

impl SyncStatus {
    pub fn label(&self) -> &str {
        match self {
            SyncStatus::Loading => "loading",
            SyncStatus::InSync => "in sync",
            SyncStatus::Differ => "differ",
            SyncStatus::LocalOnly => "local only",
            SyncStatus::LiveOnly => "live only",
            SyncStatus::NotDeployed => "not deployed",
            SyncStatus::Error(_) => "error",
        }
    }
}

/// One row of the home screen: a REST API stage, a Chalice stage, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRow {
    pub rest_api_id: Option<String>,
    pub api_name: Option<String>,
    /// The API Gateway stage name.
    pub stage: String,
    pub chalice_stage: Option<String>,
    pub deployment_id: Option<String>,
    pub last_deployed: Option<SystemTime>,
    /// "3", "open", "closed", "?" or "" while loading.
    pub allowlist_summary: String,
    pub status: SyncStatus,
}

impl StageRow {
    /// The text `/` filters on.
    pub fn search_text(&self) -> String {
        let parts = [
            self.api_name.as_deref().unwrap_or(""),
            self.rest_api_id.as_deref().unwrap_or(""),
            &self.stage,
            self.chalice_stage.as_deref().unwrap_or(""),
            self.status.label(),
        ];
        parts.join(" ").to_lowercase()
    }
}

/// The project, its local policy files and the live REST APIs.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub project: Option<Project>,
    /// Local policy file per Chalice stage, or why it could not be read.
    pub local_policies: BTreeMap<String, Result<Option<PolicyFile>, String>>,
    pub connection: Connection,
    pub region: Option<String>,
    /// Live REST APIs by id, once listed.
    pub apis: BTreeMap<String, LiveApi>,
    /// The store of earlier live policies; `None` when there is no data directory.
    pub history: Option<HistoryStore>,
    /// Labels and named sets from the project file and the personal file.
    pub sets: SetsState,
}

/// The project's and the user's `ipgate.json`, and the two seen as one.
#[derive(Debug, Clone)]
pub struct SetsState {
    pub project: Option<IpgateFile>,
    pub personal: Option<IpgateFile>,
    pub merged: MergedConfig,
    /// The errors of files that could not be read, each with its file, line and cause.
    pub errors: Vec<String>,
}

impl SetsState {
    /// Reads both files; a file that cannot be read counts as empty and its error is kept.
    pub fn load(project_root: Option<&std::path::Path>) -> SetsState {
        let mut errors = Vec::new();
        let project =
            project_root.and_then(|root| match sets::load(&sets::project_file_path(root)) {
                Ok(file) => Some(file),
                Err(error) => {
                    errors.push(error.to_string());
                    None
                }
            });
        let personal = match sets::user_file_path().and_then(|path| sets::load(&path)) {
            Ok(file) => Some(file),
            Err(error) => {
                errors.push(error.to_string());
                None
            }
        };
        let empty = sets::IpgateConfig::default();
        let merged = sets::merge(
            project.as_ref().map_or(&empty, |file| &file.model),
            personal.as_ref().map_or(&empty, |file| &file.model),
        );
        SetsState {
            project,
            personal,
            merged,
            errors,
        }
    }

    /// Labels the network `cidr` covers in the project file, or in the personal file when there
    /// is no project; returns the file written. An empty label removes the label.
    pub fn save_label(&mut self, cidr: &str, label: &str) -> Result<std::path::PathBuf, String> {
        let file = match (&self.project, &self.personal) {
            (Some(file), _) | (None, Some(file)) => file.clone(),
            (None, None) => {
                return Err("no project file and no user config directory for labels".to_string());
            }
        };
        let mut config = file.model.clone();
        config
            .set_label(cidr, label)
            .map_err(|error| error.to_string())?;
        let saved = sets::save(&file, &config).map_err(|error| error.to_string())?;

        let path = saved.file.path.clone();
        if self
            .project
            .as_ref()
            .is_some_and(|project| project.path == path)
        {
            self.project = Some(saved.file);
        } else {
            self.personal = Some(saved.file);
        }
        self.remerge();
        Ok(path)
    }

    /// Recomputes [`Self::merged`] after one of the files changed.
    pub fn remerge(&mut self) {
        let empty = sets::IpgateConfig::default();
        self.merged = sets::merge(
            self.project.as_ref().map_or(&empty, |file| &file.model),
            self.personal.as_ref().map_or(&empty, |file| &file.model),
        );
    }

    /// The label of the network `cidr` covers, from either file.
    pub fn label_for(&self, cidr: &str) -> Option<&str> {
        self.merged.config.label_for(cidr)
    }
}

impl Inventory {
    pub fn new(project: Option<Project>, region: Option<String>) -> Inventory {
        let mut inventory = Inventory {
            project,
            local_policies: BTreeMap::new(),
            connection: Connection::Connecting,
            region,
            apis: BTreeMap::new(),
            history: None,
            sets: SetsState::load(None),
        };
        inventory.reload_local_policies();
        inventory
    }

    /// Reads every Chalice stage's policy file, and the label and set files, again.
    pub fn reload_local_policies(&mut self) {
        self.sets = SetsState::load(self.project.as_ref().map(|project| project.root.as_path()));
        self.local_policies.clear();
        let Some(project) = &self.project else {
            return;
        };
        for stage in &project.stages {
            let file = project
                .read_policy_file(&stage.name)
                .map_err(|error| error.to_string());
            self.local_policies.insert(stage.name.clone(), file);
        }
    }

    /// The context for expanding and matching resources of one REST API.
    pub fn api_context(&self, rest_api_id: Option<&str>) -> ApiContext {
        ApiContext {
            region: self.region.clone(),
            account: None,
            api_id: rest_api_id.map(str::to_string),
        }
    }

    /// Home screen rows: Chalice stages first, then the other live stages by API name.
    pub fn rows(&self) -> Vec<StageRow> {
        let mut rows = Vec::new();
        let mut apis: Vec<&LiveApi> = self.apis.values().collect();
        apis.sort_by(|a, b| {
            (&a.summary.name, &a.summary.id).cmp(&(&b.summary.name, &b.summary.id))
        });

        for api in apis {
            match &api.stages {
                Load::Ready(stages) => {
                    for stage in stages {
                        rows.push(self.live_row(api, Some(stage), &stage.name));
                    }
                }
                Load::Loading | Load::Failed(_) => rows.push(self.live_row(api, None, "")),
            }
        }

        self.add_unmatched_chalice_rows(&mut rows);
        // Project stages first, in Chalice stage order by name, then the account's other APIs.
        rows.sort_by(|a, b| {
            let key = |row: &StageRow| {
                (
                    row.chalice_stage.is_none(),
                    row.chalice_stage.clone(),
                    row.api_name.clone(),
                    row.rest_api_id.clone(),
                    row.stage.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        rows
    }

    fn live_row(&self, api: &LiveApi, stage: Option<&StageSummary>, stage_name: &str) -> StageRow {
        let chalice_stage = self.chalice_stage_for(&api.summary.id, stage_name);
        let api_context = self.api_context(Some(&api.summary.id));
        let mut row = StageRow {
            rest_api_id: Some(api.summary.id.clone()),
            api_name: Some(api.summary.name.clone()),
            stage: stage_name.to_string(),
            chalice_stage: chalice_stage.clone(),
            deployment_id: stage.and_then(|stage| stage.deployment_id.clone()),
            last_deployed: stage.and_then(|stage| stage.last_deployed),
            allowlist_summary: String::new(),
            status: SyncStatus::Loading,
        };

        if let Load::Failed(error) = &api.stages {
            row.status = SyncStatus::Error(format!("listing stages failed: {error}"));
            return row;
        }
        if stage.is_none() {
            return row;
        }

        let live = match &api.policy {
            Ok(live) => live.as_ref(),
            Err(error) => {
                row.status = SyncStatus::Error(format!("live policy: {error}"));
                return row;
            }
        };

        match chalice_stage {
            None => {
                row.status = SyncStatus::LiveOnly;
                row.allowlist_summary = summarize_access(live, stage_name, &api_context);
            }
            Some(chalice_stage) => match self.local_policies.get(&chalice_stage) {
                Some(Err(error)) => row.status = SyncStatus::Error(error.clone()),
                Some(Ok(local)) => {
                    let local = local.as_ref().map(|file| &file.document);
                    row.allowlist_summary = summarize_access(local, stage_name, &api_context);
                    row.status = if same_meaning(local, live, &api_context) {
                        SyncStatus::InSync
                    } else {
                        SyncStatus::Differ
                    };
                }
                None => row.status = SyncStatus::Error("no local policy state".to_string()),
            },
        }
        row
    }

    /// Rows for Chalice stages that no live row stands for.
    fn add_unmatched_chalice_rows(&self, rows: &mut Vec<StageRow>) {
        let Some(project) = &self.project else {
            return;
        };

        for stage in &project.stages {
            if rows
                .iter()
                .any(|row| row.chalice_stage.as_deref() == Some(stage.name.as_str()))
            {
                continue;
            }

            let rest_api_id = stage
                .deployed
                .as_ref()
                .map(|deployed| deployed.rest_api_id.clone());
            let api_context = self.api_context(rest_api_id.as_deref());
            let local = match self.local_policies.get(&stage.name) {
                Some(Ok(file)) => Ok(file.as_ref().map(|file| &file.document)),
                Some(Err(error)) => Err(error.clone()),
                None => Ok(None),
            };
            let api_stages = rest_api_id
                .as_ref()
                .and_then(|id| self.apis.get(id))
                .map(|api| &api.stages);

            // Once the REST API's stages are loaded, a deployed stage without a live row is one
            // that the REST API does not have or no longer has.
            let status = match (&local, &stage.deployed, &self.connection, api_stages) {
                (Err(error), _, _, _) => SyncStatus::Error(error.clone()),
                (_, None, _, _) => SyncStatus::NotDeployed,
                (_, Some(_), Connection::Connecting, _) => SyncStatus::Loading,
                (_, Some(_), _, Some(Load::Loading)) => SyncStatus::Loading,
                (_, Some(_), _, Some(Load::Failed(error))) => {
                    SyncStatus::Error(format!("listing stages failed: {error}"))
                }
                (_, Some(_), _, Some(Load::Ready(_)) | None) => SyncStatus::LocalOnly,
            };
            let allowlist_summary = match local {
                Ok(local) => summarize_access(local, &stage.api_gateway_stage, &api_context),
                Err(_) => "?".to_string(),
            };

            rows.push(StageRow {
                rest_api_id,
                api_name: None,
                stage: stage.api_gateway_stage.clone(),
                chalice_stage: Some(stage.name.clone()),
                deployment_id: None,
                last_deployed: None,
                allowlist_summary,
                status,
            });
        }
    }

    /// The Chalice stage deployed to this REST API stage, if any.
    pub fn chalice_stage_for(&self, rest_api_id: &str, stage: &str) -> Option<String> {
        let project = self.project.as_ref()?;
        project
            .stages
            .iter()
            .find(|chalice| {
                chalice.api_gateway_stage == stage
                    && chalice
                        .deployed
                        .as_ref()
                        .is_some_and(|deployed| deployed.rest_api_id == rest_api_id)
            })
            .map(|chalice| chalice.name.clone())
    }
}

/// "open", "closed", the number of CIDRs, or "?" when the document cannot be read.
pub fn summarize_access(document: Option<&Value>, stage: &str, api: &ApiContext) -> String {
    match stage_access(document, stage, api) {
        Ok(StageAccess::Unrestricted) => "open".to_string(),
        Ok(StageAccess::Closed) => "closed".to_string(),
        Ok(StageAccess::Allowlist(allowlist)) => allowlist.cidrs.len().to_string(),
        Err(_) => "?".to_string(),
    }
}
