//! `ipgate.json` on disk: loading, saving only what changed, and errors that name the file.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use ipgate::core::sets::{
    EntrySource, IpgateConfig, SetsError, load, merge, project_file_path, render, save,
};

/// A hand-formatted project file: one-line entries, aligned values, no trailing newline.
const HAND_FORMATTED: &str = r#"{ "version": 1,
  "labels": { "203.0.113.0/24":  "Amsterdam office",
              "2001:db8::1/128": "build server" },
  "sets": {
    "office": { "description": "Office networks",
                "entries": [ { "cidr": "203.0.113.0/24" },
                             { "cidr": "2001:DB8:AB::/48", "label": "Amsterdam IPv6" } ] },
    "vpn":    { "entries": [ { "cidr": "198.51.100.0/25", "label": "VPN exit" } ] }
  },
  "stages": { "prod": { "sets": ["office", "vpn"] },
              "abc123/v1": { "sets": ["vpn"] } }
}"#;

/// Creates `.chalice/ipgate.json` with `text` in a new project directory.
fn project_with(text: &str) -> (TempDir, PathBuf) {
    let temp = tempfile::tempdir().unwrap();
    let path = project_file_path(temp.path());
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, text).unwrap();
    (temp, path)
}

fn load_error(text: &str) -> (SetsError, PathBuf, TempDir) {
    let (temp, path) = project_with(text);
    let error = load(&path).unwrap_err();
    (error, path, temp)
}

fn assert_contains(message: &str, fragment: &str) {
    assert!(
        message.contains(fragment),
        "message {message:?} lacks {fragment:?}"
    );
}

#[test]
fn missing_file_is_empty_config() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("nowhere").join("ipgate.json");
    let file = load(&path).unwrap();
    assert_eq!(file.path, path);
    assert_eq!(file.text, None);
    assert_eq!(file.model, IpgateConfig::default());
}

#[test]
fn unchanged_config_is_not_written() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let file = load(&path).unwrap();
    assert_eq!(file.text.as_deref(), Some(HAND_FORMATTED));

    let saved = save(&file, &file.model.clone()).unwrap();
    assert!(!saved.written);
    assert_eq!(saved.file, file);
    assert_eq!(fs::read_to_string(&path).unwrap(), HAND_FORMATTED);
}

#[test]
fn reverted_edit_is_not_written() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let file = load(&path).unwrap();

    let mut edited = file.model.clone();
    assert!(edited.include_set("dev", "office").unwrap());
    assert!(edited.add_to_set("vpn", "198.51.100.128/25", None).unwrap());
    assert!(edited.exclude_set("dev", "office"));
    assert!(edited.remove_from_set("vpn", "198.51.100.128/25").unwrap());

    let saved = save(&file, &edited).unwrap();
    assert!(!saved.written);
    assert_eq!(fs::read_to_string(&path).unwrap(), HAND_FORMATTED);
}

#[test]
fn rendered_file_round_trips_byte_for_byte() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let model = load(&path).unwrap().model;
    let rendered = render(&model);
    fs::write(&path, &rendered).unwrap();

    let file = load(&path).unwrap();
    assert_eq!(file.model, model);
    let saved = save(&file, &model).unwrap();
    assert!(!saved.written);
    assert_eq!(fs::read_to_string(&path).unwrap(), rendered);
}

#[test]
fn changed_config_is_written_pretty() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let file = load(&path).unwrap();
    let mut edited = file.model.clone();
    edited.set_label("198.51.100.0/25", "VPN exit v4").unwrap();

    let saved = save(&file, &edited).unwrap();
    assert!(saved.written);
    let on_disk = fs::read_to_string(&path).unwrap();
    assert_eq!(on_disk, render(&edited));
    assert_eq!(saved.file.text.as_deref(), Some(on_disk.as_str()));
    assert!(on_disk.contains("\n  \"labels\": {\n    \"203.0.113.0/24\": \"Amsterdam office\",\n"));
    // Entries keep the text they were written with.
    assert!(on_disk.contains("\"cidr\": \"2001:DB8:AB::/48\""));

    let reloaded = load(&path).unwrap();
    assert_eq!(reloaded.model, edited);
    assert_eq!(reloaded, saved.file);
}

#[test]
fn crlf_file_keeps_crlf() {
    let crlf = HAND_FORMATTED.replace('\n', "\r\n");
    let (_temp, path) = project_with(&crlf);
    let file = load(&path).unwrap();
    let mut edited = file.model.clone();
    edited.include_set("dev", "vpn").unwrap();

    assert!(save(&file, &edited).unwrap().written);
    let on_disk = fs::read_to_string(&path).unwrap();
    assert_eq!(on_disk, render(&edited).replace('\n', "\r\n"));
    assert_eq!(load(&path).unwrap().model, edited);
}

#[test]
fn save_creates_missing_directory() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp
        .path()
        .join("config")
        .join("ipgate")
        .join("ipgate.json");
    let file = load(&path).unwrap();

    // An empty configuration needs no file.
    assert!(!save(&file, &IpgateConfig::default()).unwrap().written);
    assert!(!path.exists());

    let mut personal = IpgateConfig::default();
    personal.upsert_set("home", Vec::new()).unwrap();
    personal
        .add_to_set("home", "192.0.2.1", Some("home router"))
        .unwrap();
    personal.include_set("xyz789/api", "home").unwrap();
    assert!(save(&file, &personal).unwrap().written);
    assert_eq!(load(&path).unwrap().model, personal);
}

#[test]
fn save_rejects_file_changed_on_disk() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let file = load(&path).unwrap();
    let changed_elsewhere = HAND_FORMATTED.replace("Amsterdam office", "AMS");
    fs::write(&path, &changed_elsewhere).unwrap();

    let mut edited = file.model.clone();
    edited.include_set("dev", "vpn").unwrap();
    let error = save(&file, &edited).unwrap_err();
    assert!(
        matches!(error, SetsError::ChangedOnDisk { .. }),
        "{error:?}"
    );
    assert_contains(&error.to_string(), "changed on disk since ipgate read it");
    assert_eq!(fs::read_to_string(&path).unwrap(), changed_elsewhere);
}

#[test]
fn save_rejects_file_created_since_load() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("ipgate.json");
    let file = load(&path).unwrap();
    fs::write(&path, "{\"version\": 1}").unwrap();

    let mut edited = IpgateConfig::default();
    edited.set_label("192.0.2.0/24", "test").unwrap();
    let error = save(&file, &edited).unwrap_err();
    assert!(
        matches!(error, SetsError::ChangedOnDisk { .. }),
        "{error:?}"
    );
}

#[test]
fn save_rejects_invalid_model() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let file = load(&path).unwrap();
    let mut edited = file.model.clone();
    edited.stages[0].sets.push("partners".to_string());

    let error = save(&file, &edited).unwrap_err();
    assert_contains(&error.to_string(), "stage 'prod' includes set 'partners'");
    assert_eq!(fs::read_to_string(&path).unwrap(), HAND_FORMATTED);
}

#[test]
fn trailing_comma_names_file_line_and_cause() {
    let text = "{\n  \"version\": 1,\n  \"sets\": {\n    \"office\": {\"entries\": []},\n  }\n}\n";
    let (error, path, _temp) = load_error(text);
    assert!(matches!(error, SetsError::Syntax { .. }), "{error:?}");
    let message = error.to_string();
    assert_contains(&message, &path.display().to_string());
    assert_contains(&message, "line 4, column 30: trailing comma");
}

#[test]
fn entries_wrong_type_names_location() {
    let text = "{\n  \"version\": 1,\n  \"sets\": {\n    \"office\": {\n      \"entries\": {\"cidr\": \"203.0.113.0/24\"}\n    }\n  }\n}\n";
    let (error, path, _temp) = load_error(text);
    let SetsError::Schema {
        path: error_path,
        line,
        key_path,
        ..
    } = &error
    else {
        panic!("expected a schema error, got {error:?}");
    };
    assert_eq!(error_path, &path);
    assert_eq!(*line, Some(5));
    assert_eq!(key_path, "sets.office.entries");
    let message = error.to_string();
    assert_contains(
        &message,
        &format!("{}, line 5: sets.office.entries:", path.display()),
    );
    assert_contains(&message, "but it is an object");
}

#[test]
fn bad_cidr_names_file_line_and_cause() {
    let text = r#"{
  "version": 1,
  "sets": {
    "office": {
      "entries": [
        {"cidr": "203.0.113.0/24"},
        {"cidr": "198.51.100.0/24"},
        {"cidr": "192.0.2.010", "label": "typo"}
      ]
    }
  }
}
"#;
    let (error, path, _temp) = load_error(text);
    assert_eq!(
        error.to_string(),
        format!(
            "{}, line 8: sets.office.entries[2].cidr: '192.0.2.010' is not a valid CIDR: octet \
             010 has a leading zero, which is ambiguous because some tools read it as octal; \
             write 192.0.2.10/32",
            path.display()
        )
    );
}

#[test]
fn unknown_set_names_file_stage_and_suggestion() {
    let text = r#"{
  "version": 1,
  "sets": {"office": {}, "vpn": {}},
  "stages": {
    "prod": {"sets": ["office"]},
    "abc123/v1": {"sets": ["vpn", "offices"]}
  }
}
"#;
    let (error, path, _temp) = load_error(text);
    assert_eq!(
        error.to_string(),
        format!(
            "{}, line 6: stage 'abc123/v1' includes set 'offices', which is not defined in this \
             file; did you mean 'office'?",
            path.display()
        )
    );
}

#[test]
fn labels_match_canonical_form() {
    let (_temp, path) = project_with(HAND_FORMATTED);
    let model = load(&path).unwrap().model;
    let cases: &[(&str, Option<&str>)] = &[
        ("2001:DB8::1", Some("build server")),
        ("2001:0db8:0000::0001/128", Some("build server")),
        ("2001:db8:ab::/48", Some("Amsterdam IPv6")),
        ("203.0.113.0/24", Some("Amsterdam office")),
        ("203.0.113.0/25", None),
    ];
    for (cidr, expected) in cases {
        assert_eq!(model.label_for(cidr), *expected, "cidr {cidr}");
    }
}

#[test]
fn resolution_across_project_and_personal_files() {
    let (temp, project_path) = project_with(HAND_FORMATTED);
    let personal_path = temp.path().join("user").join("ipgate.json");
    fs::create_dir_all(personal_path.parent().unwrap()).unwrap();
    fs::write(
        &personal_path,
        r#"{"version": 1,
            "sets": {"home": {"entries": [{"cidr": "192.0.2.1/32", "label": "home"},
                                          {"cidr": "198.51.100.0/25"}]},
                     "vpn": {"entries": []}},
            "stages": {"prod": {"sets": ["home"]}}}"#,
    )
    .unwrap();

    let project = load(&project_path).unwrap().model;
    let personal = load(&personal_path).unwrap().model;
    let merged = merge(&project, &personal);
    assert_eq!(merged.warnings.len(), 1);
    assert_contains(&merged.warnings[0].to_string(), "set 'vpn'");

    let own = vec!["2001:db8::1".to_string(), "198.51.100.0/25".to_string()];
    let resolved = merged.config.resolve_stage_allowlist(&own, "prod").unwrap();
    let rows: Vec<(&str, Option<&str>, &[EntrySource])> = resolved
        .iter()
        .map(|entry| {
            (
                entry.cidr.as_str(),
                entry.label.as_deref(),
                entry.sources.as_slice(),
            )
        })
        .collect();
    let office = EntrySource::Set("office".into());
    let vpn = EntrySource::Set("vpn".into());
    let home = EntrySource::Set("home".into());
    assert_eq!(
        rows,
        [
            ("2001:db8::1", Some("build server"), &[EntrySource::Own][..]),
            (
                "198.51.100.0/25",
                Some("VPN exit"),
                &[EntrySource::Own, vpn, home.clone()][..]
            ),
            (
                "203.0.113.0/24",
                Some("Amsterdam office"),
                &[office.clone()][..]
            ),
            ("2001:db8:ab::/48", Some("Amsterdam IPv6"), &[office][..]),
            ("192.0.2.1/32", Some("home"), &[home][..]),
        ]
    );
}

#[test]
fn unreadable_path_is_read_error() {
    let temp = tempfile::tempdir().unwrap();
    // A directory where the file should be cannot be read as text.
    let path: &Path = temp.path();
    let error = load(path).unwrap_err();
    assert!(matches!(error, SetsError::Read { .. }), "{error:?}");
    assert_contains(&error.to_string(), "cannot read");
}
