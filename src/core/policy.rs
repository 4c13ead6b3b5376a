//! Resource policy documents: reading one stage's allowlist and writing an edited document.
//!
//! Messages number statements from 1, in document order. Index fields such as
//! [`Allowlist::statement_index`] count from 0. A `Statement` written as a single object counts
//! as a list of one.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::resource::{
    ApiContext, Coverage, covers_other_stage, glob_matches, stage_coverage, stage_resource,
};

/// API Gateway's quota on a resource policy, counted in characters of the stored text.
pub const POLICY_MAX_CHARS: usize = 8192;

const POLICY_VERSION: &str = "2012-10-17";
const SOURCE_IP_KEY: &str = "aws:SourceIp";
const INVOKE_ACTION: &str = "execute-api:Invoke";
const ALL_STAGES_RESOURCE: &str = "execute-api:/*";

/// The two common allowlist shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `Allow` with `IpAddress` on `aws:SourceIp`; others are implicitly denied.
    AllowIfIp,
    /// Unconditional `Allow` plus `Deny` with `NotIpAddress` on `aws:SourceIp`.
    DenyUnlessIp,
}

/// A source-address allowlist found in a document for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    pub shape: Shape,
    /// Values as written in the document, in document order.
    pub cidrs: Vec<String>,
    /// Index of the statement carrying the condition.
    pub statement_index: usize,
    /// The condition key as spelled in the document (`aws:sourceIp`).
    pub condition_key: String,
    /// Indexes of further statements that also carry an `aws:SourceIp` allowlist for the stage.
    /// Which list applies is then unclear, so [`apply_edit`] rejects `Set` until they are merged.
    pub other_statements: Vec<usize>,
    /// Indexes of unconditional `Allow` statements for every principal that also cover the
    /// stage. They let any caller through despite an `AllowIfIp` list. Empty for `DenyUnlessIp`.
    pub overridden_by: Vec<usize>,
}

/// A document's rule for one stage's callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageAccess {
    /// No statement restricts the stage by source address, or there is no policy.
    Unrestricted,
    Allowlist(Allowlist),
    /// An unconditional `Deny` covers the whole stage, or the document has statements but no
    /// `Allow` that covers the stage, so every call is implicitly denied.
    Closed,
}

/// A change to one stage's allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowlistEdit {
    /// Replace the list; never empty.
    Set(Vec<String>),
    /// Remove the restriction: everyone may call the stage.
    Open,
    /// Deny every caller.
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid JSON at line {line}, column {column}: {cause}")]
    Syntax {
        line: usize,
        column: usize,
        cause: String,
    },
    #[error("invalid policy: {0}")]
    Invalid(String),
    #[error(
        "the policy is {length} characters; API Gateway accepts at most {max}. Remove or merge entries"
    )]
    TooLong { length: usize, max: usize },
}

/// Parses policy JSON text, reporting line and column on failure.
///
/// The column is serde_json's: a 1-based byte offset within the line.
pub fn parse_document(text: &str) -> Result<Value, PolicyError> {
    let document: Value = serde_json::from_str(text).map_err(|error| syntax_error(text, &error))?;
    statements_of(&document)?;
    Ok(document)
}

/// Reads the rule `doc` sets for `stage`'s callers.
pub fn stage_access(
    doc: Option<&Value>,
    stage: &str,
    api: &ApiContext,
) -> Result<StageAccess, PolicyError> {
    let Some(doc) = doc else {
        return Ok(StageAccess::Unrestricted);
    };
    let (statements, _) = statements_of(doc)?;
    let analysis = analyze(&statements, stage, api)?;
    Ok(analysis.access(statements.is_empty()))
}

/// Writes a new document in which only `stage`'s allowlist changed; `Ok(None)` means no policy.
///
/// `Ok(None)` comes back only when the edited document has no statements left. Every statement
/// the edit does not need to touch is kept as it was, keys and order included. A statement that
/// carries the stage's allowlist and also covers other stages is edited in place, which changes
/// those stages too: see [`statement_covers_other_stages`] and [`apply_edit_split`].
pub fn apply_edit(
    doc: Option<&Value>,
    stage: &str,
    api: &ApiContext,
    edit: &AllowlistEdit,
) -> Result<Option<Value>, PolicyError> {
    if matches!(edit, AllowlistEdit::Set(cidrs) if cidrs.is_empty()) {
        return Err(PolicyError::Invalid(
            "an allowlist cannot be empty: use Open to let every caller in, or Closed to deny every caller"
                .to_string(),
        ));
    }

    let mut document = doc.cloned().unwrap_or_else(new_document);
    let (statements, form) = statements_of(&document)?;
    let analysis = analyze(&statements, stage, api)?;
    let mut editor = StatementEditor::new(statements);

    let scope = EditScope {
        analysis: &analysis,
        stage,
        api,
    };
    match edit {
        AllowlistEdit::Set(cidrs) => set_allowlist(&mut editor, &scope, cidrs)?,
        AllowlistEdit::Open => open_stage(&mut editor, &scope)?,
        AllowlistEdit::Closed => close_stage(&mut editor, &scope),
    }

    let statements = editor.finish();
    if statements.is_empty() {
        return Ok(None);
    }
    store_statements(&mut document, statements, form);
    Ok(Some(document))
}

/// Returns the stages of `other_stages` (other than `stage`) that any `Resource` of the
/// statement at `statement_index` also covers. Empty when the index or the document is invalid.
pub fn statement_covers_other_stages(
    doc: &Value,
    statement_index: usize,
    stage: &str,
    other_stages: &[String],
    api: &ApiContext,
) -> Vec<String> {
    let Ok((statements, _)) = statements_of(doc) else {
        return Vec::new();
    };
    let Some(Ok(view)) = statements
        .get(statement_index)
        .map(|statement| read_statement(statement_index, statement))
    else {
        return Vec::new();
    };

    other_stages
        .iter()
        .filter(|other| other.as_str() != stage)
        .filter(|other| view.coverage(other, api) != Coverage::None)
        .cloned()
        .collect()
}

/// Like [`apply_edit`], but first splits a statement that carries the stage's allowlist and
/// also covers some of `other_stages`, so that those stages keep their access unchanged.
///
/// The shared statement's `Resource` becomes `execute-api:/OTHER/*` for each other stage it
/// covered, and a copy without its `Sid` is added for `execute-api:/STAGE/*`. The edit then
/// applies to the copy. `other_stages` should list every other stage of the REST API, because
/// the narrowed statement no longer covers stages missing from it. A statement whose
/// resources cover only some methods or paths of those stages is rejected, because narrowing
/// it to whole stages would widen it.
pub fn apply_edit_split(
    doc: Option<&Value>,
    stage: &str,
    api: &ApiContext,
    edit: &AllowlistEdit,
    other_stages: &[String],
) -> Result<Option<Value>, PolicyError> {
    let Some(original) = doc else {
        return apply_edit(None, stage, api, edit);
    };
    let StageAccess::Allowlist(allowlist) = stage_access(Some(original), stage, api)? else {
        return apply_edit(Some(original), stage, api, edit);
    };
    let index = allowlist.statement_index;
    let shared_with = statement_covers_other_stages(original, index, stage, other_stages, api);
    if shared_with.is_empty() {
        return apply_edit(Some(original), stage, api, edit);
    }

    let (mut statements, _) = statements_of(original)?;
    let view = read_statement(index, &statements[index])?;
    let involved = std::iter::once(stage).chain(shared_with.iter().map(String::as_str));
    for involved_stage in involved {
        if view.coverage(involved_stage, api) != Coverage::Whole {
            return Err(PolicyError::Invalid(format!(
                "{} covers only some methods or paths of stage {involved_stage} and is shared with other \
                 stages. Split it by hand",
                statement_label(index)
            )));
        }
    }

    let mut stage_copy = statements[index].clone();
    if let Value::Object(fields) = &mut stage_copy {
        fields.shift_remove("Sid");
        fields.insert("Resource".to_string(), Value::String(stage_resource(stage)));
    }
    let narrowed: Vec<Value> = shared_with
        .iter()
        .map(|other| Value::String(stage_resource(other)))
        .collect();
    if let Value::Object(fields) = &mut statements[index] {
        let resource = match <[Value; 1]>::try_from(narrowed) {
            Ok([single]) => single,
            Err(several) => Value::Array(several),
        };
        fields.insert("Resource".to_string(), resource);
    }
    statements.push(stage_copy);

    let mut split = original.clone();
    store_statements(&mut split, statements, StatementForm::List);
    apply_edit(Some(&split), stage, api, edit)
}

/// The text sent to `UpdateRestApi`: no whitespace, key order kept.
pub fn to_minified(doc: &Value) -> String {
    serde_json::to_string(doc).expect("a serde_json::Value always serializes")
}

/// The text written to the policy file and shown in the preview: 2-space indent.
pub fn to_pretty(doc: &Value) -> String {
    serde_json::to_string_pretty(doc).expect("a serde_json::Value always serializes")
}

/// Counts the characters (not bytes) of the minified text, as API Gateway's quota does.
pub fn policy_length(doc: &Value) -> usize {
    to_minified(doc).chars().count()
}

/// Returns the policy length, or an error when it exceeds [`POLICY_MAX_CHARS`].
pub fn check_length(doc: &Value) -> Result<usize, PolicyError> {
    let length = policy_length(doc);
    if length > POLICY_MAX_CHARS {
        return Err(PolicyError::TooLong {
            length,
            max: POLICY_MAX_CHARS,
        });
    }
    Ok(length)
}

fn syntax_error(text: &str, error: &serde_json::Error) -> PolicyError {
    let (line, column) = (error.line(), error.column());
    let cause = if text.starts_with('\u{feff}') {
        "the text starts with a byte-order mark (U+FEFF), which JSON does not allow. Save it as UTF-8 \
         without a BOM"
            .to_string()
    } else if text_at(text, line, column)
        .is_some_and(|rest| rest.starts_with("//") || rest.starts_with("/*"))
    {
        "comments are not allowed in JSON".to_string()
    } else {
        let message = error.to_string();
        let message = match message.rfind(" at line ") {
            Some(position) => message[..position].to_string(),
            None => message,
        };
        if message == "trailing comma" {
            "trailing comma after the last item, which JSON does not allow".to_string()
        } else {
            message
        }
    };
    PolicyError::Syntax {
        line,
        column,
        cause,
    }
}

/// Returns the text from serde_json's position (1-based line, 1-based byte column) to the end
/// of that line.
fn text_at(text: &str, line: usize, column: usize) -> Option<&str> {
    let line_text = text.split('\n').nth(line.checked_sub(1)?)?;
    line_text.get(column.checked_sub(1)?..)
}

fn new_document() -> Value {
    let mut fields = Map::new();
    fields.insert(
        "Version".to_string(),
        Value::String(POLICY_VERSION.to_string()),
    );
    fields.insert("Statement".to_string(), Value::Array(Vec::new()));
    Value::Object(fields)
}

/// The form of `Statement` in the document, so that an edit keeps a single object as one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StatementForm {
    Single,
    List,
}

/// Returns copies of the document's statements after checking the document's outline.
fn statements_of(doc: &Value) -> Result<(Vec<Value>, StatementForm), PolicyError> {
    let Value::Object(fields) = doc else {
        return Err(PolicyError::Invalid(format!(
            "a policy must be a JSON object, found {}",
            describe(doc)
        )));
    };
    let (statements, form) = match fields.get("Statement") {
        None => {
            return Err(PolicyError::Invalid(
                "the policy has no \"Statement\" element".to_string(),
            ));
        }
        Some(statement @ Value::Object(_)) => (vec![statement.clone()], StatementForm::Single),
        Some(Value::Array(statements)) => (statements.clone(), StatementForm::List),
        Some(other) => {
            return Err(PolicyError::Invalid(format!(
                "\"Statement\" must be an object or a list of objects, found {}",
                describe(other)
            )));
        }
    };

    for (index, statement) in statements.iter().enumerate() {
        if !statement.is_object() {
            return Err(PolicyError::Invalid(format!(
                "{} must be an object, found {}",
                statement_label(index),
                describe(statement)
            )));
        }
    }
    Ok((statements, form))
}

fn store_statements(document: &mut Value, statements: Vec<Value>, form: StatementForm) {
    let value = match (form, <[Value; 1]>::try_from(statements)) {
        (StatementForm::Single, Ok([single])) => single,
        (_, Ok([single])) => Value::Array(vec![single]),
        (_, Err(statements)) => Value::Array(statements),
    };
    if let Value::Object(fields) = document {
        fields.insert("Statement".to_string(), value);
    }
}

fn statement_label(index: usize) -> String {
    format!("statement {}", index + 1)
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Describes a value found inside a list that should hold only strings.
fn describe_list_item(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "a nested list",
        Value::Object(_) => "an object in the list",
        Value::Number(_) => "a number in the list",
        Value::Bool(_) => "a boolean in the list",
        Value::Null => "null in the list",
        Value::String(_) => "a string",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// An `aws:SourceIp` allowlist condition: `IpAddress` on an `Allow`, `NotIpAddress` on a `Deny`.
#[derive(Debug, Clone)]
struct SourceIpCondition {
    operator: String,
    key: String,
    cidrs: Vec<String>,
}

/// The parts of a statement that decide what it does to a stage.
#[derive(Debug, Clone)]
struct StatementView {
    effect: Effect,
    /// `Principal` is `"*"` or `{"AWS": "*"}`.
    everyone: bool,
    /// `Action` names `execute-api:Invoke`, directly or through a wildcard.
    invokes: bool,
    resources: Vec<String>,
    unconditional: bool,
    allowlist: Option<SourceIpCondition>,
}

impl StatementView {
    /// Returns the widest coverage among the statement's resources.
    fn coverage(&self, stage: &str, api: &ApiContext) -> Coverage {
        let coverages: Vec<Coverage> = self
            .resources
            .iter()
            .map(|resource| stage_coverage(resource, stage, api))
            .collect();
        if coverages.contains(&Coverage::Whole) {
            Coverage::Whole
        } else if coverages.contains(&Coverage::Partial) {
            Coverage::Partial
        } else {
            Coverage::None
        }
    }

    fn covers_other_stage(&self, stage: &str, api: &ApiContext) -> bool {
        self.resources
            .iter()
            .any(|resource| covers_other_stage(resource, stage, api))
    }

    fn shape(&self) -> Shape {
        match self.effect {
            Effect::Allow => Shape::AllowIfIp,
            Effect::Deny => Shape::DenyUnlessIp,
        }
    }
}

fn read_statement(index: usize, statement: &Value) -> Result<StatementView, PolicyError> {
    let label = statement_label(index);
    let Value::Object(fields) = statement else {
        return Err(PolicyError::Invalid(format!(
            "{label} must be an object, found {}",
            describe(statement)
        )));
    };

    let effect = match fields.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => {
            let found = fields
                .get("Effect")
                .map_or("nothing".to_string(), |value| value.to_string());
            return Err(PolicyError::Invalid(format!(
                "{label}: Effect must be \"Allow\" or \"Deny\", found {found}"
            )));
        }
    };
    let conditions = read_conditions(&label, fields.get("Condition"))?;

    Ok(StatementView {
        effect,
        everyone: fields.get("Principal").is_some_and(is_everyone),
        invokes: fields.get("Action").is_some_and(names_invoke),
        resources: read_resources(&label, fields.get("Resource"))?,
        unconditional: conditions.is_none_or(Map::is_empty),
        allowlist: read_allowlist(&label, effect, conditions)?,
    })
}

fn is_everyone(principal: &Value) -> bool {
    match principal {
        Value::String(text) => text == "*",
        Value::Object(fields) => match fields.get("AWS") {
            Some(Value::String(text)) => text == "*",
            Some(Value::Array(items)) => items.iter().any(|item| item == "*"),
            _ => false,
        },
        _ => false,
    }
}

/// True when `Action` names `execute-api:Invoke`; IAM action names ignore letter case.
fn names_invoke(action: &Value) -> bool {
    let invoke = INVOKE_ACTION.to_ascii_lowercase();
    let matches = |item: &Value| {
        item.as_str()
            .is_some_and(|text| glob_matches(&text.to_ascii_lowercase(), &invoke))
    };
    match action {
        Value::Array(items) => items.iter().any(matches),
        other => matches(other),
    }
}

/// Reads `Resource`; a statement without one (it may use `NotResource`) covers nothing here.
fn read_resources(label: &str, resource: Option<&Value>) -> Result<Vec<String>, PolicyError> {
    let invalid = |found: &str| {
        PolicyError::Invalid(format!(
            "{label}: Resource must be a string or a list of strings, found {found}"
        ))
    };
    match resource {
        None => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![text.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(describe_list_item(item)))
            })
            .collect(),
        Some(other) => Err(invalid(describe(other))),
    }
}

fn read_conditions<'a>(
    label: &str,
    condition: Option<&'a Value>,
) -> Result<Option<&'a Map<String, Value>>, PolicyError> {
    let Some(condition) = condition else {
        return Ok(None);
    };
    let Value::Object(operators) = condition else {
        return Err(PolicyError::Invalid(format!(
            "{label}: Condition must be an object, found {}",
            describe(condition)
        )));
    };

    for (operator, entries) in operators {
        if !entries.is_object() {
            return Err(PolicyError::Invalid(format!(
                "{label}: Condition operator {operator} must map condition keys to values, found {}",
                describe(entries)
            )));
        }
    }
    Ok(Some(operators))
}

/// Finds the statement's allowlist condition and checks every `aws:SourceIp` value under
/// `IpAddress` or `NotIpAddress`. Operator names and condition keys ignore letter case.
fn read_allowlist(
    label: &str,
    effect: Effect,
    conditions: Option<&Map<String, Value>>,
) -> Result<Option<SourceIpCondition>, PolicyError> {
    let allowlist_operator = match effect {
        Effect::Allow => "IpAddress",
        Effect::Deny => "NotIpAddress",
    };
    let mut allowlist = None;

    for (operator, entries) in conditions.into_iter().flatten() {
        let is_address_operator = operator.eq_ignore_ascii_case("IpAddress")
            || operator.eq_ignore_ascii_case("NotIpAddress");
        let Some(entries) = entries.as_object().filter(|_| is_address_operator) else {
            continue;
        };
        for (key, value) in entries {
            if !key.eq_ignore_ascii_case(SOURCE_IP_KEY) {
                continue;
            }
            let cidrs = read_cidrs(label, key, value)?;
            if allowlist.is_none() && operator.eq_ignore_ascii_case(allowlist_operator) {
                allowlist = Some(SourceIpCondition {
                    operator: operator.clone(),
                    key: key.clone(),
                    cidrs,
                });
            }
        }
    }
    Ok(allowlist)
}

fn read_cidrs(label: &str, key: &str, value: &Value) -> Result<Vec<String>, PolicyError> {
    let invalid = |found: &str| {
        PolicyError::Invalid(format!(
            "{label}: {key} must be a string or a list of strings, found {found}"
        ))
    };
    match value {
        Value::String(text) => Ok(vec![text.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| invalid(describe_list_item(item)))
            })
            .collect(),
        other => Err(invalid(describe(other))),
    }
}

/// The effect of every statement of a document on one stage.
struct StageAnalysis {
    views: Vec<StatementView>,
    /// Statements for every principal carrying an allowlist that covers the stage.
    allowlists: Vec<usize>,
    /// Unconditional `Deny` statements for every principal that cover the whole stage.
    closing_denies: Vec<usize>,
    /// Unconditional `Allow` statements for every principal that cover part of the stage.
    unconditional_allows: Vec<usize>,
    /// Some `Allow`, for any principal and under any condition, covers part of the stage.
    any_allow: bool,
}

fn analyze(
    statements: &[Value],
    stage: &str,
    api: &ApiContext,
) -> Result<StageAnalysis, PolicyError> {
    let views = statements
        .iter()
        .enumerate()
        .map(|(index, statement)| read_statement(index, statement))
        .collect::<Result<Vec<_>, _>>()?;
    let mut analysis = StageAnalysis {
        views: Vec::new(),
        allowlists: Vec::new(),
        closing_denies: Vec::new(),
        unconditional_allows: Vec::new(),
        any_allow: false,
    };

    for (index, view) in views.iter().enumerate() {
        let coverage = view.coverage(stage, api);
        if coverage == Coverage::None || !view.invokes {
            continue;
        }
        if view.effect == Effect::Allow {
            analysis.any_allow = true;
        }
        if !view.everyone {
            continue;
        }

        if view.allowlist.is_some() {
            analysis.allowlists.push(index);
        }
        match (view.effect, view.unconditional) {
            (Effect::Deny, true) if coverage == Coverage::Whole => {
                analysis.closing_denies.push(index)
            }
            (Effect::Allow, true) => analysis.unconditional_allows.push(index),
            _ => {}
        }
    }

    analysis.views = views;
    Ok(analysis)
}

impl StageAnalysis {
    fn access(&self, no_statements: bool) -> StageAccess {
        if !self.closing_denies.is_empty() {
            return StageAccess::Closed;
        }
        if let Some((&first, others)) = self.allowlists.split_first() {
            let view = &self.views[first];
            let Some(condition) = &view.allowlist else {
                return StageAccess::Unrestricted;
            };
            let overridden_by = match view.shape() {
                Shape::AllowIfIp => self.unconditional_allows.clone(),
                Shape::DenyUnlessIp => Vec::new(),
            };
            return StageAccess::Allowlist(Allowlist {
                shape: view.shape(),
                cidrs: condition.cidrs.clone(),
                statement_index: first,
                condition_key: condition.key.clone(),
                other_statements: others.to_vec(),
                overridden_by,
            });
        }
        if self.implicitly_closed(no_statements) {
            return StageAccess::Closed;
        }
        StageAccess::Unrestricted
    }

    /// True when the policy has statements but no `Allow` covers the stage, so every call is
    /// implicitly denied.
    fn implicitly_closed(&self, no_statements: bool) -> bool {
        !no_statements && !self.any_allow
    }
}

/// The statements of a document while an edit changes, removes and adds some of them.
struct StatementEditor {
    statements: Vec<Value>,
    removed: BTreeSet<usize>,
    added: Vec<Value>,
    /// The document had no statements before the edit.
    fresh: bool,
}

impl StatementEditor {
    fn new(statements: Vec<Value>) -> StatementEditor {
        let fresh = statements.is_empty();
        StatementEditor {
            statements,
            removed: BTreeSet::new(),
            added: Vec::new(),
            fresh,
        }
    }

    fn remove(&mut self, index: usize) {
        self.removed.insert(index);
    }

    fn add(&mut self, statement: Value) {
        self.added.push(statement);
    }

    /// Returns the statement's fields. The analysis already checked that it is an object.
    fn fields_mut(&mut self, index: usize) -> Option<&mut Map<String, Value>> {
        self.statements
            .get_mut(index)
            .and_then(Value::as_object_mut)
    }

    fn finish(mut self) -> Vec<Value> {
        for &index in self.removed.iter().rev() {
            self.statements.remove(index);
        }
        self.statements.extend(self.added);
        self.statements
    }
}

/// The stage an edit changes, with the document's analysis for that stage.
struct EditScope<'a> {
    analysis: &'a StageAnalysis,
    stage: &'a str,
    api: &'a ApiContext,
}

impl EditScope<'_> {
    fn covers_only_this_stage(&self, index: usize) -> bool {
        !self.analysis.views[index].covers_other_stage(self.stage, self.api)
    }

    fn condition(&self, index: usize) -> Option<&SourceIpCondition> {
        self.analysis.views[index].allowlist.as_ref()
    }

    /// Rejects edits that would need to change a `Deny` that also closes other stages.
    fn reject_shared_closing_deny(&self) -> Result<(), PolicyError> {
        match self
            .analysis
            .closing_denies
            .iter()
            .find(|&&index| !self.covers_only_this_stage(index))
        {
            Some(&index) => Err(PolicyError::Invalid(format!(
                "{} denies every caller on stage {} and on other stages. Narrow its Resource by hand \
                 before changing this stage",
                statement_label(index),
                self.stage
            ))),
            None => Ok(()),
        }
    }

    fn reject_several_allowlists(&self) -> Result<(), PolicyError> {
        let mut numbers: Vec<String> = self
            .analysis
            .allowlists
            .iter()
            .map(|index| (index + 1).to_string())
            .collect();
        let Some(last) = numbers.pop() else {
            return Ok(());
        };
        if numbers.is_empty() {
            return Ok(());
        }
        Err(PolicyError::Invalid(format!(
            "statements {} and {last} each carry an aws:SourceIp allowlist for stage {}, so which list \
             applies is unclear. Merge them into one statement by hand",
            numbers.join(", "),
            self.stage
        )))
    }
}

fn set_allowlist(
    editor: &mut StatementEditor,
    scope: &EditScope<'_>,
    cidrs: &[String],
) -> Result<(), PolicyError> {
    scope.reject_shared_closing_deny()?;
    scope.reject_several_allowlists()?;
    let analysis = scope.analysis;
    let values = Value::Array(cidrs.iter().cloned().map(Value::String).collect());

    let existing = analysis.allowlists.first().copied();
    // A stage closed by its own unconditional Deny keeps that statement, now with a condition.
    let reused_deny = if existing.is_none() {
        analysis.closing_denies.first().copied()
    } else {
        None
    };
    for &closing in &analysis.closing_denies {
        if Some(closing) != reused_deny {
            editor.remove(closing);
        }
    }
    add_allow_if_none(editor, scope);

    if let Some(index) = existing {
        if let Some(condition) = scope.condition(index).cloned() {
            set_condition_values(editor, index, &condition, values);
        }
        return Ok(());
    }
    let condition = not_ip_address_condition(values);
    match reused_deny.and_then(|index| editor.fields_mut(index)) {
        Some(fields) => {
            fields.insert("Condition".to_string(), condition);
        }
        None => {
            let resource = stage_resource(scope.stage);
            editor.add(new_statement(Effect::Deny, resource, Some(condition)));
        }
    }
    Ok(())
}

/// Adds an unconditional `Allow` when no `Allow` covers the stage, since a Deny-unless list
/// alone lets no caller through. A new policy gets one for every stage. An existing policy
/// gets one for this stage only, so stages it implicitly denies stay denied. An `Allow` that
/// is already there, even a conditional one, is left as the only one, so `Set` never widens
/// who may call.
fn add_allow_if_none(editor: &mut StatementEditor, scope: &EditScope<'_>) {
    if scope.analysis.any_allow {
        return;
    }
    let resource = if editor.fresh {
        ALL_STAGES_RESOURCE.to_string()
    } else {
        stage_resource(scope.stage)
    };
    editor.add(new_statement(Effect::Allow, resource, None));
}

fn open_stage(editor: &mut StatementEditor, scope: &EditScope<'_>) -> Result<(), PolicyError> {
    scope.reject_shared_closing_deny()?;
    let analysis = scope.analysis;

    for &closing in &analysis.closing_denies {
        editor.remove(closing);
    }
    for &index in &analysis.allowlists {
        let Some(condition) = scope.condition(index).cloned() else {
            continue;
        };
        match analysis.views[index].shape() {
            Shape::AllowIfIp => remove_condition_key(editor, index, &condition),
            Shape::DenyUnlessIp => editor.remove(index),
        }
    }

    if analysis.implicitly_closed(editor.fresh) {
        editor.add(new_statement(
            Effect::Allow,
            stage_resource(scope.stage),
            None,
        ));
    }
    Ok(())
}

fn close_stage(editor: &mut StatementEditor, scope: &EditScope<'_>) {
    let analysis = scope.analysis;
    let already_closed = !analysis.closing_denies.is_empty()
        || (analysis.allowlists.is_empty() && analysis.implicitly_closed(editor.fresh));
    if already_closed {
        return;
    }

    // A DenyUnlessIp statement for the whole stage alone becomes the closing Deny by losing its
    // condition. Other allowlist statements for this stage alone are dropped, and shared ones
    // stay because the other stages still rely on them.
    let mut closing_deny_in_place = false;
    for &index in &analysis.allowlists {
        if !scope.covers_only_this_stage(index) {
            continue;
        }
        let view = &analysis.views[index];
        let whole = view.coverage(scope.stage, scope.api) == Coverage::Whole;
        if view.shape() == Shape::DenyUnlessIp && whole && !closing_deny_in_place {
            if let Some(fields) = editor.fields_mut(index) {
                fields.shift_remove("Condition");
                closing_deny_in_place = true;
            }
        } else {
            editor.remove(index);
        }
    }

    if closing_deny_in_place {
        return;
    }
    if editor.fresh {
        // A policy holding only a Deny would implicitly deny every other stage too.
        editor.add(new_statement(
            Effect::Allow,
            ALL_STAGES_RESOURCE.to_string(),
            None,
        ));
    }
    editor.add(new_statement(
        Effect::Deny,
        stage_resource(scope.stage),
        None,
    ));
}

fn set_condition_values(
    editor: &mut StatementEditor,
    index: usize,
    condition: &SourceIpCondition,
    values: Value,
) {
    let entries = editor
        .fields_mut(index)
        .and_then(|fields| fields.get_mut("Condition"))
        .and_then(|operators| operators.get_mut(&condition.operator))
        .and_then(Value::as_object_mut);
    if let Some(entries) = entries {
        entries.insert(condition.key.clone(), values);
    }
}

/// Removes one condition key, then the operator and the `Condition` element if they end up empty.
fn remove_condition_key(editor: &mut StatementEditor, index: usize, condition: &SourceIpCondition) {
    let Some(fields) = editor.fields_mut(index) else {
        return;
    };
    let Some(operators) = fields.get_mut("Condition").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(entries) = operators
        .get_mut(&condition.operator)
        .and_then(Value::as_object_mut)
    {
        entries.shift_remove(&condition.key);
        if entries.is_empty() {
            operators.shift_remove(&condition.operator);
        }
    }
    if operators.is_empty() {
        fields.shift_remove("Condition");
    }
}

fn not_ip_address_condition(values: Value) -> Value {
    let mut entries = Map::new();
    entries.insert(SOURCE_IP_KEY.to_string(), values);
    let mut operators = Map::new();
    operators.insert("NotIpAddress".to_string(), Value::Object(entries));
    Value::Object(operators)
}

/// Builds a statement for every principal, keys in the usual order: Effect, Principal, Action,
/// Resource, Condition.
fn new_statement(effect: Effect, resource: String, condition: Option<Value>) -> Value {
    let effect = match effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    };
    let mut fields = Map::new();
    fields.insert("Effect".to_string(), Value::String(effect.to_string()));
    fields.insert("Principal".to_string(), Value::String("*".to_string()));
    fields.insert(
        "Action".to_string(),
        Value::String(INVOKE_ACTION.to_string()),
    );
    fields.insert("Resource".to_string(), Value::String(resource));
    if let Some(condition) = condition {
        fields.insert("Condition".to_string(), condition);
    }
    Value::Object(fields)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const A: &str = "192.0.2.0/24";
    const B: &str = "198.51.100.0/24";
    const X: &str = "203.0.113.7/32";

    fn api() -> ApiContext {
        ApiContext {
            region: Some("eu-west-1".to_string()),
            account: Some("123456789012".to_string()),
            api_id: Some("abc".to_string()),
        }
    }

    fn allow(resource: &str) -> Value {
        json!({"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource})
    }

    fn deny(resource: &str) -> Value {
        json!({"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource})
    }

    fn allow_if_ip(resource: &str, cidrs: &[&str]) -> Value {
        json!({
            "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource,
            "Condition": {"IpAddress": {"aws:SourceIp": cidrs}}
        })
    }

    fn deny_unless_ip(resource: &str, cidrs: &[&str]) -> Value {
        json!({
            "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": resource,
            "Condition": {"NotIpAddress": {"aws:SourceIp": cidrs}}
        })
    }

    fn policy(statements: Vec<Value>) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    fn list(cidrs: &[&str]) -> AllowlistEdit {
        AllowlistEdit::Set(cidrs.iter().map(|cidr| cidr.to_string()).collect())
    }

    fn allowlist(shape: Shape, cidrs: &[&str], statement_index: usize) -> Allowlist {
        Allowlist {
            shape,
            cidrs: cidrs.iter().map(|cidr| cidr.to_string()).collect(),
            statement_index,
            condition_key: "aws:SourceIp".to_string(),
            other_statements: Vec::new(),
            overridden_by: Vec::new(),
        }
    }

    fn listed(shape: Shape, cidrs: &[&str], statement_index: usize) -> StageAccess {
        StageAccess::Allowlist(allowlist(shape, cidrs, statement_index))
    }

    fn invalid_message(result: Result<impl std::fmt::Debug, PolicyError>) -> String {
        match result {
            Err(PolicyError::Invalid(message)) => message,
            other => panic!("expected PolicyError::Invalid, got {other:?}"),
        }
    }

    #[test]
    fn parse_valid_documents() {
        let cases = [
            r#"{"Version": "2012-10-17", "Statement": []}"#,
            r#"{"Statement": {"Effect": "Allow"}}"#,
            "{\n  \"Statement\": [\n    {\"Effect\": \"Deny\"}\n  ]\n}\n",
        ];
        for text in cases {
            assert!(parse_document(text).is_ok(), "{text}");
        }
        let document = parse_document(r#"{"Statement": [], "Version": "2012-10-17"}"#).unwrap();
        assert_eq!(
            to_minified(&document),
            r#"{"Statement":[],"Version":"2012-10-17"}"#
        );
    }

    #[test]
    fn parse_syntax_errors() {
        let cases = [
            (
                r#"{"Statement":[],}"#,
                1,
                17,
                "trailing comma after the last item, which JSON does not allow",
            ),
            (
                "{\"Statement\":[\n  {},\n]}",
                3,
                1,
                "trailing comma after the last item, which JSON does not allow",
            ),
            (
                "// policy\n{\"Statement\":[]}",
                1,
                1,
                "comments are not allowed in JSON",
            ),
            (
                r#"{"Statement": /* none */ []}"#,
                1,
                15,
                "comments are not allowed in JSON",
            ),
            (
                "{\n  \"Statement\": [] // note\n}",
                2,
                19,
                "comments are not allowed in JSON",
            ),
            (
                "\u{feff}{\"Statement\":[]}",
                1,
                1,
                "the text starts with a byte-order mark (U+FEFF), which JSON does not allow. Save it as \
                 UTF-8 without a BOM",
            ),
            (r#"{"Statement": ["#, 1, 15, "EOF while parsing a list"),
            (
                r#"{"Statement": [] "Version": "1"}"#,
                1,
                18,
                "expected `,` or `}`",
            ),
            (r#"{"Statement": []} x"#, 1, 19, "trailing characters"),
            ("", 1, 0, "EOF while parsing a value"),
        ];
        for (text, line, column, cause) in cases {
            let expected = PolicyError::Syntax {
                line,
                column,
                cause: cause.to_string(),
            };
            assert_eq!(parse_document(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn syntax_error_display() {
        let error = parse_document("{\"Statement\": [],}").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid JSON at line 1, column 18: trailing comma after the last item, which JSON does not allow"
        );
    }

    #[test]
    fn parse_invalid_outlines() {
        let cases = [
            ("[]", "a policy must be a JSON object, found a list"),
            ("\"text\"", "a policy must be a JSON object, found a string"),
            ("{}", "the policy has no \"Statement\" element"),
            (
                r#"{"Statement": "x"}"#,
                "\"Statement\" must be an object or a list of objects, found a string",
            ),
            (
                r#"{"Statement": null}"#,
                "\"Statement\" must be an object or a list of objects, found null",
            ),
            (
                r#"{"Statement": [{}, 1]}"#,
                "statement 2 must be an object, found a number",
            ),
            (
                r#"{"Statement": [[]]}"#,
                "statement 1 must be an object, found a list",
            ),
        ];
        for (text, message) in cases {
            assert_eq!(
                parse_document(text),
                Err(PolicyError::Invalid(message.to_string())),
                "{text}"
            );
        }
    }

    #[test]
    fn access_table() {
        let other_api_arn = "arn:aws:execute-api:eu-west-1:123456789012:other/*";
        let this_api_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc/*";
        let this_api_dev_arn = "arn:aws:execute-api:eu-west-1:123456789012:abc/dev/*";
        let stage_scoped = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/dev/*", &[A]),
            deny_unless_ip("execute-api:/prod/*", &[B]),
        ]);

        let cases: Vec<(&str, Option<Value>, &str, StageAccess)> = vec![
            ("no policy", None, "dev", StageAccess::Unrestricted),
            (
                "zero statements",
                Some(policy(vec![])),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "unconditional allow",
                Some(policy(vec![allow("execute-api:/*")])),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "allow if ip",
                Some(policy(vec![allow_if_ip("execute-api:/*", &[A, B])])),
                "dev",
                listed(Shape::AllowIfIp, &[A, B], 0),
            ),
            (
                "statement as one object",
                Some(json!({"Statement": allow_if_ip("execute-api:/*", &[A])})),
                "dev",
                listed(Shape::AllowIfIp, &[A], 0),
            ),
            (
                "single string value",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": A}}
                }]})),
                "dev",
                listed(Shape::AllowIfIp, &[A], 0),
            ),
            (
                "deny unless ip",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[B, A]),
                ])),
                "dev",
                listed(Shape::DenyUnlessIp, &[B, A], 1),
            ),
            (
                "principal AWS star, lists",
                Some(json!({"Statement": [
                    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["execute-api:Invoke"],
                     "Resource": ["execute-api:/*"]},
                    {"Effect": "Deny", "Principal": {"AWS": ["*"]}, "Action": ["execute-api:*"],
                     "Resource": ["execute-api:/prod/*", "execute-api:/dev/*"],
                     "Condition": {"NotIpAddress": {"aws:SourceIp": [A]}}}
                ]})),
                "dev",
                listed(Shape::DenyUnlessIp, &[A], 1),
            ),
            (
                "action star",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                    "Condition": {"IpAddress": {"aws:SourceIp": [A]}}
                }]})),
                "dev",
                listed(Shape::AllowIfIp, &[A], 0),
            ),
            (
                "stage-scoped dev",
                Some(stage_scoped.clone()),
                "dev",
                listed(Shape::DenyUnlessIp, &[A], 1),
            ),
            (
                "stage-scoped prod",
                Some(stage_scoped.clone()),
                "prod",
                listed(Shape::DenyUnlessIp, &[B], 2),
            ),
            (
                "stage-scoped other stage",
                Some(stage_scoped),
                "test",
                StageAccess::Unrestricted,
            ),
            (
                "method-scoped",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/GET/*", &[A]),
                ])),
                "dev",
                listed(Shape::DenyUnlessIp, &[A], 1),
            ),
            (
                "ARN for another API id",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip(other_api_arn, &[A]),
                ])),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "ARN for this API",
                Some(policy(vec![
                    allow(this_api_arn),
                    deny_unless_ip(this_api_dev_arn, &[A]),
                ])),
                "dev",
                listed(Shape::DenyUnlessIp, &[A], 1),
            ),
            (
                "unconditional deny",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
                "dev",
                StageAccess::Closed,
            ),
            (
                "unconditional deny of one method",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/POST/*"),
                ])),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "deny wins over allowlist",
                Some(policy(vec![
                    allow_if_ip("execute-api:/*", &[A]),
                    deny("execute-api:/*"),
                ])),
                "dev",
                StageAccess::Closed,
            ),
            (
                "no allow covers the stage",
                Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
                "dev",
                StageAccess::Closed,
            ),
            (
                "allow for one account only",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                    "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": [A]}}
                }]})),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "deny if ip is a blocklist",
                Some(json!({"Statement": [allow("execute-api:/*"), {
                    "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": [A]}}
                }]})),
                "dev",
                StageAccess::Unrestricted,
            ),
            (
                "other action only",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:ManageConnections",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": [A]}}
                }]})),
                "dev",
                StageAccess::Closed,
            ),
        ];

        for (name, document, stage, expected) in cases {
            assert_eq!(
                stage_access(document.as_ref(), stage, &api()),
                Ok(expected),
                "{name}"
            );
        }
    }

    #[test]
    fn access_keeps_key_spelling() {
        let cases = [
            ("aws:sourceIp", "IpAddress"),
            ("AWS:SOURCEIP", "ipaddress"),
            ("aws:sourceip", "IPADDRESS"),
        ];
        for (key, operator) in cases {
            let document = json!({"Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*", "Condition": {operator: {key: [A]}}
            }]});
            let expected = Allowlist {
                condition_key: key.to_string(),
                ..allowlist(Shape::AllowIfIp, &[A], 0)
            };
            assert_eq!(
                stage_access(Some(&document), "dev", &api()),
                Ok(StageAccess::Allowlist(expected)),
                "{key}"
            );
        }
    }

    #[test]
    fn access_reports_other_allowlists() {
        let document = policy(vec![
            allow_if_ip("execute-api:/*", &[A]),
            allow("execute-api:/prod/*"),
            deny_unless_ip("execute-api:/dev/*", &[B]),
            deny_unless_ip("execute-api:/dev/GET/*", &[X]),
        ]);
        let expected = Allowlist {
            other_statements: vec![2, 3],
            ..allowlist(Shape::AllowIfIp, &[A], 0)
        };
        assert_eq!(
            stage_access(Some(&document), "dev", &api()),
            Ok(StageAccess::Allowlist(expected))
        );
    }

    #[test]
    fn access_reports_overriding_allow() {
        let document = policy(vec![
            allow_if_ip("execute-api:/*", &[A]),
            allow("execute-api:/prod/*"),
            allow("execute-api:/dev/GET/*"),
        ]);
        let expected = Allowlist {
            overridden_by: vec![2],
            ..allowlist(Shape::AllowIfIp, &[A], 0)
        };
        assert_eq!(
            stage_access(Some(&document), "dev", &api()),
            Ok(StageAccess::Allowlist(expected))
        );
    }

    #[test]
    fn access_invalid_documents() {
        let with_value = |value: Value| {
            json!({"Statement": [{
                "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": value}}
            }]})
        };
        let cases = vec![
            (
                with_value(json!([[A]])),
                "statement 1: aws:SourceIp must be a string or a list of strings, found a nested list",
            ),
            (
                with_value(json!(24)),
                "statement 1: aws:SourceIp must be a string or a list of strings, found a number",
            ),
            (
                with_value(json!({"cidr": A})),
                "statement 1: aws:SourceIp must be a string or a list of strings, found an object",
            ),
            (
                with_value(json!([A, 24])),
                "statement 1: aws:SourceIp must be a string or a list of strings, found a number in the list",
            ),
            (
                with_value(json!(null)),
                "statement 1: aws:SourceIp must be a string or a list of strings, found null",
            ),
            (
                json!({"Statement": [allow("execute-api:/*"), {
                    "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:sourceip": [[A], B]}}
                }]}),
                "statement 2: aws:sourceip must be a string or a list of strings, found a nested list",
            ),
            (
                json!({"Statement": [{"Effect": "allow", "Principal": "*", "Resource": "*"}]}),
                "statement 1: Effect must be \"Allow\" or \"Deny\", found \"allow\"",
            ),
            (
                json!({"Statement": [{"Principal": "*", "Resource": "*"}]}),
                "statement 1: Effect must be \"Allow\" or \"Deny\", found nothing",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Resource": 5}]}),
                "statement 1: Resource must be a string or a list of strings, found a number",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Resource": ["*", ["*"]]}]}),
                "statement 1: Resource must be a string or a list of strings, found a nested list",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Resource": "*", "Condition": "x"}]}),
                "statement 1: Condition must be an object, found a string",
            ),
            (
                json!({"Statement": [{"Effect": "Allow", "Resource": "*", "Condition": {"IpAddress": [A]}}]}),
                "statement 1: Condition operator IpAddress must map condition keys to values, found a list",
            ),
            (
                json!({"Statement": 3}),
                "\"Statement\" must be an object or a list of objects, found a number",
            ),
        ];

        for (document, message) in cases {
            let access = stage_access(Some(&document), "dev", &api());
            assert_eq!(invalid_message(access), message);
            let edit = apply_edit(Some(&document), "dev", &api(), &list(&[X]));
            assert_eq!(invalid_message(edit), message);
        }
    }

    #[test]
    fn edit_table() {
        let new_dev_deny = deny_unless_ip("execute-api:/dev/*", &[X]);
        let cases: Vec<(&str, Option<Value>, AllowlistEdit, Option<Value>)> = vec![
            (
                "set allow if ip",
                Some(policy(vec![allow_if_ip("execute-api:/*", &[A, B])])),
                list(&[X]),
                Some(policy(vec![allow_if_ip("execute-api:/*", &[X])])),
            ),
            (
                "set deny unless ip",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A]),
                ])),
                list(&[A, X]),
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A, X]),
                ])),
            ),
            (
                "set single string becomes a list",
                Some(json!({"Statement": [{
                    "Sid": "Office", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": A}}
                }]})),
                list(&[X]),
                Some(json!({"Statement": [{
                    "Sid": "Office", "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:SourceIp": [X]}}
                }]})),
            ),
            (
                "set on no policy",
                None,
                list(&[X]),
                Some(policy(vec![allow("execute-api:/*"), new_dev_deny.clone()])),
            ),
            (
                "set on zero statements",
                Some(policy(vec![])),
                list(&[X]),
                Some(policy(vec![allow("execute-api:/*"), new_dev_deny.clone()])),
            ),
            (
                "set on zero statements keeps other keys",
                Some(json!({"Id": "p1", "Statement": []})),
                list(&[X]),
                Some(
                    json!({"Id": "p1", "Statement": [allow("execute-api:/*"), new_dev_deny.clone()]}),
                ),
            ),
            (
                "set on unrestricted stage",
                Some(policy(vec![allow("execute-api:/*")])),
                list(&[X]),
                Some(policy(vec![allow("execute-api:/*"), new_dev_deny.clone()])),
            ),
            (
                "set on stage no allow covers",
                Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
                list(&[X]),
                Some(policy(vec![
                    allow_if_ip("execute-api:/prod/*", &[A]),
                    allow("execute-api:/dev/*"),
                    new_dev_deny.clone(),
                ])),
            ),
            (
                "set keeps conditional allow alone",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
                }]})),
                list(&[X]),
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
                }, new_dev_deny.clone()]})),
            ),
            (
                "set stage-scoped dev",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/*", &[A]),
                    deny_unless_ip("execute-api:/prod/*", &[B]),
                ])),
                list(&[X]),
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/*", &[X]),
                    deny_unless_ip("execute-api:/prod/*", &[B]),
                ])),
            ),
            (
                "set method-scoped",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/GET/*", &[A]),
                ])),
                list(&[X]),
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/GET/*", &[X]),
                ])),
            ),
            (
                "set ignores another API id",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("arn:aws:execute-api:eu-west-1:123456789012:other/*", &[A]),
                ])),
                list(&[X]),
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("arn:aws:execute-api:eu-west-1:123456789012:other/*", &[A]),
                    new_dev_deny.clone(),
                ])),
            ),
            (
                "set on statement object",
                Some(json!({"Statement": allow_if_ip("execute-api:/*", &[A])})),
                list(&[X]),
                Some(json!({"Statement": allow_if_ip("execute-api:/*", &[X])})),
            ),
            (
                "set on statement object adds a list",
                Some(json!({"Statement": allow("execute-api:/*")})),
                list(&[X]),
                Some(json!({"Statement": [allow("execute-api:/*"), new_dev_deny.clone()]})),
            ),
            (
                "set on closed stage reuses the deny",
                Some(json!({"Statement": [allow("execute-api:/*"), {
                    "Sid": "CloseDev", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/dev/*"
                }]})),
                list(&[X]),
                Some(json!({"Statement": [allow("execute-api:/*"), {
                    "Sid": "CloseDev", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/dev/*", "Condition": {"NotIpAddress": {"aws:SourceIp": [X]}}
                }]})),
            ),
            (
                "set deny unless ip without allow",
                Some(policy(vec![deny_unless_ip("execute-api:/dev/*", &[A])])),
                list(&[X]),
                Some(policy(vec![
                    deny_unless_ip("execute-api:/dev/*", &[X]),
                    allow("execute-api:/dev/*"),
                ])),
            ),
            (
                "set on closed allow if ip",
                Some(policy(vec![
                    allow_if_ip("execute-api:/*", &[A]),
                    deny("execute-api:/dev/*"),
                ])),
                list(&[X]),
                Some(policy(vec![allow_if_ip("execute-api:/*", &[X])])),
            ),
            (
                "open allow if ip",
                Some(policy(vec![allow_if_ip("execute-api:/*", &[A])])),
                AllowlistEdit::Open,
                Some(policy(vec![allow("execute-api:/*")])),
            ),
            (
                "open keeps other condition operators",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"IpAddress": {"aws:SourceIp": [A]}, "StringEquals": {"aws:SourceVpce": "vpce-1"}}
                }]})),
                AllowlistEdit::Open,
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}
                }]})),
            ),
            (
                "open keeps other condition keys",
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                    "Condition": {"IpAddress": {"aws:VpcSourceIp": [B], "aws:sourceIp": [A]}}
                }]})),
                AllowlistEdit::Open,
                Some(json!({"Statement": [{
                    "Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*", "Condition": {"IpAddress": {"aws:VpcSourceIp": [B]}}
                }]})),
            ),
            (
                "open deny unless ip",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A]),
                ])),
                AllowlistEdit::Open,
                Some(policy(vec![allow("execute-api:/*")])),
            ),
            (
                "open stage-scoped dev",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/*", &[A]),
                    deny_unless_ip("execute-api:/prod/*", &[B]),
                ])),
                AllowlistEdit::Open,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/prod/*", &[B]),
                ])),
            ),
            ("open no policy", None, AllowlistEdit::Open, None),
            (
                "open zero statements",
                Some(policy(vec![])),
                AllowlistEdit::Open,
                None,
            ),
            (
                "open unrestricted stage",
                Some(policy(vec![allow("execute-api:/*")])),
                AllowlistEdit::Open,
                Some(policy(vec![allow("execute-api:/*")])),
            ),
            (
                "open closed stage",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
                AllowlistEdit::Open,
                Some(policy(vec![allow("execute-api:/*")])),
            ),
            (
                "open stage no allow covers",
                Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
                AllowlistEdit::Open,
                Some(policy(vec![
                    allow_if_ip("execute-api:/prod/*", &[A]),
                    allow("execute-api:/dev/*"),
                ])),
            ),
            (
                "open deny unless ip without allow",
                Some(policy(vec![deny_unless_ip("execute-api:/dev/*", &[A])])),
                AllowlistEdit::Open,
                Some(policy(vec![allow("execute-api:/dev/*")])),
            ),
            (
                "open statement object",
                Some(json!({"Statement": allow_if_ip("execute-api:/*", &[A])})),
                AllowlistEdit::Open,
                Some(json!({"Statement": allow("execute-api:/*")})),
            ),
            (
                "close allow if ip for this stage",
                Some(policy(vec![
                    allow_if_ip("execute-api:/dev/*", &[A]),
                    allow("execute-api:/prod/*"),
                ])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/prod/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close shared allow if ip",
                Some(policy(vec![allow_if_ip("execute-api:/*", &[A])])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow_if_ip("execute-api:/*", &[A]),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close deny unless ip for this stage",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/*", &[A]),
                ])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close shared deny unless ip",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A]),
                ])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A]),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close method-scoped deny unless ip",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/GET/*", &[A]),
                ])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close no policy",
                None,
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close zero statements",
                Some(policy(vec![])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close unrestricted stage",
                Some(policy(vec![allow("execute-api:/*")])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/dev/*"),
                ])),
            ),
            (
                "close closed stage",
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/*"),
                ])),
                AllowlistEdit::Closed,
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny("execute-api:/*"),
                ])),
            ),
            (
                "close stage no allow covers",
                Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
                AllowlistEdit::Closed,
                Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
            ),
            (
                "close statement object",
                Some(json!({"Statement": allow("execute-api:/*")})),
                AllowlistEdit::Closed,
                Some(json!({"Statement": [allow("execute-api:/*"), deny("execute-api:/dev/*")]})),
            ),
        ];

        for (name, document, edit, expected) in cases {
            let edited = apply_edit(document.as_ref(), "dev", &api(), &edit);
            let edited = edited.unwrap_or_else(|error| panic!("{name}: {error}"));
            assert_eq!(
                edited.as_ref().map(to_minified),
                expected.as_ref().map(to_minified),
                "{name}"
            );
        }
    }

    #[test]
    fn edit_results_read_back() {
        let documents = [
            None,
            Some(policy(vec![])),
            Some(policy(vec![allow_if_ip("execute-api:/*", &[A])])),
            Some(policy(vec![
                allow("execute-api:/*"),
                deny_unless_ip("execute-api:/*", &[A]),
            ])),
            Some(policy(vec![
                allow_if_ip("execute-api:/dev/*", &[A]),
                allow("execute-api:/prod/*"),
            ])),
            Some(policy(vec![
                allow("execute-api:/*"),
                deny("execute-api:/dev/*"),
            ])),
            Some(policy(vec![allow_if_ip("execute-api:/prod/*", &[A])])),
        ];
        for (index, document) in documents.iter().enumerate() {
            let set = apply_edit(document.as_ref(), "dev", &api(), &list(&[X, B])).unwrap();
            let StageAccess::Allowlist(allowlist) =
                stage_access(set.as_ref(), "dev", &api()).unwrap()
            else {
                panic!("document {index}: no allowlist after Set");
            };
            assert_eq!(allowlist.cidrs, vec![X, B], "document {index}");

            let opened =
                apply_edit(document.as_ref(), "dev", &api(), &AllowlistEdit::Open).unwrap();
            let access = stage_access(opened.as_ref(), "dev", &api());
            assert_eq!(
                access,
                Ok(StageAccess::Unrestricted),
                "document {index} after Open"
            );

            let closed =
                apply_edit(document.as_ref(), "dev", &api(), &AllowlistEdit::Closed).unwrap();
            let access = stage_access(closed.as_ref(), "dev", &api());
            assert_eq!(
                access,
                Ok(StageAccess::Closed),
                "document {index} after Closed"
            );
        }
    }

    /// Returns the access without statement indexes, which removing a statement shifts.
    fn summary(access: &StageAccess) -> (Option<Shape>, Vec<String>, bool) {
        match access {
            StageAccess::Unrestricted => (None, Vec::new(), false),
            StageAccess::Allowlist(allowlist) => {
                (Some(allowlist.shape), allowlist.cidrs.clone(), false)
            }
            StageAccess::Closed => (None, Vec::new(), true),
        }
    }

    #[test]
    fn edit_leaves_other_stages_alone() {
        let document = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/dev/*", &[A]),
            allow_if_ip("execute-api:/test/*", &[B]),
            deny_unless_ip("execute-api:/prod/*", &[B]),
        ]);
        for edit in [list(&[X]), AllowlistEdit::Open, AllowlistEdit::Closed] {
            let edited = apply_edit(Some(&document), "dev", &api(), &edit).unwrap();
            for stage in ["prod", "test", "other"] {
                let before = stage_access(Some(&document), stage, &api()).unwrap();
                let after = stage_access(edited.as_ref(), stage, &api()).unwrap();
                assert_eq!(summary(&after), summary(&before), "{stage} after {edit:?}");
            }
        }
    }

    #[test]
    fn set_existing_entry_is_not_duplicated() {
        let document = parse_document(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"},
                {"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*",
                 "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24"]}}}]}"#,
        )
        .unwrap();
        let edit = list(&["192.0.2.0/24", "198.51.100.7/32"]);
        let edited = apply_edit(Some(&document), "dev", &api(), &edit)
            .unwrap()
            .unwrap();

        let before = to_minified(&document["Statement"][0]);
        assert_eq!(to_minified(&edited["Statement"][0]), before);
        assert_eq!(to_minified(&edited).matches("198.51.100.7/32").count(), 1);
        assert_eq!(
            edited["Statement"][1]["Condition"]["NotIpAddress"]["aws:SourceIp"],
            json!(["192.0.2.0/24", "198.51.100.7/32"])
        );
    }

    #[test]
    fn set_keeps_key_spelling() {
        let document = json!({"Statement": [allow("execute-api:/*"), {
            "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
            "Condition": {"NotIpAddress": {"aws:sourceIp": [A]}}
        }]});
        let edited = apply_edit(Some(&document), "dev", &api(), &list(&[X]))
            .unwrap()
            .unwrap();

        let entries = edited["Statement"][1]["Condition"]["NotIpAddress"]
            .as_object()
            .unwrap();
        assert_eq!(entries.keys().collect::<Vec<_>>(), vec!["aws:sourceIp"]);
        assert_eq!(entries["aws:sourceIp"], json!([X]));
    }

    #[test]
    fn edit_errors() {
        let several = policy(vec![
            allow_if_ip("execute-api:/*", &[A]),
            deny_unless_ip("execute-api:/dev/*", &[B]),
            deny_unless_ip("execute-api:/dev/GET/*", &[B]),
        ]);
        let shared_deny = policy(vec![allow("execute-api:/*"), deny("execute-api:/*")]);
        let cases = vec![
            (
                Some(policy(vec![allow_if_ip("execute-api:/*", &[A])])),
                AllowlistEdit::Set(Vec::new()),
                "an allowlist cannot be empty: use Open to let every caller in, or Closed to deny every caller",
            ),
            (
                Some(several),
                list(&[X]),
                "statements 1, 2 and 3 each carry an aws:SourceIp allowlist for stage dev, so which list applies \
                 is unclear. Merge them into one statement by hand",
            ),
            (
                Some(shared_deny.clone()),
                list(&[X]),
                "statement 2 denies every caller on stage dev and on other stages. Narrow its Resource by hand \
                 before changing this stage",
            ),
            (
                Some(shared_deny),
                AllowlistEdit::Open,
                "statement 2 denies every caller on stage dev and on other stages. Narrow its Resource by hand \
                 before changing this stage",
            ),
            (
                Some(json!([])),
                AllowlistEdit::Open,
                "a policy must be a JSON object, found a list",
            ),
        ];
        for (document, edit, message) in cases {
            assert_eq!(
                invalid_message(apply_edit(document.as_ref(), "dev", &api(), &edit)),
                message
            );
        }
    }

    #[test]
    fn open_handles_every_allowlist() {
        let document = policy(vec![
            allow_if_ip("execute-api:/*", &[A]),
            deny_unless_ip("execute-api:/dev/*", &[B]),
            allow("execute-api:/prod/*"),
        ]);
        let opened = apply_edit(Some(&document), "dev", &api(), &AllowlistEdit::Open).unwrap();
        let expected = policy(vec![allow("execute-api:/*"), allow("execute-api:/prod/*")]);
        assert_eq!(
            opened.as_ref().map(to_minified),
            Some(to_minified(&expected))
        );
    }

    #[test]
    fn other_stages_of_a_statement() {
        let document = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/*", &[A]),
            deny_unless_ip("execute-api:/dev/*", &[A]),
            deny_unless_ip("execute-api:/d*/*", &[A]),
            deny_unless_ip("execute-api:/*/GET/*", &[A]),
        ]);
        let stages: Vec<String> = ["dev", "prod", "demo", "test"]
            .iter()
            .map(|stage| stage.to_string())
            .collect();
        let cases: Vec<(usize, Vec<&str>)> = vec![
            (0, vec!["prod", "demo", "test"]),
            (1, vec!["prod", "demo", "test"]),
            (2, vec![]),
            (3, vec!["demo"]),
            (4, vec!["prod", "demo", "test"]),
            (9, vec![]),
        ];
        for (index, expected) in cases {
            let shared = statement_covers_other_stages(&document, index, "dev", &stages, &api());
            assert_eq!(shared, expected, "statement index {index}");
        }
    }

    #[test]
    fn split_table() {
        let others: Vec<String> = vec!["prod".to_string(), "test".to_string()];
        let with_sid = |mut statement: Value, sid: &str| {
            let fields = statement.as_object_mut().unwrap();
            let mut named = Map::new();
            named.insert("Sid".to_string(), json!(sid));
            named.extend(std::mem::take(fields));
            *fields = named;
            statement
        };
        let prod_and_test = json!(["execute-api:/prod/*", "execute-api:/test/*"]);
        let narrowed_allow = |cidrs: &[&str]| {
            let mut statement = with_sid(allow_if_ip("execute-api:/*", cidrs), "Office");
            statement["Resource"] = prod_and_test.clone();
            statement
        };
        let narrowed_deny = |cidrs: &[&str]| {
            let mut statement = with_sid(deny_unless_ip("execute-api:/*", cidrs), "Office");
            statement["Resource"] = prod_and_test.clone();
            statement
        };
        let shape_a = policy(vec![with_sid(
            allow_if_ip("execute-api:/*", &[A]),
            "Office",
        )]);
        let shape_b = policy(vec![
            allow("execute-api:/*"),
            with_sid(deny_unless_ip("execute-api:/*", &[A]), "Office"),
        ]);

        let cases: Vec<(&str, Value, AllowlistEdit, Value)> = vec![
            (
                "set allow if ip",
                shape_a.clone(),
                list(&[X]),
                policy(vec![
                    narrowed_allow(&[A]),
                    allow_if_ip("execute-api:/dev/*", &[X]),
                ]),
            ),
            (
                "open allow if ip",
                shape_a.clone(),
                AllowlistEdit::Open,
                policy(vec![narrowed_allow(&[A]), allow("execute-api:/dev/*")]),
            ),
            (
                "close allow if ip",
                shape_a,
                AllowlistEdit::Closed,
                policy(vec![narrowed_allow(&[A]), deny("execute-api:/dev/*")]),
            ),
            (
                "set deny unless ip",
                shape_b.clone(),
                list(&[X]),
                policy(vec![
                    allow("execute-api:/*"),
                    narrowed_deny(&[A]),
                    deny_unless_ip("execute-api:/dev/*", &[X]),
                ]),
            ),
            (
                "open deny unless ip",
                shape_b.clone(),
                AllowlistEdit::Open,
                policy(vec![allow("execute-api:/*"), narrowed_deny(&[A])]),
            ),
            (
                "close deny unless ip",
                shape_b,
                AllowlistEdit::Closed,
                policy(vec![
                    allow("execute-api:/*"),
                    narrowed_deny(&[A]),
                    deny("execute-api:/dev/*"),
                ]),
            ),
        ];
        for (name, document, edit, expected) in cases {
            let edited = apply_edit_split(Some(&document), "dev", &api(), &edit, &others).unwrap();
            assert_eq!(
                edited.as_ref().map(to_minified),
                Some(to_minified(&expected)),
                "{name}"
            );
        }
    }

    #[test]
    fn split_narrows_to_one_stage() {
        let document = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/*", &[A]),
        ]);
        let others = vec!["prod".to_string()];
        let edited =
            apply_edit_split(Some(&document), "dev", &api(), &list(&[X]), &others).unwrap();
        let expected = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/prod/*", &[A]),
            deny_unless_ip("execute-api:/dev/*", &[X]),
        ]);
        assert_eq!(
            edited.as_ref().map(to_minified),
            Some(to_minified(&expected))
        );
    }

    #[test]
    fn split_without_sharing_is_plain_edit() {
        let prod = vec!["prod".to_string()];
        let cases = [
            (None, prod.clone()),
            (Some(policy(vec![allow("execute-api:/*")])), prod.clone()),
            (
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/dev/*", &[A]),
                ])),
                prod,
            ),
            (
                Some(policy(vec![
                    allow("execute-api:/*"),
                    deny_unless_ip("execute-api:/*", &[A]),
                ])),
                Vec::new(),
            ),
        ];
        for (index, (document, others)) in cases.iter().enumerate() {
            for edit in [list(&[X]), AllowlistEdit::Open, AllowlistEdit::Closed] {
                let split = apply_edit_split(document.as_ref(), "dev", &api(), &edit, others);
                let plain = apply_edit(document.as_ref(), "dev", &api(), &edit);
                assert_eq!(split, plain, "case {index}, {edit:?}");
            }
        }
    }

    #[test]
    fn split_rejects_method_scoped_sharing() {
        let document = policy(vec![
            allow("execute-api:/*"),
            deny_unless_ip("execute-api:/*/GET/*", &[A]),
        ]);
        let others = vec!["prod".to_string()];
        let result = apply_edit_split(Some(&document), "dev", &api(), &list(&[X]), &others);
        assert_eq!(
            invalid_message(result),
            "statement 2 covers only some methods or paths of stage dev and is shared with other stages. Split \
             it by hand"
        );
    }

    /// Builds a one-statement document whose minified text is `length` characters, padded with `é`
    /// (two bytes in UTF-8) so that characters and bytes differ.
    fn document_of_length(length: usize) -> Value {
        let empty = json!({"Statement": [{"Sid": ""}]});
        let padding = "é".repeat(length - policy_length(&empty));
        json!({"Statement": [{"Sid": padding}]})
    }

    #[test]
    fn length_counts_characters() {
        let cases = [
            (json!({"Statement": []}), 16),
            (json!({"Statement": [{"Sid": "é"}]}), 27),
        ];
        for (document, expected) in cases {
            assert_eq!(policy_length(&document), expected, "{document}");
        }
        assert_eq!(to_minified(&json!({"Statement": [{"Sid": "é"}]})).len(), 28);
    }

    #[test]
    fn length_at_quota() {
        let at_quota = document_of_length(8192);
        assert_eq!(policy_length(&at_quota), 8192);
        assert!(to_minified(&at_quota).len() > 8192);
        assert_eq!(check_length(&at_quota), Ok(8192));

        let over_quota = document_of_length(8193);
        assert_eq!(policy_length(&over_quota), 8193);
        assert_eq!(
            PolicyError::TooLong {
                length: 8193,
                max: 8192
            }
            .to_string(),
            "the policy is 8193 characters; API Gateway accepts at most 8192. Remove or merge entries"
        );
        assert_eq!(
            check_length(&over_quota),
            Err(PolicyError::TooLong {
                length: 8193,
                max: 8192
            })
        );
    }
}
