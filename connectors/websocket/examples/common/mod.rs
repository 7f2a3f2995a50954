//! The `Album` model shared by the load examples and the integration tests, serving a node
//! on a free port, and the latency figures they print.
// Each example and test binary uses a different part of it.
#![allow(dead_code)]

use std::time::Duration;

use ankurah::Model;
use ankurah_core::Node;
use ankurah_websocket::WebsocketServer;

/// An album: a collaborative-text title and last-writer-wins fields.
#[derive(Model, Debug, Clone)]
pub struct Album {
    pub name: String,
    #[active_type(LWW)]
    pub artist: String,
    pub year: i32,
}

pub fn album(name: &str, artist: &str, year: i32) -> Album {
    Album {
        name: name.into(),
        artist: artist.into(),
        year,
    }
}

/// Creates the system of the durable `node` and serves it on a free loopback port in the
/// background; returns the URL clients connect to.
pub async fn serve(node: &Node) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    node.system.create().await?;
    let bound = WebsocketServer::new(node.clone())
        .bind("127.0.0.1:0")
        .await?;
    let url = format!("ws://{}", bound.local_addr());
    tokio::spawn(bound.run());
    Ok(url)
}

/// Latency samples, summarised as percentiles.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<Duration>);

impl Latencies {
    pub fn push(&mut self, sample: Duration) {
        self.0.push(sample);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The sample below which a fraction `q` of them lie (`0.5`: the median); zero if none.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort();
        match sorted.len() {
            0 => Duration::ZERO,
            n => sorted[((n - 1) as f64 * q.clamp(0.0, 1.0)) as usize],
        }
    }

    /// `p50 … p99 … max … (n = …)`.
    pub fn summary(&self) -> String {
        format!(
            "p50 {}  p99 {}  max {}  (n = {})",
            show(self.quantile(0.5)),
            show(self.quantile(0.99)),
            show(self.quantile(1.0)),
            self.len()
        )
    }
}

impl FromIterator<Duration> for Latencies {
    fn from_iter<I: IntoIterator<Item = Duration>>(samples: I) -> Self {
        Latencies(samples.into_iter().collect())
    }
}

/// A duration in the unit that reads best: µs, ms or s.
pub fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        _ if s < 1e-3 => format!("{:.0} µs", s * 1e6),
        _ if s < 1.0 => format!("{:.1} ms", s * 1e3),
        _ => format!("{s:.2} s"),
    }
}
