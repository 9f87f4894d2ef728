# Import bar (cluster-b.local, namespace xyz) into namespace abc of cluster-a.local:
# a ServiceEntry whose endpoint is cluster-b's east-west gateway, and an ISTIO_MUTUAL
# DestinationRule. With a meshfed_exported_service, pass its export instead:
#   export = meshfed_exported_service.bar.export
resource "meshfed_service_entry" "bar" {
  cluster   = "cluster-a.local"
  namespace = "abc"

  host              = "bar.xyz.svc.cluster-b.local"
  ports             = [{ name = "http", number = 8080, protocol = "HTTP" }]
  endpoints         = [{ address = "198.51.100.20", port = 15443 }]
  subject_alt_names = ["spiffe://cluster-b.local/ns/xyz/sa/bar"]
}
