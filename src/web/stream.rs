//! Response bodies written on a blocking thread (a PDF sheet, an EPCIS
//! document listing a million stamps) and sent as they are written, so
//! memory stays flat whatever their size.

use bytes::Bytes;

/// Hands written bytes to the response stream; fails once the client is gone.
pub(super) struct ChannelWriter(pub(super) tokio::sync::mpsc::Sender<Result<Bytes, String>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away")
            })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The body `write` writes on the blocking pool, in 64 KiB pieces. A
/// failure after the first bytes can only cut the body short (the status
/// was sent): it is logged, and the client sees an incomplete document.
pub(super) fn written_body<F>(
    what: &'static str,
    write: F,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>>
where
    F: FnOnce(&mut dyn std::io::Write) -> Result<(), String> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(16);
    actix_web::rt::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(tx.clone()));
        let done = write(&mut out)
            .and_then(|()| std::io::Write::flush(&mut out).map_err(|e| e.to_string()));
        if let Err(e) = done {
            tracing::warn!(error = %e, "{what} not delivered whole");
            let _ = tx.blocking_send(Err(e));
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        Some((item.map_err(actix_web::error::ErrorInternalServerError), rx))
    })
}
