//! Answering a verified path whose approved file is too large for the
//! cache (over [`MAX_CACHED_BYTES`](crate::integrity::MAX_CACHED_BYTES)):
//! streamed from the vault a chunk at a time, so a hundred visitors
//! downloading a 30 MB document cost a chunk each, not 30 MB each. The
//! answer is otherwise the one `serve_approved` gives (status, validators,
//! headers, the background check of the origin), and it fails closed the
//! same way: a vault copy that does not hash to the approved BLAKE3 is a
//! 503, and one that changes while it is sent ends the download short of
//! its `Content-Length`.

use super::{Ctx, Gateway};
use crate::integrity::{ApprovedFile, Integrity};
use crate::routes::Route;
use bytes::Bytes;
use pingora::prelude::*;
use std::sync::Arc;

impl Gateway {
    pub(super) async fn serve_approved_streamed(
        &self,
        session: &mut Session,
        ctx: &mut Ctx,
        route: &Arc<Route>,
        integrity: Arc<Integrity>,
        file: ApprovedFile,
        host: &str,
    ) -> Result<bool> {
        let opened = {
            let integrity = integrity.clone();
            let file = file.clone();
            tokio::task::spawn_blocking(move || integrity.open_streamed(&file)).await
        };
        let mut reader = match opened
            .map_err(|error| error.to_string())
            .and_then(|reader| reader)
        {
            Ok(reader) => reader,
            Err(problem) => {
                let answer = crate::decide::approved_unavailable(route, &file, &problem);
                return self.respond(session, answer).await;
            }
        };
        let (header, not_modified) = self.approved_header(session, &file, file.size)?;
        let head = session.req_header().method == http::Method::HEAD;
        let bodyless = head || not_modified || file.size == 0;
        session
            .write_response_header(Box::new(header), bodyless)
            .await?;
        if !bodyless {
            while !reader.done() {
                let (back, chunk) = tokio::task::spawn_blocking(move || {
                    let chunk = reader.next_chunk();
                    (reader, chunk)
                })
                .await
                .map_err(|error| Error::because(ErrorType::InternalError, "reading", error))?;
                reader = back;
                match chunk {
                    Ok(Some(bytes)) => {
                        session
                            .write_response_body(Some(bytes), reader.done())
                            .await?;
                    }
                    Ok(None) => break,
                    Err(problem) => {
                        // The header is out: all that is left is to end the
                        // download short, so the client cannot take it for
                        // the file.
                        log::error!(
                            "site {}: approved copy of {} changed while it was sent: {problem}",
                            route.site,
                            file.path
                        );
                        return Error::e_explain(ErrorType::InternalError, problem);
                    }
                }
            }
        }
        // Compared with the vault copy as it streams in (see `verify.rs`),
        // never held whole: no approved bytes.
        let target = super::view(session.req_header()).target();
        let client = ctx.admitted.client_or_unspecified();
        let visit = crate::verify::Visit {
            route: route.clone(),
            file,
            approved: Bytes::new(),
            host: host.to_string(),
            target: target.to_string(),
            client,
        };
        crate::decide::visited(&self.shared, integrity, visit);
        Ok(true)
    }
}
