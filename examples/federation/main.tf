# The seed federation: cluster-a.local (namespace abc, service foo) and cluster-b.local
# (namespace xyz, service bar, port 8080 "http"). Each cluster keeps its own root CA; each trusts
# the other's; bar is exported through cluster-b's east-west gateway and imported into
# cluster-a, and foo the other way round.
#
# scripts/demo applies this against two local control planes. To use your own clusters, set
# var.kubeconfig to a kubeconfig with contexts named cluster-a.local and cluster-b.local, each
# with Istio installed (see docs/guides/federation.md).

terraform {
  required_providers {
    meshfed = {
      source = "meshfed/meshfed"
    }
  }
}

variable "kubeconfig" {
  type        = string
  description = "Kubeconfig with one context per cluster, named cluster-a.local and cluster-b.local."
}

provider "meshfed" {
  cluster "cluster-a.local" {
    kubeconfig = var.kubeconfig
    context    = "cluster-a.local"
  }
  cluster "cluster-b.local" {
    kubeconfig = var.kubeconfig
    context    = "cluster-b.local"
  }
}

# 1 + 2: a root CA per cluster, and each cluster trusts the other's root and trust domain.
resource "meshfed_trust" "fed" {
  member { cluster = "cluster-a.local" }
  member { cluster = "cluster-b.local" }
}

# 3: cluster-b's east-west gateway accepts mTLS for bar.xyz.svc.cluster-b.local on 15443.
# The gateway's address is read from its Service (istio-eastwestgateway) at apply.
resource "meshfed_exported_service" "bar" {
  cluster            = "cluster-b.local"
  namespace          = "xyz"
  service            = "bar"
  ports              = [{ name = "http", number = 8080, protocol = "HTTP" }]
  allowed_principals = ["cluster-a.local/ns/abc/sa/foo"]
}

# 4: cluster-a resolves bar.xyz.svc.cluster-b.local to cluster-b's gateway, with ISTIO_MUTUAL.
resource "meshfed_service_entry" "bar" {
  cluster   = "cluster-a.local"
  namespace = "abc"
  export    = meshfed_exported_service.bar.export
}

# The same the other way round: foo in cluster-a, called from cluster-b.
resource "meshfed_exported_service" "foo" {
  cluster   = "cluster-a.local"
  namespace = "abc"
  service   = "foo"
  ports     = [{ name = "http", number = 8080, protocol = "HTTP" }]
}

resource "meshfed_service_entry" "foo" {
  cluster   = "cluster-b.local"
  namespace = "xyz"
  export    = meshfed_exported_service.foo.export
}

output "bar_host_in_cluster_a" {
  value = meshfed_service_entry.bar.export.host
}

output "roots" {
  description = "Each cluster's root CA fingerprint."
  value       = meshfed_trust.fed.fingerprints
}
