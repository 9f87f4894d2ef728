# Rotating cluster-a.local's CA without downtime (docs/guides/rotation.md): one apply per phase.
#
#   terraform apply                                              # generation 1, no rotation
#   terraform apply -var generation=2 -var rotation=overlap      # new root trusted everywhere
#   terraform apply -var generation=2 -var rotation=switch       # istiod signs with the new CA
#   (restart the workloads of cluster-a.local, or wait for their certificates to rotate)
#   terraform apply -var generation=2 -var rotation=retire       # the old root leaves every bundle
#
# Plan refuses a skipped phase (switch before overlap, retire before switch) and a new generation
# without a phase.

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

variable "generation" {
  type        = number
  default     = 1
  description = "Which generated CA cluster-a.local has; raise it to rotate."
}

variable "rotation" {
  type        = string
  default     = null
  description = "The rotation phase to apply: overlap, switch, retire (null when none)."
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

resource "meshfed_trust" "fed" {
  member {
    cluster  = "cluster-a.local"
    rotation = var.rotation
    ca {
      generation = var.generation
    }
  }
  member { cluster = "cluster-b.local" }
}

output "roots" {
  description = "Each cluster's root fingerprints: two for cluster-a.local during the rotation."
  value       = meshfed_trust.fed.fingerprints
}

output "not_after" {
  description = "When each cluster's root and intermediate expire."
  value       = meshfed_trust.fed.not_after
}
