//! When the middleware itself cannot work, producers get mw/internal_error, not a crash.

use integration_tests::stack::{StackOptions, TestStack};

use crate::{LAB_OK, pdf, read, validate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_registry_gives_internal_error_and_the_server_survives() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (client, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute("ALTER TABLE producers RENAME TO producers_away")
        .await
        .unwrap();
    let (s, tx, b) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (500, Some("mw/internal_error")),
        "{b}"
    );
    assert_eq!(b["title"], "Errore Interno");
    assert!(!tx.is_empty());
    assert!(
        !b["detail"].as_str().unwrap().contains("producers"),
        "no internals in the answer"
    );
    client
        .batch_execute("ALTER TABLE producers_away RENAME TO producers")
        .await
        .unwrap();
    assert_eq!(read(validate(&stack, &pdf(LAB_OK)).await).await.0, 201);
}
