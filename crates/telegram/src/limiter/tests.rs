//! The limiter on tokio's paused clock: every instant below is exact.

use super::*;

fn limiter(per_second: Option<u32>, per_chat_ms: u64) -> Limiter {
    Limiter::new(LimiterConfig {
        messages_per_second: per_second,
        per_chat_interval: Duration::from_millis(per_chat_ms),
        group_messages_per_minute: None,
        guard: Duration::ZERO,
    })
}

/// Starts `acquire(chat, priority)` as a task that returns when it got through.
fn spawn_send(
    limiter: &Limiter,
    chat: i64,
    priority: Priority,
    start: Instant,
) -> tokio::task::JoinHandle<Duration> {
    let limiter = limiter.clone();
    tokio::spawn(async move {
        limiter.acquire(chat, priority).await;
        start.elapsed()
    })
}

fn ms(durations: &[Duration]) -> Vec<u128> {
    durations.iter().map(Duration::as_millis).collect()
}

#[tokio::test(start_paused = true)]
async fn overall_rate_spaces_sends_evenly() {
    let limiter = limiter(Some(10), 0);
    let start = Instant::now();
    let mut at = Vec::new();
    for chat in 0..5 {
        limiter.acquire(chat, Priority::Bulk).await;
        at.push(start.elapsed());
    }
    assert_eq!(ms(&at), [0, 100, 200, 300, 400]);
}

#[tokio::test(start_paused = true)]
async fn the_guard_widens_every_window() {
    let limiter = Limiter::new(LimiterConfig {
        messages_per_second: Some(10),
        per_chat_interval: Duration::from_secs(1),
        group_messages_per_minute: None,
        guard: Duration::from_millis(50),
    });
    let start = Instant::now();
    let mut at = Vec::new();
    for chat in [1, 2, 1] {
        limiter.acquire(chat, Priority::Bulk).await;
        at.push(start.elapsed());
    }
    assert_eq!(ms(&at), [0, 105, 1050]);
}

#[tokio::test(start_paused = true)]
async fn unlimited_does_not_wait() {
    let limiter = Limiter::new(LimiterConfig::unlimited());
    let start = Instant::now();
    for _ in 0..1000 {
        limiter.acquire(7, Priority::Bulk).await;
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn one_chat_waits_its_spacing_without_holding_others() {
    let limiter = limiter(Some(100), 1000);
    let start = Instant::now();
    limiter.acquire(1, Priority::Bulk).await; // t = 0
    let second_to_1 = spawn_send(&limiter, 1, Priority::Bulk, start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let other = spawn_send(&limiter, 2, Priority::Bulk, start);
    assert_eq!(
        other.await.unwrap(),
        Duration::from_millis(10),
        "chat 2 takes the next global slot"
    );
    assert_eq!(second_to_1.await.unwrap(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn a_group_gets_twenty_a_minute_and_private_chats_are_not_held_up() {
    let limiter = Limiter::new(LimiterConfig {
        messages_per_second: Some(100),
        per_chat_interval: Duration::from_secs(1),
        group_messages_per_minute: Some(20),
        guard: Duration::ZERO,
    });
    let start = Instant::now();
    let group: Vec<_> = (0..21)
        .map(|_| spawn_send(&limiter, -100, Priority::Bulk, start))
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let private = spawn_send(&limiter, 5, Priority::Bulk, start);
    assert_eq!(private.await.unwrap(), Duration::from_millis(10));
    let mut at = Vec::new();
    for send in group {
        at.push(send.await.unwrap());
    }
    // One a second (the per-chat spacing) for the first 20, then the 21st waits until the
    // first has left the one-minute window.
    let expected: Vec<u128> = (0..20).map(|s| s * 1000).chain([60_000]).collect();
    assert_eq!(ms(&at), expected);
}

#[tokio::test(start_paused = true)]
async fn group_windows_slide() {
    let limiter = Limiter::new(LimiterConfig {
        messages_per_second: None,
        per_chat_interval: Duration::ZERO,
        group_messages_per_minute: Some(2),
        guard: Duration::ZERO,
    });
    let start = Instant::now();
    let mut at = Vec::new();
    for wait_ms in [0, 30_000, 0, 0, 0] {
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        limiter.acquire(-1, Priority::Bulk).await;
        at.push(start.elapsed());
    }
    assert_eq!(ms(&at), [0, 30_000, 60_000, 90_000, 120_000]);
    // Positive ids are private chats: no group limit.
    let before = Instant::now();
    for _ in 0..5 {
        limiter.acquire(1, Priority::Bulk).await;
    }
    assert_eq!(before.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn interactive_sends_overtake_a_bulk_backlog() {
    let limiter = limiter(Some(10), 0);
    let start = Instant::now();
    let bulk: Vec<_> = (0..20)
        .map(|chat| spawn_send(&limiter, chat, Priority::Bulk, start))
        .collect();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let reply = spawn_send(&limiter, 1000, Priority::Interactive, start);
    assert_eq!(
        reply.await.unwrap(),
        Duration::from_millis(300),
        "the reply takes the next slot after it asked"
    );
    let mut at = Vec::new();
    for send in bulk {
        at.push(send.await.unwrap());
    }
    // The bulk sends keep their order and lose one slot to the reply.
    let expected: Vec<u128> = (0..3).chain(4..21).map(|i| i * 100).collect();
    assert_eq!(ms(&at), expected);
}

#[tokio::test(start_paused = true)]
async fn grant_hands_out_slots_ahead_but_no_further() {
    let limiter = limiter(Some(10), 0);
    let start = Instant::now();
    let ahead = Duration::from_millis(250);
    let mut slots = Vec::new();
    let mut granted_at = Vec::new();
    for chat in 0..6 {
        let slot = limiter.grant(chat, Priority::Bulk, ahead).await;
        slots.push(slot - start);
        granted_at.push(start.elapsed());
    }
    assert_eq!(ms(&slots), [0, 100, 200, 300, 400, 500]);
    assert_eq!(ms(&granted_at), [0, 0, 0, 50, 150, 250]);
}

#[tokio::test(start_paused = true)]
async fn try_grant_takes_what_lies_within_reach_and_never_overtakes_a_reply() {
    let limiter = limiter(Some(10), 1000);
    let start = Instant::now();
    let ahead = Duration::from_millis(250);
    // Slots at 0, 100 and 200 ms lie within reach; the next one (300 ms) does not.
    let taken: Vec<_> = (0..4)
        .map(|chat| {
            limiter
                .try_grant(chat, Priority::Bulk, ahead)
                .map(|s| s - start)
        })
        .collect();
    assert_eq!(
        taken,
        [Some(0), Some(100), Some(200), None].map(|o| o.map(Duration::from_millis))
    );
    // A chat's own spacing holds as well: chat 0 sent at 0 ms, so not before 1 s.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(limiter.try_grant(0, Priority::Bulk, ahead), None);
    // A reply waiting in line is never overtaken by a bulk batch: the slot at 300 ms goes
    // now, the reply waits for the one at 400 ms, and the batch gets nothing meanwhile.
    assert_eq!(
        limiter
            .try_grant(5, Priority::Bulk, ahead)
            .map(|s| s - start),
        Some(Duration::from_millis(300))
    );
    let waiting = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter
                .grant(9, Priority::Interactive, Duration::ZERO)
                .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(limiter.try_grant(6, Priority::Bulk, ahead), None);
    assert_eq!(waiting.await.unwrap() - start, Duration::from_millis(400));
    assert_eq!(
        limiter
            .try_grant(6, Priority::Bulk, ahead)
            .map(|s| s - start),
        Some(Duration::from_millis(500))
    );
    // A reply whose own chat must wait (chat 9 sent at 400 ms: not before 1.4 s) loses
    // nothing to a bulk send taking the next slot, so it does not block the batch.
    let spaced = {
        let limiter = limiter.clone();
        tokio::spawn(async move {
            limiter
                .grant(9, Priority::Interactive, Duration::ZERO)
                .await
        })
    };
    tokio::task::yield_now().await;
    assert_eq!(
        limiter
            .try_grant(7, Priority::Bulk, ahead)
            .map(|s| s - start),
        Some(Duration::from_millis(600))
    );
    // A reply waiting for a chat's slot is never beaten to that slot by a broadcast to the
    // same chat, however far ahead the slot lies.
    assert_eq!(
        limiter.try_grant(9, Priority::Bulk, Duration::from_secs(5)),
        None
    );
    // When a batch could next start (at 400 ms, the next overall slot at 700 ms): chats 1
    // and 2 are spaced until 1.1 s and 1.2 s; 8 only waits for the overall slot.
    let at = |chats: &[i64]| {
        limiter
            .next_starts(chats)
            .into_iter()
            .min()
            .map(|s| s - start)
    };
    assert_eq!(at(&[1, 2]), Some(Duration::from_millis(1100)));
    assert_eq!(at(&[1, 2, 8]), Some(Duration::from_millis(700)));
    assert_eq!(at(&[]), None);
    assert_eq!(spaced.await.unwrap() - start, Duration::from_millis(1400));
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_takes_no_slot() {
    let limiter = limiter(Some(10), 0);
    let start = Instant::now();
    limiter.acquire(1, Priority::Bulk).await; // t = 0
    let gone = spawn_send(&limiter, 2, Priority::Bulk, start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let kept = spawn_send(&limiter, 3, Priority::Bulk, start);
    tokio::time::sleep(Duration::from_millis(1)).await;
    gone.abort();
    assert_eq!(kept.await.unwrap(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn pause_holds_every_send() {
    let limiter = limiter(None, 0);
    let start = Instant::now();
    limiter.pause_for(Duration::from_secs(3));
    assert_eq!(limiter.paused_until(), Some(start + Duration::from_secs(3)));
    limiter.pause_for(Duration::from_secs(1)); // never shortens
    let a = spawn_send(&limiter, 1, Priority::Bulk, start);
    let b = spawn_send(&limiter, 2, Priority::Interactive, start);
    assert_eq!(
        (a.await.unwrap(), b.await.unwrap()),
        (Duration::from_secs(3), Duration::from_secs(3))
    );
    assert_eq!(limiter.paused_until(), None);
}

#[tokio::test(start_paused = true)]
async fn a_pause_voids_slots_taken_before_it() {
    let limiter = limiter(Some(1), 0);
    let start = Instant::now();
    limiter.acquire(1, Priority::Bulk).await; // t = 0; the next slot is t = 1 s
    let waiter = spawn_send(&limiter, 2, Priority::Bulk, start);
    tokio::time::sleep(Duration::from_millis(500)).await;
    limiter.pause_for(Duration::from_secs(5)); // until t = 5.5 s
    assert_eq!(waiter.await.unwrap(), Duration::from_millis(5500));
}

#[test]
fn pruning_forgets_old_chats() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let limiter = limiter(None, 1000);
        for chat in 0..2000 {
            limiter.acquire(chat, Priority::Bulk).await;
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        for chat in 2000..4100 {
            limiter.acquire(chat, Priority::Bulk).await;
        }
        assert!(limiter.inner.lock().chat_count() < 4100);
    });
}

#[tokio::test(start_paused = true)]
async fn a_reply_told_to_come_back_keeps_its_chat_from_broadcasts() {
    let limiter = limiter(None, 1000);
    let ahead = Duration::from_millis(250);
    let until = Instant::now() + Duration::from_secs(5);
    limiter.reserve_for_reply(1, until);
    // Broadcasts to that chat wait for the reply; other chats and replies do not.
    assert_eq!(limiter.try_grant(1, Priority::Bulk, ahead), None);
    assert!(limiter.try_grant(2, Priority::Bulk, ahead).is_some());
    assert!(limiter.try_grant(1, Priority::Interactive, ahead).is_some());
    // The reply got its slot: the reservation is over (the chat's own spacing still holds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(limiter.try_grant(1, Priority::Bulk, ahead).is_some());
    // A reservation lapses by itself.
    limiter.reserve_for_reply(3, Instant::now() + Duration::from_millis(100));
    assert_eq!(limiter.try_grant(3, Priority::Bulk, ahead), None);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(limiter.try_grant(3, Priority::Bulk, ahead).is_some());
}
