# Group east (cluster-a.local, cluster-b.local): bar, exported from cluster-b.local to
# cluster-a.local inside the group. Its `exports` output is what group west imports.
include "root" {
  path = find_in_parent_folders("root.hcl")
}

terraform {
  source = "${get_repo_root()}//modules/federation"
}

dependencies {
  paths = ["../trust"]
}

locals {
  fleet = read_terragrunt_config(find_in_parent_folders("fleet.hcl")).locals
}

inputs = {
  clusters = {
    for name, c in local.fleet.clusters : name => { gateway = c.gateway } if c.group == "east"
  }
  manage_trust = false
  exports = [
    {
      service            = "bar"
      namespace          = "xyz"
      from               = "cluster-b.local"
      to                 = ["cluster-a.local"]
      import_namespace   = "abc"
      ports              = [{ name = "http", number = 8080, protocol = "HTTP" }]
      allowed_principals = ["cluster-a.local/ns/abc/sa/foo", "cluster-c.local/ns/abc/sa/foo"]
    },
  ]
}
