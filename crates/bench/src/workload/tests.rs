use super::*;

#[test]
fn same_seed_same_stream() {
    for name in NAMES {
        let spec = standard(name, true).unwrap();
        let a = generate(&spec);
        let b = generate(&spec);
        assert_eq!(a.setup, b.setup, "{name}");
        assert_eq!(a.steps, b.steps, "{name}");
        assert_eq!(a.expected_hash, b.expected_hash, "{name}");
    }
}

#[test]
fn another_seed_another_stream() {
    let spec = standard("W1", true).unwrap();
    let other = Spec {
        seed: spec.seed + 1,
        ..spec.clone()
    };
    assert_ne!(generate(&spec).steps, generate(&other).steps);
}

#[test]
fn mix_is_close_to_exchange_core() {
    let spec = Spec {
        ops: 100_000,
        ..standard("W1", true).unwrap()
    };
    let w = generate(&spec);
    let c = w.counts;
    // Shares of the mix, i.e. of the commands that are not refills.
    let share = |n: usize| n as f64 / (spec.ops - c.place) as f64;
    assert!((0.85..0.95).contains(&share(c.moves)), "{c:?}");
    assert!((0.04..0.06).contains(&share(c.ioc)), "{c:?}");
    assert!((0.015..0.03).contains(&share(c.reduce)), "{c:?}");
    assert!((0.02..0.03).contains(&share(c.cancel)), "{c:?}");
    assert!(share(c.place) < 0.2 && c.fills > 0, "{c:?}");
}

#[test]
fn books_stay_near_target_and_uncrossed() {
    for name in NAMES {
        let spec = standard(name, true).unwrap();
        let mut g = Generator::new(&spec);
        g.initial_books();
        for _ in 0..spec.ops {
            g.next_step();
        }
        for (m, book) in g.books.iter().enumerate() {
            if let (Some(b), Some(a)) = (book.best(Side::Buy), book.best(Side::Sell)) {
                assert!(b < a, "{name} market {m} crossed: {b} >= {a}");
            }
            let live = g.live[m].len();
            assert!(live * 10 >= g.target_per_market * 8, "{name}: {live} live");
        }
    }
}

#[test]
fn sides_never_share_a_user() {
    let w = generate(&standard("W3", true).unwrap());
    for s in w.setup.iter().chain(&w.steps) {
        let (user, side) = match s.op {
            Op::Place(Order { user, side, .. })
            | Op::Ioc(Order { user, side, .. })
            | Op::Move { user, side, .. }
            | Op::Reduce { user, side, .. }
            | Op::Cancel { user, side, .. } => (user, side),
        };
        assert_eq!(user % 2 == 0, side == Side::Buy);
        assert!(user < w.spec.users);
    }
}

#[test]
fn sweeps_walk_many_levels() {
    let w = generate(&standard("W4", true).unwrap());
    let big = w
        .steps
        .iter()
        .filter(|s| matches!(s.op, Op::Ioc(o) if o.qty > 5 * MAX_QTY));
    assert!(big.count() > 50);
}

#[test]
fn hash_ignores_order_and_empty_levels() {
    let l = |price, qty| Level {
        market: 0,
        side: Side::Buy,
        price,
        qty,
    };
    let mut a = vec![l(1, 5), l(2, 7)];
    let mut b = vec![l(2, 7), l(3, 0), l(1, 5)];
    assert_eq!(book_hash(&mut a), book_hash(&mut b));
    let mut c = vec![l(1, 5), l(2, 8)];
    assert_ne!(book_hash(&mut a), book_hash(&mut c));
}
