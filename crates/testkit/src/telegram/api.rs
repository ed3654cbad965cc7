//! The Bot API surface: `/bot<token>/<method>`, with parameters from the query string, a
//! JSON, form-urlencoded or multipart body, and answers shaped exactly like Telegram's.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::state::Shared;
use super::{callbacks, messages, updates};

/// One Bot API answer.
#[derive(Debug)]
pub(crate) struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    /// `{"ok":true,"result":…}`.
    pub fn ok(result: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "ok": true, "result": result }),
        }
    }

    /// `{"ok":false,"error_code":status,"description":…}`.
    pub fn error(status: u16, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json!({ "ok": false, "error_code": status, "description": description.into() }),
        }
    }

    /// 400 `Bad Request: <what>`.
    pub fn bad_request(what: &str) -> Self {
        Self::error(400, format!("Bad Request: {what}"))
    }

    /// 429 `Too Many Requests: retry after N` with `parameters.retry_after`.
    pub fn retry_after(seconds: u32) -> Self {
        let mut reply = Self::error(429, format!("Too Many Requests: retry after {seconds}"));
        reply.body["parameters"] = json!({ "retry_after": seconds });
        reply
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response()
    }
}

/// The largest request body the double reads (Telegram's limit for uploads: 50 MB); a bigger
/// one is answered 413 `Request Entity Too Large`.
pub(crate) const MAX_REQUEST_BYTES: usize = 50 * 1024 * 1024;

/// A request's parameters, merged from the query string and the body (the body wins), and
/// the files uploaded with a multipart body, by part name.
#[derive(Debug, Default)]
pub(crate) struct Params {
    fields: Map<String, Value>,
    files: HashMap<String, Vec<u8>>,
}

impl Params {
    /// Reads the query string and a JSON or form-urlencoded body.
    pub fn from_request(
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Self, Reply> {
        let mut map = Map::new();
        let mut files = HashMap::new();
        if let Some(query) = query {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
                .map_err(|_| Reply::bad_request("can't parse query string"))?;
            map.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
        }
        let raw_content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let content_type = raw_content_type.to_ascii_lowercase();
        if body.iter().all(u8::is_ascii_whitespace) {
            // No body: the query string is all there is.
        } else if content_type.starts_with("application/json") {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(fields)) => map.extend(fields),
                _ => return Err(Reply::bad_request("can't parse JSON object")),
            }
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|_| Reply::bad_request("can't parse form data"))?;
            map.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
        } else if content_type.starts_with("multipart/form-data") {
            let parts = super::multipart::parts(raw_content_type, body)
                .ok_or_else(|| Reply::bad_request("can't parse multipart form data"))?;
            for part in parts {
                if part.filename.is_some() {
                    files.insert(part.name, part.data);
                } else {
                    let text = String::from_utf8_lossy(&part.data).into_owned();
                    map.insert(part.name, Value::String(text));
                }
            }
        } else {
            return Err(Reply::bad_request("unsupported Content-Type"));
        }
        map.retain(|_, v| !v.is_null());
        Ok(Self { fields: map, files })
    }

    /// The content of the uploaded file in the multipart part `name`, if there is one.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// A parameter as text (numbers and booleans in their JSON form).
    pub fn string(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// A parameter as an integer: `None` if absent or empty, `Some(Err(()))` if not a number.
    pub fn int(&self, name: &str) -> Option<Result<i64, ()>> {
        match self.fields.get(name)? {
            Value::Number(n) => Some(n.as_i64().ok_or(())),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().parse().map_err(|_| ())),
            _ => Some(Err(())),
        }
    }

    /// An integer parameter, `default` when absent or unparsable, clamped to `min..=max`
    /// (Telegram clamps `limit` and `timeout` rather than rejecting them).
    pub fn int_clamped(&self, name: &str, default: i64, min: i64, max: i64) -> i64 {
        match self.int(name) {
            Some(Ok(v)) => v.clamp(min, max),
            _ => default,
        }
    }

    /// A boolean parameter (`true`, `"true"`, `"1"`).
    pub fn flag(&self, name: &str) -> bool {
        match self.fields.get(name) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            Some(Value::String(s)) => matches!(s.to_ascii_lowercase().as_str(), "true" | "1"),
            _ => false,
        }
    }

    /// A JSON-valued parameter (objects and arrays arrive as JSON text in forms).
    pub fn json(&self, name: &str) -> Option<Value> {
        match self.fields.get(name)? {
            Value::String(s) => {
                Some(serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())))
            }
            other => Some(other.clone()),
        }
    }
}

/// `ANY /{bot_token}/{method}`.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    Path((bot, method)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let Some(token) = bot.strip_prefix("bot") else {
        return Reply::error(404, "Not Found");
    };
    if token != shared.token {
        return Reply::error(401, "Unauthorized");
    }
    let method = method.to_ascii_lowercase();
    {
        let mut state = shared.lock();
        match state.request_counts.get_mut(&method) {
            Some(count) => *count += 1,
            None => {
                state.request_counts.insert(method.clone(), 1);
            }
        }
    }
    shared.notify_changed();
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Reply::error(413, "Request Entity Too Large");
        }
        Err(_) => return Reply::bad_request("can't read the request body"),
    };
    let params = match Params::from_request(&headers, query.as_deref(), &body) {
        Ok(params) => params,
        Err(reply) => return reply,
    };
    match method.as_str() {
        "getme" => get_me(&shared),
        "getupdates" => updates::get_updates(&shared, &params).await,
        "setwebhook" => updates::set_webhook(&shared, &params),
        "deletewebhook" => updates::delete_webhook(&shared, &params),
        "getwebhookinfo" => updates::get_webhook_info(&shared),
        "sendmessage" => messages::send_message(&shared, &params).await,
        "sendphoto" => messages::send_photo(&shared, &params).await,
        "editmessagetext" => messages::edit_message_text(&shared, &params).await,
        "editmessagecaption" => messages::edit_message_caption(&shared, &params).await,
        "editmessagereplymarkup" => messages::edit_message_reply_markup(&shared, &params).await,
        "deletemessage" => messages::delete_message(&shared, &params),
        "setmycommands" => set_my_commands(&shared, &params),
        "getmycommands" => get_my_commands(&shared, &params),
        "deletemycommands" => {
            let language = params.string("language_code").unwrap_or_default();
            shared.lock().commands.remove(&language);
            Reply::ok(json!(true))
        }
        "sendchataction" => match params.int("chat_id") {
            None => Reply::bad_request("chat_id is empty"),
            Some(Err(())) => Reply::bad_request("chat not found"),
            Some(Ok(_)) => Reply::ok(json!(true)),
        },
        "answercallbackquery" => callbacks::answer_callback_query(&shared, &params),
        "close" | "logout" => Reply::ok(json!(true)),
        _ => Reply::error(404, "Not Found: method not found"),
    }
}

/// Any path that is not a Bot API method.
pub(crate) async fn not_found() -> Reply {
    Reply::error(404, "Not Found")
}

fn get_me(shared: &Shared) -> Reply {
    let mut me = shared.bot_user_json();
    me["can_join_groups"] = json!(true);
    me["can_read_all_group_messages"] = json!(false);
    me["supports_inline_queries"] = json!(false);
    me["can_connect_to_business"] = json!(false);
    me["has_main_web_app"] = json!(false);
    Reply::ok(me)
}

fn set_my_commands(shared: &Shared, params: &Params) -> Reply {
    let Some(Value::Array(items)) = params.json("commands") else {
        return Reply::bad_request("can't parse commands JSON object");
    };
    if items.len() > 100 {
        return Reply::bad_request("BOT_COMMANDS_TOO_MUCH");
    }
    let mut commands = Vec::with_capacity(items.len());
    for item in &items {
        let (Some(command), Some(description)) = (
            item.get("command").and_then(Value::as_str),
            item.get("description").and_then(Value::as_str),
        ) else {
            return Reply::bad_request("can't parse BotCommand JSON object");
        };
        // Like the Bot API server, accept (and drop) one leading '/': teloxide's
        // `BotCommands::bot_commands()` sends "/start".
        let command = command.strip_prefix('/').unwrap_or(command);
        let valid_name = (1..=32).contains(&command.len())
            && command
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !valid_name {
            return Reply::bad_request("BOT_COMMAND_INVALID");
        }
        let description_len = description.chars().count();
        if description_len == 0 {
            return Reply::bad_request("command description must be non-empty");
        }
        if description_len > 256 {
            return Reply::bad_request("command description length must not exceed 256");
        }
        if description_len < 3 {
            return Reply::bad_request("BOT_COMMAND_DESCRIPTION_INVALID");
        }
        commands.push((command.to_owned(), description.to_owned()));
    }
    let language = params.string("language_code").unwrap_or_default();
    shared.lock().commands.insert(language, commands);
    shared.notify_changed();
    Reply::ok(json!(true))
}

fn get_my_commands(shared: &Shared, params: &Params) -> Reply {
    let language = params.string("language_code").unwrap_or_default();
    let commands: Vec<Value> = shared
        .lock()
        .commands
        .get(&language)
        .into_iter()
        .flatten()
        .map(|(command, description)| json!({ "command": command, "description": description }))
        .collect();
    Reply::ok(Value::Array(commands))
}
