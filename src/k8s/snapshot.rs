//! Reads for refresh, and plan's look ahead, without a round trip per object: the first read of
//! an object of a (cluster, kind, namespace) lists that collection once, and every read of the
//! group within [`STALENESS`] is answered from that list; concurrent reads of one group wait for
//! the same list. Terraform refreshes (and plans) every resource at once at the start of a run,
//! so a group of hundreds of objects costs one request.
//!
//! What keeps it correct:
//! - for refresh, a name the list does not hold is read with a GET (an object created after the
//!   list), so an object is never taken for deleted on the list's word; plan's look ahead, which
//!   is advisory (apply looks again with a GET before it writes), takes the list's word;
//! - a write or delete through the [`super::ClusterSet`] updates its group's list with what the
//!   API server answered (a failed one forgets the list), so a read after it sees it without
//!   listing again;
//! - a list older than [`STALENESS`] is made again: a change made by another writer shows in
//!   any refresh that starts later than that after it;
//! - a group whose list fails (RBAC without `list`, a kind the server does not serve) is read
//!   with GETs, as before, and a 403 is remembered for the process.
//!
//! Only Istio's API groups are listed (see [`LISTED_GROUPS`]). Knows nothing else of Istio, and
//! nothing of Terraform.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::OnceCell;

use super::object::ObjectRef;

/// How long a list answers reads for. Long enough to cover one refresh of thousands of
/// resources (they start within a second or two of each other), short enough that a later
/// refresh never reads an old list.
pub const STALENESS: Duration = Duration::from_secs(5);

/// (cluster, apiVersion, kind, namespace).
pub(super) type GroupKey = (String, String, String, String);

/// API groups whose objects are read from lists: Istio's configuration. Core objects (a
/// trust's Secrets and ConfigMaps, a few per cluster) are always read one by one: `list` on
/// Secrets cannot be limited by label or name, so meshfed's RBAC grants no `list` in the core
/// group, and a refused list would only cost a round trip.
const LISTED_GROUPS: [&str; 2] = ["networking.istio.io/", "security.istio.io/"];

/// The group of `object` in `cluster`, when its reads may come from a list.
pub(super) fn group_of(cluster: &str, object: &ObjectRef) -> Option<GroupKey> {
    let namespace = object.namespace.as_ref()?;
    if !LISTED_GROUPS
        .iter()
        .any(|g| object.api_version.starts_with(g))
    {
        return None;
    }
    Some((
        cluster.to_string(),
        object.api_version.clone(),
        object.kind.clone(),
        namespace.clone(),
    ))
}

/// One list of a group: its objects by name, or `None` when it could not be made; kept up to
/// date with the writes and deletes made through the same engine.
pub(super) struct Listing {
    made: Instant,
    pub(super) objects: OnceCell<Option<Mutex<BTreeMap<String, Value>>>>,
}

impl Listing {
    /// The listed object `name` (`Some(None)`: listed as absent); `None` when there is no list.
    pub(super) fn lookup(
        listed: &Option<Mutex<BTreeMap<String, Value>>>,
        name: &str,
    ) -> Option<Option<Value>> {
        let map = listed.as_ref()?.lock().expect("snapshot lock");
        Some(map.get(name).cloned())
    }
}

/// The lists of one process.
#[derive(Default)]
pub(super) struct Snapshots {
    lists: Mutex<HashMap<GroupKey, Arc<Listing>>>,
    /// Groups the API server refused to list (403): read with GETs from now on.
    refused: Mutex<BTreeSet<GroupKey>>,
    /// Groups where a look ahead already made one GET (to learn whether `get` is allowed).
    get_tried: Mutex<BTreeSet<GroupKey>>,
}

impl Snapshots {
    /// The current listing of `group`, a new (empty) one when there is none or it is stale;
    /// `None` when the group is read with GETs.
    pub(super) fn listing(&self, group: &GroupKey) -> Option<Arc<Listing>> {
        if self.refused.lock().expect("snapshot lock").contains(group) {
            return None;
        }
        let mut lists = self.lists.lock().expect("snapshot lock");
        let fresh = lists
            .get(group)
            .filter(|l| l.made.elapsed() < STALENESS)
            .cloned();
        Some(fresh.unwrap_or_else(|| {
            let l = Arc::new(Listing {
                made: Instant::now(),
                objects: OnceCell::new(),
            });
            lists.insert(group.clone(), l.clone());
            l
        }))
    }

    /// Records in the current list of `group` (if there is one) what a write or delete left:
    /// the object `name` as it is now, or `None` when it is gone.
    pub(super) fn record(&self, group: &GroupKey, name: &str, now: Option<Value>) {
        let lists = self.lists.lock().expect("snapshot lock");
        let Some(Some(map)) = lists.get(group).and_then(|l| l.objects.get()) else {
            return;
        };
        let mut map = map.lock().expect("snapshot lock");
        match now {
            Some(live) => map.insert(name.to_string(), live),
            None => map.remove(name),
        };
    }

    /// Forgets the list of `group` (a write or delete in it failed: what is there is unknown).
    pub(super) fn forget(&self, group: &GroupKey) {
        self.lists.lock().expect("snapshot lock").remove(group);
    }

    /// Whether this is the first look ahead in `group` (and records that it was made).
    pub(super) fn first_look(&self, group: &GroupKey) -> bool {
        self.get_tried
            .lock()
            .expect("snapshot lock")
            .insert(group.clone())
    }

    /// Reads `group` with GETs from now on.
    pub(super) fn refuse(&self, group: GroupKey) {
        self.refused.lock().expect("snapshot lock").insert(group);
    }
}

/// The objects of a list answer, by name, each without the field sets of its managed fields
/// (`fieldsV1`: often as large as the object; only the managers' names are ever read), so that
/// the lists of thousands of objects stay small in memory.
pub(super) fn by_name(items: Vec<Value>) -> Mutex<BTreeMap<String, Value>> {
    let map = items
        .into_iter()
        .filter_map(|mut o| {
            let name = o.pointer("/metadata/name")?.as_str()?.to_string();
            if let Some(Value::Array(fields)) = o.pointer_mut("/metadata/managedFields") {
                for f in fields.iter_mut().filter_map(Value::as_object_mut) {
                    f.remove("fieldsV1");
                }
            }
            Some((name, o))
        })
        .collect();
    Mutex::new(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> GroupKey {
        let object = ObjectRef::namespaced("networking.istio.io/v1", "ServiceEntry", "abc", "x");
        group_of("a", &object).expect("listable")
    }

    #[test]
    fn only_namespaced_istio_configuration_is_listed() {
        let secret = ObjectRef::namespaced("v1", "Secret", "istio-system", "cacerts");
        assert_eq!(group_of("a", &secret), None);
        let cm = ObjectRef::namespaced("v1", "ConfigMap", "istio-system", "meshfed-mesh-config");
        assert_eq!(group_of("a", &cm), None);
        let ns = ObjectRef::cluster_scoped("v1", "Namespace", "abc");
        assert_eq!(group_of("a", &ns), None);
        let policy = ObjectRef::namespaced(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "xyz",
            "meshfed-export-bar",
        );
        assert!(group_of("a", &policy).is_some());
    }

    #[test]
    fn listed_objects_keep_their_managers_but_not_their_field_sets() {
        let item = serde_json::json!({"metadata": {"name": "x", "managedFields": [
            {"manager": "meshfed", "operation": "Apply", "fieldsV1": {"f:spec": {}}}]}});
        let map = by_name(vec![item]).into_inner().expect("map");
        let fields = &map["x"]["metadata"]["managedFields"];
        assert_eq!(
            fields,
            &serde_json::json!([{"manager": "meshfed", "operation": "Apply"}])
        );
    }

    #[test]
    fn a_listing_is_shared_until_forgotten_and_a_refused_group_has_none() {
        let s = Snapshots::default();
        let first = s.listing(&group()).expect("a listing");
        let again = s.listing(&group()).expect("the same listing");
        assert!(Arc::ptr_eq(&first, &again));
        s.forget(&group());
        let after = s.listing(&group()).expect("a new listing");
        assert!(!Arc::ptr_eq(&first, &after));
        s.refuse(group());
        assert!(s.listing(&group()).is_none());
    }
}
