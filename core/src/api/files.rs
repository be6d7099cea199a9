//! The agent's sandbox files, as Mesos serves them: `/files/browse`,
//! `/files/read` and `/files/download` (and their `.json` aliases).
//!
//! What may be served, and how a path is opened, is
//! [`crate::agent::sandbox_files`]'s business; every filesystem step runs
//! on a blocking thread with a timeout, so a slow or hostile file cannot
//! hold up the runtime (and `/health` with it).

use std::{path::Path, sync::Arc};

use nix::libc;

use axum::{
    body::{Body, Bytes},
    extract::{rejection::QueryRejection, Query, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{auth::Principal, http::error};
use crate::domain::acls::Action;
use crate::{
    agent::{
        sandbox_files::{self, off_runtime, SandboxFile, SandboxFileError, IO_TIMEOUT},
        Agent,
    },
    wire::files::encode_data,
};

/// Most bytes one `/files/read` returns.
pub(super) const MAX_READ: u64 = 4 * 1024 * 1024;

/// Bytes read per step of a `/files/download`.
const DOWNLOAD_CHUNK: u64 = 64 * 1024;

pub fn routes() -> Router<Arc<Agent>> {
    Router::new()
        .route("/files/browse", get(browse))
        .route("/files/browse.json", get(browse))
        .route("/files/read", get(read))
        .route("/files/read.json", get(read))
        .route("/files/download", get(download))
        .route("/files/download.json", get(download))
}

/// Whether `principal` may read under `path` (`access_sandboxes`, on the
/// user the sandbox's executor runs as): the 403 to answer when not.
pub(super) fn may_access(agent: &Agent, principal: Option<&str>, path: &str) -> Option<Response> {
    let acls = agent.config.acls.as_deref()?;
    let user = agent
        .executors()
        .into_iter()
        .find(|e| Path::new(path).starts_with(&e.sandbox))
        .map(|e| {
            e.info
                .command
                .as_ref()
                .and_then(|c| c.user.clone())
                .unwrap_or(e.framework_info.user)
        })
        .unwrap_or_default();
    if acls.allows(Action::AccessSandbox, principal, &user) {
        return None;
    }
    tracing::warn!(
        principal,
        path,
        user,
        "refused a sandbox read its ACLs do not allow"
    );
    Some(error(
        403,
        format!(
            "principal '{}' is not authorized to read sandboxes of user '{user}'",
            principal.unwrap_or("(none)")
        ),
    ))
}

/// A refused sandbox path, with the status Mesos would answer.
pub(super) fn refusal(e: &SandboxFileError) -> Response {
    let status = match e {
        SandboxFileError::NotAbsolute(_)
        | SandboxFileError::NotAFile { .. }
        | SandboxFileError::NotADirectory { .. } => 400,
        SandboxFileError::ParentDir(_)
        | SandboxFileError::Outside(_)
        | SandboxFileError::Symlink(_)
        | SandboxFileError::HardLink { .. }
        | SandboxFileError::Denied(_) => 403,
        SandboxFileError::NotFound(_) => 404,
        SandboxFileError::TimedOut { .. } => 503,
        SandboxFileError::WorkDir { .. } | SandboxFileError::Io { .. } => 500,
    };
    error(status, e.to_string())
}

#[derive(Debug, Deserialize)]
struct BrowseQuery {
    path: String,
}

/// `GET /files/browse?path=`: the entries of a sandbox directory, as Mesos
/// lists them (`path`, `nlink`, `size`, `mtime`, `mode`, `uid`, `gid`).
async fn browse(
    State(agent): State<Arc<Agent>>,
    principal: Option<axum::Extension<Principal>>,
    query: Result<Query<BrowseQuery>, QueryRejection>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let Ok(Query(q)) = query else {
        return error(400, "expecting 'path' in the query");
    };
    if let Some(refused) = may_access(&agent, principal.as_deref(), &q.path) {
        return refused;
    }
    let work_dir = agent.config.work_dir.clone();
    let path = q.path.clone();
    let listed = off_runtime(&q.path, IO_TIMEOUT, move || {
        let entries = sandbox_files::list_dir(&work_dir, &path)?;
        Ok(entries
            .into_iter()
            .map(|e| {
                json!({
                    "path": Path::new(&path).join(&e.name).display().to_string(),
                    "nlink": e.nlink,
                    "size": e.size,
                    "mtime": e.mtime,
                    "mode": mode_string(e.mode),
                    "uid": user_name(e.uid),
                    "gid": group_name(e.gid),
                })
            })
            .collect::<Vec<Value>>())
    })
    .await;
    match listed {
        Ok(list) => Json(Value::Array(list)).into_response(),
        Err(e) => refusal(&e),
    }
}

/// `drwxr-xr-x` for a directory with mode 755.
fn mode_string(mode: u32) -> String {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFDIR => 'd',
        libc::S_IFLNK => 'l',
        libc::S_IFIFO => 'p',
        libc::S_IFSOCK => 's',
        libc::S_IFCHR => 'c',
        libc::S_IFBLK => 'b',
        _ => '-',
    };
    let mut s = String::from(kind);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

pub(super) fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

pub(super) fn group_name(gid: u32) -> String {
    nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(gid))
        .ok()
        .flatten()
        .map_or_else(|| gid.to_string(), |g| g.name)
}

#[derive(Debug, Deserialize)]
struct ReadQuery {
    path: String,
    offset: Option<i64>,
    length: Option<i64>,
}

/// `GET /files/read?path=&offset=&length=`: part of a sandbox file, as
/// `{"data": ..., "offset": ...}`; `offset=-1` asks for the file's size.
/// `data` holds the bytes exactly, one character (U+0000 to U+00FF) per
/// byte (`wire::files`).
async fn read(
    State(agent): State<Arc<Agent>>,
    principal: Option<axum::Extension<Principal>>,
    query: Result<Query<ReadQuery>, QueryRejection>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => {
            return error(
                400,
                format!("expecting 'path' and numeric 'offset' and 'length': {e}"),
            )
        }
    };
    if let Some(refused) = may_access(&agent, principal.as_deref(), &q.path) {
        return refused;
    }
    let work_dir = agent.config.work_dir.clone();
    let path = q.path.clone();
    let result = off_runtime(&q.path, IO_TIMEOUT, move || {
        let file = sandbox_files::open_file(&work_dir, &path)?;
        match q.offset.map(u64::try_from) {
            Some(Err(_)) => Ok(json!({"data": "", "offset": file.size})),
            Some(Ok(offset)) => read_part(&file, offset, q.length),
            None => read_part(&file, 0, q.length),
        }
    })
    .await;
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => refusal(&e),
    }
}

fn read_part(
    file: &SandboxFile,
    offset: u64,
    length: Option<i64>,
) -> Result<Value, SandboxFileError> {
    let offset = offset.min(file.size);
    let length = length
        .and_then(|l| u64::try_from(l).ok())
        .map_or(MAX_READ, |l| l.min(MAX_READ));
    let data = file.read_at(offset, length)?;
    Ok(json!({"data": encode_data(&data), "offset": offset}))
}

/// `GET /files/download?path=`: a sandbox file's raw bytes (as far as its
/// size when opened), as an attachment.
async fn download(
    State(agent): State<Arc<Agent>>,
    principal: Option<axum::Extension<Principal>>,
    query: Result<Query<BrowseQuery>, QueryRejection>,
) -> Response {
    let principal = principal.map(|axum::Extension(p)| p.0);
    let Ok(Query(q)) = query else {
        return error(400, "expecting 'path' in the query");
    };
    if let Some(refused) = may_access(&agent, principal.as_deref(), &q.path) {
        return refused;
    }
    let work_dir = agent.config.work_dir.clone();
    let path = q.path.clone();
    let file = match off_runtime(&q.path, IO_TIMEOUT, move || {
        sandbox_files::open_file(&work_dir, &path)
    })
    .await
    {
        Ok(file) => Arc::new(file),
        Err(e) => return refusal(&e),
    };
    let name = Path::new(&q.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let body = futures::stream::unfold((file, 0u64), |(file, offset)| async move {
        if offset >= file.size {
            return None;
        }
        let length = DOWNLOAD_CHUNK.min(file.size - offset);
        let step = file.clone();
        let chunk = off_runtime(&file.path, IO_TIMEOUT, move || step.read_at(offset, length)).await;
        match chunk {
            Ok(data) if data.is_empty() => None,
            Ok(data) => {
                let next = offset + data.len() as u64;
                Some((Ok(Bytes::from(data)), (file, next)))
            }
            // The client sees the response cut short.
            Err(e) => {
                tracing::warn!(error = %e, "sandbox download stopped");
                Some((Err(std::io::Error::other(e.to_string())), (file, u64::MAX)))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// `attachment; filename="…"` with anything but printable ASCII (and `"`
/// and `\`) replaced.
fn content_disposition(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("attachment; filename=\"{safe}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_file_names_are_shown_safely() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o640), "-rw-r-----");
        assert_eq!(mode_string(libc::S_IFIFO | 0o600), "prw-------");
        assert_eq!(
            content_disposition("a \"b\"\\\n\u{e9}.txt"),
            "attachment; filename=\"a _b___\u{5f}.txt\""
        );
    }
}
