//! Staff: roles granted and taken away, the authenticator's steps claimed once, and the
//! one-time login codes (single use, short-lived, burnt by wrong tries).

use anyhow::{Context, ensure};
use chrono::Duration;
use herald_domain::StaffRole;
use herald_store::{LoginCode, MAX_CODE_ATTEMPTS, Store, StoreError, TelegramProfile};
use uuid::Uuid;

use crate::common::{noon, on_both_backends, profile};

on_both_backends!(
    roles_are_granted_changed_and_revoked,
    totp_steps_are_accepted_once,
    login_codes_work_once_and_expire,
    wrong_codes_burn_the_live_codes,
);

fn code(n: u32) -> LoginCode {
    LoginCode {
        id: Uuid::now_v7(),
        code_hash: format!("{n:064x}"),
    }
}

async fn roles_are_granted_changed_and_revoked(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let user = store.register_user(&profile(1), now).await?.user;
    let trader = store.register_user(&profile(2), now).await?.user;
    ensure!(user.staff_role.is_none() && !user.is_admin);
    ensure!(
        store.staff_login(user.telegram_id).await?.is_none(),
        "a trader is not staff"
    );
    ensure!(store.staff_role(user.id).await?.is_none());

    // Nobody with that Telegram id has started the bot.
    ensure!(
        store
            .set_staff_role(42, Some(StaffRole::Admin), chrono::Utc::now())
            .await?
            .is_none()
    );
    ensure!(store.staff_login(42).await?.is_none());
    ensure!(store.staff_role(Uuid::now_v7()).await?.is_none());

    let admin = store
        .set_staff_role(user.telegram_id, Some(StaffRole::Admin), chrono::Utc::now())
        .await?
        .context("granted")?;
    ensure!(admin.id == user.id, "{admin:?}");
    ensure!(
        admin.staff_role == Some(StaffRole::Admin) && admin.is_admin,
        "{admin:?}"
    );
    ensure!(store.user(user.id).await?.as_ref() == Some(&admin));
    ensure!(store.staff_role(user.id).await?.map(|(role, _)| role) == Some(StaffRole::Admin));
    // Staff since the grant; a change of role keeps that, a revocation and a new grant do not.
    let t0 = crate::common::noon();
    let since = |at: chrono::DateTime<chrono::Utc>| {
        let store = store.clone();
        async move {
            store
                .set_staff_role(user.telegram_id, Some(StaffRole::Admin), at)
                .await?;
            anyhow::Ok(store.staff_role(user.id).await?.map(|(_, since)| since))
        }
    };
    let granted = store.staff_role(user.id).await?.map(|(_, s)| s);
    ensure!(
        since(t0).await? == granted,
        "a second grant keeps the first's time"
    );
    store.set_staff_role(user.telegram_id, None, t0).await?;
    ensure!(
        since(t0).await? == Some(t0),
        "granted anew after a revocation"
    );
    let login = store
        .staff_login(user.telegram_id)
        .await?
        .context("an admin is staff")?;
    ensure!(login.user == admin && login.role == StaffRole::Admin);
    ensure!(login.totp_secret.is_none());
    // Only that user.
    let other = store.user(trader.id).await?.context("trader")?;
    ensure!(other.staff_role.is_none() && !other.is_admin);
    ensure!(store.staff_login(trader.telegram_id).await?.is_none());

    // Coming back to the bot with a new name keeps the role.
    let renamed = TelegramProfile {
        username: Some("renamed1".into()),
        ..profile(1)
    };
    let again = store.register_user(&renamed, now).await?.user;
    ensure!(
        again.staff_role == Some(StaffRole::Admin) && again.is_admin,
        "{again:?}"
    );

    let viewer = store
        .set_staff_role(
            user.telegram_id,
            Some(StaffRole::Viewer),
            chrono::Utc::now(),
        )
        .await?
        .context("changed")?;
    ensure!(viewer.staff_role == Some(StaffRole::Viewer), "{viewer:?}");
    ensure!(!viewer.is_admin, "a viewer is not an admin: {viewer:?}");
    ensure!(store.staff_role(user.id).await?.map(|(role, _)| role) == Some(StaffRole::Viewer));
    let login = store
        .staff_login(user.telegram_id)
        .await?
        .context("staff")?;
    ensure!(login.role == StaffRole::Viewer && login.user == viewer);

    let revoked = store
        .set_staff_role(user.telegram_id, None, chrono::Utc::now())
        .await?
        .context("revoked")?;
    ensure!(
        revoked.staff_role.is_none() && !revoked.is_admin,
        "{revoked:?}"
    );
    ensure!(store.staff_role(user.id).await?.is_none());
    ensure!(store.staff_login(user.telegram_id).await?.is_none());
    // Revoking again still finds the user.
    ensure!(
        store
            .set_staff_role(user.telegram_id, None, chrono::Utc::now())
            .await?
            .is_some()
    );
    Ok(())
}

async fn totp_steps_are_accepted_once(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let user = store.register_user(&profile(1), now).await?.user;
    store
        .set_staff_role(user.telegram_id, Some(StaffRole::Admin), chrono::Utc::now())
        .await?;
    store.set_totp_secret(user.id, "JBSWY3DPEHPK3PXP").await?;
    let login = store
        .staff_login(user.telegram_id)
        .await?
        .context("staff")?;
    ensure!(login.totp_secret.as_deref() == Some("JBSWY3DPEHPK3PXP"));

    ensure!(store.claim_totp_step(user.id, 1000).await?, "first claim");
    ensure!(
        !store.claim_totp_step(user.id, 1000).await?,
        "same step again"
    );
    ensure!(!store.claim_totp_step(user.id, 999).await?, "an older step");
    ensure!(store.claim_totp_step(user.id, 1001).await?, "the next step");
    ensure!(
        !store.claim_totp_step(user.id, 1000).await?,
        "older than the last"
    );
    ensure!(!store.claim_totp_step(user.id, 1001).await?);

    // Enrolling again replaces the secret and forgets the steps of the old one.
    store.set_totp_secret(user.id, "KRSXG5CTMVRXEZLU").await?;
    let login = store
        .staff_login(user.telegram_id)
        .await?
        .context("staff")?;
    ensure!(login.totp_secret.as_deref() == Some("KRSXG5CTMVRXEZLU"));
    ensure!(
        store.claim_totp_step(user.id, 500).await?,
        "a fresh enrolment"
    );
    ensure!(!store.claim_totp_step(user.id, 500).await?);

    // Replicas racing for one step: exactly one wins.
    let (a, b, c, d) = tokio::join!(
        store.claim_totp_step(user.id, 600),
        store.claim_totp_step(user.id, 600),
        store.claim_totp_step(user.id, 600),
        store.claim_totp_step(user.id, 600),
    );
    let won = [a?, b?, c?, d?].into_iter().filter(|w| *w).count();
    ensure!(won == 1, "{won} claims of one step won");

    // Revoking forgets the authenticator: granted again, they must enrol anew.
    store
        .set_staff_role(user.telegram_id, None, chrono::Utc::now())
        .await?;
    store
        .set_staff_role(
            user.telegram_id,
            Some(herald_domain::StaffRole::Viewer),
            chrono::Utc::now(),
        )
        .await?;
    let login = store
        .staff_login(user.telegram_id)
        .await?
        .context("staff again")?;
    ensure!(login.totp_secret.is_none(), "the old authenticator is gone");

    // Another user's steps are their own.
    let other = store.register_user(&profile(2), now).await?.user;
    store.set_totp_secret(other.id, "JBSWY3DPEHPK3PXP").await?;
    ensure!(store.claim_totp_step(other.id, 600).await?);

    let nobody = Uuid::now_v7();
    match store.set_totp_secret(nobody, "JBSWY3DPEHPK3PXP").await {
        Err(StoreError::UnknownUser(id)) if id == nobody => {}
        other => anyhow::bail!("enrolling nobody must fail, got {other:?}"),
    }
    ensure!(!store.claim_totp_step(nobody, 1).await?);
    Ok(())
}

async fn login_codes_work_once_and_expire(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let min = Duration::minutes;
    let user = store.register_user(&profile(1), now).await?.user;
    let other = store.register_user(&profile(2), now).await?.user;

    let first = code(1);
    let second = code(2);
    let expired = code(3);
    let at_expiry = code(4);
    let theirs = code(5);
    store
        .add_login_code(user.id, &first, now - min(3), now + min(2))
        .await?;
    store
        .add_login_code(user.id, &second, now - min(1), now + min(4))
        .await?;
    store
        .add_login_code(user.id, &expired, now - min(10), now - min(5))
        .await?;
    store
        .add_login_code(user.id, &at_expiry, now - min(2), now)
        .await?;
    store
        .add_login_code(other.id, &theirs, now - min(1), now + min(4))
        .await?;

    let live = store.live_login_codes(user.id, now).await?;
    ensure!(
        live == vec![second.clone(), first.clone()],
        "live, newest first: {live:?}"
    );
    ensure!(store.live_login_codes(other.id, now).await? == vec![theirs.clone()]);

    ensure!(store.login_codes_since(user.id, now - min(3)).await? == 3);
    ensure!(store.login_codes_since(user.id, now - min(2)).await? == 2);
    ensure!(store.login_codes_since(user.id, now - min(10)).await? == 4);
    ensure!(store.login_codes_since(user.id, now).await? == 0);
    ensure!(store.login_codes_since(other.id, now - min(10)).await? == 1);

    ensure!(
        store.use_login_code(first.id, now).await?,
        "a live code works"
    );
    ensure!(!store.use_login_code(first.id, now).await?, "once");
    ensure!(
        !store
            .use_login_code(first.id, now + Duration::seconds(1))
            .await?,
        "only once"
    );
    ensure!(store.live_login_codes(user.id, now).await? == vec![second.clone()]);
    ensure!(!store.use_login_code(expired.id, now).await?, "expired");
    ensure!(
        !store.use_login_code(at_expiry.id, now).await?,
        "a code is dead at its expiry"
    );
    ensure!(!store.use_login_code(Uuid::now_v7(), now).await?, "unknown");
    // Used codes still count toward the rate of codes sent.
    ensure!(store.login_codes_since(user.id, now - min(10)).await? == 4);

    // Past its expiry a code does not work, however unused.
    ensure!(
        store
            .live_login_codes(user.id, now + min(4))
            .await?
            .is_empty()
    );
    ensure!(!store.use_login_code(second.id, now + min(4)).await?);
    // Two requests racing with one code: one wins.
    let at = now + min(4) - Duration::seconds(1);
    let (a, b, c) = tokio::join!(
        store.use_login_code(second.id, at),
        store.use_login_code(second.id, at),
        store.use_login_code(second.id, at),
    );
    let won = [a?, b?, c?].into_iter().filter(|w| *w).count();
    ensure!(won == 1, "{won} uses of one code won");
    ensure!(store.live_login_codes(user.id, now).await?.is_empty());

    // The other user's code was never touched.
    ensure!(store.live_login_codes(other.id, now).await? == vec![theirs.clone()]);
    ensure!(store.use_login_code(theirs.id, now).await?);
    Ok(())
}

async fn wrong_codes_burn_the_live_codes(store: Store) -> anyhow::Result<()> {
    let now = noon();
    let min = Duration::minutes;
    let user = store.register_user(&profile(1), now).await?.user;
    let other = store.register_user(&profile(2), now).await?.user;
    let older = code(1);
    let newer = code(2);
    let theirs = code(3);
    store
        .add_login_code(user.id, &older, now - min(2), now + min(3))
        .await?;
    store
        .add_login_code(user.id, &newer, now - min(1), now + min(4))
        .await?;
    store
        .add_login_code(other.id, &theirs, now - min(1), now + min(4))
        .await?;

    for _ in 1..MAX_CODE_ATTEMPTS {
        store.note_wrong_code(user.id, now).await?;
    }
    ensure!(
        store.live_login_codes(user.id, now).await? == vec![newer.clone(), older.clone()],
        "still live one wrong try short of the limit"
    );
    store.note_wrong_code(user.id, now).await?;
    ensure!(
        store.live_login_codes(user.id, now).await?.is_empty(),
        "burnt after {MAX_CODE_ATTEMPTS} wrong tries"
    );
    ensure!(!store.use_login_code(newer.id, now).await?, "a burnt code");
    ensure!(!store.use_login_code(older.id, now).await?, "a burnt code");

    // Wrong tries count against that user's codes only.
    ensure!(store.live_login_codes(other.id, now).await? == vec![theirs.clone()]);

    // A code sent afterwards starts afresh.
    let fresh = code(4);
    store
        .add_login_code(user.id, &fresh, now, now + min(5))
        .await?;
    store.note_wrong_code(user.id, now).await?;
    ensure!(store.live_login_codes(user.id, now).await? == vec![fresh.clone()]);
    ensure!(store.use_login_code(fresh.id, now).await?);
    Ok(())
}
