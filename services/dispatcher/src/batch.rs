//! Group commit for the dispatcher's hot writes.
//!
//! Every send starts with "mark the attempt" and ends with "record it sent": two writes per
//! trader. Done one by one, a fan-out to 100,000 traders is 200,000 statements, each with its
//! own commit. A [`Batcher`] gathers the calls that many concurrent sends make at the same
//! moment into one statement: while batches are being written, the next one fills up, so
//! under load a batch holds as many calls as there are sends in flight, and with a single
//! send it costs one extra task hop.

use std::future::Future;

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

type Reply<T> = oneshot::Sender<Result<T, String>>;

/// Runs calls of `Req` in batches through one function, answering each caller with its own
/// `Resp`.
pub struct Batcher<Req, Resp> {
    tx: mpsc::Sender<(Req, Reply<Resp>)>,
}

impl<Req, Resp> Batcher<Req, Resp>
where
    Req: Send + 'static,
    Resp: Send + 'static,
{
    /// Starts the batching task. `run` receives up to `max` requests and must return one
    /// answer per request, in order; its error goes to every caller of that batch. Up to
    /// `in_flight` batches run at once: a database commits concurrent transactions with one
    /// flush of its log, so a batch waiting for that flush does not hold up the next one.
    pub fn spawn<F, Fut>(max: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<Resp>>> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<(Req, Reply<Resp>)>(max * 4);
        let run = Arc::new(run);
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(async move {
            loop {
                let slot = slots.clone().acquire_owned().await.expect("never closed");
                let mut batch = Vec::with_capacity(max);
                if rx.recv_many(&mut batch, max).await == 0 {
                    return;
                }
                let run = run.clone();
                tokio::spawn(async move {
                    let (requests, replies): (Vec<Req>, Vec<Reply<Resp>>) =
                        batch.into_iter().unzip();
                    let count = requests.len();
                    metrics::histogram!("herald_dispatcher_write_batch_size").record(count as f64);
                    let outcome = run(requests).await;
                    drop(slot);
                    match outcome {
                        Ok(answers) if answers.len() == count => {
                            for (reply, answer) in replies.into_iter().zip(answers) {
                                let _ = reply.send(Ok(answer));
                            }
                        }
                        Ok(answers) => {
                            let why = format!("batch of {count} answered {}", answers.len());
                            for reply in replies {
                                let _ = reply.send(Err(why.clone()));
                            }
                        }
                        Err(e) => {
                            let why = format!("{e:#}");
                            for reply in replies {
                                let _ = reply.send(Err(why.clone()));
                            }
                        }
                    }
                });
            }
        });
        Self { tx }
    }

    /// Queues `request` for the next batch and waits for its answer.
    pub async fn call(&self, request: Req) -> anyhow::Result<Resp> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((request, reply))
            .await
            .map_err(|_| anyhow::anyhow!("the batch writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the batch writer dropped the request"))?
            .map_err(anyhow::Error::msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn concurrent_calls_share_batches_and_get_their_own_answers() {
        let batches = Arc::new(AtomicUsize::new(0));
        let counter = batches.clone();
        let doubler = Arc::new(Batcher::spawn(64, 2, move |xs: Vec<u32>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::task::yield_now().await;
                Ok(xs.into_iter().map(|x| x * 2).collect())
            }
        }));
        let calls: Vec<_> = (0..200u32)
            .map(|i| {
                let d = doubler.clone();
                tokio::spawn(async move { (i, d.call(i).await.unwrap()) })
            })
            .collect();
        for call in calls {
            let (i, doubled) = call.await.unwrap();
            assert_eq!(doubled, i * 2);
        }
        assert!(batches.load(Ordering::SeqCst) < 200, "calls were batched");
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_callers() {
        let b = Batcher::spawn(8, 1, |_: Vec<u32>| async { anyhow::bail!("database down") });
        let e: anyhow::Result<u32> = b.call(1).await;
        assert!(e.unwrap_err().to_string().contains("database down"));
        let short = Batcher::spawn(8, 1, |_: Vec<u32>| async { Ok(Vec::<u32>::new()) });
        assert!(short.call(1).await.is_err());
    }
}
