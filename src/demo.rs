//! The sample Chalice project deployed to a local API Gateway, for the demo and the tests.
//!
//! moto cannot run `chalice deploy`, so this does what a deploy leaves behind: one REST API per
//! Chalice stage carrying the stage's policy file, deployed to its `api_gateway_stage`, and the
//! `.chalice/deployed/<stage>.json` records that point at them. One more REST API with two
//! stages belongs to no Chalice stage, so the live-only rows have something to show.

use std::path::{Path, PathBuf};

use aws_sdk_apigateway::Client;

use crate::core::chalice::load_project;
use crate::core::policy::to_minified;
use crate::emulator::{EmulatorError, REGION, seed_rest_api, write_deployed_record};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    #[error("{action} failed: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("the sample project is broken: {0}")]
    Sample(String),
}

/// Name of the REST API that no Chalice stage is deployed to.
pub const PARTNERS_API_NAME: &str = "partners-api";

/// Shape A (Allow with IpAddress), as a hand-written console policy often looks.
const PARTNERS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*","Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8:1234::/48"]}}}]}"#;

/// The sample project in the repository.
pub fn sample_project_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets")
        .join("sample-project")
}

/// The project copy and REST APIs that [`deploy_sample`] created.
#[derive(Debug, Clone)]
pub struct SampleDeployment {
    pub project_dir: PathBuf,
    /// REST API id per Chalice stage, in config.json order.
    pub chalice_apis: Vec<(String, String)>,
    pub partners_api: String,
}

impl SampleDeployment {
    pub fn api_for(&self, chalice_stage: &str) -> Option<&str> {
        self.chalice_apis
            .iter()
            .find(|(stage, _)| stage == chalice_stage)
            .map(|(_, id)| id.as_str())
    }
}

/// Copies the sample project to `destination` and deploys it to the emulator behind `client`.
pub async fn deploy_sample(
    client: &Client,
    destination: &Path,
) -> Result<SampleDeployment, DemoError> {
    copy_dir(&sample_project_source(), destination).map_err(|source| DemoError::Io {
        action: format!("copying the sample project to {}", destination.display()),
        source,
    })?;
    let project = load_project(destination)
        .map_err(|error| DemoError::Sample(error.to_string()))?
        .ok_or_else(|| {
            DemoError::Sample("the sample project has no .chalice/config.json".to_string())
        })?;

    let mut chalice_apis = Vec::new();
    for stage in &project.stages {
        let policy = project
            .read_policy_file(&stage.name)
            .map_err(|error| DemoError::Sample(error.to_string()))?
            .map(|file| to_minified(&file.document));
        let rest_api_id = seed_rest_api(
            client,
            &project.app_name,
            &stage.api_gateway_stage,
            policy.as_deref(),
        )
        .await?;
        write_deployed_record(
            destination,
            &stage.name,
            &rest_api_id,
            REGION,
            &stage.api_gateway_stage,
        )
        .map_err(|source| DemoError::Io {
            action: format!("writing the deployed record of {}", stage.name),
            source,
        })?;
        chalice_apis.push((stage.name.clone(), rest_api_id));
    }

    let partners_api =
        seed_rest_api(client, PARTNERS_API_NAME, "v1", Some(PARTNERS_POLICY)).await?;
    client
        .create_deployment()
        .rest_api_id(&partners_api)
        .stage_name("v2")
        .send()
        .await
        .map_err(|error| {
            DemoError::Sample(format!(
                "deploying {PARTNERS_API_NAME} to stage v2 failed: {error:?}"
            ))
        })?;

    Ok(SampleDeployment {
        project_dir: destination.to_path_buf(),
        chalice_apis,
        partners_api,
    })
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
