mod common;
use ipgate::aws::{AwsOptions, Gateway};
#[tokio::test]
async fn scratch() {
    let server = common::start_moto();
    let id = ipgate::emulator::seed_rest_api(&server.client(), "x", "api", None).await.unwrap();
    let g = Gateway::connect(&AwsOptions { profile: None, region: Some("eu-west-1".into()), endpoint_url: Some(server.endpoint()) }).await;
    eprintln!("info1 {:?}", g.info);
    eprintln!("list eu-west-1 {:?}", g.list_rest_apis().await.map(|v| v.len()));
    let g = Gateway::connect(&AwsOptions { profile: None, region: None, endpoint_url: Some(server.endpoint()) }).await;
    eprintln!("info2 {:?}", g.info);
    eprintln!("get {:?}", g.get_rest_api(&id).await.map(|a| a.name));
    let g = Gateway::connect(&AwsOptions::default()).await;
    eprintln!("info3 {:?}", g.info);
    eprintln!("get3 {:?}", g.get_rest_api(&id).await.map(|a| a.name).map_err(|e| (e.kind, e.to_string())));
}
