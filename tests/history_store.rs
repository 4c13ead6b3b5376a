//! The policy history and audit log on a temporary data directory.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipgate::history::{AuditRecord, HistoryError, HistoryStore, PolicyVersion};

const REGION: &str = "eu-west-1";
const REST_API_ID: &str = "a1b2c3d4e5";
const STAGE: &str = "api";

fn version(seconds: u64, policy: &str) -> PolicyVersion {
    PolicyVersion {
        // Nanoseconds check that the RFC 3339 text keeps the full precision.
        recorded_at: UNIX_EPOCH + Duration::new(1_760_000_000 + seconds, 123_456_789),
        region: Some(REGION.to_string()),
        account: Some("123456789012".to_string()),
        rest_api_id: REST_API_ID.to_string(),
        stage: STAGE.to_string(),
        chalice_stage: Some("dev".to_string()),
        deployment_id: Some(format!("dep{seconds}")),
        policy: Some(policy.to_string()),
        local_file: Some(PathBuf::from("/project/.chalice/ip-policy-dev.json")),
        local_text: Some(format!("{policy}\n")),
        reason: "before save".to_string(),
    }
}

fn audit(outcome: &str) -> AuditRecord {
    AuditRecord {
        at: UNIX_EPOCH + Duration::from_secs(1_760_000_100),
        region: Some(REGION.to_string()),
        account: None,
        rest_api_id: REST_API_ID.to_string(),
        stage: STAGE.to_string(),
        chalice_stage: Some("dev".to_string()),
        change: "+203.0.113.7/32 -198.51.100.0/24".to_string(),
        steps: vec![
            "write .chalice/ip-policy-dev.json".to_string(),
            "update the live policy".to_string(),
            "create a deployment of stage api".to_string(),
        ],
        deployment_id: Some("newdep".to_string()),
        outcome: outcome.to_string(),
    }
}

fn history_path(store: &HistoryStore) -> PathBuf {
    store
        .history_file(Some(REGION), REST_API_ID, STAGE)
        .expect("valid names")
}

#[test]
fn version_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let mut entry = version(1, r#"{"Version":"2012-10-17","Statement":[]}"#);
    entry.policy = None;
    entry.local_file = None;
    entry.local_text = None;

    store.record_before_write(&entry).unwrap();

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions, vec![entry]);
}

#[test]
fn version_file_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    store.record_before_write(&version(1, "{}")).unwrap();

    let expected = dir.path().join("history/eu-west-1/a1b2c3d4e5/api.jsonl");
    assert_eq!(history_path(&store), expected);
    assert!(expected.is_file());

    let text = std::fs::read_to_string(&expected).unwrap();
    assert!(text.ends_with('\n'));
    assert_eq!(text.lines().count(), 1);
    assert!(
        text.contains(r#""recorded_at":"2025-10-09T08:53:21.123456789Z""#),
        "{text}"
    );
}

#[test]
fn missing_region_uses_unknown_region() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let mut entry = version(1, "{}");
    entry.region = None;

    store.record_before_write(&entry).unwrap();

    let path = dir
        .path()
        .join("history/unknown-region/a1b2c3d4e5/api.jsonl");
    assert!(path.is_file());
    assert_eq!(
        store.versions(None, REST_API_ID, STAGE).unwrap(),
        vec![entry]
    );
    assert!(
        store
            .versions(Some(REGION), REST_API_ID, STAGE)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn names_stay_one_path_component() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());

    let path = store.history_file(Some(".."), "../x", "a/b").unwrap();

    assert_eq!(
        path,
        dir.path().join("history/%2E%2E/%2E%2E%2Fx/a%2Fb.jsonl")
    );
}

#[test]
fn empty_stage_name_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());

    let error = store
        .history_file(Some(REGION), REST_API_ID, "")
        .unwrap_err();

    assert!(matches!(error, HistoryError::EmptyName { .. }), "{error:?}");
}

#[test]
fn versions_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let entries: Vec<PolicyVersion> = (1..=3)
        .map(|n| version(n, &format!("{{\"n\":{n}}}")))
        .collect();

    for entry in &entries {
        store.record_before_write(entry).unwrap();
    }

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    let expected: Vec<PolicyVersion> = entries.into_iter().rev().collect();
    assert_eq!(versions, expected);
}

#[test]
fn versions_of_other_stage_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let mut prod = version(2, "{}");
    prod.stage = "prod".to_string();

    store.record_before_write(&version(1, "{}")).unwrap();
    store.record_before_write(&prod).unwrap();

    assert_eq!(
        store.versions(Some(REGION), REST_API_ID, "prod").unwrap(),
        vec![prod]
    );
    assert_eq!(
        store
            .versions(Some(REGION), REST_API_ID, STAGE)
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn versions_of_unknown_stage_empty() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path().join("not-created-yet"));

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();

    assert!(versions.is_empty());
    assert!(store.audit_records().unwrap().is_empty());
}

#[test]
fn history_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let first = version(1, "{\"n\":1}");
    let second = version(2, "{\"n\":2}");

    {
        let store = HistoryStore::at(dir.path());
        store.record_before_write(&first).unwrap();
        store.append_audit(&audit("saved")).unwrap();
    }
    {
        let store = HistoryStore::at(dir.path());
        store.record_before_write(&second).unwrap();
    }

    let reopened = HistoryStore::at(dir.path());
    let versions = reopened.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions, vec![second, first]);
    assert_eq!(reopened.audit_records().unwrap(), vec![audit("saved")]);
}

#[test]
fn appends_keep_earlier_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    store.record_before_write(&version(1, "{\"n\":1}")).unwrap();
    store.append_audit(&audit("saved")).unwrap();
    let history_before = std::fs::read(history_path(&store)).unwrap();
    let audit_before = std::fs::read(store.audit_file()).unwrap();

    store.record_before_write(&version(2, "{\"n\":2}")).unwrap();
    store.record_before_write(&version(3, "{\"n\":3}")).unwrap();
    store
        .append_audit(&audit("policy saved, not deployed"))
        .unwrap();

    let history_after = std::fs::read(history_path(&store)).unwrap();
    let audit_after = std::fs::read(store.audit_file()).unwrap();
    assert!(history_after.len() > history_before.len());
    assert_eq!(&history_after[..history_before.len()], &history_before[..]);
    assert!(audit_after.len() > audit_before.len());
    assert_eq!(&audit_after[..audit_before.len()], &audit_before[..]);
}

#[test]
fn partial_last_line_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let first = version(1, "{\"n\":1}");
    store.record_before_write(&first).unwrap();

    // A crash mid-write leaves the start of a line with no newline.
    let whole = serde_json::to_string(&version(2, "{\"n\":2}")).unwrap();
    let mut file = OpenOptions::new()
        .append(true)
        .open(history_path(&store))
        .unwrap();
    file.write_all(&whole.as_bytes()[..whole.len() / 2])
        .unwrap();
    drop(file);

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions, vec![first.clone()]);

    // The next record starts on a new line, so it is not lost in the partial one.
    let third = version(3, "{\"n\":3}");
    store.record_before_write(&third).unwrap();
    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions, vec![third, first]);
}

#[test]
fn corrupt_middle_line_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let first = version(1, "{\"n\":1}");
    let third = version(3, "{\"n\":3}");
    store.record_before_write(&first).unwrap();

    let mut file = OpenOptions::new()
        .append(true)
        .open(history_path(&store))
        .unwrap();
    file.write_all(b"not json\n\xff\xfe\n{\"recorded_at\":\"yesterday\"}\n\n")
        .unwrap();
    drop(file);
    store.record_before_write(&third).unwrap();

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions, vec![third, first]);
}

#[test]
fn concurrent_appends_whole_lines() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(HistoryStore::at(dir.path()));
    // A long policy makes each line several KiB, so a torn write would show.
    let policy = format!("{{\"pad\":\"{}\"}}", "x".repeat(4000));

    let handles: Vec<_> = (0..THREADS)
        .map(|thread| {
            // Half the threads share one store and half open their own, as separate runs would.
            let store = if thread % 2 == 0 {
                Arc::clone(&store)
            } else {
                Arc::new(HistoryStore::at(dir.path()))
            };
            let policy = policy.clone();
            std::thread::spawn(move || {
                for n in 0..PER_THREAD {
                    let mut entry = version(thread * 1000 + n, &policy);
                    entry.reason = format!("thread {thread} entry {n}");
                    store.record_before_write(&entry).unwrap();
                    store.append_audit(&audit(&entry.reason)).unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }

    let text = std::fs::read_to_string(history_path(&store)).unwrap();
    let total = (THREADS * PER_THREAD) as usize;
    assert_eq!(text.lines().count(), total);
    for line in text.lines() {
        let entry: PolicyVersion = serde_json::from_str(line).expect("every line is whole");
        assert_eq!(entry.policy.as_deref(), Some(policy.as_str()));
    }

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions.len(), total);
    let audit_records = store.audit_records().unwrap();
    assert_eq!(audit_records.len(), total);

    for thread in 0..THREADS {
        // Each thread's own records keep its order in the file.
        let reasons: Vec<String> = audit_records
            .iter()
            .map(|record| record.outcome.clone())
            .filter(|reason| reason.starts_with(&format!("thread {thread} ")))
            .collect();
        let expected: Vec<String> = (0..PER_THREAD)
            .map(|n| format!("thread {thread} entry {n}"))
            .collect();
        assert_eq!(reasons, expected);
    }
}

#[test]
fn audit_round_trip_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let records = vec![
        audit("saved"),
        audit("policy saved, not deployed"),
        audit("failed: UpdateRestApi failed: ConflictException"),
    ];

    for record in &records {
        store.append_audit(record).unwrap();
    }

    assert_eq!(store.audit_file(), dir.path().join("audit.jsonl"));
    assert_eq!(store.audit_records().unwrap(), records);
}

#[test]
fn unwritable_dir_error_names_file() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the data directory should be makes every write fail.
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, "not a directory").unwrap();
    let store = HistoryStore::at(&blocker);

    let error = store.append_audit(&audit("saved")).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, HistoryError::Io { .. }), "{error:?}");
    assert!(
        message.contains(&blocker.display().to_string()),
        "{message}"
    );
    assert!(message.starts_with("failed to "), "{message}");
}

#[test]
fn recorded_at_keeps_system_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::at(dir.path());
    let mut entry = version(1, "{}");
    entry.recorded_at = SystemTime::now();

    store.record_before_write(&entry).unwrap();

    let versions = store.versions(Some(REGION), REST_API_ID, STAGE).unwrap();
    assert_eq!(versions[0].recorded_at, entry.recorded_at);
}
