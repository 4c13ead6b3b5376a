//! Live policies as API Gateway returns them, and comparison by meaning.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::policy::{PolicyError, parse_document};
use super::resource::{ApiContext, expand_resource};

/// Decodes the `policy` field of `GetRestApi`: missing, `null`, `""`, escaped (`{\"Version\"...`
/// with `\/`), or plain JSON as some emulators return it. `Ok(None)` means no policy.
///
/// Escaped text is decoded as the body of a JSON string literal, so escapes other than `\"` and
/// `\/` keep their meaning. A syntax error in escaped text has its position in the decoded text.
pub fn decode_live_policy(raw: Option<&str>) -> Result<Option<Value>, PolicyError> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(None);
    };
    if raw.is_empty() {
        return Ok(None);
    }

    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::String(inner)) => decode_live_policy(Some(&inner)),
        Ok(_) => parse_document(raw).map(Some),
        Err(_) => decode_escaped(raw),
    }
}

fn decode_escaped(raw: &str) -> Result<Option<Value>, PolicyError> {
    let literal = format!("\"{raw}\"");
    match serde_json::from_str::<String>(&literal) {
        Ok(text) => parse_document(&text).map(Some),
        // Not an escaped policy either: report the error in the text as received.
        Err(_) => parse_document(raw).map(Some),
    }
}

/// True when two documents mean the same: short resources expanded, single strings as
/// one-element lists, list, statement and key order ignored, condition keys case-insensitive.
///
/// Also ignored: the letter case of actions and condition operators, duplicate list values, and
/// `"*"` against `{"AWS": "*"}` as the principal. Full ARN fields that `api` does not know
/// match any value: region (with the partition), account, and API id. A document without
/// statements equals no policy. `Version` and `Sid` are compared as written.
pub fn same_meaning(a: Option<&Value>, b: Option<&Value>, api: &ApiContext) -> bool {
    canonical_document(a, api) == canonical_document(b, api)
}

/// Returns the document in a form where equal meaning is equal text, or `None` for no policy.
fn canonical_document(doc: Option<&Value>, api: &ApiContext) -> Option<String> {
    let doc = doc?;
    let Value::Object(fields) = doc else {
        return Some(canonical(doc).to_string());
    };

    let mut top_level = BTreeMap::new();
    for (key, value) in fields {
        let value = match (key.as_str(), value) {
            ("Statement", Value::Object(_)) => {
                canonical_statements(std::slice::from_ref(value), api)
            }
            ("Statement", Value::Array(statements)) if statements.is_empty() => return None,
            ("Statement", Value::Array(statements)) => canonical_statements(statements, api),
            _ => canonical(value),
        };
        top_level.insert(key.clone(), value);
    }
    Some(object_from(top_level).to_string())
}

/// Returns the statements as a multiset: sorted by their canonical text, duplicates kept.
fn canonical_statements(statements: &[Value], api: &ApiContext) -> Value {
    let mut texts: Vec<String> = statements
        .iter()
        .map(|statement| canonical_statement(statement, api).to_string())
        .collect();
    texts.sort();
    Value::Array(texts.into_iter().map(Value::String).collect())
}

fn canonical_statement(statement: &Value, api: &ApiContext) -> Value {
    let Value::Object(fields) = statement else {
        return canonical(statement);
    };

    let mut canonical_fields = BTreeMap::new();
    for (key, value) in fields {
        let value = match key.as_str() {
            "Action" | "NotAction" => string_set(value, |action| action.to_ascii_lowercase()),
            "Resource" | "NotResource" => {
                string_set(value, |resource| canonical_resource(resource, api))
            }
            "Principal" | "NotPrincipal" => canonical_principal(value),
            "Condition" => canonical_condition(value),
            _ => canonical(value),
        };
        canonical_fields.insert(key.clone(), value);
    }
    object_from(canonical_fields)
}

/// Expands a short resource, then puts `*` in every ARN field the context does not know, so
/// that a short form and the ARN AWS stored from it compare equal.
fn canonical_resource(resource: &str, api: &ApiContext) -> String {
    let expanded = expand_resource(resource, api);
    if !expanded.starts_with("arn:") {
        return expanded;
    }

    let mut fields: Vec<String> = expanded.splitn(6, ':').map(str::to_string).collect();
    if fields.len() < 6 {
        return expanded;
    }
    if api.region.is_none() {
        fields[1] = "*".to_string();
        fields[3] = "*".to_string();
    }
    if api.account.is_none() {
        fields[4] = "*".to_string();
    }
    if api.api_id.is_none() {
        let path = fields[5].split_once('/').map_or("", |(_, path)| path);
        fields[5] = format!("*/{path}");
    }
    fields.join(":")
}

fn canonical_principal(principal: &Value) -> Value {
    match principal {
        Value::String(text) if text == "*" => {
            let mut fields = BTreeMap::new();
            fields.insert("AWS".to_string(), string_set(principal, str::to_string));
            object_from(fields)
        }
        Value::Object(fields) => {
            let fields = fields
                .iter()
                .map(|(kind, ids)| (kind.clone(), string_set(ids, str::to_string)))
                .collect();
            object_from(fields)
        }
        other => canonical(other),
    }
}

/// Lowercases operator names and condition keys, and turns values into sorted sets.
fn canonical_condition(condition: &Value) -> Value {
    let Value::Object(operators) = condition else {
        return canonical(condition);
    };

    let mut canonical_operators = BTreeMap::new();
    for (operator, entries) in operators {
        let value = match entries {
            Value::Object(entries) => {
                let entries = entries
                    .iter()
                    .map(|(key, values)| {
                        (key.to_ascii_lowercase(), string_set(values, str::to_string))
                    })
                    .collect();
                object_from(entries)
            }
            other => canonical(other),
        };
        canonical_operators.insert(operator.to_ascii_lowercase(), value);
    }
    object_from(canonical_operators)
}

/// Returns a string or list as a sorted list without duplicates, strings mapped through `map`.
fn string_set(value: &Value, map: impl Fn(&str) -> String) -> Value {
    let items: Vec<Value> = match value {
        Value::String(text) => vec![Value::String(map(text))],
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Value::String(map(text)),
                other => canonical(other),
            })
            .collect(),
        other => return canonical(other),
    };

    let mut keyed: Vec<(String, Value)> = items
        .into_iter()
        .map(|item| (item.to_string(), item))
        .collect();
    keyed.sort_by(|left, right| left.0.cmp(&right.0));
    keyed.dedup_by(|left, right| left.0 == right.0);
    Value::Array(keyed.into_iter().map(|(_, item)| item).collect())
}

/// Returns the value with every object's keys in sorted order.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(fields) => object_from(
            fields
                .iter()
                .map(|(key, value)| (key.clone(), canonical(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Builds an object whose keys serialize in sorted order, because `Map` keeps insertion order
/// with the `preserve_order` feature.
fn object_from(fields: BTreeMap<String, Value>) -> Value {
    Value::Object(fields.into_iter().collect::<Map<String, Value>>())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::policy::{Shape, StageAccess, stage_access};
    use super::*;

    /// The policy field as AWS returns it: quotes escaped as `\"` and slashes as `\/`.
    const ESCAPED: &str = r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:eu-west-1:123456789012:abcde12345\/*\",\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"198.51.100.0\/24\"}}}]}"#;

    fn api() -> ApiContext {
        ApiContext {
            region: Some("eu-west-1".to_string()),
            account: Some("123456789012".to_string()),
            api_id: Some("abcde12345".to_string()),
        }
    }

    fn local_policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/24", "192.0.2.0/24"]}}}
        ]})
    }

    fn live_policy() -> Value {
        json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcde12345/*"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
             "Resource": "arn:aws:execute-api:eu-west-1:123456789012:abcde12345/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24", "198.51.100.0/24"]}}}
        ]})
    }

    #[test]
    fn decode_no_policy() {
        for raw in [
            None,
            Some(""),
            Some("   "),
            Some("\n\t"),
            Some("null"),
            Some(" null "),
            Some("\"\""),
        ] {
            assert_eq!(decode_live_policy(raw), Ok(None), "{raw:?}");
        }
    }

    #[test]
    fn decode_escaped_policy() {
        let document = decode_live_policy(Some(ESCAPED)).unwrap().unwrap();
        let resource = &document["Statement"][0]["Resource"];
        assert_eq!(
            resource,
            "arn:aws:execute-api:eu-west-1:123456789012:abcde12345/*"
        );

        let context = ApiContext {
            api_id: Some("abcde12345".to_string()),
            region: Some("eu-west-1".to_string()),
            account: None,
        };
        for stage in ["dev", "prod", "api"] {
            let StageAccess::Allowlist(allowlist) =
                stage_access(Some(&document), stage, &context).unwrap()
            else {
                panic!("{stage}: no allowlist");
            };
            assert_eq!(allowlist.shape, Shape::AllowIfIp, "{stage}");
            assert_eq!(allowlist.cidrs, vec!["198.51.100.0/24"], "{stage}");
        }
    }

    #[test]
    fn decode_table() {
        let cases: Vec<(&str, Value)> = vec![
            (r#"{"Statement": []}"#, json!({"Statement": []})),
            (
                r#"  {"Statement": {"Effect": "Allow"}}  "#,
                json!({"Statement": {"Effect": "Allow"}}),
            ),
            (r#"{\"Statement\":[]}"#, json!({"Statement": []})),
            (r#""{\"Statement\":[]}""#, json!({"Statement": []})),
            (
                r#"{\"Statement\":[{\"Sid\":\"caf\u00e9\"}]}"#,
                json!({"Statement": [{"Sid": "café"}]}),
            ),
            (
                r#"{\"Statement\":[{\"Condition\":{\"StringLike\":{\"k\":\"a\\\\b\"}}}]}"#,
                json!({"Statement": [{"Condition": {"StringLike": {"k": "a\\b"}}}]}),
            ),
            (
                r#"{\"Statement\":[{\"Condition\":{\"StringLike\":{\"k\":\"a\\\"b\"}}}]}"#,
                json!({"Statement": [{"Condition": {"StringLike": {"k": "a\"b"}}}]}),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(decode_live_policy(Some(raw)), Ok(Some(expected)), "{raw}");
        }
    }

    #[test]
    fn decode_errors() {
        let syntax = |line, column, cause: &str| PolicyError::Syntax {
            line,
            column,
            cause: cause.to_string(),
        };
        let cases = [
            ("garbage", syntax(1, 1, "expected value")),
            (r#"{"Statement": [}"#, syntax(1, 16, "expected value")),
            (r#"{\"Statement\":[}"#, syntax(1, 15, "expected value")),
            (
                "[]",
                PolicyError::Invalid("a policy must be a JSON object, found a list".to_string()),
            ),
            (
                r#"{\"Version\":\"1\"}"#,
                PolicyError::Invalid("the policy has no \"Statement\" element".to_string()),
            ),
        ];
        for (raw, expected) in cases {
            assert_eq!(decode_live_policy(Some(raw)), Err(expected), "{raw}");
        }
    }

    #[test]
    fn same_meaning_table() {
        let one_cidr = |value: Value| {
            json!({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:SourceIp": value}}}]})
        };
        let allow_all = json!({"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}
        ]});
        let escaped_live = decode_live_policy(Some(
            r#"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:eu-west-1:123456789012:abcde12345\/*\"},{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"execute-api:Invoke\",\"Resource\":\"arn:aws:execute-api:eu-west-1:123456789012:abcde12345\/*\",\"Condition\":{\"NotIpAddress\":{\"aws:SourceIp\":[\"192.0.2.0\/24\",\"198.51.100.0\/24\"]}}}]}"#,
        ))
        .unwrap();

        let mut reordered_keys = serde_json::Map::new();
        reordered_keys.insert("Statement".to_string(), local_policy()["Statement"].clone());
        reordered_keys.insert("Version".to_string(), json!("2012-10-17"));

        let mut swapped_statements = local_policy();
        swapped_statements["Statement"]
            .as_array_mut()
            .unwrap()
            .reverse();

        let mut lowercase_condition = local_policy();
        lowercase_condition["Statement"][1]["Condition"] =
            json!({"notipaddress": {"AWS:SourceIP": ["192.0.2.0/24", "198.51.100.0/24"]}});

        let mut principal_object = local_policy();
        principal_object["Statement"][0]["Principal"] = json!({"AWS": "*"});
        principal_object["Statement"][1]["Principal"] = json!({"AWS": ["*"]});

        let mut action_list = local_policy();
        action_list["Statement"][0]["Action"] = json!(["execute-api:invoke", "execute-api:Invoke"]);

        let mut duplicate_cidr = local_policy();
        duplicate_cidr["Statement"][1]["Condition"]["NotIpAddress"]["aws:SourceIp"] =
            json!(["192.0.2.0/24", "198.51.100.0/24", "192.0.2.0/24"]);

        let mut other_version = local_policy();
        other_version["Version"] = json!("2008-10-17");

        let mut other_effect = local_policy();
        other_effect["Statement"][0]["Effect"] = json!("Deny");

        let mut extra_statement = local_policy();
        extra_statement["Statement"]
            .as_array_mut()
            .unwrap()
            .push(local_policy()["Statement"][0].clone());

        let mut other_api = live_policy();
        other_api["Statement"][1]["Resource"] =
            json!("arn:aws:execute-api:eu-west-1:123456789012:zzzzz99999/*");

        let mut stage_scoped = local_policy();
        stage_scoped["Statement"][1]["Resource"] = json!("execute-api:/dev/*");

        let mut with_sid = local_policy();
        with_sid["Statement"][0]["Sid"] = json!("AllowAll");

        let cases: Vec<(&str, Option<Value>, Option<Value>, bool)> = vec![
            (
                "expanded ARNs, reversed list",
                Some(local_policy()),
                Some(live_policy()),
                true,
            ),
            (
                "escaped live text",
                Some(local_policy()),
                escaped_live,
                true,
            ),
            (
                "one-element list and string",
                Some(one_cidr(json!(["192.0.2.0/24"]))),
                Some(one_cidr(json!("192.0.2.0/24"))),
                true,
            ),
            (
                "different CIDR",
                Some(one_cidr(json!(["192.0.2.0/24"]))),
                Some(one_cidr(json!("192.0.2.1/32"))),
                false,
            ),
            (
                "key order",
                Some(local_policy()),
                Some(Value::Object(reordered_keys)),
                true,
            ),
            (
                "statement order",
                Some(local_policy()),
                Some(swapped_statements),
                true,
            ),
            (
                "condition letter case",
                Some(local_policy()),
                Some(lowercase_condition),
                true,
            ),
            (
                "principal forms",
                Some(local_policy()),
                Some(principal_object),
                true,
            ),
            (
                "action list and case",
                Some(local_policy()),
                Some(action_list),
                true,
            ),
            (
                "duplicate CIDR",
                Some(local_policy()),
                Some(duplicate_cidr),
                true,
            ),
            (
                "statement object and list",
                Some(json!({"Statement": allow_all["Statement"][0].clone()})),
                Some(allow_all.clone()),
                true,
            ),
            (
                "different version",
                Some(local_policy()),
                Some(other_version),
                false,
            ),
            (
                "different effect",
                Some(local_policy()),
                Some(other_effect),
                false,
            ),
            (
                "extra statement",
                Some(local_policy()),
                Some(extra_statement),
                false,
            ),
            (
                "another API id",
                Some(local_policy()),
                Some(other_api),
                false,
            ),
            (
                "narrower resource",
                Some(local_policy()),
                Some(stage_scoped),
                false,
            ),
            ("added Sid", Some(local_policy()), Some(with_sid), false),
            ("both absent", None, None, true),
            (
                "zero statements and absent",
                Some(json!({"Version": "2012-10-17", "Statement": []})),
                None,
                true,
            ),
            ("policy and absent", Some(allow_all), None, false),
        ];

        for (name, a, b, expected) in cases {
            assert_eq!(
                same_meaning(a.as_ref(), b.as_ref(), &api()),
                expected,
                "{name}"
            );
            assert_eq!(
                same_meaning(b.as_ref(), a.as_ref(), &api()),
                expected,
                "{name}, swapped"
            );
        }
    }

    #[test]
    fn same_meaning_unknown_context() {
        let context_cases = [
            ApiContext {
                account: None,
                ..api()
            },
            ApiContext {
                region: None,
                ..api()
            },
            ApiContext {
                api_id: None,
                ..api()
            },
            ApiContext::default(),
        ];
        for context in context_cases {
            assert!(
                same_meaning(Some(&local_policy()), Some(&live_policy()), &context),
                "{context:?}"
            );
        }

        let china = ApiContext {
            region: Some("cn-north-1".to_string()),
            ..api()
        };
        let mut china_live = live_policy();
        for statement in china_live["Statement"].as_array_mut().unwrap() {
            statement["Resource"] =
                json!("arn:aws-cn:execute-api:cn-north-1:123456789012:abcde12345/*");
        }
        assert!(same_meaning(
            Some(&local_policy()),
            Some(&china_live),
            &china
        ));
        assert!(!same_meaning(
            Some(&local_policy()),
            Some(&china_live),
            &api()
        ));
    }

    #[test]
    fn same_meaning_malformed_documents() {
        let cases = [
            (json!([1, 2]), json!([1, 2]), true),
            (json!([1, 2]), json!([2, 1]), false),
            (json!({"Statement": "x"}), json!({"Statement": "x"}), true),
            (json!({"Statement": "x"}), json!({"Statement": "y"}), false),
        ];
        for (a, b, expected) in cases {
            assert_eq!(
                same_meaning(Some(&a), Some(&b), &api()),
                expected,
                "{a} vs {b}"
            );
        }
    }
}
