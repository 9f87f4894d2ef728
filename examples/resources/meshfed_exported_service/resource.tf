# Expose bar (cluster-b.local, namespace xyz, port 8080) through cluster-b's east-west gateway,
# to cluster-a's foo only. Without gateway.addresses, the addresses are read at apply from the
# gateway's LoadBalancer Service (istio-system/istio-eastwestgateway).
# In cluster-a, import it with: export = meshfed_exported_service.bar.export
resource "meshfed_exported_service" "bar" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  service   = "bar"
  ports     = [{ name = "http", number = 8080, protocol = "HTTP" }]
  gateway   = { addresses = ["198.51.100.20"] }

  allowed_principals = ["cluster-a.local/ns/abc/sa/foo"]
}
