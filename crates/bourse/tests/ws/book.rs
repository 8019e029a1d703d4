//! The book as a client sees it: from a snapshot or REST, followed through gap-free updates.

use crate::common::Client;
use crate::{expect, send, until, Ws};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A book as price → qty per side, from a snapshot's or REST's `[[price, qty]…]` lists.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Book {
    bids: BTreeMap<String, String>,
    asks: BTreeMap<String, String>,
}

impl Book {
    pub(crate) fn from_lists(v: &Value) -> Book {
        let side = |k: &str| {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        l[0].as_str().unwrap().to_owned(),
                        l[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        Book {
            bids: side("bids"),
            asks: side("asks"),
        }
    }

    fn apply(&mut self, data: &Value) {
        for (k, side) in [("bids", &mut self.bids), ("asks", &mut self.asks)] {
            for l in data[k].as_array().unwrap() {
                let (p, q) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
                if q.trim_start_matches(['0', '.']).is_empty() {
                    assert!(side.remove(p).is_some(), "removing absent level {p}");
                } else {
                    side.insert(p.to_owned(), q.to_owned());
                }
            }
        }
    }
}

pub(crate) async fn rest_book(c: &Client) -> (u64, Book) {
    let (s, v) = c.get("/api/v1/markets/BTC-USD/book?depth=1000", None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    (v["sequence"].as_u64().unwrap(), Book::from_lists(&v))
}

/// Follows a book channel: returns the book once it reaches `target`, checking that
/// every update's sequence is the previous one plus one.
pub(crate) async fn follow_to(ws: &mut Ws, book: &mut Book, seq: &mut u64, target: u64) {
    while *seq < target {
        let v = expect(ws).await;
        if v["channel"] != "book.BTC-USD" {
            continue;
        }
        match v["type"].as_str().unwrap() {
            "update" => {
                let s = v["sequence"].as_u64().unwrap();
                assert_eq!(s, *seq + 1, "gap or repeat in book updates: {v}");
                book.apply(&v["data"]);
                *seq = s;
            }
            "snapshot" => {
                *book = Book::from_lists(&v["data"]);
                *seq = v["sequence"].as_u64().unwrap();
            }
            t => panic!("unexpected type {t}"),
        }
    }
}

pub(crate) async fn subscribe_book(ws: &mut Ws) -> (u64, Book) {
    send(ws, json!({"op": "subscribe", "channels": ["book.BTC-USD"]})).await;
    let (snap, _) = until(ws, |v| v["type"] == "snapshot").await;
    assert_eq!(snap["channel"], "book.BTC-USD");
    (
        snap["sequence"].as_u64().unwrap(),
        Book::from_lists(&snap["data"]),
    )
}
