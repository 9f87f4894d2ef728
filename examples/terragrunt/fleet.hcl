# Every cluster of the federation, read by root.hcl (the provider block of every unit) and by each
# unit (its own clusters). The map key is the provider's `cluster` label; `context` the entry of
# the kubeconfig (generated provider.tf: variable "kubeconfig", default ~/.kube/config); `group`
# the unit that exports from and imports into the cluster; `gateway` the cluster's east-west
# gateway settings (modules/federation, var.clusters). Plain HCL, no Terragrunt function, so
# that tests/e2e_module can evaluate it with Terraform.
locals {
  clusters = {
    "cluster-a.local" = { group = "east", context = "cluster-a.local", gateway = null }
    "cluster-b.local" = { group = "east", context = "cluster-b.local", gateway = null }
    "cluster-c.local" = { group = "west", context = "cluster-c.local", gateway = { addresses = ["198.51.100.30"] } }
  }
}
