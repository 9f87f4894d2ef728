//! The set of clusters meshfed talks to, and what it does to their objects: server-side apply,
//! read back (one by one, or for refresh from a shared list: `snapshot`), delete (and wait only
//! while finalizers hold the object), and for actions, list and merge-patch objects it does not
//! own. Built from connection settings
//! without any network call; each cluster's client is made on first use and kept. Knows nothing
//! of Istio or Terraform: objects are JSON values, identified by [`ObjectRef`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::config::Connection;
use super::connect::{self, Connected};
use super::error::{FailedRequest, K8sError, Op};
use super::object::ObjectRef;
use super::request::{Call, send};
use super::retry::RetryPolicy;
use super::snapshot::{self, Snapshots};
use super::status::Target;

/// How long [`ClusterSet::delete`] waits for an object to disappear, by default.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(60);

/// The clusters by name, each with its connection settings and (once used) its client.
pub struct ClusterSet {
    field_manager: String,
    clusters: BTreeMap<String, Member>,
    retry: RetryPolicy,
    delete_timeout: Duration,
    snapshots: Snapshots,
}

struct Member {
    connection: Connection,
    /// Where the settings came from, for messages (no credentials).
    origin: String,
    /// The client, once made; made again when its credentials expire.
    connected: Mutex<Option<Connected>>,
}

impl fmt::Debug for ClusterSet {
    /// Cluster names and where their settings come from; never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterSet")
            .field("field_manager", &self.field_manager)
            .field(
                "clusters",
                &self
                    .clusters
                    .iter()
                    .map(|(name, m)| (name, &m.origin))
                    .collect::<BTreeMap<_, _>>(),
            )
            .field("retry", &self.retry)
            .field("delete_timeout", &self.delete_timeout)
            .finish()
    }
}

impl ClusterSet {
    /// A cluster set applying as `field_manager`. Makes no network call and reads no file: a
    /// cluster's settings are first used (and their problems reported) by the first request to
    /// it.
    pub fn new(field_manager: impl Into<String>, clusters: BTreeMap<String, Connection>) -> Self {
        let clusters = clusters
            .into_iter()
            .map(|(name, connection)| {
                let member = Member {
                    origin: connect::origin(&connection),
                    connection,
                    connected: Mutex::new(None),
                };
                (name, member)
            })
            .collect();
        ClusterSet {
            field_manager: field_manager.into(),
            clusters,
            retry: RetryPolicy::default(),
            delete_timeout: DELETE_TIMEOUT,
            snapshots: Snapshots::default(),
        }
    }

    /// Replaces the retry bounds (default: [`RetryPolicy::default`]).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces how long `delete` waits for an object to disappear (default: [`DELETE_TIMEOUT`]).
    pub fn with_delete_timeout(mut self, timeout: Duration) -> Self {
        self.delete_timeout = timeout;
        self
    }

    /// The field manager of every apply.
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// The configured cluster names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.clusters.keys().map(String::as_str)
    }

    /// Whether `cluster` is configured.
    pub fn contains(&self, cluster: &str) -> bool {
        self.clusters.contains_key(cluster)
    }

    /// The connection settings of `cluster`.
    pub fn connection(&self, cluster: &str) -> Option<&Connection> {
        self.clusters.get(cluster).map(|m| &m.connection)
    }

    /// The client of `cluster`, made on first use (reading its kubeconfig or assembling its
    /// credentials, still without a request) and kept until credentials it was made with expire;
    /// a failed attempt is not kept, so the next call tries again.
    pub async fn client(&self, cluster: &str) -> Result<kube::Client, K8sError> {
        Ok(self.connected(cluster).await?.client)
    }

    async fn connected(&self, cluster: &str) -> Result<Connected, K8sError> {
        let member = self.member(cluster)?;
        let mut slot = member.connected.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.expired()) {
            return Ok(c.clone());
        }
        tracing::debug!(cluster, origin = %member.origin, "making the cluster's client");
        let made = connect::client(cluster, &member.connection).await?;
        *slot = Some(made.clone());
        Ok(made)
    }

    /// Server-side applies `object` (which names its own `apiVersion`, `kind`, namespace and
    /// name) to `cluster` as this set's field manager, and returns the live object.
    ///
    /// Guarantees: fields another manager changed are taken back (`force`): meshfed's
    /// configuration is the source of truth. Applying the same object again changes nothing, not
    /// even the `resourceVersion`. Fields meshfed does not set are left alone.
    pub async fn apply(&self, cluster: &str, object: &Value) -> Result<Value, K8sError> {
        let id = ObjectRef::from_object(object).map_err(|problem| K8sError::BadObject {
            cluster: cluster.to_string(),
            op: Op::Apply,
            problem,
        })?;
        let call = Call::Apply {
            object,
            field_manager: &self.field_manager,
        };
        let applied = self.call(cluster, Op::Apply, &id, &call).await;
        self.record(cluster, &id, applied.as_ref().map(Some).map_err(|_| ()));
        applied
    }

    /// Changes the fields `patch` names in an existing object with a JSON merge patch (RFC 7396)
    /// under this set's field manager, and returns the live object: for objects meshfed does not
    /// own, where an action changes a field as `kubectl` would (not server-side apply, which
    /// would make meshfed an owner of it). Guarantees: fields `patch` does not name are left as
    /// they are; a missing object is not created ([`K8sError::NotFound`]).
    pub async fn patch(
        &self,
        cluster: &str,
        object: &ObjectRef,
        patch: &Value,
    ) -> Result<Value, K8sError> {
        let call = Call::MergePatch {
            patch,
            field_manager: &self.field_manager,
        };
        let patched = self.call(cluster, Op::Patch, object, &call).await;
        self.record(cluster, object, patched.as_ref().map(Some).map_err(|_| ()));
        patched
    }

    /// The live object, or `None` when it does not exist.
    ///
    /// Caveat: a kind the server does not serve is an error ([`K8sError::MissingKind`]), not
    /// `None`, so that a missing CRD is reported rather than read as "deleted".
    pub async fn get(&self, cluster: &str, object: &ObjectRef) -> Result<Option<Value>, K8sError> {
        match self.call(cluster, Op::Get, object, &Call::Get).await {
            Ok(live) => Ok(Some(live)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Like [`Self::get`], for refresh: answered from one list of the object's (cluster, kind,
    /// namespace) shared by every read of that group for a few seconds, falling back to a GET
    /// for a name the list lacks or a group that cannot be listed (see [`super::snapshot`]).
    pub async fn read(&self, cluster: &str, object: &ObjectRef) -> Result<Option<Value>, K8sError> {
        if let Some((listing, group)) = self.listing_of(cluster, object) {
            let listed = listing
                .objects
                .get_or_init(|| self.list_group(cluster, object, group))
                .await;
            if let Some(Some(found)) = snapshot::Listing::lookup(listed, &object.name) {
                return Ok(Some(found));
            }
        }
        self.get(cluster, object).await
    }

    /// Like [`Self::get_once`], for looking ahead at plan: answered from the object's group list
    /// (absent from it: `Ok(None)`) when the group can be listed within `within`, else with one
    /// GET. The first look in a group also makes one GET, so that a missing `get` permission
    /// (which apply needs) is reported at plan. Advisory only: apply looks again with a GET
    /// before it writes.
    pub async fn peek(
        &self,
        cluster: &str,
        object: &ObjectRef,
        within: Duration,
    ) -> Option<Result<Option<Value>, K8sError>> {
        if let Some((listing, group)) = self.listing_of(cluster, object) {
            let first = self.snapshots.first_look(&group);
            let list = listing
                .objects
                .get_or_init(|| self.list_group(cluster, object, group));
            let listed = tokio::time::timeout(within, list).await.ok()?;
            if let Some(found) = snapshot::Listing::lookup(listed, &object.name) {
                if first {
                    let got = self.get_once(cluster, object, within).await;
                    if let Some(Err(e)) =
                        got.filter(|r| r.as_ref().is_err_and(K8sError::is_access_denied))
                    {
                        return Some(Err(e));
                    }
                }
                return Some(Ok(found));
            }
        }
        self.get_once(cluster, object, within).await
    }

    /// The current listing of `object`'s group and the group, when it is read from lists.
    fn listing_of(
        &self,
        cluster: &str,
        object: &ObjectRef,
    ) -> Option<(std::sync::Arc<snapshot::Listing>, snapshot::GroupKey)> {
        let group = snapshot::group_of(cluster, object)?;
        Some((self.snapshots.listing(&group)?, group))
    }

    /// Every object of `object`'s group by name; `None` when the list fails (a group RBAC
    /// refuses to list is read with GETs from now on).
    async fn list_group(
        &self,
        cluster: &str,
        object: &ObjectRef,
        group: snapshot::GroupKey,
    ) -> Option<std::sync::Mutex<BTreeMap<String, Value>>> {
        let scope = ObjectRef {
            name: "*".into(),
            ..object.clone()
        };
        match self.list(cluster, &scope, None).await {
            Ok(items) => Some(snapshot::by_name(items)),
            Err(e) => {
                tracing::debug!(cluster, group = %scope, error = %e, "cannot list; reading objects one by one");
                if e.is_access_denied() {
                    self.snapshots.refuse(group);
                }
                None
            }
        }
    }

    /// Keeps the list `object` belongs to up to date after a write or delete: `Ok(now)` is the
    /// object as the API server answered (`None`: gone); an error forgets the list.
    fn record(&self, cluster: &str, object: &ObjectRef, outcome: Result<Option<&Value>, ()>) {
        let Some(group) = snapshot::group_of(cluster, object) else {
            return;
        };
        match outcome {
            Ok(now) => self.snapshots.record(&group, &object.name, now.cloned()),
            Err(()) => self.snapshots.forget(&group),
        }
    }

    /// The objects of `collection`'s kind in its namespace (every namespace when it has none),
    /// optionally only those matching `label_selector`. Each item carries its `apiVersion` and
    /// `kind` (list answers may leave them out). `collection`'s name is not used (`*` reads well
    /// in errors). For `terraform query` and actions: no resource lists at plan or apply.
    pub async fn list(
        &self,
        cluster: &str,
        collection: &ObjectRef,
        label_selector: Option<&str>,
    ) -> Result<Vec<Value>, K8sError> {
        let call = Call::List { label_selector };
        let answer = self.call(cluster, Op::List, collection, &call).await?;
        let items = match answer.get("items") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        Ok(items
            .into_iter()
            .map(|mut item| {
                if let Value::Object(m) = &mut item {
                    m.entry("apiVersion")
                        .or_insert_with(|| Value::String(collection.api_version.clone()));
                    m.entry("kind")
                        .or_insert_with(|| Value::String(collection.kind.clone()));
                }
                item
            })
            .collect())
    }

    /// Like [`Self::get`], but one attempt bounded by `within`, never retried: for looking ahead
    /// (at plan), where an unreachable cluster must cost little. `None` when no answer came in
    /// time.
    pub async fn get_once(
        &self,
        cluster: &str,
        object: &ObjectRef,
        within: Duration,
    ) -> Option<Result<Option<Value>, K8sError>> {
        let once = RetryPolicy {
            max_attempts: 1,
            connection_attempts: 1,
            ..self.retry.clone()
        };
        let attempt = self.call_with(&once, cluster, Op::Get, object, &Call::Get);
        match tokio::time::timeout(within, attempt).await.ok()? {
            Ok(live) => Some(Ok(Some(live))),
            Err(e) if e.is_not_found() => Some(Ok(None)),
            Err(e) => Some(Err(e)),
        }
    }

    /// Deletes the object and, when it has finalizers, waits until it is gone; an object that is
    /// already gone is success.
    ///
    /// Guarantees: when this returns `Ok`, a GET finds no object of that name (or a new one with
    /// another uid, made by someone else after the deletion). Dependents are deleted by the
    /// garbage collector in the background. Caveat: an object whose finalizers nobody removes
    /// makes this fail with [`K8sError::Timeout`] after the delete timeout, naming them.
    pub async fn delete(&self, cluster: &str, object: &ObjectRef) -> Result<(), K8sError> {
        let deleted = self.delete_and_wait(cluster, object).await;
        self.record(
            cluster,
            object,
            deleted.as_ref().map(|_| None).map_err(|_| ()),
        );
        deleted
    }

    async fn delete_and_wait(&self, cluster: &str, object: &ObjectRef) -> Result<(), K8sError> {
        let answer = match self.call(cluster, Op::Delete, object, &Call::Delete).await {
            Ok(answer) => answer,
            // A kind no longer served (its CRD removed) has no objects left.
            Err(e) if e.is_not_found() || e.is_missing_kind() => return Ok(()),
            Err(e) => return Err(e),
        };
        if deleted_at_once(&answer) {
            tracing::debug!(cluster, object = %object, "deleted (no finalizers)");
            return Ok(());
        }
        self.wait_until_gone(cluster, object, uid_of(&answer)).await
    }

    async fn wait_until_gone(
        &self,
        cluster: &str,
        object: &ObjectRef,
        uid: Option<String>,
    ) -> Result<(), K8sError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            let live = match self.call(cluster, Op::Delete, object, &Call::Get).await {
                Ok(live) => live,
                Err(e) if e.is_not_found() => break,
                Err(e) => return Err(e),
            };
            if uid.is_some() && uid_of(&live) != uid {
                break; // someone made a new one; ours is gone
            }
            if started.elapsed() >= self.delete_timeout {
                return Err(K8sError::Timeout {
                    request: Box::new(FailedRequest {
                        cluster: cluster.to_string(),
                        op: Op::Delete,
                        object: object.clone(),
                    }),
                    waited: started.elapsed(),
                    finalizers: finalizers_of(&live),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
        let waited_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(cluster, object = %object, waited_ms, "deleted and gone");
        Ok(())
    }

    async fn call(
        &self,
        cluster: &str,
        op: Op,
        object: &ObjectRef,
        call: &Call<'_>,
    ) -> Result<Value, K8sError> {
        self.call_with(&self.retry, cluster, op, object, call).await
    }

    async fn call_with(
        &self,
        retry: &RetryPolicy,
        cluster: &str,
        op: Op,
        object: &ObjectRef,
        call: &Call<'_>,
    ) -> Result<Value, K8sError> {
        let connected = self.connected(cluster).await?;
        let target = Target {
            cluster,
            op,
            object,
            origin: &self.member(cluster)?.origin,
            url: &connected.url,
        };
        send(&connected.client, retry, target, call).await
    }

    fn member(&self, cluster: &str) -> Result<&Member, K8sError> {
        self.clusters
            .get(cluster)
            .ok_or_else(|| K8sError::UnknownCluster {
                cluster: cluster.to_string(),
                known: self.names().collect::<Vec<_>>().join(", "),
            })
    }
}

/// The uid of a deleted object: `metadata.uid` of the object, or `details.uid` of a `Status`.
/// Whether a DELETE's answer says the object is already gone: a `Success` Status, or the object
/// as it was, with no finalizers (a background deletion then removes it from storage before
/// answering; only finalizers make it linger, with `deletionTimestamp` set).
fn deleted_at_once(answer: &Value) -> bool {
    if answer["kind"] == "Status" {
        return answer["status"] == "Success";
    }
    answer.get("metadata").is_some() && finalizers_of(answer).is_empty()
}

fn uid_of(answer: &Value) -> Option<String> {
    answer
        .pointer("/metadata/uid")
        .or_else(|| answer.pointer("/details/uid"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn finalizers_of(live: &Value) -> Vec<String> {
    live.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::config::{Auth, DirectConnection};
    use serde_json::json;

    fn set() -> ClusterSet {
        let direct = Connection::Direct(DirectConnection {
            host: "https://127.0.0.1:1".into(),
            auth: Auth::Token("SECRET-TOKEN".into()),
            ..DirectConnection::default()
        });
        ClusterSet::new(
            "meshfed",
            BTreeMap::from([("cluster-b.local".into(), direct)]),
        )
    }

    #[test]
    fn only_an_answer_without_finalizers_or_a_success_status_counts_as_gone_at_once() {
        let plain = json!({"kind": "ServiceEntry", "metadata": {"name": "x", "uid": "u"}});
        assert!(deleted_at_once(&plain));
        let held = json!({"kind": "ServiceEntry", "metadata": {"name": "x",
            "deletionTimestamp": "2026-12-06T00:00:00Z", "finalizers": ["example.com/hold"]}});
        assert!(!deleted_at_once(&held));
        assert!(deleted_at_once(
            &json!({"kind": "Status", "status": "Success"})
        ));
        assert!(!deleted_at_once(
            &json!({"kind": "Status", "status": "Failure"})
        ));
        assert!(!deleted_at_once(&json!({})));
    }

    #[test]
    fn debug_output_lists_clusters_but_no_credentials() {
        let s = format!("{:?}", set());
        assert!(s.contains("cluster-b.local"), "{s}");
        assert!(s.contains("host https://127.0.0.1:1"), "{s}");
        assert!(!s.contains("SECRET-TOKEN"), "{s}");
    }

    #[tokio::test]
    async fn an_unknown_cluster_is_named_with_the_configured_ones() {
        let e = set()
            .client("cluster-z.local")
            .await
            .map(|_| ())
            .expect_err("unknown");
        assert_eq!(
            e.to_string(),
            "unknown cluster \"cluster-z.local\" (configured clusters: cluster-b.local)"
        );
    }

    #[tokio::test]
    async fn an_object_without_a_name_is_refused_before_any_request() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
        let e = set()
            .apply("cluster-b.local", &obj)
            .await
            .expect_err("no name");
        assert_eq!(
            e.to_string(),
            "cluster-b.local: apply: the object has no string field metadata.name"
        );
    }

    #[tokio::test]
    async fn an_unreadable_kubeconfig_is_reported_on_first_use_naming_cluster_and_file() {
        let connection = Connection::Kubeconfig {
            path: Some("/nonexistent/kubeconfig".into()),
            context: Some("a".into()),
        };
        let set = ClusterSet::new(
            "meshfed",
            BTreeMap::from([("cluster-a.local".into(), connection)]),
        );
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "x", "namespace": "abc"}
        });
        let e = set
            .apply("cluster-a.local", &cm)
            .await
            .expect_err("no such file");
        assert!(matches!(e, K8sError::Config { .. }), "{e:?}");
        let s = e.to_string();
        assert!(
            s.starts_with(
                "cluster-a.local: cannot use the connection settings (kubeconfig \
                 /nonexistent/kubeconfig, context a): "
            ),
            "{s}"
        );
    }

    #[test]
    fn the_engine_can_be_shared_across_tasks() {
        fn send_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let set = set();
        send_sync(&set);
        let obj = json!({});
        let id = ObjectRef::cluster_scoped("v1", "Namespace", "x");
        send(&set.apply("cluster-b.local", &obj));
        send(&set.get("cluster-b.local", &id));
        send(&set.delete("cluster-b.local", &id));
    }

    #[test]
    fn the_uid_of_a_deletion_comes_from_the_object_or_the_status() {
        assert_eq!(
            uid_of(&json!({"metadata": {"uid": "u1"}})).as_deref(),
            Some("u1")
        );
        assert_eq!(
            uid_of(&json!({"kind": "Status", "details": {"uid": "u2"}})).as_deref(),
            Some("u2")
        );
        assert_eq!(uid_of(&json!({"kind": "Status"})), None);
        assert_eq!(
            finalizers_of(&json!({"metadata": {"finalizers": ["a/b"]}})),
            ["a/b"]
        );
    }
}
