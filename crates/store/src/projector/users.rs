//! Users and their API keys, written as their events come.

use super::{expect_one, i, s};
use crate::db::{Arg, Tx};
use crate::error::Result;
use crate::rows::name;
use bourse_model::{Event, Role, Tier};

/// `UserRegistered`, `PasswordChanged`, `UserRoleChanged`, `UserFlagsChanged`,
/// `UserComplianceChanged`, `ApiKeyCreated`, `ApiKeyDeleted`.
pub(super) async fn project(tx: &mut Tx, t: Arg<'static>, event: &Event) -> Result<()> {
    match event {
        Event::UserRegistered {
            user,
            username,
            password_hash,
            role,
        } => {
            tx.exec(
                "INSERT INTO users (id, username, password_hash, role, tier, kyc_verified, \
                 kill_switch, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
                &[
                    i(user.0)?,
                    s(username.as_str()),
                    s(password_hash.as_str()),
                    s(name(role)),
                    s(name(&Tier::default())),
                    Arg::Bool(false),
                    Arg::Bool(false),
                    t,
                ],
            )
            .await?;
        }
        Event::PasswordChanged {
            user,
            password_hash,
        } => {
            let n = tx
                .exec(
                    "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1",
                    &[i(user.0)?, s(password_hash.as_str()), t],
                )
                .await?;
            expect_one(n, "user", user.0)?;
        }
        Event::UserRoleChanged { user, role } => {
            let n = tx
                .exec(
                    "UPDATE users SET role = $2, updated_at = $3 WHERE id = $1",
                    &[i(user.0)?, s(name::<Role>(role)), t],
                )
                .await?;
            expect_one(n, "user", user.0)?;
        }
        Event::UserFlagsChanged {
            user,
            kyc_verified,
            kill_switch,
            tier,
        } => {
            let n = tx
                .exec(
                    "UPDATE users SET kyc_verified = $2, kill_switch = $3, tier = $4, \
                     updated_at = $5 WHERE id = $1",
                    &[
                        i(user.0)?,
                        Arg::Bool(*kyc_verified),
                        Arg::Bool(*kill_switch),
                        s(name(tier)),
                        t,
                    ],
                )
                .await?;
            expect_one(n, "user", user.0)?;
        }
        Event::UserComplianceChanged {
            user,
            kyc_level,
            beneficial_owner,
        } => {
            let owner = Arg::OptStr(beneficial_owner.clone().map(Into::into));
            let n = tx
                .exec(
                    "UPDATE users SET kyc_level = $2, beneficial_owner = $3, updated_at = $4 \
                     WHERE id = $1",
                    &[i(user.0)?, Arg::I64(i64::from(*kyc_level)), owner, t],
                )
                .await?;
            expect_one(n, "user", user.0)?;
        }
        Event::ApiKeyCreated {
            user,
            key_id,
            secret_enc,
            label,
        } => {
            tx.exec(
                "INSERT INTO api_keys (key_id, user_id, label, secret_enc, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    s(key_id.as_str()),
                    i(user.0)?,
                    s(label.as_str()),
                    s(secret_enc.as_str()),
                    t,
                ],
            )
            .await?;
        }
        Event::ApiKeyDeleted { user, key_id } => {
            tx.exec(
                "DELETE FROM api_keys WHERE key_id = $1 AND user_id = $2",
                &[s(key_id.as_str()), i(user.0)?],
            )
            .await?;
        }
        _ => unreachable!("Pending::apply routes only user and API key events here"),
    }
    Ok(())
}
