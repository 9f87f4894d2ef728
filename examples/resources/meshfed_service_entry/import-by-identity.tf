# Terraform 1.12+ and OpenTofu 1.12+: import the ServiceEntry and DestinationRule named
# bar-xyz-svc-cluster-b-local in namespace abc of cluster-a.local by their identity.
import {
  to = meshfed_service_entry.bar
  identity = {
    cluster   = "cluster-a.local"
    namespace = "abc"
    name      = "bar-xyz-svc-cluster-b-local"
  }
}
