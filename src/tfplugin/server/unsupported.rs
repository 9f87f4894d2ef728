//! The `tfplugin6.Provider` RPCs for features meshfed does not have: ephemeral resources and
//! state stores. Each answers at once, from its
//! request alone, with a "not supported" error diagnostic naming the feature and the type asked
//! for.
//!
//! [`unsupported_rpcs`] writes these methods into the one `impl Provider for ProviderService`
//! block in `rpcs`. Must not call the provider or import its trait: these answers never depend
//! on it.

use std::future::Future;
use std::pin::Pin;

use tonic::Streaming;

use super::Rpc;
use super::service::diags_of;
use crate::tfplugin::provider::not_supported;
use crate::tfplugin::wire::proto::tfplugin6 as pb;

/// What a method written by [`stub`] returns: the boxed future of an `async_trait` method.
pub(super) type Answer<'a, T> = Pin<Box<dyn Future<Output = Rpc<T>> + Send + 'a>>;

/// One "not supported" error diagnostic for `what`.
pub(super) fn unsupported(what: &str) -> Vec<pb::Diagnostic> {
    diags_of(not_supported(what))
}

/// Every unsupported RPC, as trait methods (and the associated stream types).
///
/// Each entry names the method and its message module, then its answer:
/// - `: "feature {}", field`: the response message with only the diagnostic
///   `unsupported(format!("feature {}", request.field))`;
/// - `=> stream Name of Item`: a stream (associated type `Name`) of that function's one item;
/// - `=> from stream of Chunk`: the client streams chunks; that async function reads them all
///   and returns the response.
macro_rules! unsupported_rpcs {
    () => {
        $crate::tfplugin::server::unsupported::stub! {
            validate_ephemeral_resource_config(validate_ephemeral_resource_config):
                "ephemeral resource {}", type_name;
            open_ephemeral_resource(open_ephemeral_resource): "ephemeral resource {}", type_name;
            renew_ephemeral_resource(renew_ephemeral_resource): "ephemeral resource {}", type_name;
            close_ephemeral_resource(close_ephemeral_resource): "ephemeral resource {}", type_name;
            validate_state_store_config(validate_state_store): "state store {}", type_name;
            configure_state_store(configure_state_store): "state store {}", type_name;
            lock_state(lock_state): "state store {}", type_name;
            unlock_state(unlock_state): "state store {}", type_name;
            get_states(get_states): "state store {}", type_name;
            delete_state(delete_state): "state store {}", type_name;
            read_state_bytes(read_state_bytes) => stream ReadStateBytesStream of Response;
            write_state_bytes(write_state_bytes) => from stream of RequestChunk;
        }
    };
}
pub(super) use unsupported_rpcs;

/// Writes trait methods of `tfplugin6.Provider` from the entries of [`unsupported_rpcs`], one
/// entry at a time.
///
/// tonic's service traits are `#[async_trait]` traits, and that attribute rewrites the `async fn`s
/// of an impl block before a macro inside the block expands. So this macro writes each method in
/// the form async_trait gives it: a plain `fn` with its two lifetimes, returning a boxed future.
/// (Should tonic stop using async_trait, the signatures stop matching and the build fails here.)
macro_rules! stub {
    () => {};
    ($rpc:ident($m:ident): $what:literal, $field:ident; $($rest:tt)*) => {
        $crate::tfplugin::server::unsupported::stub! {
            // Some of these messages have no field but the diagnostics.
            #[allow(clippy::needless_update)]
            @unary $rpc($m) -> $crate::tfplugin::wire::proto::tfplugin6::$m::Response, |r| {
                $crate::tfplugin::wire::proto::tfplugin6::$m::Response {
                    diagnostics: $crate::tfplugin::server::unsupported::unsupported(
                        &format!($what, r.$field),
                    ),
                    ..Default::default()
                }
            }
        }
        $crate::tfplugin::server::unsupported::stub!($($rest)*);
    };
    ($rpc:ident($m:ident) => stream $stream:ident of $item:ident; $($rest:tt)*) => {
        type $stream = $crate::tfplugin::server::BoxStream<
            $crate::tfplugin::wire::proto::tfplugin6::$m::$item,
        >;
        $crate::tfplugin::server::unsupported::stub! {
            @unary $rpc($m) -> Self::$stream, |r| {
                let one = $crate::tfplugin::server::unsupported::$rpc(r);
                Box::pin(::tokio_stream::once(Ok(one)))
            }
        }
        $crate::tfplugin::server::unsupported::stub!($($rest)*);
    };
    ($rpc:ident($m:ident) => from stream of $chunk:ident; $($rest:tt)*) => {
        fn $rpc<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<
                ::tonic::Streaming<$crate::tfplugin::wire::proto::tfplugin6::$m::$chunk>,
            >,
        ) -> $crate::tfplugin::server::unsupported::Answer<
            'async_trait,
            $crate::tfplugin::wire::proto::tfplugin6::$m::Response,
        >
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            Box::pin(async move {
                let answer = $crate::tfplugin::server::unsupported::$rpc(request.into_inner());
                Ok(::tonic::Response::new(answer.await))
            })
        }
        $crate::tfplugin::server::unsupported::stub!($($rest)*);
    };
    // The shape of a unary-request method answered at once by `$answer`, given the request
    // message as `$r`.
    ($(#[$attr:meta])* @unary $rpc:ident($m:ident) -> $resp:ty, |$r:ident| $answer:block) => {
        $(#[$attr])*
        fn $rpc<'life0, 'async_trait>(
            &'life0 self,
            request: ::tonic::Request<$crate::tfplugin::wire::proto::tfplugin6::$m::Request>,
        ) -> $crate::tfplugin::server::unsupported::Answer<'async_trait, $resp>
        where
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            let $r = request.into_inner();
            let answer: $resp = $answer;
            Box::pin(::std::future::ready(Ok(::tonic::Response::new(answer))))
        }
    };
}
pub(super) use stub;

// ---------------------------------------------------------------------------------------------
// The answers that are more than one diagnostic

/// The one message of the state stream.
pub(super) fn read_state_bytes(r: pb::read_state_bytes::Request) -> pb::read_state_bytes::Response {
    pb::read_state_bytes::Response {
        diagnostics: unsupported(&format!("state store {}", r.type_name)),
        ..Default::default()
    }
}

/// Reads the client's chunks to the end, then answers.
pub(super) async fn write_state_bytes(
    mut chunks: Streaming<pb::write_state_bytes::RequestChunk>,
) -> pb::write_state_bytes::Response {
    while let Ok(Some(_)) = chunks.message().await {}
    pb::write_state_bytes::Response {
        diagnostics: unsupported("state stores"),
    }
}
