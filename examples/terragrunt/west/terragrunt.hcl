# Group west (cluster-c.local): imports bar from group east through east's `exports` output (a
# Terragrunt dependency), and exports qux from cluster-c.local to cluster-a.local. East cannot
# import qux through a dependency on west (the dependencies would form a cycle), so this unit
# also lists cluster-a.local in its clusters and owns that import: a unit may write to clusters
# of other groups, and every import has exactly one owner.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}//modules/federation"
}

dependencies {
  paths = ["../trust"]
}

dependency "east" {
  config_path = "../east"

  # For `plan` and `validate` before east is applied; the shape of east's `exports` output.
  mock_outputs_allowed_terraform_commands = ["validate", "plan"]
  mock_outputs = {
    exports = {
      "bar.xyz@cluster-b.local" = {
        host              = "bar.xyz.svc.cluster-b.local"
        ports             = [{ name = "http", number = 8080, protocol = "HTTP" }]
        gateway_endpoints = [{ address = "192.0.2.1", port = 15443 }]
        subject_alt_names = ["spiffe://cluster-b.local/ns/xyz/sa/bar"]
        trust_domain      = "cluster-b.local"
        network           = null
      }
    }
  }
}

locals {
  fleet = read_terragrunt_config(find_in_parent_folders("fleet.hcl")).locals
}

inputs = {
  clusters = {
    for name, c in local.fleet.clusters : name => { gateway = c.gateway }
    if c.group == "west" || name == "cluster-a.local"
  }
  manage_trust = false
  exports = [
    {
      service          = "qux"
      namespace        = "xyz"
      from             = "cluster-c.local"
      to               = ["cluster-a.local"]
      import_namespace = "abc"
      ports            = [{ name = "grpc", number = 9090, protocol = "GRPC" }]
    },
  ]
  imports = {
    "bar.xyz@cluster-b.local" = {
      export    = dependency.east.outputs.exports["bar.xyz@cluster-b.local"]
      to        = ["cluster-c.local"]
      namespace = "abc"
    }
  }
}
