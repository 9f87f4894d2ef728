# The trust among every cluster of the fleet: one meshfed_trust, no export. Apply it first; the
# group units depend on it. Adding a cluster to fleet.hcl updates this trust in place.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}//modules/federation"
}

locals {
  fleet = read_terragrunt_config(find_in_parent_folders("fleet.hcl")).locals
}

inputs = {
  clusters     = { for name, c in local.fleet.clusters : name => {} }
  manage_trust = true
}
