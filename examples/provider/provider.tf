# Two clusters: one reached through a kubeconfig context, one through a host and a token.
provider "meshfed" {
  cluster "cluster-a.local" {
    kubeconfig = "~/.kube/config"
    context    = "cluster-a.local"
  }

  cluster "cluster-b.local" {
    host                   = var.b_host
    token                  = var.b_token
    cluster_ca_certificate = var.b_ca
    istio_namespace        = "istio-system" # the default
  }
}

variable "b_host" {
  type = string
}

variable "b_token" {
  type      = string
  sensitive = true
}

variable "b_ca" {
  type = string
}
