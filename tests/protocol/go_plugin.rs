//! The go-plugin services Terraform's plugin client uses besides the provider service: the health
//! service reporting `plugin` as serving, GRPCStdio's stream (empty until shutdown), and
//! GRPCController.Shutdown stopping the server while the stdio and broker streams are open, as
//! go-plugin keeps them. Against meshfed's provider; needs nothing external.

use std::sync::Arc;
use std::time::Duration;

use meshfed::provider::Meshfed;
use meshfed::tfplugin::wire::proto::plugin as gp;
use meshfed::tfplugin::wire::proto::tfplugin6 as pb;
use tokio_stream::wrappers::ReceiverStream;

use crate::harness::{Plugin, within};

#[tokio::test]
async fn the_health_service_reports_plugin_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(plugin.channel.clone());
    let resp = within(
        "Health.Check",
        health.check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        }),
    )
    .await
    .expect("Health.Check answers")
    .into_inner();
    assert_eq!(resp.status, ServingStatus::Serving as i32);
}

#[tokio::test]
async fn stream_stdio_opens_and_yields_nothing_until_shutdown() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    let mut stdio = gp::grpc_stdio_client::GrpcStdioClient::new(plugin.channel.clone());
    let mut stream = within("StreamStdio", stdio.stream_stdio(()))
        .await
        .expect("StreamStdio opens")
        .into_inner();
    // Provider calls in the meantime write nothing to it.
    let schema = call!(
        plugin.provider(),
        get_provider_schema,
        pb::get_provider_schema::Request {}
    );
    assert!(schema.provider.is_some());
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(500), stream.message()).await {
        panic!("StreamStdio yielded before shutdown: {got:?}");
    }
    call!(plugin.controller(), shutdown, gp::Empty {});
    let end = within("StreamStdio to end at shutdown", stream.message()).await;
    assert!(
        matches!(end, Ok(None)),
        "StreamStdio ends cleanly at shutdown: {end:?}"
    );
}

#[tokio::test]
async fn grpc_controller_shutdown_stops_the_server_with_go_plugins_streams_open() {
    let plugin = Plugin::start(Arc::new(Meshfed::new())).await;
    // go-plugin's client keeps the stdio and broker streams open for the plugin's lifetime.
    let mut stdio = within(
        "StreamStdio",
        gp::grpc_stdio_client::GrpcStdioClient::new(plugin.channel.clone()).stream_stdio(()),
    )
    .await
    .expect("StreamStdio opens")
    .into_inner();
    let (broker_tx, broker_rx) = tokio::sync::mpsc::channel::<gp::ConnInfo>(1);
    let mut broker = within(
        "GRPCBroker.StartStream",
        gp::grpc_broker_client::GrpcBrokerClient::new(plugin.channel.clone())
            .start_stream(ReceiverStream::new(broker_rx)),
    )
    .await
    .expect("StartStream opens")
    .into_inner();
    if let Ok(got) = tokio::time::timeout(Duration::from_millis(300), broker.message()).await {
        panic!("the broker stream yielded: {got:?}");
    }

    // go-plugin's GRPCClient.Close: close the broker, call Shutdown, close the connection.
    drop(broker_tx);
    let broker_end = within("the broker stream to end", broker.message()).await;
    assert!(matches!(broker_end, Ok(None)), "{broker_end:?}");
    call!(plugin.controller(), shutdown, gp::Empty {});
    let stdio_end = within("StreamStdio to end", stdio.message()).await;
    assert!(matches!(stdio_end, Ok(None)), "{stdio_end:?}");
    let Plugin {
        channel, server, ..
    } = plugin;
    drop(channel);
    within("the server to stop after Shutdown", server)
        .await
        .expect("the server task")
        .expect("the server stops without error");
}
