//! Test harness: every test body runs against SQLite (a file in a temp dir) and against
//! PostgreSQL at `BOURSE_TEST_PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`) in
//! a fresh schema that is dropped afterwards. PostgreSQL being unreachable fails the test.

#![allow(dead_code)]

pub mod fixtures;

use bourse_store::Store;
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub fn pg_base_url() -> String {
    std::env::var("BOURSE_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("read.db").display());
                let store = Store::connect(&url).await.expect("sqlite store");
                TestDb {
                    store,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Kind::Postgres => {
                static N: AtomicU32 = AtomicU32::new(0);
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .subsec_nanos();
                let schema = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed),
                    nanos
                );
                let base = pg_base_url();
                let admin = sqlx::PgPool::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("PostgreSQL at {base} is unreachable: {e}"));
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                let store = Store::connect(&url).await.expect("postgres store");
                TestDb {
                    store,
                    _dir: None,
                    schema: Some(schema),
                }
            }
        }
    }

    pub async fn drop(self) {
        self.store.close().await;
        if let Some(schema) = self.schema {
            let admin = sqlx::PgPool::connect(&pg_base_url()).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// Runs `body` on a fresh store of `kind`, cleaning up even if it panics.
pub async fn run<F, Fut>(kind: Kind, body: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::new(kind).await;
    let result = AssertUnwindSafe(body(db.store.clone()))
        .catch_unwind()
        .await;
    db.drop().await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// `both!(name, …)`: for each `async fn name(store: Store)`, tests `name::sqlite` and
/// `name::postgres`.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    $crate::common::run($crate::common::Kind::Sqlite, super::$name).await
                }
                #[tokio::test]
                async fn postgres() {
                    $crate::common::run($crate::common::Kind::Postgres, super::$name).await
                }
            }
        )*
    };
}
