//! Structured logs on stderr in the JSON line format go-plugin understands (hclog's `@level`,
//! `@message`, `@module`, `@timestamp` plus the event's fields), so Terraform shows them, with
//! their levels and fields, under `TF_LOG` / `TF_LOG_PROVIDER`.
//!
//! Never log secret material: callers log names, kinds and fingerprints, not values.
//! Must not import the rest of the protocol layer.

use std::io::Write;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::prelude::*;

/// The most verbose level wanted, from the variables Terraform passes to providers:
/// `TF_LOG_PROVIDER_MESHFED`, then `TF_LOG_PROVIDER`, then `TF_LOG`. `None` means off.
pub fn level_from_env(get: impl Fn(&str) -> Option<String>) -> Option<Level> {
    let raw = ["TF_LOG_PROVIDER_MESHFED", "TF_LOG_PROVIDER", "TF_LOG"]
        .iter()
        .find_map(|k| get(k).filter(|v| !v.trim().is_empty()));
    match raw
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase())
        .as_deref()
    {
        None => Some(Level::WARN),
        Some("OFF") => None,
        Some("TRACE") | Some("JSON") => Some(Level::TRACE),
        Some("DEBUG") => Some(Level::DEBUG),
        Some("INFO") => Some(Level::INFO),
        Some("WARN") => Some(Level::WARN),
        Some("ERROR") => Some(Level::ERROR),
        // Terraform treats any other non-empty value as TRACE.
        Some(_) => Some(Level::TRACE),
    }
}

/// Installs the stderr logger as the global subscriber. Safe to call more than once.
pub fn init() {
    let Some(max) = level_from_env(|k| std::env::var(k).ok()) else {
        return;
    };
    let layer = HclogJson {
        out: Mutex::new(Box::new(std::io::stderr())),
    }
    .with_filter(tracing_subscriber::filter::LevelFilter::from_level(max));
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// A tracing layer writing one hclog JSON object per event.
pub struct HclogJson {
    pub out: Mutex<Box<dyn Write + Send>>,
}

struct Fields {
    message: String,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let s = format!("{value:?}");
        if field.name() == "message" {
            self.message = s;
        } else {
            self.extra
                .insert(field.name().to_string(), serde_json::Value::String(s));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.extra.insert(field.name().to_string(), value.into());
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().to_string(), value.into());
    }
}

impl<S: Subscriber> Layer<S> for HclogJson {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields {
            message: String::new(),
            extra: serde_json::Map::new(),
        };
        event.record(&mut f);
        let level = match *event.metadata().level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        let mut obj = serde_json::Map::new();
        obj.insert("@level".into(), level.into());
        obj.insert("@message".into(), f.message.into());
        obj.insert(
            "@module".into(),
            format!(
                "meshfed.{}",
                event.metadata().target().trim_start_matches("meshfed::")
            )
            .into(),
        );
        obj.insert("@timestamp".into(), timestamp().into());
        obj.extend(f.extra);
        if let Ok(mut line) = serde_json::to_vec(&serde_json::Value::Object(obj)) {
            line.push(b'\n');
            if let Ok(mut out) = self.out.lock() {
                let _ = out.write_all(&line);
            }
        }
    }
}

fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn events_become_hclog_json_lines() {
        let buf = Buf::default();
        let sub = tracing_subscriber::registry().with(HclogJson {
            out: Mutex::new(Box::new(buf.clone())),
        });
        tracing::subscriber::with_default(sub, || {
            tracing::info!(cluster = "cluster-a.local", count = 2, "applied objects");
        });
        let out = String::from_utf8(buf.0.lock().expect("lock").clone()).expect("utf8");
        let v: serde_json::Value = serde_json::from_str(out.trim()).expect("one JSON line");
        assert_eq!(v["@level"], "info");
        assert_eq!(v["@message"], "applied objects");
        assert_eq!(v["cluster"], "cluster-a.local");
        assert_eq!(v["count"], 2);
    }

    #[test]
    fn the_level_follows_terraforms_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(level_from_env(env(&[])), Some(Level::WARN));
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "trace")])),
            Some(Level::TRACE)
        );
        assert_eq!(
            level_from_env(env(&[("TF_LOG", "trace"), ("TF_LOG_PROVIDER", "error")])),
            Some(Level::ERROR)
        );
        assert_eq!(
            level_from_env(env(&[
                ("TF_LOG_PROVIDER_MESHFED", "off"),
                ("TF_LOG", "debug")
            ])),
            None
        );
    }
}
