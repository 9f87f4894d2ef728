# Terraform 1.12+ and OpenTofu 1.12+: import the export of bar (namespace xyz of
# cluster-b.local) by its identity. gateway_namespace may be left out when the east-west gateway
# runs in the cluster's istio_namespace.
import {
  to = meshfed_exported_service.bar
  identity = {
    cluster   = "cluster-b.local"
    namespace = "xyz"
    service   = "bar"
  }
}
