# The module's requirements: optional() object attributes with defaults need Terraform 1.3 or
# later (OpenTofu: every release, 1.6 and later). The provider is the caller's: this module has no
# provider block, so the caller's `meshfed` provider, whose cluster blocks name every cluster
# below, is used as it is (pass it with `providers = { meshfed = meshfed.alias }` for an alias).

terraform {
  required_version = ">= 1.3.0"

  required_providers {
    meshfed = {
      source  = "meshfed/meshfed"
      version = ">= 0.1.0"
    }
  }
}
