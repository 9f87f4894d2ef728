# Terraform 1.14+: the trust among cluster-a.local and cluster-b.local, meshfed's (their
# meshfed-mesh-config) or plug-in CAs set up by hand (their cacerts Secrets).
list "meshfed_trust" "a_and_b" {
  provider = meshfed

  config {
    clusters = ["cluster-a.local", "cluster-b.local"]
  }
}
