//! Cursor pagination of the list queries.

use crate::both;
use crate::common::fixtures::*;
use bourse_model::*;
use bourse_store::*;

both!(cursor_pagination_has_no_gaps_or_duplicates);

async fn cursor_pagination_has_no_gaps_or_duplicates(s: Store) {
    let j = market_stream(99, 600);
    s.project(&j.cmds).await.unwrap();
    for u in 1..=6 {
        let user = UserId(u);
        let all = all_orders(&s, user, None, None, 1000).await;
        assert!(all.len() > 20, "user {u} has {} orders", all.len());
        assert!(
            all.windows(2).all(|w| w[0].id > w[1].id),
            "newest first, strictly"
        );
        assert!(all.iter().all(|o| o.user == user));
        for page in [1, 3, 10, 1000] {
            assert_eq!(
                all_orders(&s, user, None, None, page).await,
                all,
                "page {page}"
            );
        }
        for (status, market) in [
            (Some(StatusFilter::Open), None),
            (Some(StatusFilter::Closed), Some(ETH_USD)),
            (None, Some(BTC_USD)),
        ] {
            let want: Vec<OrderRow> = all
                .iter()
                .filter(|o| match status {
                    Some(StatusFilter::Open) => !o.status.is_terminal(),
                    Some(StatusFilter::Closed) => o.status.is_terminal(),
                    None => true,
                })
                .filter(|o| market.is_none_or(|m| o.market == m))
                .cloned()
                .collect();
            assert_eq!(all_orders(&s, user, status, market, 4).await, want);
        }
        let fills = all_fills(&s, user, None, 1000).await;
        assert!(fills.windows(2).all(|w| w[0].id > w[1].id));
        for page in [1, 7] {
            assert_eq!(all_fills(&s, user, None, page).await, fills);
        }
        let eth: Vec<FillRow> = fills
            .iter()
            .filter(|f| f.market == ETH_USD)
            .cloned()
            .collect();
        assert_eq!(all_fills(&s, user, Some(ETH_USD), 2).await, eth);
        // Balance history pages by (seq, idx).
        let hist = s.balance_history(user, None, None, 1000).await.unwrap();
        let mut paged: Vec<BalanceHistoryRow> = Vec::new();
        loop {
            let page = s
                .balance_history(user, None, paged.last().map(|h| h.pos), 3)
                .await
                .unwrap();
            let done = page.len() < 3;
            paged.extend(page);
            if done {
                break;
            }
        }
        assert_eq!(paged, hist);
    }
    // Limit is clamped to 1..=1000.
    let q = OrderQuery {
        user: UserId(1),
        status: None,
        market: None,
        before: None,
        limit: 0,
    };
    assert_eq!(s.orders(&q).await.unwrap().len(), 1);
    // Trades page too.
    let trades = s.trades(BTC_USD, None, 1000).await.unwrap();
    let mut paged: Vec<TradeRow> = Vec::new();
    loop {
        let page = s
            .trades(BTC_USD, paged.last().map(|t| t.id), 9)
            .await
            .unwrap();
        let done = page.len() < 9;
        paged.extend(page);
        if done {
            break;
        }
    }
    assert_eq!(paged, trades);
}
