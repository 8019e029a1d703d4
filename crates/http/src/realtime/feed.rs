//! The fan-out as a [`LiveFeed`] for other channels (the Binance-compatible streams): a
//! session is a connection queue like a `/ws` connection's, subscribed through the same
//! control channel, so it gets the same frames in the same order. Notifications are
//! not offered (they have their own service).

use super::fanout::Control;
use super::Realtime;
use crate::push::{Closer, Out, Sink};
use crate::ws_protocol::{Channel, ChannelName};
use bourse_gateway::live::{BoxFuture, LiveFeed, LiveMsg, LiveSession};
use bourse_model::UserId;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// [`Realtime`] as a [`LiveFeed`].
pub struct Feed(pub Arc<Realtime>);

impl Realtime {
    pub fn live_feed(self: &Arc<Self>) -> Arc<dyn LiveFeed> {
        Arc::new(Feed(self.clone()))
    }
}

impl LiveFeed for Feed {
    fn open(&self, ip: IpAddr) -> Option<Box<dyn LiveSession>> {
        if !self.0.acquire_ip(ip) {
            return None;
        }
        let (sink, rx, closer) = self.0.new_sink();
        self.0.stats.connections.fetch_add(1, Ordering::Relaxed);
        Some(Box::new(Session {
            rt: self.0.clone(),
            ip,
            sink,
            rx,
            closer,
            subs: HashMap::new(),
            user: None,
        }))
    }
}

struct Session {
    rt: Arc<Realtime>,
    ip: IpAddr,
    sink: Sink,
    rx: mpsc::Receiver<Out>,
    closer: Arc<Closer>,
    subs: HashMap<String, Channel>,
    /// The user whose private channels this session has: counted in the per-user cap,
    /// and told to re-check when a credential of that user may have been revoked.
    user: Option<UserId>,
}

impl Session {
    /// What a queued item means to a feed subscriber (notifications are not offered).
    fn map(&self, out: Out) -> Option<LiveMsg> {
        match out {
            Out::Frame(f) => Some(LiveMsg::Frame(f.as_str().to_owned())),
            // Only while still subscribed to exactly that channel (see `crate::push`).
            Out::Private(ch, f) => self
                .subs
                .values()
                .any(|c| *c == ch)
                .then(|| LiveMsg::Frame(f.as_str().to_owned())),
            Out::Recheck => Some(LiveMsg::Recheck),
            Out::Notification { .. } => None,
        }
    }
}

impl LiveSession for Session {
    fn subscribe<'a>(
        &'a mut self,
        channel: &'a str,
        user: Option<UserId>,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let name = ChannelName::parse(channel)
                .filter(|n| *n != ChannelName::Notifications)
                .ok_or_else(|| format!("unknown channel {channel:?}"))?;
            if let (Some(u), true) = (user, name.is_private()) {
                if self.user != Some(u) {
                    if !self.rt.acquire_user(u, &self.sink) {
                        return Err("too many connections for this user".into());
                    }
                    if let Some(old) = self.user.replace(u) {
                        self.rt.release_user(old, self.sink.id);
                    }
                }
            }
            let (reply, rx) = oneshot::channel();
            let gone = || "the server is shutting down".to_owned();
            self.rt
                .control
                .send(Control::Subscribe {
                    sink: self.sink.clone(),
                    name,
                    user,
                    reply,
                })
                .await
                .map_err(|_| gone())?;
            let ch = rx.await.map_err(|_| gone())?.map_err(|(_, msg)| msg)?;
            self.subs.insert(channel.to_owned(), ch);
            Ok(())
        })
    }

    fn unsubscribe(&mut self, channel: &str) {
        if let Some(ch) = self.subs.remove(channel) {
            // Without waiting, like `/ws`'s de-authentication: the next publish forgets
            // a closed sink anyway.
            let _ = self.rt.control.try_send(Control::Unsubscribe {
                conn: self.sink.id,
                channels: vec![ch],
            });
        }
    }

    fn recv(&mut self) -> BoxFuture<'_, Option<LiveMsg>> {
        Box::pin(async move {
            loop {
                if self.sink.closing() {
                    return None;
                }
                let out = tokio::select! {
                    out = self.rx.recv() => out?,
                    _ = self.closer.notify.notified() => return None,
                };
                if let Some(msg) = self.map(out) {
                    return Some(msg);
                }
            }
        })
    }

    fn try_recv(&mut self) -> Option<LiveMsg> {
        while !self.sink.closing() {
            let out = self.rx.try_recv().ok()?;
            if let Some(msg) = self.map(out) {
                return Some(msg);
            }
        }
        None
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let channels: Vec<Channel> = self.subs.drain().map(|(_, ch)| ch).collect();
        if !channels.is_empty() {
            let _ = self.rt.control.try_send(Control::Unsubscribe {
                conn: self.sink.id,
                channels,
            });
        }
        if let Some(u) = self.user {
            self.rt.release_user(u, self.sink.id);
        }
        self.rt.release_ip(self.ip);
        self.rt.stats.connections.fetch_sub(1, Ordering::Relaxed);
    }
}
