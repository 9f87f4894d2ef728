# Terraform 1.14+: the ServiceEntries that import a remote service into cluster-a.local,
# meshfed's and those made by hand (MESH_INTERNAL, endpoints at a remote gateway's port 15443).
#   terraform query -generate-config-out=imported.tf
list "meshfed_service_entry" "into_cluster_a" {
  provider = meshfed

  config {
    cluster   = "cluster-a.local"
    namespace = "abc"
  }
}
