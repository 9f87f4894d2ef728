# Included by every unit: where its state goes, and the meshfed provider block generated into it,
# with one `cluster` block per cluster of fleet.hcl (every unit's provider knows every cluster; a
# unit's module writes to the clusters of its own var.clusters only). The module itself declares
# required_providers, so nothing here generates a `terraform` block for it.
locals {
  fleet = read_terragrunt_config(find_in_parent_folders("fleet.hcl")).locals
}

# One state per unit. Use your remote backend (s3, gcs, azurerm, ...) here; `local` keeps the
# example runnable against local clusters.
remote_state {
  backend = "local"
  generate = {
    path      = "backend.tf"
    if_exists = "overwrite_terragrunt"
  }
  config = {
    path = "${get_parent_terragrunt_dir()}/.state/${path_relative_to_include()}/terraform.tfstate"
  }
}

generate "provider" {
  path      = "provider.tf"
  if_exists = "overwrite_terragrunt"
  contents  = <<EOF
variable "kubeconfig" {
  description = "Kubeconfig with a context per cluster of fleet.hcl (TF_VAR_kubeconfig)."
  type        = string
  default     = "~/.kube/config"
}

provider "meshfed" {
%{for name, cluster in local.fleet.clusters~}
  cluster "${name}" {
    kubeconfig = var.kubeconfig
    context    = "${cluster.context}"
  }
%{endfor~}
}
EOF
}
