# Only foo's workloads in cluster-a.local may call bar through cluster-b's east-west gateway.
output "foo_principal" {
  value = provider::meshfed::principal("cluster-a.local", "abc", "foo")
  # cluster-a.local/ns/abc/sa/foo
}

# In a configuration:
#
# resource "meshfed_exported_service" "bar" {
#   cluster            = "cluster-b.local"
#   namespace          = "xyz"
#   service            = "bar"
#   ports              = [{ name = "http", number = 8080, protocol = "HTTP" }]
#   allowed_principals = [provider::meshfed::principal("cluster-a.local", "abc", "foo")]
# }
