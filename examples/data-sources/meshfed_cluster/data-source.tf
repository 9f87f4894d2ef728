# The mesh facts meshfed uses for a configured cluster, e.g. to build SPIFFE principals.
data "meshfed_cluster" "a" {
  name = "cluster-a.local"
}

output "foo_principal" {
  value = "${data.meshfed_cluster.a.trust_domain}/ns/abc/sa/foo"
}
