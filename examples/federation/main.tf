# The seed federation: cluster-a.local (namespace abc, service foo) and cluster-b.local
# (namespace xyz, service bar, port 8080 "http"). scripts/demo applies this against two local
# control planes; set var.kubeconfig to use your own clusters (contexts named after the clusters).

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

data "meshfed_cluster" "a" {
  name = "cluster-a.local"
}

data "meshfed_cluster" "b" {
  name = "cluster-b.local"
}

output "clusters" {
  description = "The mesh facts meshfed uses for each cluster."
  value       = { a = data.meshfed_cluster.a, b = data.meshfed_cluster.b }
}
