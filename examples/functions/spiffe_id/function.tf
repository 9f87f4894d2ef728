# The SPIFFE ID of foo's workloads (service account foo, namespace abc) in cluster-a.local's mesh:
# what a remote caller's certificate carries, e.g. for a service entry's subject_alt_names.
output "foo_spiffe_id" {
  value = provider::meshfed::spiffe_id("cluster-a.local", "abc", "foo")
  # spiffe://cluster-a.local/ns/abc/sa/foo
}
