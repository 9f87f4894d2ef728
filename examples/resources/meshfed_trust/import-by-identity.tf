# Terraform 1.12+ and OpenTofu 1.12+: import the trust among cluster-a.local and cluster-b.local
# by its identity, the member clusters in the order of the member blocks. Each member's CA is
# read from its cacerts Secret (its key stays there).
import {
  to = meshfed_trust.fed
  identity = {
    members = ["cluster-a.local", "cluster-b.local"]
  }
}
