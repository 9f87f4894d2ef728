//! RPCs meshfed does not support, each answered with a diagnostic saying so rather than a gRPC
//! error: GenerateResourceConfig (test provider), ephemeral resources and state stores (meshfed).
//! Needs nothing external.

use std::sync::Arc;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tonic::transport::Channel;

use crate::diagnostics::assert_not_supported;
use crate::harness::{Plugin, within};
use crate::lifecycle::known_thing_m;
use crate::msgpack::M;
use crate::test_provider::{THING, TestProvider};

type Client = pb::provider_client::ProviderClient<Channel>;

#[tokio::test]
async fn generate_resource_config_is_not_supported() {
    let plugin = Plugin::start(TestProvider::new()).await;
    let resp = call!(
        plugin.provider(),
        generate_resource_config,
        pb::generate_resource_config::Request {
            type_name: THING.into(),
            state: known_thing_m("thing-1", "x", "v").dv(),
        }
    );
    assert_not_supported(&resp.diagnostics, "GenerateResourceConfig");
    assert!(resp.config.is_none());
}

#[tokio::test]
async fn ephemeral_resources_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let name = "meshfed_token";
    let d = call!(
        c,
        validate_ephemeral_resource_config,
        pb::validate_ephemeral_resource_config::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateEphemeralResourceConfig");
    let open = call!(
        c,
        open_ephemeral_resource,
        pb::open_ephemeral_resource::Request {
            type_name: name.into(),
            config: M::Nil.dv(),
            client_capabilities: None,
        }
    );
    assert_not_supported(&open.diagnostics, "OpenEphemeralResource");
    assert!(open.result.is_none());
    let d = call!(
        c,
        renew_ephemeral_resource,
        pb::renew_ephemeral_resource::Request {
            type_name: name.into(),
            private: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "RenewEphemeralResource");
    let d = call!(
        c,
        close_ephemeral_resource,
        pb::close_ephemeral_resource::Request {
            type_name: name.into(),
            private: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "CloseEphemeralResource");
}

/// ReadStateBytes: one chunk with the diagnostic and no bytes.
async fn assert_read_state_bytes_refused(c: &mut Client, store: &str) {
    let mut read = call!(
        c,
        read_state_bytes,
        pb::read_state_bytes::Request {
            type_name: store.into(),
            state_id: "default".into(),
        }
    );
    let mut chunks = Vec::new();
    while let Some(chunk) = within("the ReadStateBytes stream", read.message())
        .await
        .expect("the ReadStateBytes stream ends cleanly")
    {
        chunks.push(chunk);
    }
    assert_eq!(chunks.len(), 1, "{chunks:#?}");
    assert_not_supported(&chunks[0].diagnostics, "ReadStateBytes");
    assert!(chunks[0].bytes.is_empty());
}

/// WriteStateBytes, uploaded in two chunks.
async fn assert_state_writes_refused(c: &mut Client, store: &str) {
    let upload = tokio_stream::iter(vec![
        pb::write_state_bytes::RequestChunk {
            meta: Some(pb::RequestChunkMeta {
                type_name: store.into(),
                state_id: "default".into(),
            }),
            bytes: b"{\"version\":4".to_vec(),
            total_length: 14,
            range: Some(pb::StateRange { start: 0, end: 12 }),
        },
        pb::write_state_bytes::RequestChunk {
            meta: None,
            bytes: b"}\n".to_vec(),
            total_length: 14,
            range: Some(pb::StateRange { start: 12, end: 14 }),
        },
    ]);
    let d = call!(c, write_state_bytes, upload).diagnostics;
    assert_not_supported(&d, "WriteStateBytes");
}

/// LockState, UnlockState, GetStates and DeleteState.
async fn assert_state_locks_refused(c: &mut Client, store: &str) {
    let lock = call!(
        c,
        lock_state,
        pb::lock_state::Request {
            type_name: store.into(),
            state_id: "default".into(),
            operation: "apply".into(),
        }
    );
    assert_not_supported(&lock.diagnostics, "LockState");
    assert!(lock.lock_id.is_empty());
    let d = call!(
        c,
        unlock_state,
        pb::unlock_state::Request {
            type_name: store.into(),
            state_id: "default".into(),
            lock_id: "l".into(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "UnlockState");
    let states = call!(
        c,
        get_states,
        pb::get_states::Request {
            type_name: store.into(),
        }
    );
    assert_not_supported(&states.diagnostics, "GetStates");
    assert!(states.state_id.is_empty());
    let d = call!(
        c,
        delete_state,
        pb::delete_state::Request {
            type_name: store.into(),
            ..Default::default()
        }
    )
    .diagnostics;
    assert_not_supported(&d, "DeleteState");
}

#[tokio::test]
async fn state_stores_are_not_supported() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut c = plugin.provider();
    let store = "meshfed_store";
    let d = call!(
        c,
        validate_state_store_config,
        pb::validate_state_store::Request {
            type_name: store.into(),
            config: M::Nil.dv(),
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ValidateStateStoreConfig");
    let d = call!(
        c,
        configure_state_store,
        pb::configure_state_store::Request {
            type_name: store.into(),
            config: M::Nil.dv(),
            capabilities: None,
        }
    )
    .diagnostics;
    assert_not_supported(&d, "ConfigureStateStore");

    assert_read_state_bytes_refused(&mut c, store).await;
    assert_state_writes_refused(&mut c, store).await;
    assert_state_locks_refused(&mut c, store).await;
}
