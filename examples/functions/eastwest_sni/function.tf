# The TLS server name a sidecar in cluster-a sends to cluster-b's east-west gateway for bar's
# port 8080, e.g. to test the gateway by hand:
#   openssl s_client -connect <gateway>:15443 -servername outbound_.8080_._.bar.xyz.svc.cluster-b.local
output "bar_sni" {
  value = provider::meshfed::eastwest_sni(provider::meshfed::service_host("bar", "xyz", "cluster-b.local"), 8080)
  # outbound_.8080_._.bar.xyz.svc.cluster-b.local
}
