# The host under which bar (namespace xyz of cluster-b, DNS suffix cluster-b.local) is exported,
# and under which callers in other clusters reach it.
output "bar_host" {
  value = provider::meshfed::service_host("bar", "xyz", "cluster-b.local")
  # bar.xyz.svc.cluster-b.local
}
