# Terraform 1.14+: the services cluster-b.local exports through its east-west gateway. Hand-made
# AUTO_PASSTHROUGH Gateways are reported as warnings: they name no single service to adopt.
list "meshfed_exported_service" "from_cluster_b" {
  provider = meshfed

  config {
    cluster = "cluster-b.local"
  }
}
